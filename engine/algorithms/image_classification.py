"""Image Classification (image-classification:1) on scikit-learn's MLPClassifier.

AWS's built-in is a ResNet trained with MXNet on GPUs. SageTutor trains a small
neural network on the pixels instead (deep learning enough for the 8x8 digits
SageTutor ships): ``MLPClassifier`` with one hidden layer of 128 ReLU units;
``num_layers`` (the ResNet depth) and the augmentation/precision knobs are
accepted without effect.

==================  ==============================================================
AWS                 scikit-learn
==================  ==============================================================
optimizer sgd       solver="sgd", momentum (nag: Nesterov momentum)
optimizer adam      solver="adam", beta_1, beta_2, epsilon
optimizer rmsprop   solver="adam" with beta_1=0 (RMSprop with bias correction)
learning_rate       learning_rate_init; mini_batch_size -> batch_size
weight_decay        alpha (L2 penalty)
epochs              one ``partial_fit`` pass per epoch (seeded order)
==================  ==============================================================

Data: ``train`` and ``validation`` channels of PNG images (application/x-image,
image/png) with ``train_lst``/``validation_lst`` channels holding .lst files
(``<index>\\t<label>\\t<relative path>``; the path is matched against the image
channel's keys by suffix). Images are decoded to grayscale with
``engine.datasets.png.decode_png``; ``image_shape`` ("channels,height,width") gives
the size: larger images are centre-cropped, smaller ones are an error unless
``resize`` is set (then every image is resized to height x width). Pixels are
divided by 255. For convenience ``text/csv`` channels (label, then height*width
pixel values in 0-255) are accepted too.

Labels are class indices 0 .. num_classes - 1.

Metrics: ``validation:accuracy`` every epoch, ``train:accuracy`` at the end of each
``fit_until`` call. ``early_stopping`` follows AWS (after
``early_stopping_min_epochs``, stop when validation accuracy has not improved by
``early_stopping_tolerance`` for ``early_stopping_patience`` epochs).

Multi-instance: data-parallel, every instance starts from the same weights and
the weights are averaged after each epoch. Checkpointing and incremental
training: a ``model`` channel whose single object is a previous model's
``to_bytes()`` continues from its weights (same num_classes and image_shape).

Inference: application/x-image / image/png (one PNG) -> JSON list of class
probabilities ``[0.01, 0.9, ...]``; text/csv rows of pixels -> a list per row;
Accept application/json (default), text/csv or application/jsonlines
(``{"prediction": [...]}`` per image).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier

from engine.algorithms import inference, metrics
from engine.algorithms.base import (
    Algorithm,
    AlgorithmClientError,
    Capabilities,
    ChannelData,
    MetricSpec,
    Model,
    Trainer,
    UnitRecord,
)
from engine.algorithms.hyperparameters import Param, Spec, invalid_error
from engine.algorithms.readers import (
    check_content_type,
    decode_image,
    instance_shards,
    media_type,
    read_csv,
    read_lst_images,
)
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "image-classification"
IMAGE_TYPES = ("application/x-image", "image/png", "image/jpeg")
CONTENT_TYPES = (*IMAGE_TYPES, "text/csv")
HIDDEN = (128,)
_IGNORED = ("augmentation_type", "checkpoint_frequency", "gamma", "kv_store", "lr_scheduler_factor",
            "lr_scheduler_step", "multi_label", "precision_dtype", "top_k", "use_weighted_loss",
            "use_pretrained_model", "num_layers", "eps", "max_random_aspect_ratio", "max_random_h",
            "max_random_l", "max_random_rotate_angle", "max_random_s", "max_random_scale",
            "max_random_shear_ratio", "min_random_scale", "min_random_aspect_ratio")

SPEC = Spec(
    Param("num_classes", "int", required=True, low=2),
    Param("num_training_samples", "int", required=True, low=1),
    Param("epochs", "int", default=30, low=1),
    Param("learning_rate", "float", default=0.1, low=0, low_open=True, high=1),
    Param("mini_batch_size", "int", default=32, low=1),
    Param("image_shape", "str", default="3,224,224"),
    Param("resize", "int", low=1),
    Param("optimizer", "choice", default="sgd", choices=("sgd", "adam", "rmsprop", "nag")),
    Param("momentum", "float", default=0.9, low=0, high=1, high_open=True),
    Param("weight_decay", "float", default=0.0001, low=0, high=1, high_open=True),
    Param("beta_1", "float", default=0.9, low=0, high=1, high_open=True),
    Param("beta_2", "float", default=0.999, low=0, high=1, high_open=True),
    Param("epsilon", "float", default=1e-8, low=0, low_open=True),
    Param("early_stopping", "bool", default=False),
    Param("early_stopping_min_epochs", "int", default=10, low=1),
    Param("early_stopping_patience", "int", default=5, low=1),
    Param("early_stopping_tolerance", "float", default=0.0, low=0, high=1),
    *(Param(n, "str", ignored=True) for n in _IGNORED),
)


class EpochMLPClassifier(MLPClassifier):
    """``MLPClassifier`` whose later ``partial_fit`` calls reuse labels checked once.

    ``partial_fit`` re-validates and re-binarises ``y`` on every call (type_of_target,
    unique_labels, LabelBinariser): several milliseconds per epoch, as much as an
    epoch of training on small data. The trainer checks the labels once and hands
    over their one-hot matrix with ``fit_epoch``; if scikit-learn's private hook
    changes, the override is simply not used and the normal path runs.
    """

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, onehot: np.ndarray, classes: np.ndarray) -> None:
        if not hasattr(self, "classes_"):
            self.partial_fit(x, y, classes=classes)  # first call: scikit-learn sets everything up
            return
        self._epoch_labels = (y, onehot)
        try:
            self.partial_fit(x, y)
        finally:
            del self._epoch_labels

    def _validate_input(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N803
        labels = getattr(self, "_epoch_labels", None)
        if labels is not None and labels[0] is y:
            return X, labels[1]
        return super()._validate_input(X, y, *args, **kwargs)


def _shape(text: str) -> tuple[int, int, int]:
    try:
        parts = tuple(int(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or parts[0] not in (1, 3) or min(parts) < 1:
        raise invalid_error("image_shape", text, "not a valid shape; use 'channels,height,width' such as "
                                                 "'3,224,224' or '1,8,8'")
    return parts  # type: ignore[return-value]


def fit_image(img: np.ndarray, height: int, width: int, resize: int | None, where: str) -> np.ndarray:
    """One decoded image at height x width: resized (``resize`` set), centre-cropped, or an error."""
    if resize is not None and img.shape != (height, width):
        rows = (np.arange(height) * img.shape[0] // height).clip(0, img.shape[0] - 1)
        cols = (np.arange(width) * img.shape[1] // width).clip(0, img.shape[1] - 1)
        return img[rows][:, cols]
    h, w = img.shape
    if h < height or w < width:
        raise AlgorithmClientError(
            f"{where} is {w}x{h} pixels, smaller than image_shape {height}x{width}; set image_shape to the "
            "images' size (for example '1,8,8') or set resize."
        )
    top, left = (h - height) // 2, (w - width) // 2
    return img[top:top + height, left:left + width]


class ImageClassification(Algorithm):
    name = NAME
    repository = "image-classification"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=True,
        checkpointing=True,
        processors=frozenset({"gpu"}),
        gpu_accelerated=True,
        incremental=True,
        content_types=CONTENT_TYPES,
        default_content_type="application/x-image",
        required_channels=("train", "validation"),
        optional_channels=("train_lst", "validation_lst", "model"),
        inference_content_types=("application/x-image", "image/png", "text/csv"),
        inference_accept=("application/json", "text/csv", "application/jsonlines"),
    )
    metrics = (MetricSpec("validation:accuracy", "Maximize"), MetricSpec("train:accuracy", "Maximize"))

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        _shape(hp["image_shape"])
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> ImageClassificationTrainer:
        parts = instance_shards("Image Classification", True, channels, shards, instance_count)
        if "validation" not in channels:
            raise AlgorithmClientError("Image Classification requires a 'validation' channel (with "
                                       "'validation_lst' for images).")
        initial = None
        if "model" in channels:
            objects = [data for _, data in channels["model"].objects if data]
            if len(objects) != 1:
                raise AlgorithmClientError("Channel 'model' must hold exactly one model object for incremental "
                                           f"training; found {len(objects)}.")
            try:
                initial = self.load_model(objects[0])
            except ValueError as exc:
                raise AlgorithmClientError(f"Channel 'model' does not hold an Image Classification model: {exc}"
                                           ) from None
        return ImageClassificationTrainer(hp, parts, channels, initial, seed)

    def load_model(self, data: bytes) -> ImageClassificationModel:
        return ImageClassificationModel(loads(data, "model", NAME))


def _read(channel: ChannelData, lst: ChannelData | None, hp: dict[str, Any], shard: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    _, height, width = _shape(hp["image_shape"])
    mime = check_content_type(channel, CONTENT_TYPES, "application/x-image", "Image Classification")
    if mime == "text/csv":
        x, y, _ = read_csv(channel, labels=1)
        assert y is not None
        if x.shape[1] != height * width:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': records have {x.shape[1]} pixel values but image_shape "
                f"{hp['image_shape']} needs {height * width} (height x width)."
            )
    else:
        if lst is None:
            raise AlgorithmClientError(
                f"Channel '{channel.name}' holds images ({mime}); give the labels in a '{channel.name}_lst' "
                "channel of .lst files ('<index>\\t<label>\\t<relative path>')."
            )
        images, y, paths = read_lst_images(channel, lst, shard=shard)
        x = np.vstack([fit_image(img, height, width, hp["resize"], f"Image '{p}' in channel '{channel.name}'"
                                 ).reshape(1, -1) for img, p in zip(images, paths)]).astype(np.float64)
    k = hp["num_classes"]
    bad = (y < 0) | (y >= k) | (y != np.floor(y))
    if bad.any():
        raise AlgorithmClientError(
            f"Channel '{channel.name}': label {y[bad][0]:g} is not a class index in [0, {k - 1}] "
            f"(num_classes={k})."
        )
    return x / 255.0, y


class ImageClassificationTrainer(PickledState, Trainer):
    unit_name = "epoch"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "total_units", "estimators", "best_accuracy", "bad_epochs", "stopped_early",
                    "last_metrics")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], channels: dict[str, ChannelData],
                 initial: ImageClassificationModel | None, seed: int) -> None:
        self.hp = hp
        self.shape = _shape(hp["image_shape"])
        self.shards = [_read(p, channels.get("train_lst"), hp, shard=len(parts) > 1) for p in parts]
        self.x_val, self.y_val = _read(channels["validation"], channels.get("validation_lst"), hp)
        self.x_train = np.vstack([x for x, _ in self.shards])
        self.y_train = np.concatenate([y for _, y in self.shards])
        self.initial = initial
        if initial is not None and (initial.num_classes != hp["num_classes"]
                                    or initial.n_pixels != self.x_train.shape[1]):
            raise AlgorithmClientError(
                f"Channel 'model': the model has {initial.num_classes} classes and {initial.n_pixels} pixels per "
                f"image; this job has num_classes={hp['num_classes']} and {self.x_train.shape[1]} pixels."
            )
        self.seed = int(seed)
        self.total_units = int(hp["epochs"])
        self.cells = self.x_train.size
        self.done_units = 0
        self.estimators: list[MLPClassifier] = []
        self.best_accuracy: float | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.last_metrics: dict[str, float] = {}

    def _params(self) -> dict[str, Any]:
        hp = self.hp
        p: dict[str, Any] = dict(learning_rate_init=hp["learning_rate"], alpha=hp["weight_decay"],
                                 batch_size=hp["mini_batch_size"], shuffle=False,
                                 random_state=self.seed % (2**32))
        if hp["optimizer"] in ("sgd", "nag"):
            p.update(solver="sgd", momentum=hp["momentum"], nesterovs_momentum=hp["optimizer"] == "nag")
        else:
            p.update(solver="adam", beta_1=0.0 if hp["optimizer"] == "rmsprop" else hp["beta_1"],
                     beta_2=hp["beta_2"], epsilon=hp["epsilon"])
        return p

    def _new_estimator(self) -> MLPClassifier:
        if self.initial is not None:
            est = copy.deepcopy(self.initial.est)
            est.set_params(**self._params())
            if hasattr(est, "_optimizer"):
                del est._optimizer  # a fresh optimizer with this job's settings
            return est
        return EpochMLPClassifier(hidden_layer_sizes=HIDDEN, **self._params())

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        if not self.estimators:
            self.estimators = [self._new_estimator() for _ in self.shards]
        classes = np.arange(self.hp["num_classes"], dtype=np.float64)
        records = []
        while self.done_units < units:
            epoch = self.done_units + 1
            for rank, (est, (x, y)) in enumerate(zip(self.estimators, self.shards)):
                # a seeded order per epoch and instance, sliced into batches (sklearn's own shuffling
                # indexes every batch through a slow generic path)
                order = np.random.default_rng([self.seed, epoch, rank]).permutation(len(y))
                est.batch_size = min(self.hp["mini_batch_size"], len(y))
                if isinstance(est, EpochMLPClassifier):
                    est.fit_epoch(x[order], y[order], self._onehot(est, y)[order], classes)
                else:
                    est.partial_fit(x[order], y[order], classes=classes)
            if len(self.estimators) > 1:
                coefs = [np.mean([e.coefs_[i] for e in self.estimators], axis=0)
                         for i in range(len(self.estimators[0].coefs_))]
                intercepts = [np.mean([e.intercepts_[i] for e in self.estimators], axis=0)
                              for i in range(len(self.estimators[0].intercepts_))]
                for e in self.estimators:
                    e.coefs_ = [c.copy() for c in coefs]
                    e.intercepts_ = [b.copy() for b in intercepts]
            self.done_units = epoch
            acc = metrics.accuracy(self.y_val, self.estimators[0].predict(self.x_val))
            records.append(UnitRecord(unit=epoch, metrics={"validation:accuracy": acc}))
            if self.hp["early_stopping"] and self._should_stop(acc):
                self.stopped_early = True
                self.total_units = epoch
                break
        self.last_metrics = {**records[-1].metrics,
                             "train:accuracy": metrics.accuracy(self.y_train, self.estimators[0].predict(self.x_train))}
        records[-1].metrics.update(self.last_metrics)
        return records

    def _onehot(self, est: MLPClassifier, y: np.ndarray) -> np.ndarray:
        """The labels as scikit-learn's binariser would encode them (the classes it has seen)."""
        classes = getattr(est, "classes_", np.arange(self.hp["num_classes"], dtype=np.float64))
        if len(classes) == 2:  # the binariser's one column for two classes
            return (y == classes[1])[:, None]
        return y[:, None] == classes[None, :]

    def _should_stop(self, accuracy: float) -> bool:
        if self.best_accuracy is None or accuracy > self.best_accuracy + self.hp["early_stopping_tolerance"]:
            self.best_accuracy, self.bad_epochs = max(accuracy, self.best_accuracy or 0.0), 0
        else:
            self.bad_epochs += 1
        return self.done_units >= self.hp["early_stopping_min_epochs"] and \
            self.bad_epochs >= self.hp["early_stopping_patience"]

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if not self.last_metrics and self.estimators:
            est = self.estimators[0]
            self.last_metrics = {"validation:accuracy": metrics.accuracy(self.y_val, est.predict(self.x_val)),
                                 "train:accuracy": metrics.accuracy(self.y_train, est.predict(self.x_train))}
        return dict(self.last_metrics)

    @trainer_method
    def model(self) -> ImageClassificationModel:
        if not self.estimators:
            raise RuntimeError("no epochs trained yet")
        return ImageClassificationModel({"estimator": self.estimators[0], "image_shape": self.shape,
                                         "num_classes": self.hp["num_classes"], "resize": self.hp["resize"]})

    def work_per_unit(self) -> float:
        n = len(self.y_train) + len(self.y_val) / 3
        params = self.x_train.shape[1] * HIDDEN[0] + HIDDEN[0] * self.hp["num_classes"]
        return float(n * params * 6)


class ImageClassificationModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.est: MLPClassifier = payload["estimator"]
        self.shape: tuple[int, int, int] = payload["image_shape"]
        self.num_classes: int = payload["num_classes"]
        self.n_pixels = self.shape[1] * self.shape[2]

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, num_classes) for rows of height*width pixel values in 0-255."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.n_pixels:
            raise ValueError(f"each image must have {self.n_pixels} pixels ({self.shape[1]}x{self.shape[2]}), "
                             f"got {x.shape[1]}")
        proba = self.est.predict_proba(x / 255.0)
        out = np.zeros((len(x), self.num_classes))
        out[:, self.est.classes_.astype(np.int64)] = proba
        return out

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        mime, _ = media_type(content_type)
        mime = mime or "application/x-image"
        if mime in IMAGE_TYPES:
            try:
                img = decode_image(body)
            except ValueError as exc:
                raise ValueError(f"the request body is not a PNG image this model can read: {exc}") from None
            try:
                img = fit_image(img, self.shape[1], self.shape[2], self.payload["resize"], "The image")
            except AlgorithmClientError as exc:
                raise ValueError(str(exc)) from None
            x = img.reshape(1, -1)
            single = True
        elif mime == "text/csv":
            x = inference.csv_rows(body, self.n_pixels)
            single = False
        else:
            raise ValueError(f"content type '{content_type}' is not supported; supported: application/x-image, "
                             "image/png, text/csv")
        out_type, _ = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                          "application/json")
        proba = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(proba), out_type
        if out_type == "application/jsonlines":
            return inference.jsonlines_body([{"prediction": row} for row in proba.tolist()]), out_type
        return inference.json_body(proba[0].tolist() if single else proba.tolist()), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)

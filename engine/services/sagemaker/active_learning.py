"""Automated data labeling (active learning) for image and text classification: a real model, a real threshold.

Ground Truth's loop (AWS Developer Guide, "Automate data labeling"), as SageTutor runs it:

1. humans label a random validation set (20% of the objects when there are fewer than 5,000, else 10%) and
   a random training sample of MaxConcurrentTaskCount objects;
2. a model is trained on the human training labels: scikit-learn's LogisticRegression on an RBF kernel map
   (Nystroem) of the pixels for images (every image resampled to one size), on TF-IDF word uni- and
   bigrams for text;
3. it scores the validation set; the confidence threshold is the lowest one at which the model's labels
   of the validation objects scoring at or above it reach 95% accuracy (see ``choose_threshold``);
4. it scores the unlabeled objects; those at or above the threshold are machine-labeled;
5. the least confident of the rest (at most MaxConcurrentTaskCount) go to humans; repeat from 2 until
   every object is labeled or a stopping condition is met.

The model only ever sees the features and the human labels; the true labels are used by the simulated
workers (``workforce``) and by nothing here.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

ALGORITHM_ACCOUNT = "027400017018"
ALGORITHMS = ("image-classification", "text-classification", "object-detection", "semantic-segmentation")
_ARN = re.compile(r"^arn:aws:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                  r"labeling-job-algorithm-specification/(?P<name>[a-z-]+)$")

MIN_OBJECTS = 1250
TARGET_ACCURACY = 0.95
#: One-sided margin on the validation estimate: the threshold must reach 95% with a Wilson lower bound
#: at this many standard errors, so that the machine labels reach 95% on the objects they are applied to
#: and not only on the validation sample they were chosen with.
MARGIN_Z = 1.645
#: Fewest validation objects a threshold may rest on.
MIN_VALIDATION_SUPPORT = 20
#: Resampled image size when the images do not all have one size.
IMAGE_SIDE = 16
#: The image model: RBF kernel gamma x number of pixels (about 0.08 for 8x8 images in [0, 1]), kernel-map size,
#: inverse regularization of the logistic regression. The text model's inverse regularization.
IMAGE_GAMMA = 5.0
IMAGE_COMPONENTS = 300
IMAGE_C = 100.0
TEXT_C = 10.0


def algorithm_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/{name}"


def parse_algorithm_arn(arn: str) -> dict[str, str] | None:
    m = _ARN.match(arn)
    if not m or m["account"] != ALGORITHM_ACCOUNT or m["name"] not in ALGORITHMS:
        return None
    return m.groupdict()


def validation_size(n_objects: int) -> int:
    """20% of the dataset below 5,000 objects, 10% from 5,000 on (rounded up)."""
    share = 0.2 if n_objects < 5000 else 0.1
    return math.ceil(n_objects * share)


# ----------------------------------------------------------------------------- features


def image_features(pixels: list[np.ndarray | None]) -> np.ndarray:
    """One row per image: gray intensities in [0, 1], every image resampled to a common size.

    Images that could not be read get a row of zeros (they are never labeled anyway).
    """
    shapes = {p.shape for p in pixels if p is not None}
    side = shapes.pop() if len(shapes) == 1 else (IMAGE_SIDE, IMAGE_SIDE)
    out = np.zeros((len(pixels), side[0] * side[1]))
    for i, p in enumerate(pixels):
        if p is None:
            continue
        if p.shape != side:
            rows = (np.arange(side[0]) * p.shape[0] // side[0]).astype(int)
            cols = (np.arange(side[1]) * p.shape[1] // side[1]).astype(int)
            p = p[np.ix_(rows, cols)]
        out[i] = p.reshape(-1) / 255.0
    return out


def text_features(texts: list[str]):
    """TF-IDF of word uni- and bigrams seen at least twice in the input (fitting it needs no labels)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit_transform(texts)


# ----------------------------------------------------------------------------- the model


class Model:
    """The active-learning model of one iteration: fit on human labels, score objects."""

    def __init__(self, task_type: str, features, rows: list[int], labels: list[int], seed: int):
        from sklearn.kernel_approximation import Nystroem
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.features = features
        if task_type == "image":
            # Logistic regression on an RBF kernel map of the pixels (a Nystroem approximation).
            gamma = IMAGE_GAMMA / features.shape[1]
            components = min(IMAGE_COMPONENTS, len(rows))
            est = make_pipeline(Nystroem(gamma=gamma, n_components=components, random_state=seed),
                                LogisticRegression(C=IMAGE_C, max_iter=2000))
        else:
            est = LogisticRegression(C=TEXT_C, max_iter=2000)
        with _one_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(features[np.asarray(rows)], np.asarray(labels))
        self.estimator = est
        self.classes = est.classes_

    def score(self, rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(predicted class ids, confidence = the highest class probability) for ``rows``."""
        if not rows:
            return np.zeros(0, dtype=int), np.zeros(0)
        with _one_thread():
            proba = self.estimator.predict_proba(self.features[np.asarray(rows)])
        return self.classes[proba.argmax(axis=1)], proba.max(axis=1)


def _one_thread():
    """Small fits run faster (and identically) on one BLAS thread than on several fighting over two cores."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def can_train(labels: list[int]) -> bool:
    return len(set(labels)) >= 2


# ----------------------------------------------------------------------------- the threshold


@dataclass(frozen=True)
class Threshold:
    value: float  # machine-label objects whose confidence is >= value
    support: int  # validation objects at or above it
    accuracy: float  # their estimated accuracy
    lower_bound: float


def wilson_lower(p: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * np.sqrt(np.maximum(p * (1 - p), 0.0) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float = TARGET_ACCURACY,
                     z: float = MARGIN_Z) -> Threshold | None:
    """The lowest confidence at which the validation objects scoring at or above it reach ``target``.

    ``correct`` holds, per validation object, the probability that the model's label is right according
    to the consolidated human annotation: with several workers per object, the posterior the consolidation
    gives the model's class; with one worker, 1 when they agree and 0 otherwise. Objects are taken in order
    of decreasing confidence; the threshold is where the longest such prefix still has a Wilson lower bound
    (``z`` standard errors) of at least ``target``. None when no prefix qualifies.
    """
    if len(confidence) == 0:
        return None
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    n = np.arange(1, len(order) + 1, dtype=float)
    acc = np.cumsum(correct[order]) / n
    lower = wilson_lower(acc, n, z)
    # A threshold must take every object of equal confidence: only prefixes that end between two values.
    ends = np.r_[conf[1:] < conf[:-1], True]
    ok = np.where((lower >= target) & ends & (n >= MIN_VALIDATION_SUPPORT))[0]
    if len(ok) == 0:
        return None
    k = int(ok.max())
    return Threshold(float(conf[k]), k + 1, float(acc[k]), float(lower[k]))

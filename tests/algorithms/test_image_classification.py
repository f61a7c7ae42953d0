"""Image Classification specifics: .lst + PNG channels, image_shape, incremental training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError, ChannelData

from .conftest import case, csv_bytes, digit_images, new_trainer, trained

IC = get("image-classification")


def test_default_image_shape_is_larger_than_the_digits():
    c = case("image-classification")
    raw = {k: v for k, v in c.hp.items() if k != "image_shape"}
    with pytest.raises(AlgorithmClientError, match="8x8 pixels, smaller than image_shape 224x224"):
        new_trainer("image-classification", raw=raw)


def test_resize_scales_images_to_image_shape():
    c = case("image-classification")
    t = new_trainer("image-classification", raw={**c.hp, "image_shape": "1,16,16", "resize": "16", "epochs": "1"})
    assert t.x_train.shape[1] == 256


def test_lst_entry_without_image():
    c = case("image-classification")
    lst = ChannelData("train_lst", None, [("x.lst", b"1\t3\tmissing/1.png\n")])
    with pytest.raises(AlgorithmClientError, match="image 'missing/1.png' is not in channel 'train'"):
        IC.trainer(IC.parse_hyperparameters(c.hp), {**c.channels, "train_lst": lst}, None, 1, 1)


def test_images_without_lst_channel():
    c = case("image-classification")
    channels = {k: v for k, v in c.channels.items() if k != "train_lst"}
    with pytest.raises(AlgorithmClientError, match="'train_lst'"):
        IC.trainer(IC.parse_hyperparameters(c.hp), channels, None, 1, 1)


def test_csv_pixels_train_the_same_way():
    _, pixels, y = digit_images()
    c = case("image-classification")
    channels = {"train": ChannelData("train", "text/csv", [("t.csv", csv_bytes(pixels[:400], y[:400]))]),
                "validation": ChannelData("validation", "text/csv", [("v.csv", csv_bytes(pixels[400:], y[400:]))])}
    t = IC.trainer(IC.parse_hyperparameters(c.hp), channels, None, 1, 1)
    t.fit_until(t.total_units)
    assert t.final_metrics()["validation:accuracy"] > 0.8


def test_incremental_training_continues_from_a_model_channel():
    c = case("image-classification")
    first = trained("image-classification").trainer
    model_bytes = first.model().to_bytes()
    hp = IC.parse_hyperparameters({**c.hp, "epochs": "1"})
    cont = IC.trainer(hp, {**c.channels, "model": ChannelData("model", None, [("model.bin", model_bytes)])},
                      None, 1, 1)
    cont.fit_until(1)
    fresh = IC.trainer(hp, c.channels, None, 1, 1)
    fresh.fit_until(1)
    assert cont.final_metrics()["validation:accuracy"] > fresh.final_metrics()["validation:accuracy"]
    with pytest.raises(AlgorithmClientError, match="Channel 'model'"):
        IC.trainer(hp, {**c.channels, "model": ChannelData("model", None, [("m", b"junk")])}, None, 1, 1)
    with pytest.raises(AlgorithmClientError, match="10 classes"):
        IC.trainer(IC.parse_hyperparameters({**c.hp, "num_classes": "12"}),
                   {**c.channels, "model": ChannelData("model", None, [("m", model_bytes)])}, None, 1, 1)


def test_png_request_answers_a_probability_list():
    pngs, pixels, y = digit_images()
    model = trained("image-classification").trainer.model()
    probs = json.loads(model.predict_body(pngs[460], "application/x-image", "application/json")[0])
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-9
    correct = sum(int(np.argmax(json.loads(model.predict_body(pngs[i], "image/png", "")[0]))) == y[i]
                  for i in range(400, 500))
    assert correct > 80
    with pytest.raises(ValueError, match="PNG"):
        model.predict_body(b"\xff\xd8\xff\xe0 jpeg bytes", "image/jpeg", "application/json")


def test_rmsprop_and_nag_optimizers_train():
    c = case("image-classification")
    for optimizer in ("rmsprop", "nag", "sgd"):
        t = new_trainer("image-classification", raw={**c.hp, "optimizer": optimizer, "epochs": "2",
                                                     "learning_rate": "0.01"})
        t.fit_until(2)
        assert t.final_metrics()["validation:accuracy"] > 0.5, optimizer


@pytest.mark.parametrize("num_classes", [2, 10])
def test_fast_epochs_equal_plain_partial_fit(num_classes):
    from sklearn.neural_network import MLPClassifier

    from engine.algorithms.image_classification import EpochMLPClassifier

    _, pixels, y = digit_images()
    x, labels = pixels[:200] / 255.0, (y[:200] % num_classes)
    classes = np.arange(num_classes, dtype=float)
    params = dict(hidden_layer_sizes=(16,), solver="adam", batch_size=32, shuffle=False, random_state=0)
    fast, plain = EpochMLPClassifier(**params), MLPClassifier(**params)
    for _ in range(3):
        onehot = (labels == 1)[:, None] if num_classes == 2 else labels[:, None] == classes[None, :]
        fast.fit_epoch(x, labels, onehot, classes)
        plain.partial_fit(x, labels, classes=classes)
    for a, b in zip(fast.coefs_, plain.coefs_):
        np.testing.assert_array_equal(a, b)

"""The ``sagetutor-datasets`` bucket: layout contract, content, determinism, PNG codec."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from engine.datasets import BUCKET, CATALOG, DatasetInfo, dataset_objects, objects
from engine.datasets.catalog import SIZES
from engine.datasets.png import PNG_SIGNATURE, decode_png, encode_png
from engine.datasets.split import split_indices
from engine.datasets.tabular import load

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
SPLITS = ("train", "validation", "test")


def parse_csv(data: bytes) -> list[list[float]]:
    return [[float(cell) for cell in line.split(",")] for line in data.decode("ascii").splitlines()]


def parse_libsvm(data: bytes, width: int) -> list[list[float]]:
    rows = []
    for line in data.decode("ascii").splitlines():
        label, *pairs = line.split(" ")
        row = [float(label)] + [0.0] * width
        for pair in pairs:
            index, value = pair.split(":")
            assert 1 <= int(index) <= width
            row[int(index)] = float(value)
        rows.append(row)
    return rows


def split_parts(name: str, split: str, ext: str, seed: int = SEED) -> list[bytes]:
    found = dataset_objects(name, seed)
    prefix = f"{name}/{split}/"
    return [found[key] for key in sorted(found) if key.startswith(prefix) and key.endswith("." + ext)]


def digest(mapping: dict[str, bytes]) -> str:
    hasher = hashlib.sha256()
    for key, value in mapping.items():
        hasher.update(key.encode() + b"\0" + hashlib.sha256(value).digest())
    return hasher.hexdigest()


# --- catalog and API ------------------------------------------------------------------


def test_catalog_describes_every_dataset() -> None:
    assert BUCKET == "sagetutor-datasets"
    assert [field.name for field in fields(DatasetInfo)] == [
        "name",
        "description",
        "task",
        "format",
        "content_type",
        "rows",
        "features",
        "classes",
        "algorithms",
    ]
    expected = {
        "breast-cancer",
        "breast-cancer-libsvm",
        "breast-cancer-parquet",
        "iris",
        "wine",
        "diabetes",
        "diabetes-libsvm",
        "digits",
        "digits-images",
        "timeseries",
        "anomaly",
        "tickets",
        "tickets-bow",
        "blobs",
    }
    assert set(CATALOG) == expected
    for name, info in CATALOG.items():
        assert info.name == name
        assert info.algorithms and all(isinstance(algorithm, str) for algorithm in info.algorithms)
        assert set(info.rows) <= set(SPLITS) and "train" in info.rows and "test" in info.rows
        assert all(key.startswith(name + "/") for key in dataset_objects(name, SEED))
    assert CATALOG["breast-cancer-libsvm"].content_type == "text/libsvm"
    assert CATALOG["breast-cancer-parquet"].content_type == "application/x-parquet"
    assert CATALOG["anomaly"].content_type == "text/csv;label_size=0"
    assert CATALOG["timeseries"].content_type == "application/jsonlines"


@pytest.mark.parametrize("source", ["breast-cancer", "iris", "wine", "diabetes", "digits"])
def test_sklearn_sizes_match_the_catalog(source: str) -> None:
    labels, features = load(source)
    assert len(labels) == SIZES[source] == sum(CATALOG[source].rows.values())
    assert features.shape[1] == CATALOG[source].features
    if CATALOG[source].classes:
        assert set(labels.tolist()) == set(range(CATALOG[source].classes))


#: CSV sets whose training channels carry no label, and whether their test split keeps one.
UNLABELLED = {"anomaly": True, "blobs": True, "tickets-bow": False}


@pytest.mark.parametrize("name", [name for name, info in CATALOG.items() if info.format == "csv"])
def test_csv_row_counts_and_widths_match_the_catalog(name: str) -> None:
    info = CATALOG[name]
    assert ("label_size=0" in info.content_type) == (name in UNLABELLED)
    for split, count in info.rows.items():
        parts = split_parts(name, split, "csv")
        assert len(parts) == (4 if split == "train" else 1)
        rows = [row for part in parts for row in parse_csv(part)]
        assert len(rows) == count
        labelled = UNLABELLED.get(name, True) if split == "test" else name not in UNLABELLED
        assert {len(row) for row in rows} == {info.features + labelled}


def test_dataset_objects_returns_a_private_copy() -> None:
    first = dataset_objects("iris", SEED)
    first.clear()
    assert dataset_objects("iris", SEED)
    with pytest.raises(KeyError):
        dataset_objects("no-such-dataset", SEED)


def test_objects_merges_everything_sorted_with_a_readme() -> None:
    everything = objects(SEED)
    assert list(everything) == sorted(everything)
    for name in CATALOG:
        assert dataset_objects(name, SEED).items() <= everything.items()
    readme = everything["README.txt"].decode("ascii")
    assert 15 <= len(readme.splitlines()) <= 25
    assert all(name in readme for name in CATALOG)


def test_docs_describe_every_dataset() -> None:
    contract = (ROOT / "docs" / "datasets.md").read_text()
    for info in CATALOG.values():
        assert f"`{info.name}/" in contract, info.name
        assert info.content_type in contract


# --- tabular --------------------------------------------------------------------------


def test_iris_rows_are_complete_and_labelled() -> None:
    rows = [row for split in SPLITS for part in split_parts("iris", split, "csv") for row in parse_csv(part)]
    assert len(rows) == 150
    for row in rows:
        assert len(row) == 5
        assert row[0] in (0.0, 1.0, 2.0)
    test_lines = dataset_objects("iris", SEED)["iris/test/part-00000.csv"].decode().splitlines()
    assert all(line.split(",")[0] in ("0", "1", "2") for line in test_lines)  # integer labels, no "1.0"
    labels, features = load("iris")
    assert sorted(map(tuple, rows)) == sorted(map(tuple, np.column_stack([labels, features]).tolist()))


def test_breast_cancer_train_parts_are_disjoint_and_cover_the_train_split() -> None:
    parts = [part.decode().splitlines() for part in split_parts("breast-cancer", "train", "csv")]
    assert len(parts) == 4 and all(parts)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    seen: set[str] = set()
    for lines in parts:
        assert seen.isdisjoint(lines)
        seen.update(lines)
    labels, features = load("breast-cancer")
    train = split_indices(len(labels), SEED, "breast-cancer")["train"]
    expected = [",".join(map(str, [int(labels[row]), *features[row].tolist()])) for row in train]
    assert [line for lines in parts for line in lines] == expected
    held_out = {
        line
        for split in ("validation", "test")
        for part in split_parts("breast-cancer", split, "csv")
        for line in part.decode().splitlines()
    }
    assert seen.isdisjoint(held_out)


@pytest.mark.parametrize(
    ("name", "source"), [("breast-cancer-libsvm", "breast-cancer"), ("diabetes-libsvm", "diabetes")]
)
def test_libsvm_parses_back_to_the_csv_numbers(name: str, source: str) -> None:
    width = CATALOG[source].features
    for split in SPLITS:
        csv_rows = [row for part in split_parts(source, split, "csv") for row in parse_csv(part)]
        libsvm_rows = [
            row for part in split_parts(name, split, "libsvm") for row in parse_libsvm(part, width)
        ]
        assert libsvm_rows == csv_rows


def test_parquet_reads_back_with_pyarrow() -> None:
    import pyarrow.parquet as pq

    for split in SPLITS:
        csv_rows = [row for part in split_parts("breast-cancer", split, "csv") for row in parse_csv(part)]
        tables = [
            pq.read_table(io.BytesIO(part)) for part in split_parts("breast-cancer-parquet", split, "parquet")
        ]
        assert tables[0].column_names == ["label"] + [f"f{index}" for index in range(30)]
        rows = [
            list(values)
            for table in tables
            for values in zip(*(column.to_pylist() for column in table.columns))
        ]
        assert rows == csv_rows
        assert sum(table.num_rows for table in tables) == CATALOG["breast-cancer-parquet"].rows[split]


def test_digits_keep_integer_pixels() -> None:
    rows = parse_csv(dataset_objects("digits", SEED)["digits/test/part-00000.csv"])
    assert all(0 <= value <= 16 and value == int(value) for row in rows for value in row[1:])


# --- determinism ----------------------------------------------------------------------


def test_objects_are_byte_identical_across_calls_and_processes() -> None:
    first = objects(SEED)
    second = objects(SEED)
    assert first == second and first is not second
    code = (
        "import hashlib, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from engine.datasets import objects\n"
        "h = hashlib.sha256()\n"
        "for key, value in objects(7).items():\n"
        "    h.update(key.encode() + b'\\0' + hashlib.sha256(value).digest())\n"
        "print(h.hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == digest(first)


def test_different_seeds_give_different_data() -> None:
    for name, key in [
        ("iris", "iris/train/part-00000.csv"),
        ("timeseries", "timeseries/test/part-00000.json"),
        ("anomaly", "anomaly/test/part-00000.csv"),
        ("blobs", "blobs/train/part-00000.csv"),
        ("tickets", "tickets/train/part-00000.txt"),
    ]:
        assert dataset_objects(name, 1)[key] != dataset_objects(name, 2)[key], name
    assert (
        dataset_objects("tickets-bow", 1)["tickets-bow/vocabulary.txt"]
        == dataset_objects("tickets-bow", 2)["tickets-bow/vocabulary.txt"]
    )


def test_cached_lookups_are_fast() -> None:
    objects(SEED)
    start = time.perf_counter()
    for _ in range(10):
        dataset_objects("iris", SEED)
    assert (time.perf_counter() - start) / 10 < 0.005


# --- PNG codec ------------------------------------------------------------------------


def _png(header: bytes, raw: bytes, *extra: tuple[bytes, bytes]) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    body = chunk(b"IHDR", header) + b"".join(chunk(kind, payload) for kind, payload in extra)
    return PNG_SIGNATURE + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _filtered_rgb(image: np.ndarray) -> bytes:
    """Encode RGB rows cycling through all five PNG filters (what real encoders emit)."""
    height, width, _ = image.shape
    stride, bpp = width * 3, 3
    previous = [0] * stride
    raw = bytearray()
    for y in range(height):
        kind, row = y % 5, image[y].reshape(-1).tolist()
        raw.append(kind)
        for x in range(stride):
            left = row[x - bpp] if x >= bpp else 0
            up, up_left = previous[x], previous[x - bpp] if x >= bpp else 0
            estimate = left + up - up_left
            paeth = min(
                (abs(estimate - left), 0, left),
                (abs(estimate - up), 1, up),
                (abs(estimate - up_left), 2, up_left),
            )[2]
            predictor = (0, left, up, (left + up) // 2, paeth)[kind]
            raw.append((row[x] - predictor) & 0xFF)
        previous = row
    return bytes(raw)


@pytest.mark.parametrize("shape", [(8, 8), (1, 1), (3, 17), (40, 2)])
def test_png_round_trip(shape: tuple[int, int]) -> None:
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    data = encode_png(pixels)
    assert data.startswith(PNG_SIGNATURE)
    decoded = decode_png(data)
    assert decoded.dtype == np.uint8 and decoded.shape == shape
    assert np.array_equal(decoded, pixels)
    assert encode_png(pixels) == data


def test_png_decodes_filtered_rgb_as_the_channel_mean() -> None:
    image = np.random.default_rng(3).integers(0, 256, size=(11, 6, 3), dtype=np.uint8)
    header = struct.pack(">IIBBBBB", 6, 11, 8, 2, 0, 0, 0)
    data = _png(header, _filtered_rgb(image), (b"tEXt", b"Comment\0hello"))
    expected = (image.astype(int).sum(axis=2) + 1) // 3
    assert np.array_equal(decode_png(data), expected)


def test_png_rejects_what_it_cannot_read() -> None:
    good = encode_png(np.zeros((4, 4), dtype=np.uint8))
    raw = bytes(4 * 5)
    bad = [
        b"",
        b"not a png at all",
        good[:-5],
        good[:19] + bytes([good[19] ^ 1]) + good[20:],  # corrupt IHDR width -> CRC mismatch
        good + b"trailing",
        _png(struct.pack(">IIBBBBB", 4, 4, 16, 0, 0, 0, 0), bytes(4 * 9)),  # 16-bit
        _png(struct.pack(">IIBBBBB", 4, 4, 8, 3, 0, 0, 0), raw, (b"PLTE", bytes(3))),  # palette
        _png(struct.pack(">IIBBBBB", 4, 4, 8, 6, 0, 0, 0), bytes(4 * 17)),  # RGBA
        _png(struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 1), raw),  # interlaced
        _png(struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0), raw[:-1]),  # short image data
        _png(struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0), b"\x07" + raw[1:]),  # bad filter type
        _png(struct.pack(">IIBBBBB", 0, 4, 8, 0, 0, 0, 0), b""),  # empty image
    ]
    for data in bad:
        with pytest.raises(ValueError):
            decode_png(data)
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2), dtype=np.int64))


# --- images and Ground Truth manifests ------------------------------------------------


def test_digits_images_layout() -> None:
    found = dataset_objects("digits-images", SEED)
    labels, features = load("digits")
    manifest = [
        json.loads(line) for line in found["digits-images/manifest/input.manifest"].decode().splitlines()
    ]
    assert len(manifest) == 1797
    truth = json.loads(found["digits-images/manifest/labels.json"])
    categories = json.loads(found["digits-images/manifest/label-categories.json"])
    assert categories == {
        "document-version": "2018-11-28",
        "labels": [{"label": str(digit)} for digit in range(10)],
    }
    for index, record in enumerate(manifest):
        assert record == {"source-ref": f"s3://{BUCKET}/digits-images/all/{index}.png"}
        assert truth[str(index)] == str(labels[index])
    for index in (0, 17, 1796):
        pixels = decode_png(found[f"digits-images/all/{index}.png"])
        assert pixels.shape == (8, 8)
        assert np.array_equal(pixels, np.round(features[index].reshape(8, 8) * 255 / 16))
    images_in_splits = 0
    for split in SPLITS:
        lines = found[f"digits-images/{split}_lst/{split}.lst"].decode().splitlines()
        assert len(lines) == CATALOG["digits-images"].rows[split]
        for line in lines:
            index, label, relative = line.split("\t")
            assert int(label) == labels[int(index)] and relative == f"{label}/{index}.png"
            assert found[f"digits-images/{split}/{relative}"] == found[f"digits-images/all/{index}.png"]
        images_in_splits += len(lines)
    assert images_in_splits == 1797


def test_digits_images_use_the_digits_split() -> None:
    found = dataset_objects("digits-images", SEED)
    csv_test = parse_csv(dataset_objects("digits", SEED)["digits/test/part-00000.csv"])
    test_indices = split_indices(1797, SEED, "digits")["test"]
    labels, _ = load("digits")
    assert [int(row[0]) for row in csv_test] == labels[test_indices].tolist()
    listed = sorted(
        int(line.split("\t")[0]) for line in found["digits-images/test_lst/test.lst"].decode().splitlines()
    )
    assert listed == sorted(test_indices.tolist())


# --- text -----------------------------------------------------------------------------


def _blazingtext(split: str, seed: int = SEED) -> tuple[list[str], list[str]]:
    labels, texts = [], []
    for part in split_parts("tickets", split, "txt", seed):
        for line in part.decode("ascii").splitlines():
            label, text = line.split(" ", 1)
            assert label.startswith("__label__") and text == text.lower() and "  " not in text
            labels.append(label.removeprefix("__label__"))
            texts.append(text)
    return texts, labels


def test_tickets_corpus_and_manifest() -> None:
    found = dataset_objects("tickets", SEED)
    manifest = found["tickets/manifest/input.manifest"].decode().splitlines()
    truth = json.loads(found["tickets/manifest/labels.json"])
    categories = [
        entry["label"] for entry in json.loads(found["tickets/manifest/label-categories.json"])["labels"]
    ]
    assert len(manifest) == len(truth) >= 2400
    assert len(categories) == 6 and set(truth.values()) == set(categories)
    all_texts = []
    for split in SPLITS:
        texts, labels = _blazingtext(split)
        assert len(texts) == CATALOG["tickets"].rows[split]
        assert set(labels) == set(categories)
        all_texts += texts
    assert sorted(all_texts) == sorted(json.loads(line)["source"] for line in manifest)


def test_tickets_are_learnable_but_not_trivial() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts, train_labels = _blazingtext("train")
    test_texts, test_labels = _blazingtext("test")
    vectorizer = TfidfVectorizer()
    model = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(train_texts), train_labels)
    accuracy = model.score(vectorizer.transform(test_texts), test_labels)
    assert 0.80 <= accuracy <= 0.98


def test_tickets_bow_counts_the_same_documents() -> None:
    found = dataset_objects("tickets-bow", SEED)
    vocabulary = found["tickets-bow/vocabulary.txt"].decode().splitlines()
    assert 200 <= len(vocabulary) <= 500 and vocabulary == sorted(set(vocabulary))
    column = {word: index for index, word in enumerate(vocabulary)}
    for split in SPLITS:
        texts, _ = _blazingtext(split)
        rows = [row for part in split_parts("tickets-bow", split, "csv") for row in parse_csv(part)]
        assert len(rows) == len(texts)
        for text, row in list(zip(texts, rows))[:50]:
            expected = [0.0] * len(vocabulary)
            for word in text.split():
                if word in column:
                    expected[column[word]] += 1
            assert row == expected


# --- time series and unsupervised sets ------------------------------------------------


def test_deepar_train_is_exactly_24_shorter_than_test() -> None:
    train = [
        json.loads(line)
        for part in split_parts("timeseries", "train", "json")
        for line in part.decode().splitlines()
    ]
    test = [
        json.loads(line)
        for line in dataset_objects("timeseries", SEED)["timeseries/test/part-00000.json"]
        .decode()
        .splitlines()
    ]
    assert len(train) == len(test) == 20
    assert len(split_parts("timeseries", "train", "json")) == 4
    for short, full in zip(train, test, strict=True):
        assert short["start"] == full["start"] == "2025-01-01 00:00:00"
        assert short["cat"] == full["cat"]
        assert len(full["target"]) == 24 * 40
        assert len(short["target"]) == len(full["target"]) - 24
        assert short["target"] == full["target"][:-24]
    assert [series["cat"] for series in test] == [[index] for index in range(20)]
    daily = np.array(test[0]["target"]).reshape(40, 24).mean(axis=0)
    assert daily.max() - daily.min() > 0.1 * np.mean(test[0]["target"])  # a visible daily cycle


@pytest.mark.parametrize(("name", "classes"), [("anomaly", {0.0, 1.0}), ("blobs", {0.0, 1.0, 2.0, 3.0, 4.0})])
def test_unsupervised_sets_label_only_the_test_split(name: str, classes: set[float]) -> None:
    features = CATALOG[name].features
    for split in ("train", "validation"):
        rows = [row for part in split_parts(name, split, "csv") for row in parse_csv(part)]
        assert {len(row) for row in rows} == {features}
    test = parse_csv(dataset_objects(name, SEED)[f"{name}/test/part-00000.csv"])
    assert {len(row) for row in test} == {features + 1}
    assert {row[0] for row in test} == classes
    if name == "anomaly":
        share = sum(row[0] for row in test) / len(test)
        assert 0.005 < share < 0.07


def test_an_image_decoded_again_is_remembered_and_each_caller_gets_its_own_pixels(monkeypatch):
    from engine.datasets import png

    data = png.encode_png(np.arange(64, dtype=np.uint8).reshape(8, 8))
    first = png.decode_png(data)
    calls = []
    real = png._decode
    monkeypatch.setattr(png, "_decode", lambda d: calls.append(d) or real(d))
    again = png.decode_png(bytes(bytearray(data)))  # equal bytes: remembered
    assert calls == [] and np.array_equal(again, first)
    again[0, 0] = 255  # the caller's own array: the memo is untouched
    assert png.decode_png(data)[0, 0] == 0
    with pytest.raises(ValueError):
        png.decode_png(data[:-5])  # damaged: decoded, refused, not remembered
    assert len(calls) == 1

"""Channel parsing shared by the built-ins, with AWS's content types.

Every reader takes a ``ChannelData`` (raw objects in key order) and returns
numpy arrays, or raises ``AlgorithmClientError`` naming the channel, the object
and the first bad line, so the learner can fix the data:

* ``read_csv``: headerless CSV; ``label_size`` leading label columns (1 for
  supervised algorithms, 0 for ``text/csv;label_size=0``); optional weight column.
* ``read_libsvm``: ``label idx:value ...``; indices may be 0- or 1-based (a file
  in which no index 0 ever appears is read as 1-based, which is how
  ``libsvm_bytes`` and most tools write it, so CSV and libsvm give the same columns).
* ``read_parquet``: numeric columns, label first (XGBoost's application/x-parquet).
* ``read_jsonlines``: one JSON object per line (DeepAR).
* ``read_labelled_text``: BlazingText ``__label__<class> token token ...`` lines.
* ``read_lst_images``: Image Classification's ``.lst`` files plus PNG objects.

``instance_shards`` turns the engine's ``shards`` argument into one channel per
instance and rejects InstanceCount > 1 for single-instance algorithms.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.algorithms.base import AlgorithmClientError, ChannelData

_MAX_SHOWN = 80


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``"text/csv; label_size=0"`` -> ``("text/csv", {"label_size": "0"})`` (lower-cased type)."""
    if not content_type:
        return "", {}
    parts = [p.strip() for p in content_type.split(";")]
    params: dict[str, str] = {}
    for p in parts[1:]:
        if "=" in p:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


def label_size(channel: ChannelData, default: int) -> int:
    """The ``label_size`` parameter of a CSV channel's content type (``default`` when absent)."""
    _, params = media_type(channel.content_type)
    if "label_size" not in params:
        return default
    try:
        value = int(params["label_size"])
    except ValueError:
        value = -1
    if value not in (0, 1):
        raise AlgorithmClientError(
            f"Channel '{channel.name}': label_size must be 0 or 1 in ContentType "
            f"'{channel.content_type}'."
        )
    return value


def check_content_type(channel: ChannelData, accepted: tuple[str, ...], default: str, algorithm: str) -> str:
    """The channel's media type (or ``default``), or a ClientError listing what the algorithm accepts."""
    mime, _ = media_type(channel.content_type)
    mime = mime or default
    if mime not in accepted:
        raise AlgorithmClientError(
            f"Channel '{channel.name}': content type '{channel.content_type}' is not supported by "
            f"{algorithm}; supported content types: {', '.join(accepted)}."
        )
    return mime


def _shown(line: str) -> str:
    line = line.rstrip("\r\n")
    return repr(line if len(line) <= _MAX_SHOWN else line[:_MAX_SHOWN] + "...")


def _texts(channel: ChannelData) -> Iterator[tuple[str, str]]:
    for key, data in channel.objects:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' is not UTF-8 text "
                f"(byte {exc.start}); check the channel's ContentType."
            ) from None
        if text.startswith("\ufeff"):
            text = text[1:]
        yield key, text


def empty_error(channel: ChannelData) -> AlgorithmClientError:
    where = f"{len(channel.objects)} object(s)" if channel.objects else "no objects"
    return AlgorithmClientError(f"Channel '{channel.name}' has no data records ({where}); check the S3 prefix.")


# --------------------------------------------------------------------------- CSV
def read_features(channel: ChannelData, feature_dim: int, algorithm: str) -> np.ndarray:
    """Unlabelled CSV features (label_size=0 by default; label_size=1 drops a label column),
    checked against ``feature_dim``."""
    check_content_type(channel, ("text/csv",), "text/csv", algorithm)
    x, _, _ = read_csv(channel, labels=label_size(channel, 0))
    if x.shape[1] != feature_dim:
        hint = (" If the first column is a label, set the channel's ContentType to 'text/csv;label_size=1'."
                if x.shape[1] == feature_dim + 1 else "")
        raise AlgorithmClientError(
            f"Channel '{channel.name}': the data has {x.shape[1]} features but hyperparameter "
            f"feature_dim is {feature_dim}.{hint}"
        )
    return x


def read_csv(
    channel: ChannelData,
    *,
    labels: int = 1,
    allow_missing: bool = False,
    weights: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(X, y, w)`` from headerless CSV objects; ``y`` is None when ``labels`` is 0.

    ``allow_missing``: empty cells are missing values (NaN), as XGBoost reads them.
    ``weights``: the column after the label holds instance weights (XGBoost csv_weights=1).
    """
    blocks: list[np.ndarray] = []
    width: int | None = None
    first_key = ""
    for key, text in _texts(channel):
        if not text.strip():
            continue
        block = _parse_csv_text(channel, key, text, allow_missing)
        if width is None:
            width, first_key = block.shape[1], key
        elif block.shape[1] != width:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' has {block.shape[1]} columns but object "
                f"'{first_key}' has {width}; every record must have the same number of columns."
            )
        blocks.append(block)
    if not blocks:
        raise empty_error(channel)
    data = blocks[0] if len(blocks) == 1 else np.vstack(blocks)
    lead = labels + (1 if weights else 0)
    if data.shape[1] <= lead:
        raise AlgorithmClientError(
            f"Channel '{channel.name}': records have {data.shape[1]} column(s); expected "
            f"{'a label, ' if labels else ''}{'a weight, ' if weights else ''}and at least one feature."
        )
    y = data[:, 0].copy() if labels else None
    if y is not None and np.isnan(y).any():
        row = int(np.flatnonzero(np.isnan(y))[0]) + 1
        raise AlgorithmClientError(f"Channel '{channel.name}': record {row} has an empty label (first column).")
    w = data[:, labels].copy() if weights else None
    x = np.ascontiguousarray(data[:, lead:])
    return x, y, w


def _parse_csv_text(channel: ChannelData, key: str, text: str, allow_missing: bool) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            arr = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
        if allow_missing or np.isfinite(arr).all():
            return arr
    except ValueError:
        pass
    return _parse_csv_slow(channel, key, text, allow_missing)


def _parse_csv_slow(channel: ChannelData, key: str, text: str, allow_missing: bool) -> np.ndarray:
    """Line-by-line parse that names the first bad line (also handles empty cells)."""
    rows: list[list[float]] = []
    width: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' line {number}: expected {width} comma-separated "
                f"values (as on the first line), found {len(cells)}: {_shown(line)}"
            )
        row = []
        for cell in cells:
            c = cell.strip()
            if c == "" and allow_missing:
                row.append(np.nan)
                continue
            try:
                v = float(c)
            except ValueError:
                hint = " (SageMaker CSV has no header row)" if number == 1 else ""
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number}: non-numeric value "
                    f"{c!r}{hint}: {_shown(line)}"
                ) from None
            if not np.isfinite(v) and not (allow_missing and np.isnan(v)):
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number}: value {c!r} is not finite: {_shown(line)}"
                )
            row.append(v)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width or 0)


# ------------------------------------------------------------------------ libsvm
LIBSVM_DEFAULT_ERROR = (
    "Blankspace and colon not found in the file. ContentType by defaullt is in libsvm. "
    "Please ensure the file is in libsvm format."
)


def read_libsvm(channel: ChannelData, *, n_features: int | None = None, index_base: int | None = None
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """``(X, y, index_base)`` from libsvm objects; absent entries are 0, as in a sparse matrix.

    ``n_features``/``index_base`` (from training) make validation data line up with it.
    """
    labels: list[str] = []
    counts: list[int] = []
    pieces: list[str] = []
    where: list[tuple[str, int, str]] = []  # (key, line number, line) per record, for messages
    for key, text in _texts(channel):
        for number, line in enumerate(text.splitlines(), start=1):
            s = line.strip().replace("\t", " ")
            if not s or s.startswith("#"):
                continue
            head, _, rest = s.partition(" ")
            if ":" not in s and " " not in s and "\t" not in s and "," in s:
                raise AlgorithmClientError(LIBSVM_DEFAULT_ERROR)
            labels.append(head)
            pieces.append(rest)
            counts.append(rest.count(":"))
            where.append((key, number, line))
    if not labels:
        raise empty_error(channel)
    try:
        y = np.asarray(labels, dtype=np.float64)
        flat = np.asarray(" ".join(pieces).replace(":", " ").split(), dtype=np.float64)
        if flat.size != 2 * sum(counts):
            raise ValueError
        pairs = flat.reshape(-1, 2)
        idx = pairs[:, 0]
        if (idx < 0).any() or (idx != np.floor(idx)).any():
            raise ValueError
        if not np.isfinite(pairs[:, 1]).all() or not np.isfinite(y).all():
            raise ValueError
    except ValueError:
        _diagnose_libsvm(channel, where)
        raise AlgorithmClientError(f"Channel '{channel.name}': not valid libsvm data.") from None
    idx = idx.astype(np.int64)
    if index_base is None:
        index_base = 0 if (idx == 0).any() else 1
    cols = idx - index_base
    if (cols < 0).any():
        r = int(np.repeat(np.arange(len(labels)), counts)[np.flatnonzero(cols < 0)[0]])
        key, number, line = where[r]
        raise AlgorithmClientError(
            f"Channel '{channel.name}': object '{key}' line {number}: feature index 0 in data whose "
            f"training indices are 1-based: {_shown(line)}"
        )
    width = int(cols.max()) + 1 if cols.size else 1
    if n_features is not None:
        if width > n_features:
            r = int(np.repeat(np.arange(len(labels)), counts)[np.flatnonzero(cols >= n_features)[0]])
            key, number, line = where[r]
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' line {number}: feature index "
                f"{int(idx[np.flatnonzero(cols >= n_features)[0]])} is beyond the {n_features} features of "
                f"the training data: {_shown(line)}"
            )
        width = n_features
    x = np.zeros((len(labels), width), dtype=np.float64)
    rows = np.repeat(np.arange(len(labels)), counts)
    x[rows, cols] = pairs[:, 1]
    return x, y, index_base


def _diagnose_libsvm(channel: ChannelData, where: list[tuple[str, int, str]]) -> None:
    for key, number, line in where:
        tokens = line.split()
        problem = ""
        try:
            float(tokens[0])
        except ValueError:
            problem = f"label {tokens[0]!r} is not a number"
        if not problem:
            for tok in tokens[1:]:
                i, sep, v = tok.partition(":")
                try:
                    ok = sep == ":" and int(i) >= 0 and np.isfinite(float(v))
                except ValueError:
                    ok = False
                if not ok:
                    problem = f"{tok!r} is not an index:value pair"
                    break
        if problem:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' line {number}: {problem} "
                f"(libsvm lines are 'label index:value ...'): {_shown(line)}"
            )


# ----------------------------------------------------------------------- parquet
def read_parquet(channel: ChannelData) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from Parquet objects whose first column is the label."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    blocks = []
    for key, data in channel.objects:
        if not data:
            continue
        try:
            table = pq.read_table(pa.BufferReader(bytes(data)))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' is not a readable Parquet file ({exc})."
            ) from None
        cols = []
        for name, col in zip(table.column_names, table.columns):
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
                    or pa.types.is_boolean(col.type)):
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' column '{name}' has type {col.type}; "
                    "every column must be numeric (label first)."
                )
            cols.append(col.to_numpy(zero_copy_only=False).astype(np.float64))
        if len(cols) < 2:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' needs a label column and at least one feature."
            )
        if table.num_rows:
            blocks.append((key, np.column_stack(cols)))
    if not blocks:
        raise empty_error(channel)
    width = blocks[0][1].shape[1]
    for key, b in blocks:
        if b.shape[1] != width:
            raise AlgorithmClientError(
                f"Channel '{channel.name}': object '{key}' has {b.shape[1]} columns but object "
                f"'{blocks[0][0]}' has {width}."
            )
    data = np.vstack([b for _, b in blocks])
    if np.isnan(data[:, 0]).any():
        raise AlgorithmClientError(f"Channel '{channel.name}': the label column has missing values.")
    return np.ascontiguousarray(data[:, 1:]), data[:, 0].copy()


# -------------------------------------------------------------------- JSON Lines
def read_jsonlines(channel: ChannelData) -> list[tuple[str, int, dict[str, Any]]]:
    """``(key, line number, object)`` for every JSON object, one per line."""
    out = []
    for key, text in _texts(channel):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number} is not valid JSON ({exc.msg}): "
                    f"{_shown(line)}"
                ) from None
            if not isinstance(obj, dict):
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number} is not a JSON object: {_shown(line)}"
                )
            out.append((key, number, obj))
    if not out:
        raise empty_error(channel)
    return out


# ------------------------------------------------------------- BlazingText lines
_LABEL = "__label__"


def read_labelled_text(channel: ChannelData) -> tuple[list[str], list[str]]:
    """``(labels, texts)`` from ``__label__<class> tokens ...`` lines (first label of a line counts)."""
    labels: list[str] = []
    texts: list[str] = []
    for key, text in _texts(channel):
        for number, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            label = next((t for t in tokens if t.startswith(_LABEL) and len(t) > len(_LABEL)), None)
            if label is None:
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number} has no '__label__<class>' "
                    f"token (supervised mode reads '__label__<class> word word ...'): {_shown(line)}"
                )
            labels.append(label[len(_LABEL):])
            texts.append(" ".join(t for t in tokens if not t.startswith(_LABEL)))
    if not labels:
        raise empty_error(channel)
    return labels, texts


# ------------------------------------------------------------------ .lst + images
_LST_SPLIT = re.compile(r"\t+")


def read_lst(channel: ChannelData) -> list[tuple[float, str, str, int]]:
    """``(label, relative path, key, line)`` from ``<index>\\t<label>\\t<relative path>`` lines."""
    entries = []
    for key, text in _texts(channel):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = _LST_SPLIT.split(line.strip())
            if len(parts) < 3:
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number}: expected "
                    f"'<index>\\t<label>\\t<relative path>': {_shown(line)}"
                )
            try:
                int(float(parts[0]))
                label = float(parts[1])
            except ValueError:
                raise AlgorithmClientError(
                    f"Channel '{channel.name}': object '{key}' line {number}: index and label must be "
                    f"numbers: {_shown(line)}"
                ) from None
            entries.append((label, parts[-1], key, number))
    if not entries:
        raise empty_error(channel)
    return entries


def decode_image(data: bytes) -> np.ndarray:
    """One PNG as a 2-D uint8 array (engine.datasets.png); ValueError on bad input."""
    from engine.datasets.png import decode_png

    return np.asarray(decode_png(bytes(data)))


def read_lst_images(images: ChannelData, lst: ChannelData, *, shard: bool = False
                    ) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """``(images, labels, paths)``: each .lst path is matched to an image key by suffix and decoded.

    ``shard``: ``images`` is one instance's share of the channel, so .lst entries whose image
    went to another instance are skipped (an error only if none is left).
    """
    by_suffix: dict[str, bytes] = {}
    for key, data in images.objects:
        parts = key.split("/")
        for i in range(len(parts)):
            by_suffix.setdefault("/".join(parts[i:]), data)
    decoded, ys, paths = [], [], []
    for label, rel, key, number in read_lst(lst):
        data = by_suffix.get(rel.lstrip("./").lstrip("/"))
        if data is None and shard:
            continue
        if data is None:
            raise AlgorithmClientError(
                f"Channel '{lst.name}': object '{key}' line {number}: image '{rel}' is not in channel "
                f"'{images.name}' ({len(images.objects)} objects)."
            )
        try:
            img = decode_image(data)
        except ValueError as exc:
            raise AlgorithmClientError(
                f"Channel '{images.name}': image '{rel}' (listed in '{key}' line {number}) could not be "
                f"decoded: {exc}"
            ) from None
        decoded.append(img)
        ys.append(label)
        paths.append(rel)
    if not decoded:
        raise AlgorithmClientError(
            f"Channel '{images.name}': none of the images listed in channel '{lst.name}' is in this "
            f"instance's share of the channel ({len(images.objects)} objects)."
        )
    return decoded, np.asarray(ys, dtype=np.float64), paths


# ------------------------------------------------------------------- instances
def instance_shards(
    algorithm: str,
    multi_instance: bool,
    channels: dict[str, ChannelData],
    shards: list[ChannelData] | None,
    instance_count: int,
) -> list[ChannelData]:
    """The train channel as each instance sees it (one entry for a single instance).

    Single-instance algorithms reject InstanceCount > 1. Without ``shards`` every
    instance sees the whole channel (FullyReplicated). Instances whose shard holds
    no objects (more instances than S3 objects with ShardedByS3Key) are dropped.
    """
    if "train" not in channels:
        raise AlgorithmClientError(f"{algorithm} requires a 'train' channel; channels given: "
                                   f"{sorted(channels) or 'none'}.")
    count = max(int(instance_count or 1), len(shards) if shards else 1)
    if count > 1 and not multi_instance:
        raise AlgorithmClientError(
            f"{algorithm} supports only single-instance training (InstanceCount=1); "
            f"InstanceCount={count} was requested."
        )
    if count == 1:
        return [shards[0] if shards else channels["train"]]
    parts = list(shards) if shards else [channels["train"]] * count
    parts = [p for p in parts if any(len(data) for _, data in p.objects)]
    if not parts:
        raise empty_error(channels["train"])
    return parts


"""A minimal PNG codec for 8-bit grayscale images (pure Python + zlib + struct).

The simulated bucket stores the digits as real PNG files so that learners meet the
same objects the Image Classification algorithm reads on AWS, and the simulated
algorithm must be able to read back whatever a learner uploads. Pillow is not a
dependency, so this module covers exactly what the simulator needs:

* ``encode_png`` writes 8-bit grayscale, non-interlaced, filter type 0 (None);
  the output is deterministic for a given array (fixed zlib level, no timestamps).
* ``decode_png`` reads 8-bit grayscale or 8-bit RGB, non-interlaced PNGs with any
  of the five row filters (other encoders use adaptive filtering), verifies every
  CRC, and converts RGB to gray by averaging the three channels. Anything else
  (palette, alpha, 16-bit, interlaced, truncated or corrupt data) raises ValueError,
  which the engine reports to the learner as a bad input image.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import OrderedDict

import numpy as np

__all__ = ["PNG_SIGNATURE", "decode_png", "encode_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_GRAY = 0
_RGB = 2
_CHANNELS = {_GRAY: 1, _RGB: 3}
#: Refuse absurd headers before allocating memory for them.
_MAX_SIDE = 1 << 14


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode a 2-D ``uint8`` array (rows x columns) as an 8-bit grayscale PNG."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim != 2:
        raise ValueError(f"encode_png needs a 2-D uint8 array, got {array.dtype} with shape {array.shape}")
    height, width = array.shape
    if not (0 < height <= _MAX_SIDE and 0 < width <= _MAX_SIDE):
        raise ValueError(f"image size {width}x{height} is out of range")
    raw = np.zeros((height, width + 1), dtype=np.uint8)  # leading 0 = filter type None
    raw[:, 1:] = array
    header = struct.pack(">IIBBBBB", width, height, 8, _GRAY, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def _read_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split the byte stream into (type, payload) pairs, checking lengths and CRCs."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError("PNG data must be bytes")
    data = bytes(data)
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise ValueError("truncated PNG chunk")
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 8 + length
        if length > 0x7FFFFFFF or end + 4 > len(data):
            raise ValueError("truncated PNG chunk")
        if not kind.isalpha():
            raise ValueError(f"invalid PNG chunk type {kind!r}")
        payload = data[pos + 8 : end]
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(kind + payload) != crc:
            raise ValueError(f"CRC mismatch in PNG chunk {kind.decode('ascii')}")
        chunks.append((kind, payload))
        pos = end + 4
        if kind == b"IEND":
            break
    if pos != len(data):
        raise ValueError("unexpected data after PNG IEND chunk")
    return chunks


def _parse_header(payload: bytes) -> tuple[int, int, int]:
    if len(payload) != 13:
        raise ValueError("bad PNG IHDR length")
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", payload)
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise ValueError(f"unsupported PNG size {width}x{height}")
    if depth != 8 or color not in _CHANNELS:
        raise ValueError(f"unsupported PNG: bit depth {depth}, color type {color} (need 8-bit gray or RGB)")
    if compression != 0 or filtering != 0:
        raise ValueError("unsupported PNG compression or filter method")
    if interlace != 0:
        raise ValueError("interlaced PNGs are not supported")
    return width, height, _CHANNELS[color]


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    to_left, to_up, to_up_left = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if to_left <= to_up and to_left <= to_up_left:
        return left
    return up if to_up <= to_up_left else up_left


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    """Undo the per-row PNG filters and return the (height, width * bpp) byte matrix."""
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError("PNG image data has the wrong length")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind = int(rows[y, 0])
        line = rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:  # Sub: running sum along each channel, modulo 256
            current = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            current = line + previous
        elif kind in (3, 4):  # Average, Paeth: each byte depends on the one just decoded
            values = bytearray(line.tobytes())
            above = previous.tobytes()
            for x in range(stride):
                left = values[x - bpp] if x >= bpp else 0
                if kind == 3:
                    predictor = (left + above[x]) >> 1
                else:
                    predictor = _paeth(left, above[x], above[x - bpp] if x >= bpp else 0)
                values[x] = (values[x] + predictor) & 0xFF
            current = np.frombuffer(bytes(values), dtype=np.uint8)
        else:
            raise ValueError(f"invalid PNG filter type {kind}")
        out[y] = current
        previous = current
    return out


#: Decoded images by their bytes (a labeling job or a training reads the same digits again in every
#: engine of a quiz question), bounded by the pixels kept.
_DECODED_MAX_PIXELS = 16 * 1024 * 1024
_decoded: OrderedDict[bytes, np.ndarray] = OrderedDict()
_decoded_pixels = 0
_decoded_lock = threading.Lock()


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit grayscale or RGB PNG into a 2-D ``uint8`` gray array.

    RGB pixels become the rounded mean of their three channels. The last images decoded are
    remembered by their bytes; each call returns an array of its own.
    """
    global _decoded_pixels
    key = bytes(data)
    with _decoded_lock:
        hit = _decoded.get(key)
        if hit is not None:
            _decoded.move_to_end(key)
            return hit.copy()
    image = _decode(key)
    with _decoded_lock:
        if key not in _decoded:
            _decoded[key] = image.copy()
            _decoded_pixels += image.size
            while _decoded_pixels > _DECODED_MAX_PIXELS and _decoded:
                _decoded_pixels -= _decoded.popitem(last=False)[1].size
    return image


def _decode(data: bytes) -> np.ndarray:
    chunks = _read_chunks(data)
    if chunks[0][0] != b"IHDR":
        raise ValueError("PNG does not start with IHDR")
    width, height, channels = _parse_header(chunks[0][1])
    idat: list[bytes] = []
    idat_closed = False
    for kind, payload in chunks[1:]:
        if kind == b"IDAT":
            if idat_closed:
                raise ValueError("PNG IDAT chunks are not consecutive")
            idat.append(payload)
        else:
            idat_closed = idat_closed or bool(idat)
            if kind == b"IHDR":
                raise ValueError("PNG has more than one IHDR")
            if kind == b"PLTE" and channels == 1:
                raise ValueError("PLTE chunk in a grayscale PNG")
            if kind not in (b"PLTE", b"IEND") and kind[0:1].isupper():
                raise ValueError(f"unsupported critical PNG chunk {kind.decode('ascii')}")
    if not idat:
        raise ValueError("PNG has no image data")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(idat))
        if not inflater.eof:
            raise ValueError("truncated zlib stream in PNG")
    except zlib.error as exc:
        raise ValueError(f"corrupt PNG image data: {exc}") from exc
    pixels = _unfilter(raw, width, height, channels)
    if channels == 1:
        return pixels
    rgb = pixels.reshape(height, width, 3).astype(np.uint16)
    return ((rgb.sum(axis=2) + 1) // 3).astype(np.uint8)

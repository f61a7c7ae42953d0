"""A small CBOR codec (RFC 8949) for the Smithy RPC v2 CBOR protocol botocore uses for CloudWatch.

Only what that protocol carries: integers, floats, byte and text strings,
arrays, maps, booleans, null, and tag 1 (epoch-seconds timestamps).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any


class Tagged:
    """A tagged item this codec does not interpret (its tag and value)."""

    def __init__(self, tag: int, value: Any):
        self.tag, self.value = tag, value


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    return bytes([major << 5 | 27]) + struct.pack(">Q", n)


def dumps(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(v: Any, out: bytearray) -> None:
    if v is None:
        out.append(0xF6)
    elif v is True:
        out.append(0xF5)
    elif v is False:
        out.append(0xF4)
    elif isinstance(v, int):
        out += _head(0, v) if v >= 0 else _head(1, -1 - v)
    elif isinstance(v, float):
        out += b"\xfb" + struct.pack(">d", v)
    elif isinstance(v, bytes | bytearray):
        out += _head(2, len(v)) + bytes(v)
    elif isinstance(v, str):
        b = v.encode()
        out += _head(3, len(b)) + b
    elif isinstance(v, datetime):
        out += b"\xc1"
        _encode((v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp(), out)
    elif isinstance(v, list | tuple):
        out += _head(4, len(v))
        for x in v:
            _encode(x, out)
    elif isinstance(v, dict):
        out += _head(5, len(v))
        for k, x in v.items():
            _encode(k, out)
            _encode(x, out)
    else:
        raise TypeError(f"cannot encode {type(v).__name__} as CBOR")


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated CBOR data")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b


_BREAK = object()


def loads(data: bytes) -> Any:
    r = _Reader(data)
    v = _decode(r)
    if r.pos != len(data):
        raise ValueError("trailing bytes after the CBOR data item")
    return v


def _arg(r: _Reader, info: int) -> int | None:
    if info < 24:
        return info
    if info == 24:
        return r.take(1)[0]
    if info == 25:
        return struct.unpack(">H", r.take(2))[0]
    if info == 26:
        return struct.unpack(">I", r.take(4))[0]
    if info == 27:
        return struct.unpack(">Q", r.take(8))[0]
    if info == 31:
        return None  # indefinite length
    raise ValueError(f"bad CBOR additional information {info}")


def _decode(r: _Reader) -> Any:
    ib = r.take(1)[0]
    major, info = ib >> 5, ib & 0x1F
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(r.take(2))
        if info == 26:
            return struct.unpack(">f", r.take(4))[0]
        if info == 27:
            return struct.unpack(">d", r.take(8))[0]
        if info == 31:
            return _BREAK
        raise ValueError(f"unsupported CBOR simple value {info}")
    n = _arg(r, info)
    if major == 0:
        return n
    if major == 1:
        return -1 - n
    if major in (2, 3):
        if n is None:
            parts = []
            while (x := _decode(r)) is not _BREAK:
                parts.append(x)
            raw = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
        else:
            raw = r.take(n)
        return raw if major == 2 else raw.decode()
    if major == 4:
        if n is None:
            items = []
            while (x := _decode(r)) is not _BREAK:
                items.append(x)
            return items
        return [_decode(r) for _ in range(n)]
    if major == 5:
        out = {}
        if n is None:
            while (k := _decode(r)) is not _BREAK:
                out[k] = _decode(r)
            return out
        for _ in range(n):
            k = _decode(r)
            out[k] = _decode(r)
        return out
    if major == 6:
        v = _decode(r)
        if n == 1:
            return datetime.fromtimestamp(v, UTC)
        return Tagged(n, v)
    raise ValueError(f"bad CBOR major type {major}")


def _half(b: bytes) -> float:
    h = struct.unpack(">H", b)[0]
    sign, exp, frac = h >> 15, (h >> 10) & 0x1F, h & 0x3FF
    if exp == 0:
        v = frac * 2.0 ** -24
    elif exp == 31:
        v = float("inf") if frac == 0 else float("nan")
    else:
        v = (frac + 1024) * 2.0 ** (exp - 25)
    return -v if sign else v

"""Decoding: plain data from the kernel to values, in the judge (see `coursekit.judge.codec`).

Trust boundary. This runs in the judge on data from the student's kernel: it is written
for hostile input. It never unpickles, evaluates, imports or calls anything the data
names; builds only the listed types; checks every dtype against a whitelist; counts items
and depth against the caps; and raises `DecodeError` on anything malformed. pandas values
are decoded by `codec_frames`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as _dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from coursekit.judge import codec_frames
from coursekit.judge.codec_fields import dtype_field as _dtype
from coursekit.judge.codec_fields import typed_values as _typed
from coursekit.judge.codec_types import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_ITEMS,
    MAX_STR,
    DecodeError,
    unsupported,
)

_SAFE_INT = 2**53


class Decoder:
    def __init__(self, *, axes_decoder=None):
        self.items = 0
        self.axes_decoder = axes_decoder

    def _count(self, n: int = 1) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise DecodeError("too many items")

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH + 2:
            raise DecodeError("nested too deeply")
        self._count()
        cls = type(data)
        if data is None or cls is bool:
            return data
        if cls is int:
            if not -_SAFE_INT <= data <= _SAFE_INT:
                raise DecodeError("plain JSON int out of range")
            return data
        if cls is float:
            return data
        if cls is str:
            if len(data) > MAX_STR:
                raise DecodeError("string too long")
            return data
        if cls is list:
            return [self.decode(v, depth + 1) for v in data]
        if cls is not dict:
            raise DecodeError(f"unexpected JSON type {cls.__name__}")
        tag = data.get("$")
        handler = _TAGS.get(tag) if isinstance(tag, str) else None
        if handler is None:
            raise DecodeError(f"unknown tag {str(tag)[:40]!r}")
        return handler(self, data, depth)

    def many(self, data: Any, depth: int) -> list:
        if type(data) is not list:
            raise DecodeError("expected a list")
        return [self.decode(v, depth + 1) for v in data]


def _field(data: dict, key: str, kind: type | tuple) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and type(value) is bool):
        raise DecodeError(f"field {key!r} missing or of the wrong type")
    return value


def _d_int(dec, data, depth):
    digits = _field(data, "v", str)
    if len(digits) > MAX_INT_DIGITS + 1 or not re.fullmatch(r"-?[0-9]+", digits):
        raise DecodeError("bad big int")
    return int(digits)


def _d_float(dec, data, depth):
    value = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(data.get("v"))
    if value is None:
        raise DecodeError("bad float")
    return value


def _num(dec, value, depth) -> float:
    found = dec.decode(value, depth + 1)
    if type(found) not in (int, float):
        raise DecodeError("expected a number")
    return float(found)


def _d_complex(dec, data, depth):
    return complex(_num(dec, data.get("re"), depth), _num(dec, data.get("im"), depth))


def _d_bytes(dec, data, depth):
    text = _field(data, "v", str)
    if len(text) > MAX_BYTES * 4 // 3 + 8:
        raise DecodeError("bytes too long")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("bad base64") from None


def _d_tuple(dec, data, depth):
    return tuple(dec.many(data.get("v"), depth))


def _d_set(dec, data, depth):
    items = dec.many(data.get("v"), depth)
    try:
        return (set if data["$"] == "set" else frozenset)(items)
    except TypeError:
        raise DecodeError("unhashable set item") from None


def _d_dict(dec, data, depth):
    keys, values = dec.many(data.get("k"), depth), dec.many(data.get("v"), depth)
    if len(keys) != len(values):
        raise DecodeError("dict keys and values differ in length")
    kind = {"dict": dict, "OrderedDict": collections.OrderedDict, "Counter": collections.Counter,
            "defaultdict": collections.defaultdict}.get(data.get("t"))
    if kind is None:
        raise DecodeError("bad dict kind")
    found = kind()
    try:
        for k, v in zip(keys, values, strict=True):
            found[k] = v
    except TypeError:
        raise DecodeError("unhashable dict key") from None
    return found


def _d_date(dec, data, depth):
    text = _field(data, "v", str)
    try:
        if len(text) > 40:
            raise ValueError
        return (_dt.datetime if data["$"] == "datetime" else _dt.date).fromisoformat(text)
    except ValueError:
        raise DecodeError("bad date") from None


def _d_np(dec, data, depth):
    dtype = _dtype(data.get("dtype"), "biufcUSMm")
    raw = data.get("v")
    if dtype.kind in "Mm":
        unit = np.datetime_data(dtype)[0]
        if raw is None:
            return (np.datetime64 if dtype.kind == "M" else np.timedelta64)("NaT", unit)
        if type(raw) is not int or abs(raw) > 2**63 - 1:
            raise DecodeError("bad datetime64")
        return (np.datetime64 if dtype.kind == "M" else np.timedelta64)(raw, unit)
    value = dec.decode(raw, depth + 1)
    if type(value) not in (bool, int, float, complex, str, bytes):
        raise DecodeError("bad numpy scalar")
    try:
        return np.array([value], dtype=dtype)[0]
    except (ValueError, TypeError, OverflowError):
        raise DecodeError("numpy scalar out of range") from None


def _d_nd(dec, data, depth):
    shape = data.get("shape")
    if type(shape) is not list or len(shape) > 8 or not all(type(n) is int and 0 <= n <= MAX_ITEMS for n in shape):
        raise DecodeError("bad shape")
    size = math.prod(shape)
    values = data.get("v")
    if type(values) is not list or len(values) != size:
        raise DecodeError("array size does not match its shape")
    dec._count(size)
    if data.get("dtype") == "O":
        out = np.empty(size, dtype=object)
        for i, v in enumerate(values):
            out[i] = dec.decode(v, depth + 1)
        return out.reshape(shape)
    dtype = _dtype(data.get("dtype"), "biufcUSMm")
    return _typed(dec, dtype, values, depth).reshape(shape)


def _d_nat(dec, data, depth):
    return pd.NaT


def _d_na(dec, data, depth):
    return pd.NA


def _d_unsupported(dec, data, depth):
    return unsupported(data.get("type"))


def _d_axes(dec, data, depth):
    if dec.axes_decoder is None:
        return unsupported("matplotlib.axes.Axes")
    return dec.axes_decoder(data)


_TAGS = {
    "int": _d_int, "float": _d_float, "complex": _d_complex, "bytes": _d_bytes, "tuple": _d_tuple,
    "set": _d_set, "frozenset": _d_set, "dict": _d_dict, "date": _d_date, "datetime": _d_date,
    "np": _d_np, "nd": _d_nd, "ts": codec_frames.decode_timestamp, "nat": _d_nat, "na": _d_na,
    "td": codec_frames.decode_timedelta, "period": codec_frames.decode_period, "index": codec_frames.decode_index,
    "series": codec_frames.decode_series, "df": codec_frames.decode_frame, "unsupported": _d_unsupported,
    "axes": _d_axes,
}



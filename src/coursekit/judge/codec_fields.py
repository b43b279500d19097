"""Field checks shared by `codec_decode` and `codec_frames` (kept apart so that neither
imports the other): an int64 field, a whitelisted NumPy dtype, a list of values of one dtype.

Trust boundary: as `codec_decode` -- hostile input; every failure is a `DecodeError`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from coursekit.judge.codec_types import DecodeError


def int_field(data: dict, key: str) -> int:
    value = data.get(key)
    if type(value) is not int or abs(value) > 2**63:
        raise DecodeError(f"field {key!r} is not an int64")
    return value


_DTYPE = re.compile(r"[<>|=]?([biufc][1248]{1,2}|[US][0-9]{1,7}|[Mm]8\[(Y|M|W|D|h|m|s|ms|us|ns)\])")


def dtype_field(text: Any, kinds: str) -> np.dtype:
    if not isinstance(text, str) or not _DTYPE.fullmatch(text):
        raise DecodeError(f"dtype {str(text)[:30]!r} not allowed")
    dtype = np.dtype(text)
    if dtype.kind not in kinds or dtype.itemsize > 4 * 10_000_000:
        raise DecodeError("dtype kind not allowed")
    return dtype


def typed_values(dec, dtype: np.dtype, values: list, depth: int) -> np.ndarray:
    try:
        if dtype.kind in "Mm":
            ints = [np.iinfo("int64").min if v is None else v for v in values]
            if not all(type(v) is int for v in ints):
                raise DecodeError("bad datetime values")
            return np.array(ints, dtype="int64").view(dtype)
        items = [dec.decode(v, depth + 1) for v in values]
        allowed = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "c": (int, float, complex),
                   "U": (str,), "S": (bytes,)}[dtype.kind]
        if not all(type(v) in allowed for v in items):
            raise DecodeError(f"values do not fit dtype {dtype}")
        return np.array(items, dtype=dtype) if items else np.empty(0, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        raise DecodeError("array values out of range") from None

"""Encoding: a Python value to plain JSON-able data (see `coursekit.judge.codec`).

Trust boundary. This runs in the student's kernel (untrusted) for returned values and in
the judge for test arguments. Its output is only data; in the kernel, student code may
replace this module, which changes only what the kernel reports for its own function.
Exact types are matched (`type(x) is int`), so subclasses and unknown types become
`{"$": "unsupported", "type": name}`.
"""

from __future__ import annotations

import base64
import collections
import datetime as _dt
import math
from typing import Any

import numpy as np
import pandas as pd

from coursekit.judge.codec_types import MAX_BYTES, MAX_DEPTH, MAX_INT_DIGITS, MAX_ITEMS, MAX_STR, EncodeError, type_name

_SAFE_INT = 2**53

_NP_SCALARS = {
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128, np.str_, np.bytes_,
    np.datetime64, np.timedelta64,
}
_DT_UNITS = ("s", "ms", "us", "ns")  # pandas' units
_NP_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns")  # NumPy's (no multiples)
_DICT_KINDS = {dict: "dict", collections.OrderedDict: "OrderedDict", collections.Counter: "Counter",
               collections.defaultdict: "defaultdict"}


class Encoder:
    """One encoding: counts items and depth against the caps."""

    def __init__(self, *, max_items: int = MAX_ITEMS, axes_encoder=None):
        self.items = 0
        self.max_items = max_items
        self.axes_encoder = axes_encoder

    def _count(self, n: int = 1) -> None:
        self.items += n
        if self.items > self.max_items:
            raise EncodeError(f"the value has more than {self.max_items:,} items")

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise EncodeError(f"the value is nested more than {MAX_DEPTH} levels deep")
        self._count()
        cls = type(value)
        if value is None or cls is bool:
            return value
        if cls is int:
            if -_SAFE_INT <= value <= _SAFE_INT:
                return value
            if value.bit_length() > MAX_INT_DIGITS * 3.33:
                raise EncodeError(f"an int with more than {MAX_INT_DIGITS} digits")
            return {"$": "int", "v": str(value)}
        if cls is float:
            return _float(value)
        if cls is str:
            if len(value) > MAX_STR:
                raise EncodeError(f"a string of more than {MAX_STR:,} characters")
            self._count(len(value) // 1000)
            return value
        if cls is complex:
            return {"$": "complex", "re": _float(value.real), "im": _float(value.imag)}
        if cls is bytes or cls is bytearray:
            if len(value) > MAX_BYTES:
                raise EncodeError(f"bytes longer than {MAX_BYTES:,}")
            return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
        if cls is list:
            return [self.encode(v, depth + 1) for v in list.__iter__(value)]
        if cls is tuple:
            return {"$": "tuple", "v": [self.encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if cls is set or cls is frozenset:
            return {"$": cls.__name__, "v": [self.encode(v, depth + 1) for v in cls.__iter__(value)]}
        if cls in _DICT_KINDS:
            keys, values = [], []
            for k, v in dict.items(value):
                keys.append(self.encode(k, depth + 1))
                values.append(self.encode(v, depth + 1))
            return {"$": "dict", "t": _DICT_KINDS[cls], "k": keys, "v": values}
        if cls is _dt.datetime:
            if value.tzinfo is not None:
                return unsupported_data(value)
            return {"$": "datetime", "v": value.isoformat()}
        if cls is _dt.date:
            return {"$": "date", "v": value.isoformat()}
        if cls in _NP_SCALARS:
            return self._np_scalar(value)
        if cls is np.ndarray:
            return self._ndarray(value, depth)
        if cls is pd.Timestamp:
            return _timestamp(value)
        if value is pd.NaT:
            return {"$": "nat"}
        if cls is pd.Timedelta:
            return {"$": "td", "v": int(value.asm8.view("int64")), "unit": value.unit}
        if value is pd.NA:
            return {"$": "na"}
        if cls is pd.Period:
            return {"$": "period", "v": int(value.ordinal), "freq": value.freqstr}
        if isinstance(value, pd.Index) and cls.__module__.startswith("pandas"):
            return self._index(value, depth)
        if cls is pd.Series:
            return {"$": "series", "name": self.encode(value.name, depth + 1),
                    "index": self._index(value.index, depth + 1), "data": self._column(value.array, depth + 1)}
        if cls is pd.DataFrame:
            if value.columns.has_duplicates:
                return unsupported_data(value, "DataFrame_with_duplicate_columns")
            return {"$": "df", "columns": self._index(value.columns, depth + 1),
                    "index": self._index(value.index, depth + 1),
                    "data": [self._column(value.iloc[:, i].array, depth + 1) for i in range(value.shape[1])]}
        if self.axes_encoder is not None:
            found = self.axes_encoder(value, self)
            if found is not None:
                return found
        return unsupported_data(value)

    def _np_scalar(self, value) -> dict:
        dtype = value.dtype
        if dtype.kind in "Mm":
            unit, count = np.datetime_data(dtype)
            if unit not in _NP_UNITS or count != 1:
                return unsupported_data(value)
            raw = int(value.astype("int64"))
            return {"$": "np", "dtype": dtype.str, "v": None if np.isnat(value) else raw}
        return {"$": "np", "dtype": dtype.str, "v": self.encode(value.item())}

    def _ndarray(self, value: np.ndarray, depth: int) -> dict:
        dtype = value.dtype
        if dtype.kind not in "biufcMmUSO" or dtype.names is not None:
            return unsupported_data(value, "ndarray_of_" + str(dtype))
        self._count(value.size)
        flat = value.ravel()
        if dtype.kind in "Mm":
            unit, count = np.datetime_data(dtype)
            if unit not in _NP_UNITS or count != 1:
                return unsupported_data(value)
            ints, missing = flat.view("int64").tolist(), np.isnat(flat).tolist()
            data = [None if m else int(v) for v, m in zip(ints, missing, strict=True)]
        elif dtype.kind == "O":
            data = [self.encode(v, depth + 1) for v in flat.tolist()]
        else:
            data = [self.encode(v, depth + 1) for v in flat.tolist()]
        return {"$": "nd", "dtype": dtype.str if dtype.kind != "O" else "O", "shape": list(value.shape), "v": data}

    def _column(self, array, depth: int) -> dict:
        """A 1-d pandas array (a column, a Series' values, an Index's values)."""
        dtype = array.dtype
        self._count(len(array))
        if type(dtype).__name__ == "NumpyEADtype":  # a numpy-backed pandas array
            dtype = dtype.numpy_dtype
        if isinstance(dtype, np.dtype):
            if dtype.kind in "biufMm":
                encoded = self._ndarray(np.asarray(array), depth)
                if encoded.get("$") != "nd":
                    raise _Unencodable(str(dtype))
                return {"kind": "np", "dtype": encoded["dtype"], "v": encoded["v"]}
            if dtype.kind == "O":
                return {"kind": "object", "v": [self.encode(v, depth + 1) for v in np.asarray(array).tolist()]}
            raise _Unencodable(str(dtype))
        if isinstance(dtype, pd.StringDtype):
            values = [None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)
                      for v in np.asarray(array, dtype=object).tolist()]
            return {"kind": "string", "storage": dtype.storage, "na": "nan" if dtype.na_value is not pd.NA else "NA",
                    "v": values}
        if isinstance(dtype, pd.CategoricalDtype):
            return {"kind": "category", "ordered": bool(dtype.ordered),
                    "categories": self._column(dtype.categories.array, depth + 1),
                    "codes": [int(c) for c in array.codes.tolist()]}
        if isinstance(dtype, pd.DatetimeTZDtype):
            naive = array.tz_localize(None)
            inner = self._column(pd.array(naive), depth)
            return {"kind": "datetimetz", "tz": str(dtype.tz), "inner": inner}
        if isinstance(dtype, pd.PeriodDtype):
            return {"kind": "period", "freq": str(dtype)[len("period["):-1],
                    "v": [None if pd.isna(p) else int(p.ordinal) for p in array]}
        if isinstance(dtype, (pd.BooleanDtype, pd.core.dtypes.dtypes.BaseMaskedDtype)) and dtype.name in _MASKED:
            return {"kind": "masked", "dtype": dtype.name,
                    "v": [None if v is pd.NA else self.encode(v, depth + 1) for v in array.tolist()]}
        raise _Unencodable(str(dtype))

    def _index(self, index: pd.Index, depth: int) -> dict:
        cls = type(index)
        if cls is pd.RangeIndex:
            return {"$": "index", "range": [index.start, index.stop, index.step],
                    "name": self.encode(index.name, depth + 1)}
        if cls is pd.MultiIndex:
            raise _Unencodable("MultiIndex")
        found = {"$": "index", "name": self.encode(index.name, depth + 1), "data": self._column(index.array, depth + 1)}
        freq = getattr(index, "freq", None)
        if cls is pd.DatetimeIndex and freq is not None:
            found["freq"] = freq.freqstr
        return found


_MASKED = {"boolean", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64"}


class _Unencodable(Exception):
    pass


def unsupported_data(value: Any, name: str | None = None) -> dict:
    return {"$": "unsupported", "type": name or type_name(value)}


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$": "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _timestamp(value: pd.Timestamp) -> dict:
    found = {"$": "ts", "v": int(value.asm8.view("int64")), "unit": value.unit}
    if value.tz is not None:
        found["tz"] = str(value.tz)
    return found



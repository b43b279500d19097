"""Values to plain JSON data and back: what crosses the line between kernel and judge.

Trust boundary. `encode` runs on both sides: in the judge for a test's arguments and in
the student's kernel (untrusted) for what the student's function returned. `decode` runs
in the judge on whatever the kernel sent, so it is written for hostile input: it never
unpickles, never evaluates, never imports or calls anything named by the data, builds
only the types listed below, and is total -- any malformed, oversized or unexpected input
raises `DecodeError` (a plain `Exception`), nothing else.

Encoded forms (JSON values):

- `null`, `true`/`false`, JSON strings and lists stand for None, bools, str and list;
- ints within +-2**53 and finite floats are JSON numbers (1 and 1.0 stay apart);
- every other value is an object `{"$": tag, ...}`: `int` (big, as digits), `float`
  (nan/inf), `complex`, `bytes` (base64), `tuple`, `set`, `frozenset`, `dict` (ordered
  key and value lists, any hashable keys; Counter/OrderedDict/defaultdict keep their
  class), `date`, `datetime`, `np` (a NumPy scalar with its dtype), `nd` (an array),
  `ts`/`nat`/`td`/`period` (pandas scalars), `index`, `series`, `df`, `axes` (see
  coursekit.judge.axes) and `unsupported` (anything else: only its type's name).

Exact types are matched (`type(x) is int`, not isinstance), so an instance of a student's
subclass (an int whose `__eq__` is always True, a list that lies about its length) is
encoded as `unsupported`, and decodes to an `Unsupported` object that equals nothing.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import collections
import datetime as _dt
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

# --- caps -------------------------------------------------------------------------------

MAX_DEPTH = 40  # nesting of containers
MAX_ITEMS = 2_000_000  # scalars in one value (array elements count one each)
MAX_STR = 4_000_000  # characters in one string
MAX_BYTES = 1_000_000  # bytes in one bytes value
MAX_INT_DIGITS = 1000  # decimal digits of one int
MAX_JSON = 32_000_000  # characters of one encoded value
MAX_MESSAGE = 2000  # characters of an exception's message
MAX_NAME = 80  # characters of a type's name

_SAFE_INT = 2**53


class EncodeError(Exception):
    """A value too big or too deep to send (the caps above)."""


class DecodeError(Exception):
    """Data that is not a well-formed encoded value."""


class Unsupported:
    """What a value of a type the codec does not carry becomes in the judge.

    It equals nothing (not even itself), is an instance of nothing a test checks for,
    and says in its repr what the student's code returned. `type(x).__name__` is the
    original type's name (a fresh subclass of `Unsupported` per name), so a test's
    message ("should return a list, not a MyList") still reads right.
    """

    __slots__ = ()
    original = "object"

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<a {self.original} value (not carried to the judge: unsupported type)>"

    __str__ = __repr__


_UNSUPPORTED_CLASSES: dict[str, type] = {}


def unsupported(name: Any) -> Unsupported:
    name = name if isinstance(name, str) else "object"
    name = re.sub(r"[^0-9A-Za-z_.]", "_", name)[:MAX_NAME] or "object"
    short = name.rsplit(".", 1)[-1] or "object"
    cls = _UNSUPPORTED_CLASSES.get(name)
    if cls is None:
        if len(_UNSUPPORTED_CLASSES) > 1000:
            _UNSUPPORTED_CLASSES.clear()
        cls = type(short, (Unsupported,), {"__slots__": (), "original": name, "__module__": "coursekit.judge"})
        _UNSUPPORTED_CLASSES[name] = cls
    return cls()


def type_name(value: Any) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", "") or getattr(cls, "__name__", "object")
    full = name if module in ("builtins", "__main__") else f"{module}.{name}"
    return str(full)[:MAX_NAME]


# --- encoding ---------------------------------------------------------------------------

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
            data = [None if m else int(v) for v, m in zip(flat.view("int64").tolist(), np.isnat(flat).tolist())]
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


def encode(value: Any, *, axes_encoder=None) -> Any:
    """`value` as plain JSON-able data; raises EncodeError when it is over a cap."""
    encoder = Encoder(axes_encoder=axes_encoder)
    try:
        return encoder.encode(value)
    except _Unencodable as error:
        return unsupported_data(value, f"{type_name(value)}_with_{error}")
    except RecursionError:
        raise EncodeError("the value is nested too deeply") from None


def dumps(data: Any) -> str:
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_JSON:
        raise EncodeError(f"the value takes more than {MAX_JSON // 1_000_000} MB as data")
    return text


def loads(text: Any) -> Any:
    """Parse JSON text from an untrusted source (size-capped, no NaN literals)."""
    if not isinstance(text, str) or len(text) > MAX_JSON:
        raise DecodeError("not JSON text, or too long")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError, MemoryError) as error:
        raise DecodeError(f"not valid JSON ({type(error).__name__})") from None


def _no_constant(name):
    raise ValueError(f"JSON constant {name} not allowed")


# --- decoding ---------------------------------------------------------------------------


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


def _int_field(data: dict, key: str) -> int:
    value = data.get(key)
    if type(value) is not int or abs(value) > 2**63:
        raise DecodeError(f"field {key!r} is not an int64")
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
        for k, v in zip(keys, values):
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


def _dtype(text: Any, kinds: str) -> np.dtype:
    if not isinstance(text, str) or not re.fullmatch(r"[<>|=]?([biufc][1248]{1,2}|[US][0-9]{1,7}|[Mm]8\[(Y|M|W|D|h|m|s|ms|us|ns)\])",
                                                      text):
        raise DecodeError(f"dtype {str(text)[:30]!r} not allowed")
    dtype = np.dtype(text)
    if dtype.kind not in kinds or dtype.itemsize > 4 * 10_000_000:
        raise DecodeError("dtype kind not allowed")
    return dtype


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


def _typed(dec, dtype: np.dtype, values: list, depth: int) -> np.ndarray:
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


def _d_ts(dec, data, depth):
    unit = data.get("unit")
    if unit not in _DT_UNITS:
        raise DecodeError("bad timestamp unit")
    raw = _int_field(data, "v")
    try:
        stamp = pd.Timestamp(np.datetime64(raw, unit)).as_unit(unit)
        tz = data.get("tz")
        if tz is not None:
            if not isinstance(tz, str) or not re.fullmatch(r"[A-Za-z0-9_+\-/:]{1,40}", tz):
                raise DecodeError("bad time zone")
            stamp = stamp.tz_localize("UTC").tz_convert(tz)
        return stamp
    except (ValueError, OverflowError, TypeError, KeyError) as error:
        raise DecodeError(f"bad timestamp ({type(error).__name__})") from None


def _d_td(dec, data, depth):
    unit = data.get("unit")
    if unit not in _DT_UNITS:
        raise DecodeError("bad timedelta unit")
    try:
        return pd.Timedelta(np.timedelta64(_int_field(data, "v"), unit)).as_unit(unit)
    except (ValueError, OverflowError):
        raise DecodeError("bad timedelta") from None


def _freq(text: Any) -> str:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{0,4}[A-Za-z]{1,5}(-[A-Za-z]{3})?", text):
        raise DecodeError("bad frequency")
    return text


def _d_period(dec, data, depth):
    try:
        return pd.Period(ordinal=_int_field(data, "v"), freq=_freq(data.get("freq")))
    except (ValueError, OverflowError, TypeError):
        raise DecodeError("bad period") from None


def _column(dec, data: Any, depth: int):
    """A pandas array (or list for object columns) from its encoded form."""
    if type(data) is not dict:
        raise DecodeError("bad column")
    kind = data.get("kind")
    values = data.get("v")
    if kind in ("np", "object", "string", "period", "masked") and type(values) is not list:
        raise DecodeError("bad column values")
    try:
        if kind == "np":
            dtype = _dtype(data.get("dtype"), "biufMm")
            return _typed(dec, dtype, values, depth)
        if kind == "object":
            out = np.empty(len(values), dtype=object)
            for i, v in enumerate(values):
                out[i] = dec.decode(v, depth + 1)
            return out
        if kind == "string":
            if not all(v is None or type(v) is str for v in values):
                raise DecodeError("bad string column")
            storage = data.get("storage")
            if storage not in ("python", "pyarrow"):
                raise DecodeError("bad string storage")
            dtype = pd.StringDtype(storage, na_value=np.nan if data.get("na") == "nan" else pd.NA)
            dec._count(len(values))
            return pd.array(values, dtype=dtype)
        if kind == "category":
            categories = _column(dec, data.get("categories"), depth + 1)
            codes = data.get("codes")
            if type(codes) is not list or not all(type(c) is int and -1 <= c < len(categories) for c in codes):
                raise DecodeError("bad category codes")
            return pd.Categorical.from_codes(codes, categories=pd.Index(categories),
                                             ordered=bool(data.get("ordered")))
        if kind == "datetimetz":
            inner = _column(dec, data.get("inner"), depth + 1)
            tz = data.get("tz")
            if not isinstance(tz, str) or not re.fullmatch(r"[A-Za-z0-9_+\-/:]{1,40}", tz):
                raise DecodeError("bad time zone")
            if getattr(inner, "dtype", None) is None or inner.dtype.kind != "M":
                raise DecodeError("bad datetimetz column")
            return pd.DatetimeIndex(inner).tz_localize(tz).array
        if kind == "period":
            freq = _freq(data.get("freq"))
            ordinals = [v if type(v) is int else None for v in values]
            return pd.array([None if o is None else pd.Period(ordinal=o, freq=freq) for o in ordinals],
                            dtype=pd.PeriodDtype(freq))
        if kind == "masked":
            name = data.get("dtype")
            if name not in _MASKED:
                raise DecodeError("bad masked dtype")
            items = [None if v is None else dec.decode(v, depth + 1) for v in values]
            if not all(v is None or type(v) in (bool, int, float) for v in items):
                raise DecodeError("bad masked values")
            return pd.array(items, dtype=name)
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, KeyError, IndexError) as error:
        raise DecodeError(f"bad {kind} column ({type(error).__name__})") from None
    raise DecodeError("unknown column kind")


def _hashable_name(dec, data, depth):
    name = dec.decode(data, depth + 1)
    try:
        hash(name)
    except TypeError:
        raise DecodeError("unhashable name") from None
    return name


def _d_index(dec, data, depth):
    name = _hashable_name(dec, data.get("name"), depth)
    try:
        if "range" in data:
            bounds = data.get("range")
            if type(bounds) is not list or len(bounds) != 3 or not all(type(b) is int for b in bounds) \
                    or bounds[2] == 0 or any(abs(b) > 2**62 for b in bounds):
                raise DecodeError("bad range")
            return pd.RangeIndex(*bounds, name=name)
        values = _column(dec, data.get("data"), depth + 1)
        index = pd.Index(values, name=name, tupleize_cols=False)
        freq = data.get("freq")
        if freq is not None and isinstance(index, pd.DatetimeIndex):
            try:
                index = pd.DatetimeIndex(index, freq=_freq(freq))
            except ValueError:
                pass
        return index
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError) as error:
        raise DecodeError(f"bad index ({type(error).__name__})") from None


def _d_series(dec, data, depth):
    index = _d_index(dec, data.get("index") or {}, depth + 1)
    values = _column(dec, data.get("data"), depth + 1)
    if len(values) != len(index):
        raise DecodeError("series values and index differ in length")
    name = _hashable_name(dec, data.get("name"), depth)
    try:
        return pd.Series(values, index=index, name=name, copy=False)
    except (ValueError, TypeError) as error:
        raise DecodeError(f"bad series ({type(error).__name__})") from None


def _d_df(dec, data, depth):
    columns = _d_index(dec, data.get("columns") or {}, depth + 1)
    index = _d_index(dec, data.get("index") or {}, depth + 1)
    encoded = data.get("data")
    if type(encoded) is not list or len(encoded) != len(columns) or columns.has_duplicates:
        raise DecodeError("bad data frame columns")
    arrays = [_column(dec, c, depth + 1) for c in encoded]
    if any(len(a) != len(index) for a in arrays):
        raise DecodeError("a column's length differs from the index")
    try:
        frame = pd.DataFrame({i: pd.Series(a, index=index, copy=False) for i, a in enumerate(arrays)}, index=index)
        frame.columns = columns
        return frame
    except (ValueError, TypeError) as error:
        raise DecodeError(f"bad data frame ({type(error).__name__})") from None


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
    "np": _d_np, "nd": _d_nd, "ts": _d_ts, "nat": _d_nat, "na": _d_na, "td": _d_td, "period": _d_period,
    "index": _d_index, "series": _d_series, "df": _d_df, "unsupported": _d_unsupported, "axes": _d_axes,
}


def decode(data: Any, *, axes_decoder=None) -> Any:
    """The value that encoded `data` stands for. Raises DecodeError, and only that."""
    try:
        return Decoder(axes_decoder=axes_decoder).decode(data)
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("nested too deeply") from None
    except Exception as error:  # total: a bug or a hostile corner case is still a DecodeError
        raise DecodeError(f"could not decode ({type(error).__name__}: {str(error)[:200]})") from None


# --- exceptions -------------------------------------------------------------------------

# Raised in the judge for a call whose result cannot be used (too big, unreadable, a dead
# kernel). Deliberately not a ValueError/TypeError, so a test that expects the student's
# function to raise one of those is never satisfied by it.
class ResultRejected(Exception):
    pass


def encode_exception(error: BaseException) -> dict:
    """An exception as {type: first builtin class in its MRO, message}."""
    name = "Exception"
    for cls in type(error).__mro__:
        if getattr(cls, "__module__", None) == "builtins" and issubclass(cls, BaseException):
            name = cls.__name__
            break
    try:
        if isinstance(error, KeyError) and len(error.args) == 1:
            message = str(error.args[0])
        else:
            message = str(error)
    except Exception:
        message = "<the exception's message could not be read>"
    if not isinstance(message, str):
        message = "<the exception's message is not a str>"
    return {"type": name, "message": message[:MAX_MESSAGE]}


_NOT_RERAISED = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException", "BaseExceptionGroup",
                 "ExceptionGroup", "StopIteration", "StopAsyncIteration"}


def decode_exception(data: Any) -> BaseException:
    """The builtin exception an encoded one stands for, ready to raise in the judge.

    Exceptions that would stop the judge itself (SystemExit, KeyboardInterrupt...) become
    RuntimeError with the original name in the message.
    """
    if type(data) is not dict:
        return ResultRejected("the kernel sent an unreadable exception")
    name, message = data.get("type"), data.get("message")
    message = message[:MAX_MESSAGE] if isinstance(message, str) else ""
    cls = getattr(builtins, name, None) if isinstance(name, str) and name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, Exception)) or name in _NOT_RERAISED:
        return RuntimeError(f"{str(name)[:MAX_NAME]}: {message}")
    for candidate in cls.__mro__:
        if not issubclass(candidate, Exception):
            break
        try:
            return candidate(message)
        except TypeError:
            continue
    return RuntimeError(f"{name}: {message}")

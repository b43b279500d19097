"""Decoding pandas values (Timestamp, Timedelta, Period, Index, Series, DataFrame) in the judge.

Trust boundary: as `codec_decode`, whose handlers these are -- hostile input, whitelisted
units, time zones, frequencies and dtypes, `DecodeError` on anything else.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from coursekit.judge import codec_fields as core
from coursekit.judge.codec_types import DecodeError

_DT_UNITS = ("s", "ms", "us", "ns")
_MASKED = {"boolean", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64"}

def decode_timestamp(dec, data, depth):
    unit = data.get("unit")
    if unit not in _DT_UNITS:
        raise DecodeError("bad timestamp unit")
    raw = core.int_field(data, "v")
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


def decode_timedelta(dec, data, depth):
    unit = data.get("unit")
    if unit not in _DT_UNITS:
        raise DecodeError("bad timedelta unit")
    try:
        return pd.Timedelta(np.timedelta64(core.int_field(data, "v"), unit)).as_unit(unit)
    except (ValueError, OverflowError):
        raise DecodeError("bad timedelta") from None


def _freq(text: Any) -> str:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{0,4}[A-Za-z]{1,5}(-[A-Za-z]{3})?", text):
        raise DecodeError("bad frequency")
    return text


def decode_period(dec, data, depth):
    try:
        return pd.Period(ordinal=core.int_field(data, "v"), freq=_freq(data.get("freq")))
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
            dtype = core.dtype_field(data.get("dtype"), "biufMm")
            return core.typed_values(dec, dtype, values, depth)
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


def decode_index(dec, data, depth):
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


def decode_series(dec, data, depth):
    index = decode_index(dec, data.get("index") or {}, depth + 1)
    values = _column(dec, data.get("data"), depth + 1)
    if len(values) != len(index):
        raise DecodeError("series values and index differ in length")
    name = _hashable_name(dec, data.get("name"), depth)
    try:
        return pd.Series(values, index=index, name=name, copy=False)
    except (ValueError, TypeError) as error:
        raise DecodeError(f"bad series ({type(error).__name__})") from None


def decode_frame(dec, data, depth):
    columns = decode_index(dec, data.get("columns") or {}, depth + 1)
    index = decode_index(dec, data.get("index") or {}, depth + 1)
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



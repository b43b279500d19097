"""coursekit.judge.codec: values survive the trip as themselves; forgeries and hostile data do not."""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import numbers

import numpy as np
import pandas as pd
import pytest

from coursekit.judge import codec


def trip(value):
    """Encode (as the kernel does), go through JSON text, decode (as the judge does)."""
    return codec.decode(codec.loads(codec.dumps(codec.encode(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**53, 2**200, -(10**500), 0.0, -0.0, 1.5, 1e308, "", "KFOR’s “quote”\n\xa0",
    b"\x00\xff", 3 + 4j, [], [1, [2, [3]]], (), (1, "a"), {"open": 6, "close": 5}, {1: "a", (2, 3): [4]},
    {frozenset({1}): None}, {1, 2}, frozenset({"a"}), dt.date(2023, 9, 29), dt.datetime(2023, 9, 29, 12, 30),
])
def test_plain_values_come_back_equal_and_of_the_same_type(value):
    back = trip(value)
    assert back == value and type(back) is type(value)
    if isinstance(value, (list, tuple, dict)):
        assert repr(back) == repr(value)


def test_nan_and_infinities():
    back = trip([math.nan, math.inf, -math.inf])
    assert math.isnan(back[0]) and back[1:] == [math.inf, -math.inf]


def test_dict_subclasses_from_the_standard_library_keep_their_class():
    for value in (collections.Counter("aab"), collections.OrderedDict(b=1, a=2)):
        back = trip(value)
        assert type(back) is type(value) and back == value and list(back) == list(value)
    back = trip(collections.defaultdict(list, {"x": [1]}))
    assert isinstance(back, collections.defaultdict) and back == {"x": [1]}


@pytest.mark.parametrize("value", [
    np.int64(3), np.int32(-2), np.uint8(255), np.float64(2.5), np.float32(0.25), np.bool_(True), np.str_("x"),
    np.datetime64("2023-09-29", "D"), np.datetime64("2023-09-29T10:00", "ns"), np.timedelta64(5, "s"),
])
def test_numpy_scalars_keep_their_dtype(value):
    back = trip(value)
    assert type(back) is type(value) and back.dtype == value.dtype and back == value


def test_numpy_integers_still_pass_the_courses_type_checks():
    back = trip(np.int64(424))
    assert isinstance(back, numbers.Integral) and not isinstance(back, bool) and back == 424
    assert isinstance(trip(np.float64(1.5)), numbers.Real)
    assert trip(np.bool_(False)) is np.False_


@pytest.mark.parametrize("array", [
    np.arange(6).reshape(2, 3), np.array([1.5, np.nan]), np.array([True, False]), np.array(["a", "bc"]),
    np.array(["2020-01-01", "NaT"], dtype="datetime64[us]"), np.array([1, "x", None], dtype=object),
    np.zeros((0, 2)),
])
def test_numpy_arrays(array):
    back = trip(array)
    assert type(back) is np.ndarray and back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_pandas_scalars():
    for value in (pd.Timestamp("2023-09-29"), pd.Timestamp("2023-09-29 10:00:00.123456789"),
                  pd.Timestamp("2023-09-29", tz="Europe/Belgrade"), pd.Timedelta(days=424),
                  pd.Period("2023-09", freq="M")):
        back = trip(value)
        assert type(back) is type(value) and back == value
        if isinstance(value, pd.Timestamp):
            assert back.unit == value.unit and str(back.tz) == str(value.tz)
    assert trip(pd.NaT) is pd.NaT


def frames():
    reports = pd.DataFrame({
        "as_of": pd.to_datetime(["2021-03-01", "2019-07-15", None]),
        "troops": [1200, 1200, 900],
        "approximate": [False, True, False],
        "publisher": ["NATO", None, "KUNA"],
        "share": [0.5, np.nan, 1.0],
        "kind": pd.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True),
        "count": pd.array([1, None, 3], dtype="Int64"),
        "mixed": np.array([1, "x", None], dtype=object),
        "when": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]).tz_localize("UTC"),
        "period": pd.period_range("2020-01", periods=3, freq="M"),
    }, index=[40, 7, 12])
    yield reports
    yield reports.set_index("publisher")
    yield pd.DataFrame({"date": pd.date_range("2020-01-31", periods=3, freq="ME"), "troops": [1, 2, 3]})
    yield pd.DataFrame({"when": [], "troops": [], "approximate": []}).astype(
        {"when": str, "troops": "int64", "approximate": bool})
    yield pd.DataFrame()
    yield pd.DataFrame({("a" if i else 1): [i] for i in range(2)})


@pytest.mark.parametrize("frame", list(frames()), ids=lambda f: f"{f.shape}")
def test_data_frames_keep_values_index_columns_and_dtypes(frame):
    back = trip(frame)
    assert type(back) is pd.DataFrame
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    assert list(back.dtypes.astype(str)) == list(frame.dtypes.astype(str))


def test_series_and_a_row_of_a_frame():
    frame = next(frames())
    for series in (frame["troops"], frame.iloc[1], pd.Series([1.5, 2.5], index=pd.date_range("2020", periods=2),
                                                              name="x")):
        back = trip(series)
        assert type(back) is pd.Series
        pd.testing.assert_series_equal(back, series, check_freq=False)
    index = pd.DatetimeIndex(["2020-01-01", "2021-01-01"], name="as_of")
    pd.testing.assert_index_equal(trip(index), index)
    assert trip(pd.RangeIndex(3, 9, 2)).equals(pd.RangeIndex(3, 9, 2))


# --- forgeries: what a student returns to fool a test -------------------------------------


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class LyingList(list):
    def __eq__(self, other):
        return True

    def __len__(self):
        return 23


class EqualInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Row(pd.Series):
    def __getitem__(self, key):
        return AlwaysEqual()


@pytest.mark.parametrize("forged", [AlwaysEqual(), LyingList(), EqualInt(3), Row({"a": 1}), [AlwaysEqual()],
                                    {"open": EqualInt(1)}, lambda: 1, object(), type, range(3)],
                         ids=lambda v: type(v).__name__)
def test_forged_and_unknown_values_equal_nothing_in_the_judge(forged):
    back = trip(forged)
    inner = back[0] if isinstance(back, list) else (back["open"] if isinstance(back, dict) else back)
    assert isinstance(inner, codec.Unsupported)
    assert inner != inner and not (inner == 3) and not (inner == [])  # noqa: PLR0124
    for useful in (int, list, dict, str, numbers.Integral, pd.Series, pd.DataFrame):
        assert not isinstance(inner, useful)
    assert type(inner).__name__ in repr(inner) or "value" in repr(inner)


def test_an_unsupported_value_names_its_type():
    back = trip(EqualInt(3))
    assert type(back).__name__ == "EqualInt" and "EqualInt" in repr(back)


# --- caps ---------------------------------------------------------------------------------


def test_values_over_a_cap_are_refused_when_encoded():
    nested: list = []
    for _ in range(codec.MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(codec.EncodeError):
        codec.encode(nested)
    with pytest.raises(codec.EncodeError):
        codec.encode(10 ** (codec.MAX_INT_DIGITS + 10))
    with pytest.raises(codec.EncodeError):
        codec.encode("x" * (codec.MAX_STR + 1))
    with pytest.raises(codec.EncodeError):
        codec.encode(list(range(codec.MAX_ITEMS + 1)))
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(codec.EncodeError):
        codec.encode(cyclic)


def test_encode_error_is_not_an_error_a_test_may_expect_from_the_student():
    assert not issubclass(codec.ResultRejected, (ValueError, TypeError, ZeroDivisionError, KeyError))


# --- hostile data arriving in the judge ----------------------------------------------------

HOSTILE = [
    "[" * 100_000 + "]" * 100_000,
    "1" * 5000,
    '{"$": "int", "v": "' + "9" * 100_000 + '"}',
    '{"$": "int", "v": "12a"}',
    '{"$": "nope"}',
    '{"no tag": 1}',
    '{"$": "nd", "dtype": "<i8", "shape": [1000000000, 1000000000], "v": []}',
    '{"$": "nd", "dtype": "V8", "shape": [1], "v": [1]}',
    '{"$": "nd", "dtype": "<i8", "shape": [2], "v": [1, "x"]}',
    '{"$": "nd", "dtype": "<U9999999999", "shape": [1], "v": ["a"]}',
    '{"$": "np", "dtype": "<i1", "v": 100000}',
    '{"$": "set", "v": [[1]]}',
    '{"$": "dict", "t": "dict", "k": [[1]], "v": [1]}',
    '{"$": "dict", "t": "builtins.eval", "k": [], "v": []}',
    '{"$": "dict", "t": "dict", "k": [1, 2], "v": [1]}',
    '{"$": "ts", "v": 99999999999999999999999, "unit": "ns"}',
    '{"$": "ts", "v": 1, "unit": "ns", "tz": "../../etc/passwd"}',
    '{"$": "ts", "v": 1, "unit": "fortnight"}',
    '{"$": "period", "v": 1, "freq": "__import__(\'os\')"}',
    '{"$": "df", "columns": {"$": "index", "range": [0, 2, 1], "name": null}, '
    '"index": {"$": "index", "range": [0, 3, 1], "name": null}, "data": [{"kind": "np", "dtype": "<i8", "v": [1]}]}',
    '{"$": "df", "columns": {"$": "index", "range": [0, 1, 0], "name": null}, "index": {}, "data": []}',
    '{"$": "series", "index": {"$": "index", "range": [0, 1, 1], "name": null}, '
    '"data": {"kind": "category", "ordered": false, "categories": {"kind": "np", "dtype": "<i8", "v": [1]}, '
    '"codes": [5]}, "name": null}',
    '{"$": "series", "index": {"$": "index", "range": [0, 1, 1], "name": [1]}, '
    '"data": {"kind": "np", "dtype": "<i8", "v": [1]}, "name": null}',
    '{"$": "bytes", "v": "!!!"}',
    '{"$": "float", "v": "1e999"}',
    '{"$": "date", "v": "2023-99-99"}',
    "NaN",
    "not json",
    '{"$": "tuple", "v": {"a": 1}}',
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_data_gives_a_decode_error_and_nothing_else(text):
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.loads(text))


def test_decoding_never_calls_what_the_data_names():
    data = json.loads('{"$": "unsupported", "type": "os.system(\'touch /tmp/x\')"}')
    value = codec.decode(data)
    assert isinstance(value, codec.Unsupported) and "os.system" in repr(value)


# --- exceptions ---------------------------------------------------------------------------


class StudentError(ValueError):
    def __str__(self):
        return "bad token"


@pytest.mark.parametrize(("error", "expected"), [
    (ValueError("not a number: 'abc'"), ValueError), (StudentError(), ValueError), (ZeroDivisionError("x"),
                                                                                   ZeroDivisionError),
    (KeyError("date"), KeyError), (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), UnicodeDecodeError.__mro__[1]),
    (SystemExit(3), RuntimeError), (KeyboardInterrupt(), RuntimeError), (StopIteration(), RuntimeError),
])
def test_exceptions_travel_as_their_first_builtin_class(error, expected):
    data = json.loads(json.dumps(codec.encode_exception(error)))
    back = codec.decode_exception(data)
    assert type(back) is expected
    with pytest.raises(expected):
        raise back
    if isinstance(error, KeyError):
        assert str(back) == str(error)


def test_exception_messages_are_capped_and_hostile_ones_are_safe():
    data = codec.encode_exception(ValueError("x" * 100_000))
    assert len(data["message"]) == codec.MAX_MESSAGE
    assert isinstance(codec.decode_exception({"type": "__import__", "message": "os"}), RuntimeError)
    assert isinstance(codec.decode_exception({"type": "BaseException", "message": ""}), RuntimeError)
    assert isinstance(codec.decode_exception([1]), codec.ResultRejected)

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError

    assert codec.encode_exception(Unprintable())["type"] == "Exception"

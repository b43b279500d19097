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

import builtins
import json
from typing import Any

from coursekit.judge.codec_decode import Decoder
from coursekit.judge.codec_encode import Encoder, _Unencodable, unsupported_data
from coursekit.judge.codec_types import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_ITEMS,
    MAX_JSON,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_STR,
    DecodeError,
    EncodeError,
    ResultRejected,
    Unsupported,
    type_name,
    unsupported,
)

__all__ = [
    "MAX_BYTES", "MAX_DEPTH", "MAX_INT_DIGITS", "MAX_ITEMS", "MAX_JSON", "MAX_MESSAGE", "MAX_NAME", "MAX_STR",
    "DecodeError", "Decoder", "EncodeError", "Encoder", "ResultRejected", "Unsupported", "decode",
    "decode_exception", "dumps", "encode", "encode_exception", "loads", "type_name", "unsupported",
    "unsupported_data",
]


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

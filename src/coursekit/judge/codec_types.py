"""The shared vocabulary of the codec: caps, its errors, and the `Unsupported` stand-in.

Imported by both halves of the codec (`codec_encode` runs in the kernel and the judge,
`codec_decode` and `codec_frames` only in the judge). See `coursekit.judge.codec`.
"""

from __future__ import annotations

import re
from typing import Any

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


# Raised in the judge for a call whose result cannot be used (too big, unreadable, a dead
# kernel). Deliberately not a ValueError/TypeError, so a test that expects the student's
# function to raise one of those is never satisfied by it.
class ResultRejected(Exception):
    pass



"""`nbgrader validate` prints every message whole.

nbgrader's Validator cuts each line of a failed cell's source and error at `width` (90)
columns with "...", so a student reads "…not 'BRU..." and never the end of the message. Its
only setting is `width`, which also draws the "=====" rules between cells, so raising it
draws rules thousands of characters long. `install()`, called from nbgrader_config.py (the
one place `nbgrader validate`, the Validate button and formgrader all read), makes the
Validator indent lines without cutting them: the terminal wraps what is long.
"""

from __future__ import annotations

from nbconvert.filters import strip_ansi
from nbgrader.validator import Validator


def _indent_whole(self: Validator, val: str) -> str:
    """nbgrader's Validator._indent without the cut: each line indented, kept whole."""
    return "\n".join(self.indent + strip_ansi(line) for line in val.split("\n"))


def install() -> None:
    Validator._indent = _indent_whole

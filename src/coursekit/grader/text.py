"""Text shown to people in one line: capped at a word, never mid-word."""

from __future__ import annotations

ELLIPSIS = "…"


def clip(text: str, width: int) -> str:
    """`text` if it fits in `width` characters, else its longest start ending at a word
    boundary, with "…" (a single word longer than `width` is cut, there is no boundary)."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if not text[width - 1].isspace() and " " in cut.strip():
        cut = cut[: cut.rstrip().rfind(" ")]
    return cut.rstrip(" ,;:—-") + ELLIPSIS


def words(grade_id: str) -> str:
    """A grade_id read as words: "test_quote_balance" -> "test quote balance"."""
    return " ".join(grade_id.replace("-", " ").replace("_", " ").split())

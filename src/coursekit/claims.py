"""Score a claims table against an answer key: which key claims a table found, which it
missed, which of its rows match nothing, and precision, recall and F1 over them.

A table row matches a key claim when their claim texts are alike (rapidfuzz, so an
excerpt or the whole sentence around a claim still counts: `claim_similarity`) and their
quantities are exactly equal (both empty counts as equal). Each key claim matches at
most one row and each row at most one key claim. Everything here is deterministic:
the same tables give the same score, the same pairs and the same lists, in the same order.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz, utils

# The tidy claims table the course teaches: one claim per row, one variable per column.
COLUMNS = ("claim", "speaker", "type", "quantity", "unit", "when", "hedge")
# What scoring needs; the other columns are compared only to tell the student about them.
REQUIRED = ("claim", "quantity")
# The answer key adds an id and the claim's character offsets into the article.
KEY_COLUMNS = ("claim_id", "start", "end", *COLUMNS)
CLAIM_TYPES = ("numeric", "event", "quote", "prediction/opinion")
# Fields whose disagreement on a matched claim is reported (never scored).
COMPARED_FIELDS = ("when", "hedge", "unit", "speaker", "type")
# Similarity (0-100) at or above which two claim texts count as the same claim (see
# claim_similarity): an excerpt of four or more words, the whole sentence or the span with
# a word or two changed pass; a loose paraphrase, a bare number or one shared word do not.
# In the article's key only the fact stated twice (K03, K06) comes this close with the same
# quantity (tests/test_claims.py); claims that share a sentence differ in quantity.
DEFAULT_THRESHOLD = 80.0
MIN_EXCERPT_WORDS = 4


class ClaimsTableError(ValueError):
    """A claims table or answer key that cannot be scored: a missing column, a wrong type."""


# --- reading and checking tables -----------------------------------------------------


def read_key(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an answer key CSV (KEY_COLUMNS, UTF-8) and check it like any claims table."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise ClaimsTableError(f"{path}: answer key not found") from None
    missing = [c for c in KEY_COLUMNS if c not in raw.columns]
    if missing:
        raise ClaimsTableError(f"{path}: answer key lacks column(s) {', '.join(missing)}")
    key = raw.loc[:, list(KEY_COLUMNS)].copy()
    for column in ("start", "end"):
        try:
            key[column] = key[column].astype("int64")
        except ValueError:
            raise ClaimsTableError(f"{path}: column {column!r} must hold whole numbers") from None
    quantities = []
    for number, text in enumerate(key["quantity"], start=2):  # line 1 is the header
        try:
            quantities.append(_parse_quantity(text))
        except ValueError:
            raise ClaimsTableError(f"{path}: line {number}: quantity {text!r} is not a number") from None
    key["quantity"] = pd.array(quantities, dtype="object")
    if key["claim_id"].duplicated().any():
        twice = sorted(set(key.loc[key["claim_id"].duplicated(), "claim_id"]))
        raise ClaimsTableError(f"{path}: claim_id used twice: {', '.join(twice)}")
    bad_types = sorted(set(key["type"]) - set(CLAIM_TYPES))
    if bad_types:
        raise ClaimsTableError(f"{path}: unknown claim type(s) {bad_types}; use {list(CLAIM_TYPES)}")
    return check_table(key, name=str(path))


def _parse_quantity(text: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def key_problems(key: pd.DataFrame, article: str) -> list[str]:
    """Where a key's offsets do not cut its claim text out of the article; empty when none."""
    problems = []
    for row in key.itertuples(index=False):
        found = article[row.start:row.end]
        if found != row.claim:
            problems.append(
                f"{row.claim_id}: article[{row.start}:{row.end}] is {found[:60]!r}, "
                f"not the claim {row.claim[:60]!r}"
            )
    return problems


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_table(
    table: object, *, required: tuple[str, ...] = REQUIRED, name: str = "the claims table"
) -> pd.DataFrame:
    """A scoring-ready copy of `table`, or `ClaimsTableError` saying what to fix.

    `claim` must hold non-empty text; `quantity` numbers or nothing (NaN, None); the
    other scheme columns, where present, text or nothing. The copy has a fresh 0..n-1
    index, quantities as Python numbers or None, and missing text as "".
    """
    if not isinstance(table, pd.DataFrame):
        raise ClaimsTableError(
            f"{name} must be a pandas DataFrame, not {type(table).__name__}"
        )
    missing = [c for c in required if c not in table.columns]
    if missing:
        have = ", ".join(map(str, table.columns)) or "none"
        raise ClaimsTableError(
            f"{name} lacks column(s) {', '.join(missing)} (it has: {have}); "
            f"the scheme is {', '.join(COLUMNS)}"
        )
    table = table.reset_index(drop=True)
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = list(table[column])
        if column not in COLUMNS:
            out[column] = table[column]  # ids, offsets, a student's own notes: kept as they are
            continue
        if column == "claim":
            for row, value in enumerate(values):
                if not isinstance(value, str) or not value.strip():
                    raise ClaimsTableError(
                        f"{name}, row {row}: 'claim' must be the claim's text, not {value!r}"
                    )
        elif column == "quantity":
            for row, value in enumerate(values):
                if not (_is_missing(value) or _is_number(value)):
                    hint = " (turn text into a number first, e.g. with parse_number)" if isinstance(value, str) else ""
                    raise ClaimsTableError(
                        f"{name}, row {row}: 'quantity' must be a number or empty, not {value!r}{hint}"
                    )
            values = [None if _is_missing(v) else _plain_number(v) for v in values]
        else:
            for row, value in enumerate(values):
                if not (_is_missing(value) or isinstance(value, str)):
                    raise ClaimsTableError(
                        f"{name}, row {row}: {column!r} must be text or empty, not {value!r}"
                    )
            values = ["" if _is_missing(v) else v for v in values]
        out[column] = pd.array(values, dtype="object")
    return out


def _plain_number(value: numbers.Real) -> int | float:
    """numpy and pandas scalars as plain Python numbers, so that 3735 == 3735.0 holds."""
    number = float(value)
    return int(number) if number.is_integer() else number


# --- matching -----------------------------------------------------------------------


def claim_similarity(a: str, b: str) -> float:
    """How alike two claim texts are, 0-100, ignoring case, punctuation and curly quotes.

    Both rapidfuzz scorers: partial_ratio finds one text inside the other (an excerpt of
    a span, or a whole sentence around it), token_set_ratio forgives reordered or a few
    added words. Either needs the shorter text to hold MIN_EXCERPT_WORDS words; a shorter
    text must be close to the whole claim (ratio), so "KFOR" or "3,735" alone is no claim.
    """
    a, b = utils.default_process(a), utils.default_process(b)
    if min(len(a.split()), len(b.split())) < MIN_EXCERPT_WORDS:
        return float(fuzz.ratio(a, b))
    return float(max(fuzz.partial_ratio(a, b), fuzz.token_set_ratio(a, b)))


def same_quantity(a: int | float | None, b: int | float | None) -> bool:
    """Exact equality of quantities; two empty quantities are the same."""
    if a is None or b is None:
        return a is None and b is None
    return float(a) == float(b)


@dataclass(frozen=True)
class Match:
    key_row: int  # position in the key
    table_row: int  # position in the student's table
    similarity: float


@dataclass(frozen=True)
class Disagreement:
    claim_id: str
    field: str
    key_value: str
    table_value: str


@dataclass(frozen=True)
class ClaimsScore:
    """The outcome of `score_claims`: counts, the three measures, and what to learn from."""

    matches: tuple[Match, ...]
    missed: pd.DataFrame  # key rows no table row matched, in key order
    extra: pd.DataFrame  # table rows that match no key claim, in table order, with a `why`
    disagreements: tuple[Disagreement, ...]
    n_key: int
    n_table: int

    @property
    def found(self) -> int:
        return len(self.matches)

    @property
    def precision(self) -> float:
        """Share of the table's rows that are key claims (0.0 for an empty table)."""
        return self.found / self.n_table if self.n_table else 0.0

    @property
    def recall(self) -> float:
        """Share of the key's claims that the table found."""
        return self.found / self.n_key if self.n_key else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def points(self, max_points: float) -> float:
        """F1 times the points a question is worth, rounded to 0.01, as a plain float."""
        return float(min(max_points, round(max_points * self.f1, 2)))

    def summary(self) -> str:
        """A plain-text report for the student: the measures, then every miss and extra."""
        lines = [
            f"found {self.found} of {self.n_key} key claims: recall {self.recall:.2f}",
            f"{self.found} of {self.n_table} rows are key claims: precision {self.precision:.2f}",
            f"F1 {self.f1:.2f}",
        ]
        if len(self.missed):
            lines.append("missed (in the key, not in your table):")
            for row in self.missed.itertuples(index=False):
                lines.append(f"  - {_describe(row.claim, row.quantity)}")
        if len(self.extra):
            lines.append("extra (in your table, matching no key claim):")
            for position, row in zip(self.extra.index, self.extra.itertuples(index=False), strict=True):
                lines.append(f"  - row {position}: {_describe(row.claim, row.quantity)}: {row.why}")
        if self.disagreements:
            lines.append("found, but recorded differently from the key:")
            for d in self.disagreements:
                lines.append(f"  - {d.claim_id} {d.field}: key {d.key_value!r}, yours {d.table_value!r}")
        return "\n".join(lines)


def _describe(claim: str, quantity: int | float | None) -> str:
    text = claim if len(claim) <= 70 else claim[:67] + "..."
    return f"{'' if quantity is None else f'{quantity} '}“{text}”"


def _pairs(key: pd.DataFrame, table: pd.DataFrame, threshold: float) -> dict[int, list[tuple[float, int]]]:
    """For each key row: (similarity, table row) of every row it may match, best first."""
    options: dict[int, list[tuple[float, int]]] = {}
    for i, (claim, quantity) in enumerate(zip(key["claim"], key["quantity"], strict=True)):
        found = []
        for j, (text, amount) in enumerate(zip(table["claim"], table["quantity"], strict=True)):
            if same_quantity(quantity, amount):
                similarity = claim_similarity(claim, text)
                if similarity >= threshold:
                    found.append((similarity, j))
        # Best similarity first; on a tie, the earlier row (deterministic).
        options[i] = sorted(found, key=lambda pair: (-pair[0], pair[1]))
    return options


def _match(options: dict[int, list[tuple[float, int]]]) -> dict[int, int]:
    """A largest set of one-to-one (key row -> table row) pairs, preferring similar texts.

    Greedy on similarity first, then augmenting paths (Kuhn's algorithm) so that no key
    claim is left unmatched when some re-pairing could match it: the score must not
    depend on the order of a student's rows.
    """
    edges = sorted(
        ((s, i, j) for i, pairs in options.items() for s, j in pairs),
        key=lambda e: (-e[0], e[1], e[2]),
    )
    key_to_row: dict[int, int] = {}
    row_to_key: dict[int, int] = {}
    for _, i, j in edges:
        if i not in key_to_row and j not in row_to_key:
            key_to_row[i], row_to_key[j] = j, i

    def augment(i: int, seen: set[int]) -> bool:
        for _, j in options[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in row_to_key or augment(row_to_key[j], seen):
                key_to_row[i], row_to_key[j] = j, i
                return True
        return False

    for i in sorted(options):
        if i not in key_to_row:
            augment(i, set())
    return key_to_row


def _why_extra(text: str, quantity: int | float | None, key: pd.DataFrame, threshold: float) -> str:
    """Why a row matched nothing: no key claim like it, a different quantity, or a repeat."""
    scores = [claim_similarity(claim, text) for claim in key["claim"]]
    alike = sorted((-score, i) for i, score in enumerate(scores) if score >= threshold)
    if not alike:
        return "no key claim has text like this"
    ids = list(key["claim_id"]) if "claim_id" in key.columns else [f"key row {i}" for i in range(len(key))]
    for _, i in alike:
        if same_quantity(key["quantity"].iloc[i], quantity):
            # It would have matched had the claim not gone to another row already.
            return f"same claim as {ids[i]}, which another row already matched"
    i = alike[0][1]
    return f"text like {ids[i]}, but the key's quantity is {_quantity(key['quantity'].iloc[i])}"


def _quantity(value: int | float | None) -> str:
    return "no quantity" if value is None else str(value)


def score_claims(
    table: pd.DataFrame, key: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD
) -> ClaimsScore:
    """Score a student's claims table against an answer key (see the module docstring).

    Raises `ClaimsTableError` when either table lacks `claim` or `quantity` or holds
    values of the wrong type there.
    """
    if not 0 <= threshold <= 100:
        raise ValueError(f"threshold must be between 0 and 100, not {threshold}")
    key = check_table(key, name="the answer key")
    if key.empty:
        raise ClaimsTableError("the answer key has no claims")
    table = check_table(table)
    options = _pairs(key, table, threshold)
    pairs = _match(options)
    similarities = {(i, j): s for i, found in options.items() for s, j in found}
    matches = tuple(
        Match(key_row=i, table_row=j, similarity=similarities[(i, j)]) for i, j in sorted(pairs.items())
    )
    matched_rows = set(pairs.values())
    missed = key.loc[[i for i in range(len(key)) if i not in pairs]]
    extra = table.loc[[j for j in range(len(table)) if j not in matched_rows]].copy()
    extra["why"] = pd.array(
        [_why_extra(t, q, key, threshold) for t, q in zip(extra["claim"], extra["quantity"], strict=True)],
        dtype="object",
    )
    disagreements = []
    for match in matches:
        for field in COMPARED_FIELDS:
            if field in key.columns and field in table.columns:
                want = str(key[field].iloc[match.key_row])
                have = str(table[field].iloc[match.table_row])
                if _normal(want) != _normal(have):
                    claim_id = (
                        str(key["claim_id"].iloc[match.key_row])
                        if "claim_id" in key.columns else f"key row {match.key_row}"
                    )
                    disagreements.append(Disagreement(claim_id, field, want, have))
    return ClaimsScore(
        matches=matches,
        missed=missed,
        extra=extra,
        disagreements=tuple(disagreements),
        n_key=len(key),
        n_table=len(table),
    )


def _normal(value: str) -> str:
    return " ".join(value.casefold().replace("’", "'").split())

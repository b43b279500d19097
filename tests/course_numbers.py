"""The course checks its own numbers: every troop figure and date that the course states in
its own voice must be traced to the article or to the seeds.

What is read (the course's voice)
---------------------------------
- Markdown cells of every lesson (``lessons/*.ipynb``), instructor notebook
  (``solutions/*/*.ipynb``: questions, model answers, rubrics) and student notebook
  (``exercises/*/*.ipynb``); ``README.md``, ``docs/*.md`` and the website's own pages, ``site/*.md``.
- Chart text in code: the string arguments of ``set_title``, ``suptitle``, ``title``,
  ``text``/``figtext``, ``annotate``, the axis-label calls, the keywords ``title=``,
  ``xlabel=``, ``ylabel=`` and ``label=`` of any call (``ax.set``, ``df.plot``, legend
  entries) and every alt text (an ``alt=`` argument, or a string assigned to a name with
  ``alt`` in it, such as ``ALT_TEXT``). A name passed instead of a string is looked up in
  the notebook's earlier assignments; literal pieces joined with ``+``, ``"".join([...])``
  or ``dedent`` are put together; the ``{…}`` parts of an f-string and any text a function
  returns are computed by code and are not read. The same calls inside fenced Python
  blocks of Markdown (a folded solution) count. Markdown images' alt text (``![alt](…)``),
  HTML ``alt="…"`` and a cell's ``alt_text`` metadata count too.
- Not read: other code and its strings (test data, inputs to functions), printed
  output, nbgrader test cells (autograder tests, visible or hidden), inline code spans and
  fenced code in Markdown (except the chart calls above), URLs and link targets, HTML
  comments, ``seeds/README.md`` (the data dictionary describes the rows themselves).

What is a troop figure
----------------------
A whole number of 500 or more written in digits ("3,735", "50,000", "50 000", "4200") —
in this course nearly every such number counts soldiers. Not troop figures: a year
(1900–2099 written without a separator, unless a troop noun follows it: "2000 troops");
a number followed by a unit that is not people (%, per cent, days, weeks, months, years,
words, characters, points, minutes, students, submissions, rows …); an ordinal ("29th");
part of a date, an identifier, a URL, a DOI or a document symbol ("S/2021/228"); a number
that names something ("Resolution 1244", "page 1,200", "version 2024"); an axis
limit named as one ("y axis from 3,700", "the y axis to 20,000", "a baseline of 3,000",
"the y limit (56,000"); money. In the docs about the software (``SOFTWARE_DOCS``: design,
security, performance, charts) a number is a troop figure only when its sentence holds a
troop word (troops, soldiers, personnel, strength, KFOR, force(s), men and women,
peacekeepers, reinforcements, contingent, deployed…): a memory limit is not a troop figure.

What is a date
--------------
A day ("5 June 2023", "June 5, 2023", "29 Sep. 2023", "2023-06-05") or a month
("June 2003", "2022-08"). A bare year ("in 2003", "the end of 2003") is never checked on
its own, but it is compared with a troop figure it dates. A date that stands alone (no
figure in its sentence) is checked only when its sentence is about the story — it names
troops, NATO, KFOR, Kosovo, the article, the statement, a source (Reuters, Euronews, RFE/RL,
KUNA, EWB), a figure or a report, the Zvečan clashes or the Banjska attack …; a
benchmark's date or a date in an example of date parsing is not a claim about KFOR. A date
that stands alone is not compared with a figure, only with the seeds' dates (below); "no
figure in its sentence" also covers a date too far from, or in another clause than, the
figures of its sentence (see "Which figure a date dates"). The bounds of a window or range
("1999-06-01 … 1999-12-31", "June 2022 to March 2024", "2002–2003") are limits of a rule
or an axis, not dates of events, and are not checked.

When a figure passes
--------------------
(a) It sits inside quotation marks (“…”, "…", ‘…’ or '…') and the quoted words occur in
    a seeds source text — the article ``seeds/kfor-article.txt``, NATO's statement
    ``seeds/nato-statement-2023-09-29.txt`` (every ``seeds/*.txt``), or a ``quote`` cell
    of ``seeds/troop_reports.csv`` or ``seeds/events.csv`` — after normalising white space
    and quotation characters; an ellipsis (… or ...) or a [bracketed] insertion may stand
    for left-out words, the quotation's own closing punctuation and the case of its
    first letter are forgiven. A Markdown block quote (``> …``) whose sentence occurs in
    a source text counts the same. Dates inside such a quotation are the source's; a date
    the course gives to a quoted figure ("on 29 September 2023 the article said “…3,735…”")
    must be a date of the seeds (below).
(b) Otherwise it must match a row: a row of ``troop_reports.csv`` whose ``troops`` is the
    figure or whose ``quote``/``scope`` prints it (41,000 of NATO's 49,000 of
    8 September 1999), or a row of ``events.csv`` whose ``label``, ``description`` or
    ``quote`` prints it. When the sentence dates the figure, the date must be consistent
    with that row: a stated day equals the row's ``as_of`` (precision ``day``), its
    ``published`` date (``YYYY-MM-DD``), the capture date of its ``archived_url`` or the
    event's ``date``; a stated month is the
    month of one of those (a month-precision ``as_of`` or a ``published`` of ``YYYY-MM``
    included); a stated year is the year of one of them. "3,735 on 1 August 2022" fails:
    the row only knows the month.
    Which figure a date dates: the nearest figure before it in the same clause and at most
    six words away ("26,000 in June 2003", "50,000 men and women in 1999"); else the next
    such figure after it, unless the date starts a range that ends at it ("In June 2003,
    KFOR had 26,000"; not "from 2003 to 3,735"); else none (the date stands alone). A
    clause ends at ; : — or ", but". A bare year used as an adjective ("its 2003 level")
    dates nothing. A figure with several dates passes when one of them fits.
    The article's own figures are NOT rows: "3,735 in September 2023" fails (the only rows
    with 3,735 are dated August 2022), while the article's words in quotation marks —
    “KFOR currently has 3,735 soldiers” — pass. Write what the article claims, not what
    was true.
Hedges ("about", "over") are not compared: they are checked by people, with the rubrics.

A date that dates no unquoted figure (and is about the story, above) passes when it is a
date of the seeds: an ``as_of``
(a stated day needs a day-precision ``as_of``, or the ``as_of`` cell exactly as stored: "a
month-precision date is stored as 1 August 2022"), a ``published`` date, an event's date,
the capture date of an ``archived_url`` (``web.archive.org/web/20110605…``), a date printed
in a source text or a ``quote`` cell, or the ``published`` date of a seeds ``*.json``
(the article, the statement).

Derived numbers
---------------
Differences, percentages, day counts and sums printed by code are outputs, not prose:
compute them in code (an f-string's ``{…}`` is not read). A derived number written into
prose ("735 and 800 soldiers tall") must be marked, or be a row's figure.

Exceptions
----------
An author may mark a deliberate exception with an HTML comment in the same paragraph (a
block between blank lines, or the whole chart string): ``<!-- figure-ok: reason -->``, or
in code a comment ``# figure-ok: reason`` on the call's lines or the line above it. Every
figure and date of that paragraph or string is then skipped. Use it sparingly: the reason
is required, the report lists them, a test keeps their number at or below
``MAX_EXCEPTIONS``, and a marker on text that passes without it fails the test too. For
alt text kept in a cell's metadata, the marker is the metadata key
``figure_ok`` with the reason.

Why not ``coursekit.claims``? It scores a claims table against a key and has no sentence
splitter or number parser; the course's own ``sentences``/``parse_number`` are the model
answers of assignment 2 (kept out of everything importable). This module uses the same
number grammar as ``parse_number`` ("3,735" → 3735) and adds the space-grouped "50 000"
of NATO's pages. Run ``python tests/course_numbers.py`` for a report of every finding and
exception.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_FIGURE = 500
# Docs about the software, not the story: a number there is a troop figure only when its
# sentence names troops (a memory limit or a benchmark time is not one).
SOFTWARE_DOCS = {"docs/design.md", "docs/security.md", "docs/performance.md", "docs/charts.md"}
MAX_EXCEPTIONS = 20
MARKER = re.compile(r"<!--\s*figure-ok:\s*(?P<reason>.*?)\s*-->", re.S)
CODE_MARKER = re.compile(r"#\s*figure-ok:\s*(?P<reason>.+?)\s*$")

# --- what the course consists of --------------------------------------------------------


def course_files(root: Path = ROOT) -> list[Path]:
    """Every file in the course's voice, in a stable order."""
    found: list[Path] = []
    found += sorted((root / "lessons").glob("*.ipynb"))
    found += sorted((root / "solutions").glob("*/*.ipynb"))
    found += sorted((root / "exercises").glob("*/*.ipynb"))
    if (root / "README.md").is_file():
        found.append(root / "README.md")
    found += sorted((root / "docs").glob("*.md"))
    found += sorted((root / "site").glob("*.md"))  # the website's own pages (make site)
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


# --- the seeds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A date known to some precision: year, month or day."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def level(self) -> str:
        return "day" if self.day else "month" if self.month else "year"

    def __str__(self) -> str:
        if self.day:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.month:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}"


def fits(stated: When, known: When) -> bool:
    """Whether a date the course states is consistent with a date the seeds hold.

    A stated day needs the same day known to the day; a stated month needs a known date
    in that month (known to the month or the day); a stated year needs the same year.
    """
    if stated.year != known.year:
        return False
    if stated.level == "year":
        return True
    if known.level == "year" or stated.month != known.month:
        return False
    if stated.level == "month":
        return True
    return known.level == "day" and stated.day == known.day


def parse_seed_date(text: str, precision: str | None = None) -> When | None:
    """A seeds date cell (YYYY, YYYY-MM or YYYY-MM-DD) read at its stated precision."""
    m = re.fullmatch(r"\s*(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ].*)?\s*", text or "")
    if not m:
        return None
    year, month, day = int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None
    precision = (precision or "").strip().lower()
    if precision == "year":
        month = day = None
    elif precision == "month":
        day = None
    elif precision not in ("", "day") and day is not None:
        # An unknown precision (a season, "beginning of"): trust the year only.
        month = day = None
    return When(year, month, day)


@dataclass(frozen=True)
class SeedRow:
    table: str  # "troop_reports.csv" or "events.csv"
    line: int  # line in the CSV file
    figures: frozenset[int]  # the row's figure and every figure its texts print
    dates: tuple[When, ...]  # as_of (or date), published
    label: str  # a short description for messages

    def describe(self) -> str:
        return f"{self.table} line {self.line} ({self.label})"


@dataclass
class Seeds:
    rows: list[SeedRow]
    sources: list[str]  # normalised source texts that quotations are checked against
    dates: list[When]  # every date of the seeds
    stored: set[str] = field(default_factory=set)  # as_of cells as written ("2022-08-01")

    def rows_with(self, figure: int) -> list[SeedRow]:
        return [row for row in self.rows if figure in row.figures]

    def quoted(self, words: str) -> bool:
        """Whether quoted words occur, verbatim, in a source text."""
        return quoted_in(words, self.sources)

    def knows(self, stated: When) -> bool:
        """A date alone: one of the seeds' dates, or an as_of cell exactly as stored (a
        month-precision report is stored as the first of its month: "stored as 1 August 2022")."""
        return str(stated) in self.stored or any(fits(stated, known) for known in self.dates)


_ARCHIVE_STAMP = re.compile(r"/web/(\d{4})(\d{2})(\d{2})\d*")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_seeds(seeds_dir: Path | None = None) -> Seeds:
    """Read the article, the source texts, troop_reports.csv, events.csv and the metadata."""
    folder = Path(seeds_dir) if seeds_dir is not None else ROOT / "seeds"
    sources = [normalise(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.txt"))]
    rows: list[SeedRow] = []
    stored: set[str] = set()
    # Dates printed in a source text are dates the seeds show.
    dates: list[When] = [when for text in sources for when, _ in dates_in(text) if when.level != "year"]

    reports = folder / "troop_reports.csv"
    for line, row in enumerate(_read_csv(reports) if reports.is_file() else [], start=2):
        figures = set()
        if (row.get("troops") or "").strip().isdigit():
            figures.add(int(row["troops"]))
        for column in ("quote", "scope"):
            figures |= {n for n, _ in numbers_in(row.get(column) or "")}
        row_dates = _row_dates(row, "as_of", row.get("as_of_precision"))
        stored.add((row.get("as_of") or "").strip())
        if row.get("quote"):
            sources.append(normalise(row["quote"]))
            dates += [when for when, _ in dates_in(row["quote"]) if when.level != "year"]
        rows.append(SeedRow(
            "troop_reports.csv", line, frozenset(figures), tuple(row_dates),
            f"{row.get('troops', '?')} as of {row.get('as_of', '?')}",
        ))
        dates += row_dates

    events = folder / "events.csv"
    for line, row in enumerate(_read_csv(events) if events.is_file() else [], start=2):
        texts = " ".join(row.get(c) or "" for c in ("label", "description", "quote"))
        row_dates = _row_dates(row, "date", row.get("date_precision"))
        if row.get("quote"):
            sources.append(normalise(row["quote"]))
            dates += [when for when, _ in dates_in(row["quote"]) if when.level != "year"]
        rows.append(SeedRow(
            "events.csv", line, frozenset(n for n, _ in numbers_in(texts)), tuple(row_dates),
            f"{row.get('date', '?')} {row.get('label', '')}".strip(),
        ))
        dates += row_dates

    for path in sorted(folder.glob("*.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict):
            for key in ("published", "date"):
                when = parse_seed_date(str(meta.get(key) or ""))
                if when:
                    dates.append(when)
    return Seeds(rows=rows, sources=sources, dates=dates, stored=stored)


def _row_dates(row: dict[str, str], column: str, precision: str | None) -> list[When]:
    found = []
    when = parse_seed_date(row.get(column) or "", precision)
    if when:
        found.append(when)
    published = parse_seed_date(row.get("published") or "", row.get("published_precision"))
    if published:
        found.append(published)
    for url_column in ("archived_url", "url"):
        stamp = _ARCHIVE_STAMP.search(row.get(url_column) or "")
        if stamp and url_column == "archived_url" or (stamp and "archive" in (row.get(url_column) or "")):
            found.append(When(int(stamp[1]), int(stamp[2]), int(stamp[3])))
    return found


# --- text: normalising, quotations ---------------------------------------------------------

_QUOTE_CHARS = str.maketrans({
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})


def normalise(text: str) -> str:
    """Straight quotation characters, single spaces, no Markdown emphasis."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTE_CHARS)
    return " ".join(text.split())


_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.|\[[^\]]*\])\s*")


def quoted_in(words: str, sources: Iterable[str]) -> bool:
    """Whether each part of a quotation (split at ellipses and [insertions]) is in one source."""
    parts = [p.strip(" ,;:.!?") for p in _ELLIPSIS.split(normalise(words))]
    parts = [p for p in parts if p]
    if not parts:
        return False
    sources = list(sources)

    def found(part: str) -> bool:
        variants = {part, part[:1].swapcase() + part[1:]}
        return any(v in source for v in variants for source in sources)

    return all(found(p) for p in parts)


def quotation_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the words inside each pair of quotation marks in `text`."""
    spans = []
    # Curly double quotes: an opening mark to the next closing one.
    for m in re.finditer(r"“([^“”]*)”", text):
        spans.append((m.start(1), m.end(1)))
    # Straight double quotes, paired in order.
    marks = [m.start() for m in re.finditer(r'"', text)]
    for a, b in zip(marks[0::2], marks[1::2], strict=False):  # an odd last mark opens nothing
        spans.append((a + 1, b))
    # Single quotes: an opening mark after a space or bracket, a closing one before a
    # non-letter, so that apostrophes (KFOR’s, don't) are not taken for quotation marks.
    for m in re.finditer(r"(?:(?<=^)|(?<=[\s(\[“\"—–-]))['‘](?=\S)(.+?)(?<=\S)['’](?![A-Za-z])", text):
        spans.append((m.start(1), m.end(1)))
    return spans


# --- numbers and dates ----------------------------------------------------------------------

_NUMBER = re.compile(
    r"(?<![\w/.,−$€£#])(?<![A-Za-z_]-)"
    r"(\d{1,3}(?:,\d{3})+|\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?!\d)|\d+)"
    r"(?![\w/]|[.,]\d)"
)
_ORDINAL = re.compile(r"(?:st|nd|rd|th)\b")
_UNITS = (
    r"%|per\s?cent|percent|days?|weeks?|months?|years?|hours?|h\b|minutes?|mins?|seconds?|s\b|ms\b|"
    r"km|kilometres?|kilometers?|miles?|words?|characters?|chars?|bytes?|[kKMG]i?B\b|points?|pts\b|px\b|"
    r"dpi|students?|submissions?|notebooks?|cells?|rows?|lines?|tests?|times|x\b|×|kernels?|workers?|"
    r"files?|tokens?|sentences?|paragraphs?|pages?|documents?|items?|questions?|euros?|dollars?|"
    r"USD|EUR|casualties|injured|killed|dead"
)
_UNIT_AFTER = re.compile(rf"[\s-]*(?:{_UNITS})", re.I)
# A number that names a thing, not a count: "Resolution 1244", "page 1,200", "version 2024".
_LABEL_BEFORE = re.compile(
    r"\b(?:resolutions?|UNSCR|no|nos|pages?|pp?|sections?|chapters?|items?|id|cells?|lines?|rows?|"
    r"versions?|python|port|isbn|issn|vol|volumes?)\.?\s*$", re.I)
_AXIS_BEFORE = re.compile(
    r"(?:\baxis\s+(?:(?:starts?|starting|begins?|beginning|goes|going|runs|running)\s+)?"
    r"(?:from|at|to|up\s+to)|\bbaseline(?:\s+(?:of|at))?|\bylim|\b(?:y\s+)?limit\s*(?:of|at)?\s*\(?)\s*$", re.I)
_TROOP_WORD = re.compile(
    r"\b(?:troops?|soldiers?|personnel|strength|KFOR|forces?|men\s+and\s+women|peacekeep\w*|"
    r"reinforcements?|contingents?|deploy\w*|servicemen|service\s+members?)\b", re.I)
_TROOP_NOUN_AFTER = re.compile(r"\s+(?:troops?|soldiers?|personnel|peacekeepers?|men\b)", re.I)


def numbers_in(text: str) -> list[tuple[int, tuple[int, int]]]:
    """Every whole number written in digits, with its span: "3,735" → 3735, "50 000" → 50000."""
    found = []
    for m in _NUMBER.finditer(text):
        if _ORDINAL.match(text, m.end()):
            continue
        digits = re.sub(r"\D", "", m.group(1))
        found.append((int(digits), m.span(1)))
    return found


def _is_year(text: str, value: int, span: tuple[int, int]) -> bool:
    written = text[span[0]:span[1]]
    return (
        written.isdigit() and len(written) == 4 and 1900 <= value <= 2099
        and not _TROOP_NOUN_AFTER.match(text, span[1])
    )


MONTHS = {
    name: number
    for number, names in enumerate(
        [("January", "Jan"), ("February", "Feb"), ("March", "Mar"), ("April", "Apr"),
         ("May",), ("June", "Jun"), ("July", "Jul"), ("August", "Aug"),
         ("September", "Sep", "Sept"), ("October", "Oct"), ("November", "Nov"), ("December", "Dec")],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})-(?P<mm>\d{2})-(?P<day>\d{2})\b"),
    re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+(?P<year>\d{4})\b"),
    re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b"),
    re.compile(r"\b" + _MONTH + r",?\s+(?:of\s+)?(?P<year>\d{4})\b"),
    re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<mm>0[1-9]|1[0-2])\b(?![-\d])"),
    re.compile(r"(?<![\d,.\-/])\b(?P<year>(?:19|20)\d{2})\b(?![\d,.\-/]\d)"),
]


def dates_in(text: str) -> list[tuple[When, tuple[int, int]]]:
    """Every date and year in `text`, with its span, the most precise reading first."""
    found: list[tuple[When, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            groups = m.groupdict()
            year = int(groups["year"])
            month = MONTHS.get(groups.get("month") or "") or (int(groups["mm"]) if groups.get("mm") else None)
            day = int(groups["day"]) if groups.get("day") else None
            try:
                date(year, month or 1, day or 1)
            except ValueError:
                continue
            found.append((When(year, month, day), m.span()))
            taken.append(m.span())
    return sorted(found, key=lambda item: item[1])


# --- sentences ----------------------------------------------------------------------------

_ABBREVIATIONS = (
    "e.g", "i.e", "etc", "vs", "cf", "No", "Nos", "p", "pp", "Mr", "Mrs", "Ms", "Dr", "St", "Gen",
    "Lt", "Col", "Sgt", "Fig", "fig", "al", "approx", "ca", "Ed", "eds", "Vol", "vol",
    *[m for m in MONTHS if len(m) <= 4],
)
_ABBREV = re.compile(r"(?:\b(?:" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")|\b[A-Z])\.$")


ITEM = "\x1e"  # put where a Markdown list item starts: always a sentence break


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split after . ! ? (and a closing quotation mark or
    bracket) followed by white space and a word that does not start in lower case, except
    after an abbreviation such as "Sep." or "e.g." or an ellipsis; and where a list item
    starts."""
    spans, start = [], 0
    for m in re.finditer(r"(?<!\.)[.!?](?!\.)[”\"’')\]]*(?=\s+[^\s\w]*[^\W_a-z])|" + ITEM, text):
        if m.group() != ITEM and _ABBREV.search(text[max(0, m.end() - 8):m.end()]):
            continue
        end = m.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


# --- pieces of the course's voice ------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One paragraph of prose, one table row, or one chart string, with where it is."""

    path: str
    where: str  # "cell 12 (id l01-12), " in a notebook, "" in a Markdown file
    line: int  # line of the piece's first character in its cell or file
    text: str
    chart: bool = False  # chart text (titles, labels, alt text)
    every_number: bool = True  # every number of 500 or more is a troop figure, troop word or not
    exception: str | None = None  # the figure-ok reason, when marked
    context: str = ""  # more words that say what the numbers count (a table's header)
    label: str = ""  # "image alt text", "chart text"
    block: int = 0  # first line of the paragraph or table it belongs to (0: itself)

    def at(self, offset: int = 0) -> str:
        line = self.line + (self.text.count("\n", 0, offset) if not self.chart else 0)
        return f"{self.where}line {line}" + (f", {self.label}" if self.label else "")


@dataclass(frozen=True)
class Finding:
    path: str
    where: str
    what: str  # "figure 3,735" or "date 2023-06-06"
    why: str
    sentence: str

    def __str__(self) -> str:
        sentence = self.sentence if len(self.sentence) <= 200 else self.sentence[:197] + "…"
        return f"{self.path}: {self.where}: {self.what}: {self.why}\n    «{sentence}»"


@dataclass(frozen=True)
class Marked:
    path: str
    where: str
    reason: str
    needed: bool = True  # False when the marked text passes without its marker

    def __str__(self) -> str:
        stale = "" if self.needed else "  [NOT NEEDED: it passes without the marker; remove it]"
        return f"{self.path}: {self.where}: figure-ok: {self.reason}{stale}"


_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S)
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\([^)]*\)")
_HTML_ALT = re.compile(r"""\balt\s*=\s*(?:"(?P<a>[^"]*)"|'(?P<b>[^']*)')""")
_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\([^)]*\)")
_URL = re.compile(r"<?\bhttps?://[^\s)>\]]+>?|\bwww\.[^\s)>\]]+|\bdoi:\S+")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def _blank(match: re.Match[str]) -> str:
    """The same number of lines, no text: keeps later line numbers right."""
    return "\n" * match.group().count("\n") + " "


def markdown_pieces(text: str, path: str, where: str = "", names: dict[str, str] | None = None,
                    first_line: int = 1) -> Iterator[Piece]:
    """The paragraphs of a Markdown text, cleaned of code, URLs and markup; its images' alt
    texts and the chart strings of its fenced Python blocks as chart pieces."""
    def line_of(position: int) -> int:
        return first_line + text.count("\n", 0, position)

    for m in _FENCE.finditer(text):
        if m["info"].strip().lower() in ("python", "py", "python3", "ipython", "ipython3"):
            yield from code_pieces(m["body"], path, where, names=dict(names or {}),
                                   first_line=line_of(m.start("body")))
    text = _FENCE.sub(_blank, text)
    for m in _IMAGE.finditer(text):
        yield Piece(path, where, line_of(m.start()), m["alt"], chart=True,
                    exception=_marker_near(text, m.start()), label="image alt text")
    for m in _HTML_ALT.finditer(text):
        yield Piece(path, where, line_of(m.start()), m["a"] or m["b"] or "", chart=True,
                    exception=_marker_near(text, m.start()), label="alt text")
    text = _IMAGE.sub(lambda m: " " * len(m.group()), text)
    # Paragraphs: blocks between blank lines; a table's header goes with each of its rows (a
    # marker on a table counts once).
    for m in re.finditer(r"(?:^[^\n]*\S[^\n]*(?:\n|$))+", text, re.M):
        block = m.group()
        reason = _marker(block)
        lines = block.splitlines()
        skip = 0  # a marker on its own line above a table
        while skip < len(lines) and re.fullmatch(r"\s*<!--.*?-->\s*", lines[skip]):
            skip += 1
        table = lines[skip:]
        if len(table) > 2 and table[0].lstrip().startswith("|") and re.match(r"^[ \t|:-]+$", table[1]):
            header = _clean_markdown(table[0])
            for offset, row in enumerate(table[2:], start=skip + 2):
                yield Piece(path, where, line_of(m.start()) + offset, _clean_markdown(row),
                            exception=reason, context=header, block=line_of(m.start()))
            continue
        cleaned = _clean_markdown(block)
        if cleaned.strip():
            yield Piece(path, where, line_of(m.start()), cleaned, exception=reason)


def _marker(block: str) -> str | None:
    m = MARKER.search(_CODE_SPAN.sub(" ", block))  # a marker shown as code is not a marker
    return (m["reason"].strip() or "(no reason given)") if m else None


def _marker_near(text: str, position: int) -> str | None:
    start = text.rfind("\n\n", 0, position)
    end = text.find("\n\n", position)
    return _marker(text[start + 1 if start >= 0 else 0: end if end >= 0 else len(text)])


def _clean_markdown(block: str) -> str:
    """Prose only, line breaks kept: no comments, code spans, URLs, tags or emphasis marks."""
    text = _COMMENT.sub(_blank, block)
    text = _CODE_SPAN.sub(_blank, text)
    text = _LINK.sub(lambda m: m["text"], text)
    text = _URL.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = re.sub(r"^[ \t]*>[ \t]?", "", text, flags=re.M)  # block quotes: see _block_quoted
    text = re.sub(r"^[ \t]*#{1,6}[ \t]+", "", text, flags=re.M)
    text = re.sub(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", ITEM, text, flags=re.M)  # list items
    text = re.sub(r"^[ \t]*\|?[ \t:]*-{3,}[-| \t:]*$", " ", text, flags=re.M)
    text = text.replace("|", " ")  # table cells: a row is one sentence
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text, flags=re.S)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text, flags=re.S)
    text = re.sub(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", r"\1", text, flags=re.S)
    return text.replace("\\", "")


# --- chart text in code ------------------------------------------------------------------------

_TEXT_CALLS = {
    # method name: positions of the text argument, and the keyword names it may have
    "set_title": ((0,), ("label",)), "suptitle": ((0,), ("t",)), "title": ((0,), ("label",)),
    "set_xlabel": ((0,), ("xlabel",)), "set_ylabel": ((0,), ("ylabel",)),
    "xlabel": ((0,), ("xlabel",)), "ylabel": ((0,), ("ylabel",)), "supxlabel": ((0,), ("t",)),
    "supylabel": ((0,), ("t",)), "text": ((2,), ("s",)), "figtext": ((2,), ("s",)),
    "annotate": ((0,), ("text", "s")), "set_label": ((0,), ("s",)), "set_text": ((0,), ()),
}


def _string_value(node: ast.AST, names: dict[str, str]) -> str | None:
    """The text a string expression stands for; an f-string's {…} parts are left out."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else " ⟨computed⟩ " for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_value(node.left, names), _string_value(node.right, names)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("strip", "format", "upper", "lower"):
            return _string_value(node.func.value, names)
        if node.func.attr == "join" and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
            glue = _string_value(node.func.value, names)
            parts = [_string_value(e, names) for e in node.args[0].elts]
            if glue is not None and all(p is not None for p in parts):
                return glue.join(parts)  # type: ignore[arg-type]
        if node.func.attr == "dedent" and node.args:
            return _string_value(node.args[0], names)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dedent" and node.args:
        return _string_value(node.args[0], names)
    return None


def _code_marker(lines: list[str], first: int, last: int) -> str | None:
    for number in range(max(first - 1, 1), last + 1):
        if 0 < number <= len(lines):
            m = CODE_MARKER.search(lines[number - 1])
            if m:
                return m["reason"]
    return None


def _is_alt_name(name: str) -> bool:
    return "alt" in re.split(r"_+", name.lower())


def code_pieces(source: str, path: str, where: str = "", names: dict[str, str] | None = None,
                first_line: int = 1) -> Iterator[Piece]:
    """Chart text and alt text in code (see the module docstring). `names` carries the
    notebook's string assignments from cell to cell; it is updated in place."""
    names = {} if names is None else names
    cleaned = "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        yield from _code_pieces_by_pattern(source, path, where, first_line)
        return
    lines = source.splitlines()
    found: list[tuple[int, int, str]] = []  # (first line, last line, text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            text = _string_value(node.value, names)
            for target in targets:
                if isinstance(target, ast.Name) and text is not None:
                    names[target.id] = text
                    if _is_alt_name(target.id):
                        found.append((node.lineno, node.end_lineno or node.lineno, text))
        if not isinstance(node, ast.Call):
            continue
        # On any call: alt text, a legend label, a title (ax.set(title=…), df.plot(title=…),
        # ax.legend(title=…)) and axis labels given as keywords.
        texts = [k.value for k in node.keywords
                 if k.arg in ("alt", "alt_text", "label", "title", "xlabel", "ylabel", "suptitle")]
        name = node.func.attr if isinstance(node.func, ast.Attribute) else (
            node.func.id if isinstance(node.func, ast.Name) else None)
        if name in _TEXT_CALLS:
            positions, keywords = _TEXT_CALLS[name]
            texts += [node.args[i] for i in positions if i < len(node.args)]
            texts += [k.value for k in node.keywords if k.arg in keywords]
        for arg in texts:
            text = _string_value(arg, names)
            if text is not None:
                found.append((node.lineno, node.end_lineno or node.lineno, text))
    seen = set()
    for first, last, text in sorted(found):
        if text in seen or not text.strip():
            continue  # ALT_TEXT = "…" and show(fig, alt=ALT_TEXT) are one text
        seen.add(text)
        yield Piece(path, where, first_line + first - 1, text, chart=True,
                    exception=_code_marker(lines, first, last), label="chart text")


def _code_pieces_by_pattern(source: str, path: str, where: str, first_line: int) -> Iterator[Piece]:
    """For code that does not parse: the string literal right after a chart call or alt=."""
    calls = "|".join(_TEXT_CALLS)
    pattern = re.compile(
        rf"""(?:\.(?:{calls})\(\s*|\b(?:alt|label)\s*=\s*)(?P<q>["'])(?P<text>(?:(?!(?P=q)).)*)(?P=q)""")
    lines = source.splitlines()
    for m in pattern.finditer(source):
        line = source.count("\n", 0, m.start()) + 1
        yield Piece(path, where, first_line + line - 1, m["text"], chart=True,
                    exception=_code_marker(lines, line, line), label="chart text")


# --- files ---------------------------------------------------------------------------------------


def _is_test_cell(cell: dict) -> bool:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def file_pieces(path: Path, root: Path = ROOT) -> Iterator[Piece]:
    """Every piece of the course's voice in one notebook or Markdown file."""
    try:
        name = str(path.relative_to(root))
    except ValueError:
        name = str(path)
    if path.suffix != ".ipynb":
        for piece in markdown_pieces(path.read_text(encoding="utf-8"), name):
            yield replace(piece, every_number=piece.chart or name.replace("\\", "/") not in SOFTWARE_DOCS)
        return
    notebook = json.loads(path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for number, cell in enumerate(notebook.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        where = f"cell {number}" + (f" (id {cell['id']})" if cell.get("id") else "") + ", "
        if cell.get("cell_type") == "markdown":
            yield from markdown_pieces(source, name, where, names)
        elif cell.get("cell_type") == "code" and not _is_test_cell(cell):
            yield from code_pieces(source, name, where, names)
        alt = (cell.get("metadata") or {}).get("alt_text")
        if isinstance(alt, str) and alt.strip() and not _is_test_cell(cell):
            reason = (cell.get("metadata") or {}).get("figure_ok")
            yield Piece(name, where, 1, alt, chart=True, label="alt text in the cell's metadata",
                        exception=str(reason) if reason else None)


# --- checking ------------------------------------------------------------------------------------

_SUBJECT = re.compile(
    r"\b(?:NATO|KFOR|Kosovo|article|statement|Council|Secretary\s+General|Stoltenberg|commander|"
    r"Zve[čc]an|Banjska|attack|clash(?:es)?|Euronews|Reuters|RFE/RL|Radio\s+Free\s+Europe|KUNA|EWB|"
    r"European\s+Western\s+Balkans|placemat|published|UN|United\s+Nations|figures?|reported|reports?)\b")
# A date before the first figure is not its date when a range or a new clause lies between
# ("from 2003 to 3,735", "June 2022 to March 2024: the article's 3,735").
_RANGE_BETWEEN = re.compile(r"^\s*(?:(?:to|until|till|through)\b|[–—…-]|\.\.\.)")
# A date dates a figure only when at most this many words stand between them.
NEAR_WORDS = 6
_YEAR_AS_ADJECTIVE = re.compile(r"\b(?:its|the|their|a|an|this|that|these|those)\s+$", re.I)


def _same_phrase(between: str) -> bool:
    """Whether a date and a figure with `between` between them belong together: the same
    clause, and close."""
    return not _CLAUSE_BREAK.search(between) and len(between.split()) <= NEAR_WORDS


# Where a clause ends: a date across it belongs to a figure on its own side.
_CLAUSE_BREAK = re.compile(r"[;:—]|,\s*(?:but|while|whereas|which|when|so)\b|\b(?:but|whereas)\b")
# The bounds of a window "1999-06-01 … 1999-12-31" or a range "June 2022 to March 2024" are
# limits (of a rule, of an axis), not dates of events.
_WINDOW = re.compile(r"^\s*(?:…|\.\.\.|–|—|-|to)\s*$")


def _format(value: int) -> str:
    return f"{value:,}"


def check_piece(piece: Piece, seeds: Seeds, log: list[str] | None = None) -> list[Finding]:
    """The untraced figures and dates of one paragraph, table row or chart string. `log`,
    when given, receives one line for every figure and date that passed, and why."""
    log = [] if log is None else log
    text = piece.text
    findings: list[Finding] = []
    verbatim = [(a, b) for a, b in quotation_spans(text) if seeds.quoted(text[a:b])]

    def in_verbatim(a: int, b: int) -> bool:
        return any(qa <= a and b <= qb for qa, qb in verbatim)

    for start, end in split_sentences(text):
        sentence = text[start:end]
        if _block_quoted(sentence, seeds):
            continue
        shown = " ".join(sentence.replace(ITEM, " ").split())
        where = piece.at(start + len(sentence) - len(sentence.lstrip()))
        context = sentence + " " + piece.context
        troop_context = piece.chart or piece.every_number or bool(_TROOP_WORD.search(context))
        subject = bool(_TROOP_WORD.search(context) or _SUBJECT.search(context))
        dated = dates_in(sentence)
        figures = []  # (value, span, quoted)
        for value, span in numbers_in(sentence):
            if value < MIN_FIGURE or not troop_context:
                continue
            if any(a <= span[0] and span[1] <= b for _, (a, b) in dated):
                continue  # part of a date
            if _is_year(sentence, value, span) or _UNIT_AFTER.match(sentence, span[1]):
                continue
            before_number = sentence[max(0, span[0] - 40):span[0]]
            if _AXIS_BEFORE.search(before_number) or _LABEL_BEFORE.search(before_number):
                continue
            if span[0] > 0 and sentence[span[0] - 1] in "$€£":
                continue
            figures.append((value, span, in_verbatim(start + span[0], start + span[1])))
        # Each date belongs to the nearest figure before it in the same clause and at most
        # NEAR_WORDS words away, else to such a figure after it (unless the date starts a
        # range that ends at the figure); otherwise it stands alone.
        own: dict[int, list[tuple[When, tuple[int, int]]]] = {i: [] for i in range(len(figures))}
        loose: list[tuple[When, tuple[int, int]]] = []
        for k, (when, span) in enumerate(dated):
            if in_verbatim(start + span[0], start + span[1]) or _window_bound(sentence, dated, k):
                continue
            before = [i for i, (_, fspan, _) in enumerate(figures) if fspan[1] <= span[0]]
            after = [i for i, (_, fspan, _) in enumerate(figures) if fspan[0] >= span[1]]
            prev = before[-1] if before else None
            nxt = after[0] if after else None
            if when.level == "year" and _YEAR_AS_ADJECTIVE.search(sentence[:span[0]]):
                continue  # "its 2003 level", "the 2023 report": a bare year naming a thing
            if prev is not None and _same_phrase(sentence[figures[prev][1][1]:span[0]]):
                own[prev].append((when, span))
            elif nxt is not None and _same_phrase(between := sentence[span[1]:figures[nxt][1][0]]) and not (
                    _RANGE_BETWEEN.search(between)):
                own[nxt].append((when, span))
            else:
                loose.append((when, span))
        for i, (value, span, quoted) in enumerate(figures):
            if quoted:
                # The source's figure: its dates are the course's, and must be seeds dates.
                loose += own[i]
                log.append(f"figure {sentence[span[0]:span[1]]}: quoted from a source")
                continue
            what = f"figure {sentence[span[0]:span[1]]}"
            rows = seeds.rows_with(value)
            if not rows:
                findings.append(Finding(piece.path, where, what,
                    f"no row of troop_reports.csv or events.csv gives {_format(value)}, and it is not "
                    "inside a quotation of the article or a seeds source", shown))
                continue
            stated = [when for when, _ in own[i]]
            if stated and not any(fits(s, d) for s in stated for row in rows for d in row.dates):
                row_dates = sorted({str(d) for row in rows for d in row.dates})
                findings.append(Finding(piece.path, where, what,
                    f"dated {', '.join(map(str, stated))} here, but the rows giving {_format(value)} "
                    f"are dated {', '.join(row_dates)}", shown))
            else:
                log.append(f"figure {sentence[span[0]:span[1]]} ({', '.join(map(str, stated)) or 'undated'}): "
                           f"{rows[0].describe()}")
        for when, span in loose:
            if when.level == "year" or not subject or seeds.knows(when):
                if when.level != "year":
                    log.append(f"date {sentence[span[0]:span[1]]}: "
                               + ("a seeds date" if subject else "not about KFOR, not checked"))
                continue
            findings.append(Finding(piece.path, where, f"date {sentence[span[0]:span[1]]}",
                f"{when} is not a date of the seeds (an as_of, published, archive capture or event "
                "date, or the article's or the statement's date)", shown))
    return findings


def _window_bound(sentence: str, dated: list[tuple[When, tuple[int, int]]], k: int) -> bool:
    """Whether date k is one bound of a window written "A … B" or "A–B"."""
    span = dated[k][1]
    if k + 1 < len(dated) and _WINDOW.match(sentence[span[1]:dated[k + 1][1][0]]):
        return True
    return k > 0 and bool(_WINDOW.match(sentence[dated[k - 1][1][1]:span[0]]))


def _block_quoted(sentence: str, seeds: Seeds) -> bool:
    """A sentence that is, whole, in a source text (a block quote of the article)."""
    words = sentence.replace(ITEM, " ").strip()
    return len(words.split()) >= 4 and seeds.quoted(words)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    exceptions: list[Marked] = field(default_factory=list)
    pieces: int = 0

    def text(self) -> str:
        out = [f"{len(self.findings)} untraced figure(s) or date(s) in {self.pieces} paragraphs, "
               "table rows and chart texts"]
        out += [str(f) for f in self.findings]
        out.append(f"{len(self.exceptions)} marked exception(s) (figure-ok); at most {MAX_EXCEPTIONS} allowed")
        out += [str(e) for e in self.exceptions]
        return "\n".join(out)


def check_files(paths: Iterable[Path], seeds: Seeds | None = None, root: Path = ROOT) -> Report:
    """Check the given notebooks and Markdown files against the seeds."""
    seeds = seeds if seeds is not None else load_seeds()
    report = Report()
    marked: dict[tuple[str, str, int], Marked] = {}
    for path in paths:
        for piece in file_pieces(Path(path), root):
            report.pieces += 1
            if piece.exception is None:
                report.findings.extend(check_piece(piece, seeds))
                continue
            key = (piece.path, piece.where, piece.block or -piece.line)
            needed = bool(check_piece(piece, seeds))
            if key in marked:  # another row of a marked table
                needed = needed or marked[key].needed
                marked[key] = replace(marked[key], needed=needed)
            else:
                marked[key] = Marked(piece.path, piece.at(), piece.exception, needed)
    report.exceptions = list(marked.values())
    return report


def check_course(root: Path = ROOT) -> Report:
    """Check every file of the course (course_files) against its seeds/."""
    return check_files(course_files(root), load_seeds(root / "seeds"), root)


if __name__ == "__main__":  # pragma: no cover - a report for authors
    print(check_course(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT).text())

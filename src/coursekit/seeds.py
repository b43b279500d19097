"""Find the course data (`seeds/`) from any working directory, prove it is intact, and
read its tables with the checks of their data dictionary (`seeds/README.md`).

Lessons, exercises and the autograder's copy of a submission all live at different
depths below the course root; every one of them finds the same checksummed files here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coursekit.errors import CoursekitError

if TYPE_CHECKING:  # pandas is imported where a table is read: the CLI starts without it
    import pandas as pd

SEEDS_ENV = "COURSEKIT_SEEDS"
MANIFEST = "SHA256SUMS"
ARTICLE = "kfor-article.txt"
ARTICLE_METADATA = "kfor-article.json"
NATO_STATEMENT = "nato-statement-2023-09-29.txt"
NATO_STATEMENT_METADATA = "nato-statement-2023-09-29.json"


class SeedError(CoursekitError, RuntimeError):
    """The course data is missing or differs from what the course was written against."""


def installed_seeds_dir() -> Path:
    """Where an installed toolkit keeps its copy of the seeds: `<prefix>/share/coursekit/seeds`
    (pyproject.toml's data-files, in the student edition too). It may not exist."""
    return Path(sys.prefix) / "share" / "coursekit" / "seeds"


def find_seeds_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the `seeds/` folder, the first of:

    1. `$COURSEKIT_SEEDS` (a JupyterHub sets it for student servers; an error if it names no seeds);
    2. the nearest `seeds/` at or above `start` (default: the current folder), as in the course;
    3. the copy installed with the toolkit (`installed_seeds_dir()`), for a notebook in a
       folder outside the course, such as `~/01-reading-the-source/` fetched on a hub.

    Whichever is found, `verify`, `seed_path` and the readers check its files against its
    `SHA256SUMS`, the same checksums the course ships.
    """
    override = os.environ.get(SEEDS_ENV)
    if override:
        folder = Path(override).expanduser().resolve()
        if not (folder / MANIFEST).is_file():
            raise SeedError(f"{folder / MANIFEST}: not found (${SEEDS_ENV} points at {folder})")
        return folder
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "seeds"
        if (candidate / MANIFEST).is_file():
            return candidate
        if folder.name == "seeds" and (folder / MANIFEST).is_file():
            return folder
    installed = installed_seeds_dir()
    if (installed / MANIFEST).is_file():
        return installed
    raise SeedError(
        f"seeds/{MANIFEST}: not found in {here} or any folder above it, nor installed with the toolkit "
        f"({installed}); run from inside the course folder or set ${SEEDS_ENV} to its seeds/ folder"
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_file(folder: Path, name: str, digest: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise SeedError(f"seeds/{name}: missing from {folder} (it is listed in {MANIFEST})")
    found = _sha256(path)
    if found != digest:
        raise SeedError(
            f"seeds/{name}: altered (sha256 {found[:12]}…, expected {digest[:12]}…, "
            f"{path.stat().st_size:,} bytes); restore it with `git checkout -- seeds/{name}`"
        )
    return path


def read_manifest(seeds_dir: Path) -> dict[str, str]:
    """Map each file named in `SHA256SUMS` to its expected sha256."""
    manifest = seeds_dir / MANIFEST
    expected: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise SeedError(f"{manifest}: line {number} is not '<sha256>  <file name>'")
        expected[name.strip()] = digest
    return expected


def verify(seeds_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Check every file named in `SHA256SUMS`; raise `SeedError` naming the first that differs."""
    folder = Path(seeds_dir) if seeds_dir is not None else find_seeds_dir()
    expected = read_manifest(folder)
    for name, digest in expected.items():
        _check_file(folder, name, digest)
    return expected


def seed_path(name: str, *, seeds_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of one verified seed file."""
    folder = Path(seeds_dir) if seeds_dir is not None else find_seeds_dir()
    expected = read_manifest(folder)
    if name not in expected:
        raise SeedError(f"seeds/{name}: not a course data file (not listed in {MANIFEST})")
    path = _check_file(folder, name, expected[name])
    return path


def read_text(name: str, *, seeds_dir: str | os.PathLike[str] | None = None) -> str:
    """The text of one verified seed file."""
    return seed_path(name, seeds_dir=seeds_dir).read_text(encoding="utf-8")


def read_article(*, seeds_dir: str | os.PathLike[str] | None = None) -> str:
    """The article exactly as published (3,756 characters, no trailing newline)."""
    return read_text(ARTICLE, seeds_dir=seeds_dir)


def article_metadata(*, seeds_dir: str | os.PathLike[str] | None = None) -> dict:
    """Outlet, headline, URL, publication date and capture notes of the article."""
    return json.loads(read_text(ARTICLE_METADATA, seeds_dir=seeds_dir))


def nato_statement(*, seeds_dir: str | os.PathLike[str] | None = None) -> str:
    """NATO's "Secretary General statement on the situation in Kosovo" of 29 September 2023,
    the text the article quotes: title line, blank line, six paragraphs, no trailing newline."""
    return read_text(NATO_STATEMENT, seeds_dir=seeds_dir)


def nato_statement_metadata(*, seeds_dir: str | os.PathLike[str] | None = None) -> dict:
    """Title, publisher, origin, URL, date, page chrome and capture notes of NATO's statement."""
    return json.loads(read_text(NATO_STATEMENT_METADATA, seeds_dir=seeds_dir))


# --- the reference tables (module 4) ------------------------------------------------------
#
# The checks are written here with pandas alone, not with pandera: the course installs
# nothing a student does not need, the rules are few, and every error must name the file,
# the row and the column in words a beginner can act on.

TROOP_REPORTS = "troop_reports.csv"
EVENTS = "events.csv"
# No KFOR figure can refer to a day before KFOR entered Kosovo.
EARLIEST_DATE = "1999-06-12"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}$")
_WHOLE_NUMBER = re.compile(r"^[1-9]\d*$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A web-archive capture names its moment as /web/YYYYMMDDhhmmss/ in its address.
_CAPTURE_STAMP = re.compile(r"/web/(\d{8})\d*/")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")

# The one rule for primary and secondary (seeds/README.md): a report is primary when the body
# that counted the troops or said the figure is NATO itself or one of its commands.
NATO_BODIES = ("NATO", "NATO HQ", "KFOR", "NATO JFC Naples", "SHAPE")
PRECISIONS = ("day", "month", "year")
ACCESS = ("original", "archived", "copy", "relay")


def source_type_of(origin: str) -> str:
    """'primary' when `origin` is NATO or one of its commands (NATO_BODIES), else 'secondary'.

    Only the origin decides: who published the page and how it was read never do.
    """
    return "primary" if origin.strip() in NATO_BODIES else "secondary"


def period_end(as_of, precision: str):
    """The last day a figure dated `as_of` with `precision` can refer to, as a pandas Timestamp.

    A month-precision date (stored as the first of the month) may mean any day of that month,
    a year-precision date any day of that year. The age of such a figure on a later day is
    therefore *at least* the days counted from this last day — never more is certain.
    """
    import pandas as pd

    when = pd.Timestamp(as_of)
    if precision == "day":
        return when
    if precision == "month":
        return when + pd.offsets.MonthEnd(0)
    if precision == "year":
        return pd.Timestamp(year=when.year, month=12, day=31)
    raise ValueError(f"{precision!r} is not one of {', '.join(PRECISIONS)}")


def minimum_age_days(as_of, precision: str, on) -> int:
    """Whole days from the last day `as_of` can mean to `on`: the figure is *at least* this old."""
    import pandas as pd

    return int((pd.Timestamp(on) - period_end(as_of, precision)).days)


def printed_forms(troops: int) -> tuple[str, ...]:
    """The ways a source may print `troops`: 3735, 3,735, 3.735, 3 735 (also with no-break spaces)."""
    digits = str(int(troops))
    forms = [digits]
    if len(digits) > 3:
        groups = []
        rest = digits
        while rest:
            groups.insert(0, rest[-3:])
            rest = rest[:-3]
        forms += [separator.join(groups) for separator in (",", ".", " ", "\u00a0", "\u202f")]
    return tuple(forms)


def quote_has_figure(quote: str, troops: int) -> bool:
    """Does `quote` print `troops` in one of its printed forms, not as part of a longer number?"""
    for form in printed_forms(troops):
        pattern = r"(?<![\d.,])" + re.escape(form) + r"(?![\d]|[.,\u00a0\u202f ]\d)"
        if re.search(pattern, quote):
            return True
    return False


class SeedRowError(SeedError, ValueError):
    """One cell of a seed table breaks the data dictionary (seeds/README.md).

    `row` counts data rows from 1 (the header is not a row; row n is on line n + 1).
    """

    def __init__(self, table: str, row: int | None, column: str, problem: str) -> None:
        self.table, self.row, self.column, self.problem = table, row, column, problem
        where = f"row {row}, column {column}" if row is not None else f"column {column}"
        super().__init__(f"{table}: {where}: {problem}")


@dataclass(frozen=True)
class Column:
    """One column of a seed table: its name, what its cells must be, and the allowed values.

    kind: "date" (YYYY-MM-DD), "published" (YYYY-MM-DD or YYYY-MM), "count", "text", "url",
    "slug" or "choice". An `optional` column may be empty; the table's own rules say when.
    """

    name: str
    kind: str
    choices: tuple[str, ...] = ()
    optional: bool = False
    earliest: str | None = EARLIEST_DATE


TROOP_REPORT_COLUMNS = (
    Column("id", "slug"),
    # as_of may be the first of June 1999 with month precision: its range is checked per period.
    Column("as_of", "date", earliest=None),
    Column("as_of_precision", "choice", PRECISIONS),
    Column("troops", "count"),
    Column("qualifier", "text"),
    Column("scope", "text"),
    Column("origin", "text"),
    Column("source_type", "choice", ("primary", "secondary")),
    Column("publisher", "text"),
    Column("access", "choice", ACCESS),
    Column("relays", "slug", optional=True),
    Column("url", "url"),
    Column("archived_url", "url", optional=True),
    Column("published", "published", optional=True, earliest=None),
    Column("quote", "text"),
    Column("note", "text"),
)
EVENT_COLUMNS = (
    Column("date", "date"),
    Column("label", "text"),
    Column("description", "text"),
    Column("origin", "text"),
    Column("publisher", "text"),
    Column("access", "choice", ACCESS),
    Column("url", "url"),
    Column("quote", "text"),
)


def _display_name(path: Path) -> str:
    return f"seeds/{path.name}" if path.parent.name == "seeds" else str(path)


def _check_day(value: str, earliest: str | None, latest: pd.Timestamp) -> str | None:
    import pandas as pd

    try:
        when = pd.Timestamp(value)
    except ValueError:
        return f"{value!r} is not a date on the calendar"
    if when > latest:
        return f"{value} is after today ({latest:%Y-%m-%d})"
    if earliest is not None and when < pd.Timestamp(earliest):
        return f"{value} is outside {earliest} … {latest:%Y-%m-%d}"
    return None


def _check_cell(column: Column, value: str, latest: pd.Timestamp) -> str | None:
    """What is wrong with one cell, or None when it is fine."""
    if value == "":
        return None if column.optional else "missing"
    if value != value.strip():
        return f"{value!r} has spaces at its start or end"
    if column.kind == "date":
        if not _ISO_DATE.match(value):
            return f"{value!r} is not a date written YYYY-MM-DD"
        return _check_day(value, column.earliest, latest)
    if column.kind == "published":
        if _ISO_DATE.match(value):
            return _check_day(value, column.earliest, latest)
        if _ISO_MONTH.match(value):
            return _check_day(value + "-01", column.earliest, latest)
        return f"{value!r} is not a date written YYYY-MM-DD (or YYYY-MM for a page dated to a month)"
    if column.kind == "count" and not _WHOLE_NUMBER.match(value):
        return f"{value!r} is not a whole number above 0 (write 3735, not 3,735)"
    if column.kind == "choice" and value not in column.choices:
        return f"{value!r} is not one of {', '.join(column.choices)}"
    if column.kind == "url" and (not value.startswith(("https://", "http://")) or " " in value):
        return f"{value!r} is not a web address (http:// or https://, no spaces)"
    if column.kind == "slug" and not _SLUG.match(value):
        return f"{value!r} is not an id of lower-case letters, digits and single hyphens"
    return None


def read_table(path: str | os.PathLike[str], columns: tuple[Column, ...]) -> pd.DataFrame:
    """Read and check one seed table against its columns; raise `SeedRowError` on the first fault.

    Columns of kind "date" come back as datetime64, counts as int64, the rest as text ("" for
    an empty optional cell), in file order.
    """
    import pandas as pd

    path = Path(path)
    table = _display_name(path)
    try:
        # Every cell as text, empty cells as "": a missing value must be seen, not guessed.
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise SeedError(f"{table}: file not found") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SeedError(f"{table}: not a readable CSV file ({error})") from None
    wanted = [c.name for c in columns]
    for name in wanted:
        if name not in raw.columns:
            raise SeedRowError(table, None, name, "missing from the header")
    for name in raw.columns:
        if name not in wanted:
            raise SeedRowError(table, None, name, "not in the data dictionary (seeds/README.md)")
    if list(raw.columns) != wanted:
        raise SeedRowError(table, None, "header", f"columns must be in this order: {', '.join(wanted)}")
    if raw.empty:
        raise SeedError(f"{table}: no rows")
    latest = pd.Timestamp.today().normalize()
    for row, record in enumerate(raw.itertuples(index=False), start=1):
        values = record._asdict()
        for column in columns:
            problem = _check_cell(column, values[column.name], latest)
            if problem:
                raise SeedRowError(table, row, column.name, problem)
    frame = raw.copy()
    for column in columns:
        if column.kind == "date":
            dates = pd.to_datetime(frame[column.name], format="%Y-%m-%d")
            frame[column.name] = dates.astype("datetime64[ns]")
        elif column.kind == "count":
            frame[column.name] = frame[column.name].astype("int64")
    return frame


def _capture_day(archived_url: str) -> tuple[str, str] | None:
    """The capture day in an archive address, as ('2011-06-05', '5 June 2011'), or None."""
    found = _CAPTURE_STAMP.search(archived_url)
    if not found:
        return None
    stamp = found.group(1)
    year, month, day = int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8])
    if not 1 <= month <= 12:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}", f"{day} {_MONTHS[month - 1]} {year}"


def _check_troop_row(table: str, row: int, r: dict) -> None:
    """The rules that join the columns of one row of troop_reports.csv."""
    import pandas as pd

    def fail(column: str, problem: str) -> None:
        raise SeedRowError(table, row, column, problem)

    as_of, precision = r["as_of"], r["as_of_precision"]
    if precision == "month" and as_of.day != 1:
        fail("as_of", f"{as_of:%Y-%m-%d} has month precision, so it must be the first of the month")
    if precision == "year" and (as_of.month, as_of.day) != (1, 1):
        fail("as_of", f"{as_of:%Y-%m-%d} has year precision, so it must be 1 January")
    if period_end(as_of, precision) < pd.Timestamp(EARLIEST_DATE):
        fail("as_of", f"{as_of:%Y-%m-%d} ({precision}) ends before {EARLIEST_DATE}, when KFOR entered Kosovo")
    expected = source_type_of(r["origin"])
    if r["source_type"] != expected:
        fail("source_type", f"{r['source_type']!r} breaks the rule: origin {r['origin']!r} makes it "
                            f"{expected!r} (seeds.source_type_of)")
    if r["qualifier"] != "exact" and r["qualifier"].casefold() not in r["quote"].casefold():
        fail("qualifier", f"{r['qualifier']!r} is not in the quote; copy the hedge as printed, "
                          "or write 'exact' when there is none")
    if not quote_has_figure(r["quote"], r["troops"]):
        fail("quote", f"does not print the figure {r['troops']} (as {', '.join(printed_forms(r['troops'])[:4])} …)")
    if r["access"] == "archived":
        if not r["archived_url"]:
            fail("archived_url", "missing: access is archived, so give the capture's address")
        capture = _capture_day(r["archived_url"])
        if capture is None:
            fail("archived_url", f"{r['archived_url']!r} does not show a capture date as /web/YYYYMMDD…/")
        if not any(day in r["note"] for day in capture):
            fail("note", f"does not give the capture date ({capture[1]} or {capture[0]})")
    elif r["archived_url"]:
        fail("archived_url", f"must be empty when access is {r['access']!r}")
    if r["relays"] and r["access"] != "relay":
        fail("relays", f"must be empty when access is {r['access']!r} (only a relay relays)")
    if not r["published"] and "undated" not in r["note"].casefold():
        fail("published", "missing: give the page's date, or say in the note that the page is undated")


def _same_count(a: dict, b: dict) -> bool:
    """Same origin, same figure, and as_of periods that overlap: one count, however reported."""
    if (a["origin"], a["troops"]) != (b["origin"], b["troops"]):
        return False
    return (a["as_of"] <= period_end(b["as_of"], b["as_of_precision"])
            and b["as_of"] <= period_end(a["as_of"], a["as_of_precision"]))


def _count_label(r: dict) -> str:
    return f"origin {r['origin']!r}, troops {r['troops']}, as_of {r['as_of']:%Y-%m-%d} ({r['as_of_precision']})"


def _check_troop_reports(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Every rule of troop_reports.csv that joins columns or rows (seeds/README.md)."""
    records = frame.to_dict("records")
    ids: dict[str, int] = {}
    for row, r in enumerate(records, start=1):
        if r["id"] in ids:
            raise SeedRowError(table, row, "id", f"{r['id']!r} repeats row {ids[r['id']]}")
        ids[r["id"]] = row
    seen: dict[tuple, int] = {}
    for row, r in enumerate(records, start=1):
        _check_troop_row(table, row, r)
        key = (r["as_of"], r["troops"], r["url"])
        if key in seen:
            raise SeedRowError(table, row, "url", f"repeats row {seen[key]} (same as_of, troops and url)")
        seen[key] = row
    # Relays: a relay points at the origin's own publication of the same count (same origin,
    # same figure, periods that overlap) whenever the table holds one, so that many reports of
    # one count are seen to be one count.
    for row, r in enumerate(records, start=1):
        own = [o["id"] for o in records if o["access"] != "relay" and _same_count(o, r)]
        if r["relays"]:
            if r["relays"] not in ids:
                raise SeedRowError(table, row, "relays", f"{r['relays']!r} is not the id of a row")
            target = records[ids[r["relays"]] - 1]
            if target["id"] == r["id"]:
                raise SeedRowError(table, row, "relays", "a row cannot relay itself")
            if target["access"] == "relay":
                raise SeedRowError(table, row, "relays",
                                   f"{r['relays']!r} is itself a relay; name the origin's own publication")
            if not _same_count(target, r):
                raise SeedRowError(
                    table, row, "relays",
                    f"{r['relays']!r} is not the same count: it has {_count_label(target)}, "
                    f"this row {_count_label(r)}",
                )
        elif r["access"] == "relay" and own:
            raise SeedRowError(table, row, "relays",
                               f"missing: row {own[0]!r} is {r['origin']}'s own publication of {r['troops']}")
    return frame


def read_troop_reports(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check any file laid out like troop_reports.csv (no checksum needed)."""
    path = Path(path)
    return _check_troop_reports(read_table(path, TROOP_REPORT_COLUMNS), _display_name(path))


def troop_reports(*, seeds_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The dated reference figures of KFOR's strength, one row per report (seeds/README.md).

    Columns id, as_of (datetime64), as_of_precision, troops (int), qualifier, scope, origin,
    source_type ("primary" or "secondary", from origin by `source_type_of`), publisher, access,
    relays, url, archived_url, published (text: YYYY-MM-DD, YYYY-MM or ""), quote, note.
    """
    return read_troop_reports(seed_path(TROOP_REPORTS, seeds_dir=seeds_dir))


def _check_events(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    seen: dict[tuple, int] = {}
    for row, key in enumerate(zip(frame["date"], frame["label"], strict=True), start=1):
        if key in seen:
            raise SeedRowError(table, row, "label", f"repeats row {seen[key]} (same date and label)")
        seen[key] = row
    return frame


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check any file laid out like events.csv (no checksum needed)."""
    path = Path(path)
    return _check_events(read_table(path, EVENT_COLUMNS), _display_name(path))


def events(*, seeds_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The dated events that charts of KFOR's strength annotate: date (datetime64), label,
    description, origin, publisher, access, url, quote."""
    return read_events(seed_path(EVENTS, seeds_dir=seeds_dir))


def check_tables(*, seeds_dir: str | os.PathLike[str] | None = None) -> dict[str, int]:
    """Verify the checksums, then read both tables with every check; return their row counts."""
    return {TROOP_REPORTS: len(troop_reports(seeds_dir=seeds_dir)), EVENTS: len(events(seeds_dir=seeds_dir))}

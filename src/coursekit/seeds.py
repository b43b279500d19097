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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a table is read: the CLI starts without it
    import pandas as pd

SEEDS_ENV = "COURSEKIT_SEEDS"
MANIFEST = "SHA256SUMS"
ARTICLE = "kfor-article.txt"
ARTICLE_METADATA = "kfor-article.json"
NATO_STATEMENT = "nato-statement-2023-09-29.txt"
NATO_STATEMENT_METADATA = "nato-statement-2023-09-29.json"


class SeedError(RuntimeError):
    """The course data is missing or differs from what the course was written against."""


def find_seeds_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the `seeds/` folder: `$COURSEKIT_SEEDS`, else the nearest one at or above `start`."""
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
    raise SeedError(
        f"seeds/{MANIFEST}: not found in {here} or any folder above it; run from inside the "
        f"course folder or set ${SEEDS_ENV} to its seeds/ folder"
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
_WHOLE_NUMBER = re.compile(r"^[1-9]\d*$")


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
    """One column of a seed table: its name, what its cells must be, and the allowed values."""

    name: str
    kind: str  # "date", "count", "text", "url" or "choice"
    choices: tuple[str, ...] = ()


TROOP_REPORT_COLUMNS = (
    Column("as_of", "date"),
    Column("as_of_precision", "choice", ("day", "month")),
    Column("troops", "count"),
    Column("qualifier", "text"),
    Column("scope", "text"),
    Column("publisher", "text"),
    Column("source_type", "choice", ("primary", "secondary")),
    Column("access", "choice", ("original", "archived", "copy")),
    Column("url", "url"),
    Column("note", "text"),
)
EVENT_COLUMNS = (
    Column("date", "date"),
    Column("label", "text"),
    Column("description", "text"),
    Column("publisher", "text"),
    Column("url", "url"),
)


def _display_name(path: Path) -> str:
    return f"seeds/{path.name}" if path.parent.name == "seeds" else str(path)


def _check_cell(column: Column, value: str, latest: pd.Timestamp) -> str | None:
    """What is wrong with one cell, or None when it is fine."""
    import pandas as pd

    if value == "":
        return "missing"
    if value != value.strip():
        return f"{value!r} has spaces at its start or end"
    if column.kind == "date":
        if not _ISO_DATE.match(value):
            return f"{value!r} is not a date written YYYY-MM-DD"
        try:
            when = pd.Timestamp(value)
        except ValueError:
            return f"{value!r} is not a date on the calendar"
        if not pd.Timestamp(EARLIEST_DATE) <= when <= latest:
            return f"{value} is outside {EARLIEST_DATE} … {latest:%Y-%m-%d}"
    elif column.kind == "count" and not _WHOLE_NUMBER.match(value):
        return f"{value!r} is not a whole number above 0 (write 3735, not 3,735)"
    elif column.kind == "choice" and value not in column.choices:
        return f"{value!r} is not one of {', '.join(column.choices)}"
    elif column.kind == "url" and (not value.startswith(("https://", "http://")) or " " in value):
        return f"{value!r} is not a web address (http:// or https://, no spaces)"
    return None


def read_table(path: str | os.PathLike[str], columns: tuple[Column, ...]) -> pd.DataFrame:
    """Read and check one seed table against its columns; raise `SeedRowError` on the first fault.

    Dates come back as datetime64, counts as int64, the rest as text, in file order.
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


def _check_troop_reports(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rules that join two columns of troop_reports.csv."""
    pairs = zip(frame["as_of"], frame["as_of_precision"], strict=True)
    for row, (as_of, precision) in enumerate(pairs, start=1):
        if precision == "month" and as_of.day != 1:
            raise SeedRowError(
                table, row, "as_of",
                f"{as_of:%Y-%m-%d} has month precision, so it must be the first of the month",
            )
    seen: dict[tuple, int] = {}
    keys = zip(frame["as_of"], frame["troops"], frame["url"], strict=True)
    for row, key in enumerate(keys, start=1):
        if key in seen:
            problem = f"repeats row {seen[key]} (same as_of, troops and url)"
            raise SeedRowError(table, row, "url", problem)
        seen[key] = row
    return frame


def read_troop_reports(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check any file laid out like troop_reports.csv (no checksum needed)."""
    path = Path(path)
    return _check_troop_reports(read_table(path, TROOP_REPORT_COLUMNS), _display_name(path))


def troop_reports(*, seeds_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The dated reference figures of KFOR's strength, one row per report (seeds/README.md).

    Columns as_of (datetime64), as_of_precision, troops (int), qualifier, scope, publisher,
    source_type ("primary" or "secondary"), access, url, note.
    """
    return read_troop_reports(seed_path(TROOP_REPORTS, seeds_dir=seeds_dir))


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check any file laid out like events.csv (no checksum needed)."""
    return read_table(path, EVENT_COLUMNS)


def events(*, seeds_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The dated events that charts of KFOR's strength annotate: date, label, description,
    publisher, url."""
    return read_events(seed_path(EVENTS, seeds_dir=seeds_dir))

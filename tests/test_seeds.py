"""Is the course data intact, found from anywhere in the course, and loud when it is not?"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT

from coursekit import seeds

ARTICLE_SHA256 = "040f446ec8486a8d36241adfb31e1464879613e0f73b3b8c976833f4051fdd1e"
STATEMENT_SHA256 = "b6800011f1ae7ed0db91501bab464c3d3adbb41a9688038d764ba1b57642041b"


def test_article_is_the_published_text_byte_for_byte():
    """Does seeds/kfor-article.txt have the checksum and length the spec gives?"""
    raw = (ROOT / "seeds" / "kfor-article.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == ARTICLE_SHA256
    text = raw.decode("utf-8")
    assert len(text) == 3756
    assert not text.endswith("\n")
    assert text.startswith("European Western Balkans\n\nNATO authorizes additional forces")


def test_article_metadata_describes_the_article():
    """Does the metadata carry outlet, headline, URL, date, language and the checksum?"""
    meta = json.loads((ROOT / "seeds" / "kfor-article.json").read_text(encoding="utf-8"))
    assert meta["outlet"] == "European Western Balkans"
    assert meta["published"] == "2023-09-29"
    assert meta["url"].startswith("https://europeanwesternbalkans.com/2023/09/29/")
    assert meta["language"] == "en"
    assert meta["sha256"] == ARTICLE_SHA256
    assert meta["characters"] == 3756
    assert meta["headline"] in (ROOT / "seeds" / "kfor-article.txt").read_text(encoding="utf-8")
    assert meta["capture"]


def test_nato_statement_is_natos_text():
    """Is NATO's statement stored as NATO prints it: title, six paragraphs, British spelling?"""
    text = seeds.nato_statement(seeds_dir=ROOT / "seeds")
    raw = (ROOT / "seeds" / "nato-statement-2023-09-29.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == STATEMENT_SHA256
    assert raw.decode("utf-8") == text
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Secretary General statement on the situation in Kosovo"
    assert len(paragraphs) == 7
    assert all(p and p == p.strip() and "\n" not in p for p in paragraphs)
    assert not text.endswith("\n")
    assert ("Only yesterday the North Atlantic Council authorised additional forces to address "
            "the current situation.") in text
    assert "We call on all parties to urgently de-escalate." in text
    assert "authorized" not in text
    assert "NATO\u2019s KFOR mission" in text and "'" not in text
    assert "Last updated" not in text


def test_nato_statement_metadata_matches_the_text():
    """Does the metadata name NATO as publisher and origin and carry the text's true sizes?"""
    meta = seeds.nato_statement_metadata(seeds_dir=ROOT / "seeds")
    text = seeds.nato_statement(seeds_dir=ROOT / "seeds")
    assert meta["file"] == "nato-statement-2023-09-29.txt"
    assert meta["publisher"] == meta["origin"] == "NATO"
    assert meta["url"] == "https://www.nato.int/cps/en/natohq/official_texts_218898.htm"
    assert meta["published"] == "2023-09-29"
    assert meta["title"] == text.split("\n\n")[0]
    assert meta["characters"] == len(text)
    assert meta["bytes"] == len(text.encode("utf-8"))
    assert meta["sha256"] == STATEMENT_SHA256 == seeds.verify(ROOT / "seeds")[meta["file"]]
    assert any("Last updated: 29 Sep. 2023" in item for item in meta["page_chrome"])
    assert meta["how_read"] and meta["capture"]


def test_altered_nato_statement_is_refused(course_copy):
    """Does an Americanised spelling in the stored statement stop nato_statement()?"""
    path = course_copy / "seeds" / "nato-statement-2023-09-29.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("authorised", "authorized"), encoding="utf-8")
    with pytest.raises(seeds.SeedError, match="nato-statement-2023-09-29.txt: altered"):
        seeds.nato_statement(seeds_dir=course_copy / "seeds")


def test_every_seed_file_is_listed_and_verified():
    """Is every file in seeds/ (but the manifest and README) covered by SHA256SUMS?"""
    listed = set(seeds.verify(ROOT / "seeds"))
    present = {p.name for p in (ROOT / "seeds").iterdir() if p.is_file()}
    assert "SHA256SUMS" in present
    assert present - listed <= {"SHA256SUMS", "README.md"}


@pytest.mark.parametrize("start", ["lessons", "exercises", "solutions", "src/coursekit"])
def test_seeds_are_found_from_any_course_folder(start, monkeypatch):
    """Does read_article work from the lessons, the exercises and deeper folders?"""
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.chdir(ROOT / start)
    assert seeds.find_seeds_dir() == ROOT / "seeds"
    assert len(seeds.read_article()) == 3756


def test_seeds_are_found_from_the_autograders_copy(course_copy, monkeypatch):
    """Is the data found from build/autograded/<student>/<assignment>/, where nbgrader runs?"""
    deep = course_copy / "build" / "autograded" / "ada" / "01-reading-the-source"
    deep.mkdir(parents=True)
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.chdir(deep)
    assert seeds.find_seeds_dir() == course_copy / "seeds"


def test_environment_variable_points_at_the_seeds(course_copy, monkeypatch, tmp_path):
    """Does $COURSEKIT_SEEDS win over the folder search?"""
    monkeypatch.setenv(seeds.SEEDS_ENV, str(course_copy / "seeds"))
    monkeypatch.chdir(tmp_path)
    assert seeds.find_seeds_dir() == course_copy / "seeds"


def test_installed_seeds_are_found_outside_the_course(course_copy, tmp_path, monkeypatch):
    """A notebook fetched on a hub lives in ~/01-reading-the-source/, outside any course folder:
    is the copy installed with the toolkit found from there, and its files checked?"""
    home = tmp_path / "home" / "ada" / "01-reading-the-source"
    home.mkdir(parents=True)
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.setattr(seeds, "installed_seeds_dir", lambda: course_copy / "seeds")
    monkeypatch.chdir(home)
    assert seeds.find_seeds_dir() == course_copy / "seeds"
    assert len(seeds.read_article()) == 3756
    article = course_copy / "seeds" / "kfor-article.txt"
    article.write_bytes(article.read_bytes().replace(b"NATO", b"NAT0", 1))
    with pytest.raises(seeds.SeedError, match="kfor-article.txt: altered"):
        seeds.read_article()


def test_course_seeds_win_over_the_installed_copy(course_copy, tmp_path, monkeypatch):
    """Inside a course, its own seeds/ is used, not the copy installed with the toolkit."""
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.setattr(seeds, "installed_seeds_dir", lambda: tmp_path / "installed")
    monkeypatch.chdir(course_copy / "exercises")
    assert seeds.find_seeds_dir() == course_copy / "seeds"


def test_installed_seeds_dir_is_where_pyproject_installs_them():
    """Does pyproject.toml (and so the student edition's) install every seed file where
    installed_seeds_dir() looks?"""
    import tomllib

    from coursekit.grader.bundle import student_pyproject

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for project in (tomllib.loads(text), tomllib.loads(student_pyproject(text))):
        data_files = project["tool"]["setuptools"]["data-files"]
        assert data_files == {"share/coursekit/seeds": ["seeds/*"]}
    assert seeds.installed_seeds_dir().relative_to(sys.prefix).as_posix() == "share/coursekit/seeds"


def test_no_seeds_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    """Is the error for a folder outside the course one that says what to do?"""
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    monkeypatch.setattr(seeds, "installed_seeds_dir", lambda: tmp_path / "nothing-installed")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(seeds.SeedError, match=r"seeds/SHA256SUMS: not found .*COURSEKIT_SEEDS"):
        seeds.find_seeds_dir()


def test_altered_article_is_named_with_what_differs(course_copy):
    """Does one changed character make verify() name the file and the checksums?"""
    article = course_copy / "seeds" / "kfor-article.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("3,735", "3,736"), encoding="utf-8")
    with pytest.raises(seeds.SeedError, match=r"seeds/kfor-article.txt: altered \(sha256 .*expected 040f446ec848"):
        seeds.verify(course_copy / "seeds")
    with pytest.raises(seeds.SeedError, match="kfor-article.txt: altered"):
        seeds.read_article(seeds_dir=course_copy / "seeds")


def test_missing_seed_file_is_named(course_copy):
    """Does a deleted seed file give an error naming it and the folder?"""
    (course_copy / "seeds" / "kfor-article.json").unlink()
    with pytest.raises(seeds.SeedError, match=r"seeds/kfor-article.json: missing from .*seeds"):
        seeds.verify(course_copy / "seeds")


def test_unlisted_name_is_refused(course_copy):
    """Can a lesson only read files the manifest vouches for?"""
    with pytest.raises(seeds.SeedError, match="not a course data file"):
        seeds.read_text("notes.txt", seeds_dir=course_copy / "seeds")


def test_cli_reports_an_altered_seed_in_one_line(course_copy):
    """Does every coursekit command stop with one line naming the altered file?"""
    article = course_copy / "seeds" / "kfor-article.txt"
    article.write_bytes(article.read_bytes() + b"\n")
    for command in (["verify-seeds"], ["build", "--check"], ["check"], ["grade", "anything"]):
        done = subprocess.run(
            [sys.executable, "-m", "coursekit.cli", "--course", str(course_copy), *command],
            capture_output=True, text=True,
        )
        assert done.returncode == 1, command
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "seeds/kfor-article.txt: altered" in lines[0]


# --- troop_reports.csv: the real table passes, and every rule fails a planted bad row ------

TROOP_COLUMNS = ["id", "as_of", "as_of_precision", "troops", "qualifier", "scope", "origin",
                 "source_type", "publisher", "access", "relays", "url", "archived_url", "published",
                 "quote", "note"]


def _table_rows(name: str) -> list[dict[str, str]]:
    with (ROOT / "seeds" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(folder, name: str, rows: list[dict[str, str]], columns: list[str]):
    path = folder / "seeds" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row_number(rows: list[dict[str, str]], row_id: str) -> int:
    return next(n for n, row in enumerate(rows, start=1) if row["id"] == row_id)


def test_real_troop_reports_pass_every_check():
    """Does the committed table pass, with as_of as datetime64, troops as int and the spec's columns?"""
    frame = seeds.troop_reports(seeds_dir=ROOT / "seeds")
    assert list(frame.columns) == TROOP_COLUMNS
    assert frame["as_of"].dtype == "datetime64[ns]"
    assert frame["troops"].dtype == "int64"
    assert frame["id"].is_unique
    assert len(frame) >= 20
    assert (frame["as_of"].dt.year.between(2013, 2024)).sum() >= 12
    assert (frame["source_type"] == frame["origin"].map(seeds.source_type_of)).all()
    assert frame["as_of"].is_monotonic_increasing


def test_real_troop_reports_hold_the_spec_figures():
    """Are the figures module 4 is built on in the table, with their hedges as printed?"""
    frame = seeds.troop_reports(seeds_dir=ROOT / "seeds").set_index("id")
    expected = {
        "nato-evolution-1999-06": (50000, "some", "50 000"),
        "nato-update-1999-09-08": (49000, "exact", "49,000"),
        "nato-evolution-2002": (39000, "around", "39000"),
        "nato-evolution-2003-06": (26000, "around", "26 000"),
        "nato-evolution-2003-12": (17500, "exact", "17 500"),
        "nato-news-2023-06-05": (4200, "over", "over 4,200"),
        "tsmk-rferl-2022-08": (3735, "exact", "3.735"),
    }
    for row_id, (troops, qualifier, printed) in expected.items():
        row = frame.loc[row_id]
        assert (row["troops"], row["qualifier"]) == (troops, qualifier), row_id
        assert printed in row["quote"], row_id
    assert "former Yugoslav Republic of Macedonia" in frame.loc["nato-update-1999-09-08", "quote"]
    assert frame.loc["nato-evolution-2002", "as_of_precision"] == "year"
    assert frame.loc["nato-evolution-2003-06", "as_of"] == pd.Timestamp("2003-06-01")
    assert "not a head count" in frame.loc["nato-evolution-2003-06", "scope"]


@pytest.mark.parametrize("origin, kind", [
    ("NATO", "primary"), ("KFOR", "primary"), ("NATO JFC Naples", "primary"), ("SHAPE", "primary"),
    ("NATO HQ", "primary"), ("RFE/RL", "secondary"), ("Euronews", "secondary"), ("Reuters", "secondary"),
    ("UN", "secondary"), ("KUNA", "secondary"),
])
def test_source_type_follows_from_origin_alone(origin, kind):
    """Is a report primary exactly when its origin is NATO or one of its commands?"""
    assert seeds.source_type_of(origin) == kind


def test_month_and_year_precision_give_a_minimum_age():
    """Is a month- or year-precision figure aged from the last day it can mean ('at least N days')?"""
    assert seeds.period_end("2022-08-01", "month") == pd.Timestamp("2022-08-31")
    assert seeds.period_end("2002-01-01", "year") == pd.Timestamp("2002-12-31")
    assert seeds.period_end("2023-06-05", "day") == pd.Timestamp("2023-06-05")
    assert seeds.minimum_age_days("2022-08-01", "month", "2023-09-29") == 394
    assert seeds.minimum_age_days("2023-06-05", "day", "2023-09-29") == 116
    with pytest.raises(ValueError):
        seeds.period_end("2022-08-01", "week")


@pytest.mark.parametrize("quote, troops, found", [
    ("some 50 000 personnel", 50000, True), ("around 39000 troops", 39000, True),
    ("over 4,200 troops", 4200, True), ("ka 3.735 trupa", 3735, True),
    ("some 50\u00a0000 personnel", 50000, True), ("49,000 personnel", 4900, False),
    ("3,7350 troops", 3735, False), ("13,735 troops", 3735, False), ("3735", 3735, True),
])
def test_quote_must_print_the_figure(quote, troops, found):
    """Is the figure found in any printed form, and never inside a longer number?"""
    assert seeds.quote_has_figure(quote, troops) is found


# (row id, column, new value, other changes, expected message after "row N, column C: ")
PLANTED = [
    ("un-s-2021-228", "id", "UN S/2021/228", {}, "is not an id of lower-case letters"),
    ("un-s-2021-228", "id", "kfor-placemat-2017-02", {}, "'kfor-placemat-2017-02' repeats row"),
    ("un-s-2021-228", "as_of", "31/12/2020", {}, "is not a date written YYYY-MM-DD"),
    ("un-s-2021-228", "as_of", "2020-02-30", {}, "is not a date on the calendar"),
    ("un-s-2021-228", "as_of", "2999-01-01", {}, "is after today"),
    ("un-s-2021-228", "as_of_precision", "week", {}, "'week' is not one of day, month, year"),
    ("kfor-placemat-2017-02", "as_of", "2017-02-15", {}, "has month precision, so it must be the first of the month"),
    ("nato-evolution-2002", "as_of", "2002-03-01", {}, "has year precision, so it must be 1 January"),
    ("nato-evolution-1999-06", "as_of", "1999-05-01", {}, "ends before 1999-06-12"),
    ("un-s-2021-228", "troops", "3,500", {}, "is not a whole number above 0"),
    ("un-s-2021-228", "troops", "0", {}, "is not a whole number above 0"),
    ("un-s-2021-228", "qualifier", "about", {}, "'about' is not in the quote"),
    ("un-s-2021-228", "qualifier", "", {}, "missing"),
    ("un-s-2021-228", "scope", "", {}, "missing"),
    ("un-s-2021-228", "origin", "", {}, "missing"),
    ("un-s-2021-228", "source_type", "secondary", {}, "origin 'NATO' makes it 'primary'"),
    ("tsmk-rferl-2022-08", "source_type", "primary", {}, "origin 'RFE/RL' makes it 'secondary'"),
    ("un-s-2021-228", "source_type", "official", {}, "'official' is not one of primary, secondary"),
    ("un-s-2021-228", "publisher", "", {}, "missing"),
    ("un-s-2021-228", "access", "quoted", {}, "'quoted' is not one of original, archived, copy, relay"),
    ("un-s-2021-228", "url", "", {}, "missing"),
    ("un-s-2021-228", "url", "docslib.org/doc/5704848", {}, "is not a web address"),
    ("un-s-2021-228", "archived_url", "http://web.archive.org/web/20210401000000/x", {},
      "must be empty when access is 'copy'"),
    ("nato-evolution-2002", "archived_url", "", {}, "missing: access is archived"),
    ("nato-evolution-2002", "archived_url", "https://archive.example/evolution.html", {},
      "does not show a capture date"),
    ("nato-evolution-2002", "note", "NATO's undated page, read in a web archive.", {},
      "does not give the capture date (5 June 2011 or 2011-06-05)"),
    ("un-s-2021-228", "published", "8 March 2021", {}, "is not a date written YYYY-MM-DD"),
    ("un-s-2021-228", "published", "", {},
      "missing: give the page's date, or say in the note that the page is undated"),
    ("un-s-2021-228", "quote", "The total number of KFOR troops in theatre remained approximately 35,000.", {},
      "does not print the figure 3500"),
    ("un-s-2021-228", "note", "", {}, "missing"),
    ("un-s-2021-228", "relays", "kfor-placemat-2017-02", {}, "must be empty when access is 'copy'"),
    ("kuna-nato-2023-10-14", "relays", "no-such-row", {}, "'no-such-row' is not the id of a row"),
    ("kuna-nato-2023-10-14", "relays", "nato-news-2023-06-05", {},
      "'nato-news-2023-06-05' is not the same count: it has origin 'NATO', troops 4200"),
    ("threatjournal-nato-2023-06", "relays", "un-2017-06-15", {},
      "'un-2017-06-15' is not the same count: it has origin 'NATO', troops 4200, as_of 2017-06-15 (day), "
      "this row origin 'NATO', troops 4200, as_of 2023-06-05 (day)"),
    ("tsmk-rferl-2022-08", "relays", "euronews-2023-05", {}, "'euronews-2023-05' is itself a relay"),
    ("kuna-nato-2023-10-14", "relays", "kuna-nato-2023-10-14", {}, "a row cannot relay itself"),
]


@pytest.mark.parametrize("row_id, column, value, others, message", PLANTED,
                         ids=[f"{c}-{i}" for i, (_, c, *_) in enumerate(PLANTED)])
def test_planted_bad_cell_is_named_by_file_row_and_column(tmp_path, row_id, column, value, others, message):
    """Does one bad cell in a copy of the real table give one line naming the file, row and column?"""
    rows = _table_rows("troop_reports.csv")
    number = _row_number(rows, row_id)
    rows[number - 1][column] = value
    rows[number - 1].update(others)
    path = _write_rows(tmp_path, "troop_reports.csv", rows, TROOP_COLUMNS)
    with pytest.raises(seeds.SeedRowError) as caught:
        seeds.read_troop_reports(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"seeds/troop_reports.csv: row {number}, column {column}: "), text
    assert message in text, text


def test_relay_must_name_the_origins_own_row_when_the_table_has_one(tmp_path):
    """Does a relay of NATO's 4,200 that names no row fail, and pass once it names NATO's page?"""
    rows = _table_rows("troop_reports.csv")
    relay = dict(rows[_row_number(rows, "nato-news-2023-06-05") - 1])
    relay.update(id="relay-of-nato-2023-06", publisher="Some outlet", access="relay",
                 url="https://example.org/kfor", published="2023-06-06", relays="",
                 note="A test relay of NATO's figure.")
    rows.append(relay)
    path = _write_rows(tmp_path, "troop_reports.csv", rows, TROOP_COLUMNS)
    with pytest.raises(seeds.SeedRowError, match=re.escape(
            f"row {len(rows)}, column relays: missing: row 'nato-news-2023-06-05' is NATO's own publication of 4200")):
        seeds.read_troop_reports(path)
    rows[-1]["relays"] = "nato-news-2023-06-05"
    path = _write_rows(tmp_path, "troop_reports.csv", rows, TROOP_COLUMNS)
    assert seeds.read_troop_reports(path)["relays"].iloc[-1] == "nato-news-2023-06-05"


def test_relay_must_share_origin_with_the_row_it_names(tmp_path):
    """Can a relay of RFE/RL's figure point at a NATO row with a different origin? It must not."""
    rows = _table_rows("troop_reports.csv")
    number = _row_number(rows, "tsmk-rferl-2022-08")
    placemat = _row_number(rows, "kfor-placemat-2017-02")
    rows[placemat - 1]["troops"] = "3735"
    rows[placemat - 1]["quote"] = "KFOR Total Strength: 3,735"
    rows[number - 1]["relays"] = "kfor-placemat-2017-02"
    path = _write_rows(tmp_path, "troop_reports.csv", rows, TROOP_COLUMNS)
    with pytest.raises(seeds.SeedRowError, match=re.escape(
            f"row {number}, column relays: 'kfor-placemat-2017-02' is not the same count: it has origin 'NATO', "
            "troops 3735")):
        seeds.read_troop_reports(path)


def test_repeated_report_is_refused(tmp_path):
    """Is the same figure for the same day from the same page, under a new id, refused?"""
    rows = _table_rows("troop_reports.csv")
    copy = dict(rows[_row_number(rows, "un-s-2021-228") - 1], id="un-s-2021-228-again")
    rows.append(copy)
    path = _write_rows(tmp_path, "troop_reports.csv", rows, TROOP_COLUMNS)
    with pytest.raises(seeds.SeedRowError, match=rf"row {len(rows)}, column url: repeats row \d+"):
        seeds.read_troop_reports(path)


@pytest.mark.parametrize("change", ["drop", "extra", "order"])
def test_header_must_be_the_data_dictionarys(tmp_path, change):
    """Is a missing, unknown or reordered column named in one line?"""
    rows = _table_rows("troop_reports.csv")
    columns = list(TROOP_COLUMNS)
    if change == "drop":
        columns.remove("origin")
        rows = [{k: v for k, v in row.items() if k != "origin"} for row in rows]
        message = "column origin: missing from the header"
    elif change == "extra":
        columns.append("comment")
        rows = [dict(row, comment="x") for row in rows]
        message = "column comment: not in the data dictionary"
    else:
        columns[0], columns[1] = columns[1], columns[0]
        message = "column header: columns must be in this order: id, as_of"
    path = _write_rows(tmp_path, "troop_reports.csv", rows, columns)
    with pytest.raises(seeds.SeedRowError, match=re.escape(f"seeds/troop_reports.csv: {message}")):
        seeds.read_troop_reports(path)


def test_altered_troop_reports_fail_the_checksum(course_copy):
    """Does a changed figure in the committed table stop troop_reports() with the file's name?"""
    table = course_copy / "seeds" / "troop_reports.csv"
    table.write_text(table.read_text(encoding="utf-8").replace(",4273,", ",4274,"), encoding="utf-8")
    with pytest.raises(seeds.SeedError, match=r"seeds/troop_reports.csv: altered"):
        seeds.troop_reports(seeds_dir=course_copy / "seeds")


# --- events.csv -------------------------------------------------------------------------------

EVENT_COLUMNS = ["date", "label", "description", "origin", "publisher", "access", "url", "quote"]


def test_real_events_pass_and_carry_their_sources():
    """Do the events read with dates as datetime64, oldest first, each with origin, access and quote?"""
    frame = seeds.events(seeds_dir=ROOT / "seeds")
    assert list(frame.columns) == EVENT_COLUMNS
    assert frame["date"].dtype == "datetime64[ns]"
    assert frame["date"].is_monotonic_increasing
    by_date = frame.set_index(frame["date"].dt.strftime("%Y-%m-%d"))
    assert {"2023-05-29", "2023-05-30", "2023-06-05", "2023-09-24", "2023-09-28"} <= set(by_date.index)
    arrival = by_date.loc["2023-06-05"]
    assert arrival["url"] == "https://www.nato.int/cps/en/natohq/news_215365.htm"
    assert "started to arrive in Kosovo on Monday (5 June 2023)" in arrival["quote"]
    assert "30 NATO soldiers and 52 protesters were hurt" in by_date.loc["2023-05-29", "quote"]
    assert "700 more troops" in by_date.loc["2023-05-30", "quote"]


def test_council_decision_quotes_natos_stored_statement():
    """Is the 28 September event dated from, and quoting, NATO's own statement as stored?"""
    frame = seeds.events(seeds_dir=ROOT / "seeds")
    row = frame[frame["date"] == pd.Timestamp("2023-09-28")].iloc[0]
    meta = seeds.nato_statement_metadata(seeds_dir=ROOT / "seeds")
    assert row["url"] == meta["url"]
    assert (row["origin"], row["publisher"], row["access"]) == ("NATO", "NATO", "original")
    assert row["quote"].startswith("Only yesterday")
    assert row["quote"] in seeds.nato_statement(seeds_dir=ROOT / "seeds")


EVENT_PLANTED = [
    (3, "date", "24.09.2023", "is not a date written YYYY-MM-DD"),
    (3, "date", "1999-03-24", "is outside 1999-06-12"),
    (3, "label", "", "missing"),
    (3, "origin", "", "missing"),
    (3, "access", "reported", "'reported' is not one of original, archived, copy, relay"),
    (3, "url", "efe.com/en", "is not a web address"),
    (3, "quote", "", "missing"),
    (3, "quote", " police said", "has spaces at its start or end"),
]


@pytest.mark.parametrize("row, column, value, message", EVENT_PLANTED,
                         ids=[f"{c}-{i}" for i, (_, c, *_) in enumerate(EVENT_PLANTED)])
def test_planted_bad_event_is_named_by_file_row_and_column(tmp_path, row, column, value, message):
    """Does one bad cell in a copy of events.csv give one line naming the file, row and column?"""
    rows = _table_rows("events.csv")
    rows[row - 1][column] = value
    path = _write_rows(tmp_path, "events.csv", rows, EVENT_COLUMNS)
    with pytest.raises(seeds.SeedRowError) as caught:
        seeds.read_events(path)
    assert str(caught.value).startswith(f"seeds/events.csv: row {row}, column {column}: ")
    assert message in str(caught.value)


def test_repeated_event_is_refused(tmp_path):
    """Is the same event (date and label) listed twice refused?"""
    rows = _table_rows("events.csv")
    rows.append(dict(rows[0]))
    path = _write_rows(tmp_path, "events.csv", rows, EVENT_COLUMNS)
    with pytest.raises(seeds.SeedRowError, match=rf"row {len(rows)}, column label: repeats row 1"):
        seeds.read_events(path)


def test_old_event_layout_is_refused(tmp_path):
    """Is an events table without the provenance columns refused, naming the first missing one?"""
    rows = [{k: v for k, v in row.items() if k in ("date", "label", "description", "publisher", "url")}
            for row in _table_rows("events.csv")]
    path = _write_rows(tmp_path, "events.csv", rows, ["date", "label", "description", "publisher", "url"])
    with pytest.raises(seeds.SeedRowError, match=r"seeds/events.csv: column origin: missing from the header"):
        seeds.read_events(path)

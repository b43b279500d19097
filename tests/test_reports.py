"""Are the reference tables of module 4 the spec's figures, each with its source, and does a
bad row stop the read with the row and the column named? Does lesson 4 source its figures?"""

from __future__ import annotations

import csv
import re

import nbformat
import pandas as pd
import pytest
from conftest import ROOT

from coursekit import notebooks, seeds

# The spec's table (§2, module 4), copied: as_of, precision, troops, qualifier, scope,
# publisher, source_type, access, url. Month-precision dates are the first of the month.
SPEC_REPORTS = [
    ("1999-09-08", "day", 49000, "exact",
     "41,000 in Kosovo, 6,000 in North Macedonia, 1,600 in Albania",
     "NATO", "primary", "original", "https://www.nato.int/docu/update/1999/0908e.htm"),
    ("2013-02-18", "day", 6000, "just under",
     "page captured that day; 29 contributing nations",
     "NATO JFC Naples", "primary", "archived",
     "https://webarchive.library.unt.edu/web/20130218105321/http:/www.jfcnaples.nato.int/operations_kfor.aspx"),
    ("2017-02-01", "month", 4273, "exact", "30 contributing nations; KFOR placemat",
     "NATO", "primary", "copy", "https://docslib.org/doc/4697084/kosovo-force-kfor-kosovo-force-kfor"),
    ("2020-12-31", "day", 3500, "approximately",
     "19 NATO + 8 non-NATO nations; report to the UN Security Council S/2021/228",
     "NATO via UN", "primary", "copy",
     "https://docslib.org/doc/5704848/security-council-distr-general-8-march-2021"),
    ("2022-08-01", "month", 3735, "exact", "27 countries; RFE/RL infographic as reported",
     "ts.mk", "secondary", "original",
     "https://ts.mk/2022/08/mbi-3-mije-pjesetare-te-nato-s-sherbejne-ne-kosove"),
    ("2023-05-29", "day", 3800, "almost", "Euronews, seen through a page quoting it",
     "Euronews", "secondary", "original",
     "https://www.euronews.com/2023/05/29/kosovo-tensions-may-lead-to-huge-explosion-in-europe-says-russian-fm-lavrov"),
    ("2023-10-14", "day", 4500, "well over", "27 nations; NATO statement via KUNA",
     "KUNA", "secondary", "original", "https://menafn.com/1107240114/More-NATO-Troops-Arrive-In-Kosovo"),
    ("2023-12-31", "day", 4700, "approximately",
     "27 Allies and partners, incl. deployed reserves; NATO SG Annual Report 2023 via EWB",
     "EWB", "secondary", "original",
     "https://europeanwesternbalkans.com/2024/03/14/nato-secretary-general-annual-report-kfor-remains-crucial-for-stability-of-the-region"),
]
SPEC_EVENTS = [
    ("2023-05-30", "700 more troops",
     "https://www.brecorder.com/news/40245045/nato-to-send-700-more-troops-to-kosovo-stoltenberg-says"),
    ("2023-06-06", "about 500 troops of Türkiye's 65th Mechanized Infantry Brigade",
     "https://www.radio.gov.pk/06-06-2023/nato-says-reinforcements-arriving-in-kosovo-after-clashes-last-week"),
    ("2023-09-24", "one Kosovo police officer and three attackers",
     "https://bgnesnews.com/world/nato-annual-report-military-presence-in-kosovo-is-crucial-for-peace-in-the-balkans"),
    ("2023-09-28", "authorizes additional forces",
     "https://menafn.com/1107165656/NATO-Voices-Deep-Concern-Over-Situation-In-Kosovo"),
]
REPORT_FIELDS = ("as_of", "as_of_precision", "troops", "qualifier", "scope", "publisher",
                 "source_type", "access", "url")


@pytest.fixture(scope="module")
def reports() -> pd.DataFrame:
    return seeds.troop_reports(seeds_dir=ROOT / "seeds")


# --- the data ---------------------------------------------------------------------------


def test_reference_figures_are_the_spec_table_exactly(reports):
    """Is every row of troop_reports.csv the spec's row, figure, hedge, scope and URL alike?"""
    found = [
        tuple(row[f].strftime("%Y-%m-%d") if f == "as_of" else row[f] for f in REPORT_FIELDS)
        for _, row in reports.iterrows()
    ]
    assert found == SPEC_REPORTS


def test_every_report_names_its_source(reports):
    """URL, publisher, primary/secondary and a note on every row; primary exactly for NATO?"""
    for _, row in reports.iterrows():
        assert row["url"].startswith("https://"), row["url"]
        assert row["publisher"].strip() and row["note"].strip()
        assert row["source_type"] == ("primary" if row["publisher"].startswith("NATO") else "secondary")
        assert f"{row['troops']:,}" in row["note"], f"the note should quote the figure: {row['note']}"


def test_loaders_return_real_dates_and_whole_numbers(reports):
    """Are as_of and date datetime64 and troops int64, in the file's order?"""
    assert str(reports["as_of"].dtype) == "datetime64[ns]"
    assert str(reports["troops"].dtype) == "int64"
    assert reports["as_of"].is_monotonic_increasing
    found = seeds.events(seeds_dir=ROOT / "seeds")
    assert str(found["date"].dtype) == "datetime64[ns]"
    assert list(found.columns) == ["date", "label", "description", "publisher", "url"]


def test_month_precision_dates_are_the_first_of_the_month(reports):
    """Are the two month-only figures (Feb 2017, Aug 2022) stored on the 1st, marked 'month'?"""
    monthly = reports[reports["as_of_precision"] == "month"]
    assert list(monthly["as_of"].dt.strftime("%Y-%m-%d")) == ["2017-02-01", "2022-08-01"]
    assert set(reports["as_of_precision"]) == {"day", "month"}


def test_events_are_the_spec_events_with_their_sources():
    """The four annotated events, on the spec's dates, with the spec's URLs?"""
    found = seeds.events(seeds_dir=ROOT / "seeds")
    assert [d.strftime("%Y-%m-%d") for d in found["date"]] == [d for d, _, _ in SPEC_EVENTS]
    assert list(found["url"]) == [u for _, _, u in SPEC_EVENTS]
    for (_, words, _), description in zip(SPEC_EVENTS, found["description"], strict=True):
        assert words in description


def test_data_dictionary_documents_every_seed_file_and_column():
    """Does seeds/README.md name every seed file and every column of both tables?"""
    readme = (ROOT / "seeds" / "README.md").read_text(encoding="utf-8")
    for name in ("kfor-article.txt", "kfor-article.json", "troop_reports.csv", "events.csv", "SHA256SUMS"):
        assert f"`{name}`" in readme, name
    for column in seeds.TROOP_REPORT_COLUMNS + seeds.EVENT_COLUMNS:
        assert f"| `{column.name}` |" in readme, column.name
    for field in seeds.article_metadata(seeds_dir=ROOT / "seeds"):
        assert f"| `{field}` |" in readme, field


def test_an_altered_table_is_refused(course_copy):
    """Does a changed figure in troop_reports.csv fail the checksum, naming the file?"""
    table = course_copy / "seeds" / "troop_reports.csv"
    table.write_text(table.read_text(encoding="utf-8").replace(",3735,", ",3736,"), encoding="utf-8")
    with pytest.raises(seeds.SeedError, match=r"seeds/troop_reports.csv: altered"):
        seeds.troop_reports(seeds_dir=course_copy / "seeds")


# --- bad rows -----------------------------------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    with (ROOT / "seeds" / name).open(encoding="utf-8", newline="") as lines:
        return list(csv.DictReader(lines))


def _write(path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# (row counted from 1, column, bad value, what the message must say)
BAD_REPORT_CELLS = [
    (3, "url", "", "row 3, column url: missing"),
    (5, "url", "ts.mk/2022/08/report", "row 5, column url: 'ts.mk/2022/08/report' is not a web address"),
    (1, "publisher", "", "row 1, column publisher: missing"),
    (8, "note", "", "row 8, column note: missing"),
    (5, "troops", "3,735", "row 5, column troops: '3,735' is not a whole number"),
    (2, "troops", "0", "row 2, column troops: '0' is not a whole number above 0"),
    (4, "troops", "3500.5", "row 4, column troops: '3500.5' is not a whole number"),
    (5, "as_of", "2022-08", "row 5, column as_of: '2022-08' is not a date written YYYY-MM-DD"),
    (6, "as_of", "29/05/2023", "row 6, column as_of: '29/05/2023' is not a date written YYYY-MM-DD"),
    (7, "as_of", "2023-02-30", "row 7, column as_of: '2023-02-30' is not a date on the calendar"),
    (1, "as_of", "1999-06-11", "row 1, column as_of: 1999-06-11 is outside 1999-06-12"),
    (8, "as_of", "2999-12-31", "row 8, column as_of: 2999-12-31 is outside"),
    (5, "as_of", "2022-08-15", "row 5, column as_of: 2022-08-15 has month precision, so it must be the first"),
    (3, "as_of_precision", "year", "row 3, column as_of_precision: 'year' is not one of day, month"),
    (6, "source_type", "press", "row 6, column source_type: 'press' is not one of primary, secondary"),
    (2, "access", "cached", "row 2, column access: 'cached' is not one of original, archived, copy"),
    (4, "qualifier", " approximately", "row 4, column qualifier: ' approximately' has spaces"),
]


@pytest.mark.parametrize("row, column, value, message", BAD_REPORT_CELLS,
                         ids=[f"{c}-{v or 'empty'}" for _, c, v, _ in BAD_REPORT_CELLS])
def test_a_bad_cell_is_named_by_row_and_column(tmp_path, row, column, value, message):
    """Does one bad cell in a copy of troop_reports.csv give an error naming its row and column?"""
    rows = _rows("troop_reports.csv")
    rows[row - 1][column] = value
    path = tmp_path / "seeds" / "troop_reports.csv"
    path.parent.mkdir()
    _write(path, rows)
    with pytest.raises(seeds.SeedRowError) as caught:
        seeds.read_troop_reports(path)
    assert str(caught.value).startswith("seeds/troop_reports.csv: ")
    assert message in str(caught.value)
    assert (caught.value.row, caught.value.column) == (row, column)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, seeds.SeedError)


def test_the_exact_message_for_a_missing_url(tmp_path):
    """Is the message for a blank URL exactly the one the data dictionary shows?"""
    rows = _rows("troop_reports.csv")
    rows[2]["url"] = ""
    path = tmp_path / "seeds" / "troop_reports.csv"
    path.parent.mkdir()
    _write(path, rows)
    with pytest.raises(seeds.SeedRowError) as caught:
        seeds.read_troop_reports(path)
    assert str(caught.value) == "seeds/troop_reports.csv: row 3, column url: missing"
    assert str(caught.value) in (ROOT / "seeds" / "README.md").read_text(encoding="utf-8")


def test_a_file_outside_seeds_is_named_by_its_path(tmp_path):
    """A table of the student's own, outside seeds/, is named by its path, not as seeds/..."""
    rows = _rows("troop_reports.csv")
    rows[0]["troops"] = "many"
    path = tmp_path / "mine.csv"
    _write(path, rows)
    with pytest.raises(seeds.SeedRowError, match=re.escape(f"{path}: row 1, column troops")):
        seeds.read_troop_reports(path)


def test_a_repeated_row_is_named(tmp_path):
    """Is a row copied twice reported at the copy, with the row it repeats?"""
    rows = _rows("troop_reports.csv")
    rows.append(dict(rows[4]))
    path = tmp_path / "reports.csv"
    _write(path, rows)
    with pytest.raises(seeds.SeedRowError, match=r"row 9, column url: repeats row 5"):
        seeds.read_troop_reports(path)


@pytest.mark.parametrize("change, message", [
    ("drop", "column note: missing from the header"),
    ("add", "column extra: not in the data dictionary"),
])
def test_a_wrong_header_is_named(tmp_path, change, message):
    """Does a missing or an unknown column stop the read, naming the column?"""
    rows = _rows("troop_reports.csv")
    for row in rows:
        if change == "drop":
            del row["note"]
        else:
            row["extra"] = "x"
    path = tmp_path / "reports.csv"
    _write(path, rows)
    with pytest.raises(seeds.SeedRowError, match=message):
        seeds.read_troop_reports(path)


@pytest.mark.parametrize("row, column, value, message", [
    (2, "url", "", "row 2, column url: missing"),
    (4, "date", "28 September 2023", "row 4, column date: '28 September 2023' is not a date"),
    (1, "label", "", "row 1, column label: missing"),
])
def test_a_bad_event_is_named_by_row_and_column(tmp_path, row, column, value, message):
    """The same checks for events.csv?"""
    rows = _rows("events.csv")
    rows[row - 1][column] = value
    path = tmp_path / "seeds" / "events.csv"
    path.parent.mkdir()
    _write(path, rows)
    with pytest.raises(seeds.SeedRowError, match=re.escape(f"seeds/events.csv: {message}")):
        seeds.read_events(path)


def test_an_empty_or_missing_table_is_a_seed_error(tmp_path):
    """A header with no rows, or no file at all, is a SeedError naming the file."""
    path = tmp_path / "reports.csv"
    path.write_text(",".join(c.name for c in seeds.TROOP_REPORT_COLUMNS) + "\n", encoding="utf-8")
    with pytest.raises(seeds.SeedError, match="no rows"):
        seeds.read_troop_reports(path)
    with pytest.raises(seeds.SeedError, match="file not found"):
        seeds.read_troop_reports(tmp_path / "nowhere.csv")


# --- the assignment's data and the lesson's sources ------------------------------------------


def _solution_namespace(monkeypatch) -> dict:
    """The solution notebook's setup and answer cells, run in this process."""
    monkeypatch.chdir(ROOT / "solutions" / "04-tracing-claims")
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    namespace: dict = {}
    nb = notebooks.read(ROOT / "solutions" / "04-tracing-claims" / "04-tracing-claims.ipynb")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade_id") == "setup" or meta.get("solution")):
            exec(cell.source, namespace)
    return namespace


def test_assignment_setup_builds_the_article_series_with_module_3_rules(monkeypatch):
    """Is ARTICLE_SERIES the five dated points of §4, the exact 3,735 kept over about 3,800?"""
    ns = _solution_namespace(monkeypatch)
    series = ns["ARTICLE_SERIES"]
    assert list(series.columns) == ["date", "troops"]
    assert [(d.strftime("%Y-%m-%d"), t) for d, t in zip(series["date"], series["troops"], strict=True)] == [
        ("1999-06-12", 50000), ("2002-03-01", 39000), ("2003-06-15", 26000),
        ("2003-12-31", 17500), ("2023-09-29", 3735),
    ]
    assert ns["PUBLISHED"] == "2023-09-29"


def test_solution_gives_the_spec_examples(monkeypatch):
    """The §4 examples: 3,735 first reported 2022-08-01, 424 days old, KUNA nearest to the article."""
    ns = _solution_namespace(monkeypatch)
    reports = ns["REPORTS"]
    assert ns["first_reported"](3735, reports) == pd.Timestamp("2022-08-01")
    assert ns["first_reported"](50000, reports) is None
    assert ns["claim_age_days"](3735, reports, "2023-09-29") == 424
    assert ns["nearest_report"]("2023-09-29", reports)["publisher"] == "KUNA"


def _lesson_text() -> str:
    nb = nbformat.read(ROOT / "lessons" / "04-tracing-claims.ipynb", as_version=4)
    return "\n".join(cell.source for cell in nb.cells)


def test_lesson_cites_every_reference_source():
    """Does lesson 4 link every URL of troop_reports.csv and events.csv?"""
    text = _lesson_text()
    urls = [r["url"] for r in _rows("troop_reports.csv")] + [r["url"] for r in _rows("events.csv")]
    assert [u for u in urls if u not in text] == []


# Figures the lesson computes from the seeds rather than quotes (how, in the comment).
DERIVED = {
    "48,600",  # 41,000 + 6,000 + 1,600: NATO's parts added up
}


def test_every_figure_in_the_lesson_has_a_source_in_seeds():
    """Is every thousands figure in lesson 4 in the article, in seeds/ (with its URL), or derived?"""
    article = seeds.read_article(seeds_dir=ROOT / "seeds")
    tables = "\n".join((ROOT / "seeds" / name).read_text(encoding="utf-8")
                       for name in ("troop_reports.csv", "events.csv"))
    sourced = {f"{int(n):,}" for n in re.findall(r",(\d{4,5}),", tables)}
    sourced |= set(re.findall(r"\d{1,2},\d{3}", tables))
    found = set(re.findall(r"(?<![\d,])\d{1,2},\d{3}(?![\d,])", _lesson_text()))
    unsourced = sorted(n for n in found if n not in article and n not in sourced and n not in DERIVED)
    assert unsourced == []
    assert {"3,735", "49,000", "7,600", "4,500", "4,700"} <= found

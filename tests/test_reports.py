"""Do the reference tables of module 4 hold the spec's figures and events, each with the source
the spec names, and do the data dictionary, assignment 4 and lesson 4 agree with them?

What is tested elsewhere, and so not here:

- tests/test_seeds.py: every rule of the data dictionary on the real tables and on planted bad
  rows (columns, types, dates and precision, `source_type` = `seeds.source_type_of(origin)`,
  a qualifier other than `exact` in the quote, every quote printing its figure, archived
  captures, relays naming the origin's own row whenever the table holds one, repeated rows),
  at least 20 rows, the figures of NATO's evolution page, NATO's 4,200 and ts.mk's 3,735 by
  id, and the five events' dates, NATO's page for 5 June and NATO's statement for 28 September.
- tests/test_course_numbers.py: every troop figure and date stated in lesson 4 (and the rest of
  the course) is quoted from a source or matches a row of the seeds. The old check of the
  lesson's thousands figures is therefore gone from this file.
- the release gate (tests/test_gate.py): the model solution of 04-tracing-claims gets full marks
  on its visible and hidden tests, which call its functions on the real table. The old check
  that the solution gives "the spec examples" repeated those tests and is gone; what the gate
  does not read — the worked examples printed in the questions' text — is checked here.

The spec's facts are copied below as data: nothing here reads /work/shared.
"""

from __future__ import annotations

import ast
import csv
import re
from typing import NamedTuple

import nbformat
import pandas as pd
import pytest
from conftest import ROOT

from coursekit import notebooks, seeds

EVOLUTION = "http://www.nato.int/issues/kfor/evolution.html"
EVOLUTION_CAPTURE = "http://web.archive.org/web/20110605181328/http:/www.nato.int/issues/kfor/evolution.html"
JFC_NAPLES = "http://www.jfcnaples.nato.int/operations_kfor.aspx"
JFC_NAPLES_CAPTURE = ("https://webarchive.library.unt.edu/web/20130218105321/"
                      "http:/www.jfcnaples.nato.int/operations_kfor.aspx")


class SpecReport(NamedTuple):
    """One row of the spec's "Reference figures for seeds/troop_reports.csv" (§2, module 4)."""

    as_of: str
    precision: str
    troops: int
    qualifier: str
    origin: str
    publisher: str
    access: str
    url: str
    archived_url: str = ""
    published: str | None = None  # None: the spec gives no date of publication
    quote_words: tuple[str, ...] = ()  # the source's words as the spec quotes them
    scope_words: tuple[str, ...] = ()  # what the spec's "scope / note" column says is counted


# Month and year precision are stored on the first day of the period (seeds/README.md).
# "origin → publisher" in the spec: "NATO via UN → copy" is origin NATO, the UN's document,
# read in a copy; "NATO → document-sharing copy" is NATO's own placemat, read in a copy. In
# both, `publisher` is the site that hosts the copy we read (seeds/README.md: who published
# the page that was read), never the body whose document it is.
SPEC_REPORTS = [
    SpecReport("1999-06-01", "month", 50000, "some", "NATO", "NATO", "archived", EVOLUTION, EVOLUTION_CAPTURE,
               quote_words=("KFOR was initially composed of some 50 000 personnel",)),
    SpecReport("1999-09-08", "day", 49000, "exact", "NATO", "NATO", "original",
               "https://www.nato.int/docu/update/1999/0908e.htm",
               quote_words=("49,000", "41,000", "6,000", "1,600"),
               scope_words=("Kosovo", "Macedonia", "Albania")),
    SpecReport("2002-01-01", "year", 39000, "around", "NATO", "NATO", "archived", EVOLUTION, EVOLUTION_CAPTURE,
               quote_words=("By the beginning of 2002, KFOR had been reduced to around 39000 troops.",)),
    SpecReport("2003-06-01", "month", 26000, "around", "NATO", "NATO", "archived", EVOLUTION, EVOLUTION_CAPTURE,
               quote_words=("reduce KFOR troop levels to around 26 000 by June 2003",)),
    SpecReport("2003-12-01", "month", 17500, "exact", "NATO", "NATO", "archived", EVOLUTION, EVOLUTION_CAPTURE,
               quote_words=("and to 17 500 by the end of that year.",)),
    SpecReport("2013-02-18", "day", 6000, "just under", "NATO JFC Naples", "NATO JFC Naples", "archived",
               JFC_NAPLES, JFC_NAPLES_CAPTURE, scope_words=("29 Troop Contributing Nations",)),
    SpecReport("2017-02-01", "month", 4273, "exact", "NATO", "docslib.org (document-sharing site)", "copy",
               "https://docslib.org/doc/4697084/kosovo-force-kfor-kosovo-force-kfor",
               scope_words=("30 Troop Contributing Nations", "placemat")),
    SpecReport("2020-12-31", "day", 3500, "approximately", "NATO", "docslib.org (document-sharing site)", "copy",
               "https://docslib.org/doc/5704848/security-council-distr-general-8-march-2021",
               scope_words=("report to the UN Security Council", "S/2021/228")),
    SpecReport("2022-08-01", "month", 3735, "exact", "RFE/RL", "ts.mk", "relay",
               "https://ts.mk/2022/08/mbi-3-mije-pjesetare-te-nato-s-sherbejne-ne-kosove",
               published="2022-08", scope_words=("27 countries", "RFE/RL infographic")),
    SpecReport("2023-06-05", "day", 4200, "over", "NATO", "NATO", "original",
               "https://www.nato.int/cps/en/natohq/news_215365.htm", published="2023-06-05",
               quote_words=("KFOR currently consists of over 4,200 troops",)),
    SpecReport("2023-10-14", "day", 4500, "well over", "NATO", "KUNA (on MENAFN)", "relay",
               "https://menafn.com/1107240114/More-NATO-Troops-Arrive-In-Kosovo", published="2023-10-14",
               scope_words=("27 NATO member states", "NATO statement")),
    SpecReport("2023-12-31", "day", 4700, "approximately", "NATO", "European Western Balkans", "relay",
               "https://europeanwesternbalkans.com/2024/03/14/"
               "nato-secretary-general-annual-report-kfor-remains-crucial-for-stability-of-the-region",
               scope_words=("including deployed reserves", "Annual Report 2023")),
]


class SpecEvent(NamedTuple):
    """One of the spec's events for annotations, with what test_seeds.py does not check."""

    date: str
    label_words: tuple[str, ...]
    origin: str | None = None
    url: str | None = None
    access: str | None = None
    quote_words: tuple[str, ...] = ()


SPEC_EVENTS = [
    # Reuters: 30 NATO soldiers and 52 protesters hurt (the quote is checked in test_seeds.py).
    SpecEvent("2023-05-29", ("Zvečan",), origin="Reuters"),
    # NATO decides to deploy 700 more troops: Stoltenberg's words, relayed by Reuters.
    SpecEvent("2023-05-30", ("700",), origin="NATO", access="relay",
              url="https://www.brecorder.com/news/40245045/nato-to-send-700-more-troops-to-kosovo-stoltenberg-says",
              quote_words=("700 more troops", "Stoltenberg")),
    # Reinforcements start to arrive: about 500 troops of Türkiye's 65th Mechanized Infantry
    # Brigade, on NATO's own page (its URL and first sentence are checked in test_seeds.py).
    SpecEvent("2023-06-05", ("reinforcements",), origin="NATO", access="original",
              quote_words=("500", "Türkiye", "65th mechanized infantry brigade")),
    # The Banjska attack: one Kosovo police officer and three attackers killed.
    SpecEvent("2023-09-24", ("Banjska",), quote_words=("three", "attackers", "cop", "dead")),
    # The North Atlantic Council authorises additional forces ("Only yesterday", 29 Sep.):
    # source, URL and quote are checked in test_seeds.py.
    SpecEvent("2023-09-28", ("authorises",)),
]


@pytest.fixture(scope="module")
def reports() -> pd.DataFrame:
    return seeds.troop_reports(seeds_dir=ROOT / "seeds")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return seeds.events(seeds_dir=ROOT / "seeds")


def _readme() -> str:
    return (ROOT / "seeds" / "README.md").read_text(encoding="utf-8")


# --- the spec's reference figures and events --------------------------------------------------


@pytest.mark.parametrize("spec", SPEC_REPORTS, ids=[f"{s.as_of}-{s.troops}" for s in SPEC_REPORTS])
def test_spec_figure_is_a_row_with_the_spec_source(reports, spec):
    """Is this figure of the spec's reference table a row with the spec's date, hedge, origin,
    publisher, way of reading and address, and does it carry the words the spec quotes?"""
    match = reports[(reports["troops"] == spec.troops)
                    & ((reports["url"] == spec.url) | (reports["archived_url"] == spec.url))]
    assert len(match) == 1, f"{len(match)} rows give {spec.troops} from {spec.url}"
    row = match.iloc[0]
    found = (row["as_of"].strftime("%Y-%m-%d"), row["as_of_precision"], row["qualifier"],
             row["origin"], row["publisher"], row["access"], row["url"], row["archived_url"])
    expected = (spec.as_of, spec.precision, spec.qualifier, spec.origin, spec.publisher, spec.access,
                spec.url, spec.archived_url)
    assert found == expected, f"row {row['id']}"
    if spec.published is not None:
        assert row["published"] == spec.published, f"row {row['id']}"
    for words in spec.quote_words:
        assert words in row["quote"], f"row {row['id']}: {words!r} not in its quote"
    for words in spec.scope_words:
        assert words in row["scope"], f"row {row['id']}: {words!r} not in its scope"


def test_euronews_3800_is_dated_no_closer_than_its_month(reports):
    """The spec: Euronews's "almost 3,800" (May 2023) was seen only through a page quoting it and
    its exact date is not established. Is it stored as a relay dated to May 2023, not to a day?"""
    rows = reports[(reports["origin"] == "Euronews") & (reports["troops"] == 3800)]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["as_of"], row["as_of_precision"]) == (pd.Timestamp("2023-05-01"), "month")
    assert (row["qualifier"], row["access"]) == ("almost", "relay")
    assert "euronews" not in row["url"], "the page read is the one quoting Euronews"
    assert "not established" in row["note"]


def test_a_hedge_lost_in_transit_is_visible_by_comparing_rows(reports):
    """The data dictionary says NATO's "well over 4,500" becoming "over 4,500" is visible by
    comparing rows: does the table hold one NATO count relayed with both hedges?"""
    nato = reports[(reports["origin"] == "NATO") & (reports["troops"] == 4500)]
    hedges = nato.groupby("as_of")["qualifier"].agg(set)
    assert any({"well over", "over"} <= found for found in hedges), dict(hedges)
    readme = _readme()
    assert "\u201cwell over 4,500\u201d" in readme or '"well over 4,500"' in readme


@pytest.mark.parametrize("spec", SPEC_EVENTS, ids=[s.date for s in SPEC_EVENTS])
def test_spec_event_is_a_row_with_its_source(events, spec):
    """Is this event of the spec a row on the spec's date, labelled for a chart, with the origin,
    address and words the spec gives it?"""
    rows = events[events["date"] == pd.Timestamp(spec.date)]
    assert len(rows) == 1, f"{len(rows)} events on {spec.date}"
    row = rows.iloc[0]
    for words in spec.label_words:
        assert words.casefold() in row["label"].casefold(), row["label"]
    for column in ("origin", "url", "access"):
        if getattr(spec, column) is not None:
            assert row[column] == getattr(spec, column), column
    for words in spec.quote_words:
        assert words.casefold() in row["quote"].casefold(), f"{words!r} not in {row['quote']!r}"


# --- the table as a whole ----------------------------------------------------------------------


def test_at_least_twenty_dated_figures_from_1999_to_2024(reports):
    """Are there at least 20 distinct dated figures (one count, however many reports) between
    1999 and 2024, with figures in every year of 2000–2012 and 2018–2024, the spans the spec
    says hold more dated figures than its own table?"""
    in_range = reports[reports["as_of"].dt.year.between(1999, 2024)]
    counts = set(zip(in_range["as_of"], in_range["troops"], strict=True))
    assert len(counts) >= 20, len(counts)
    years = set(reports["as_of"].dt.year)
    missing = [y for y in [*range(2000, 2013), *range(2018, 2025)] if y not in years]
    assert missing == [], f"no dated figure for {missing}"


def test_an_archived_row_reads_a_capture_of_its_own_address(reports):
    """For access 'archived', `url` is the original address and `archived_url` the capture that
    was read: does every capture embed the row's own address, not another page's?"""
    archived = reports[reports["access"] == "archived"]
    assert len(archived) >= len([s for s in SPEC_REPORTS if s.access == "archived"])
    for _, row in archived.iterrows():
        address = re.sub(r"^https?://", "", row["url"])
        captured = re.search(r"/web/\d{8,14}[a-z_]*/(.+)$", row["archived_url"])
        assert captured, row["id"]
        assert re.sub(r"^https?:/+", "", captured.group(1)) == address, row["id"]


# --- the data dictionary ------------------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    """The text under a `## heading` up to the next `## ` heading."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def test_data_dictionary_documents_every_column_of_both_tables():
    """Does seeds/README.md give every column of troop_reports.csv in its section and every column
    of events.csv in its own, in the tables' order, and every allowed `access` and precision?"""
    readme = _readme()
    for heading, columns in (("`troop_reports.csv`", seeds.TROOP_REPORT_COLUMNS),
                             ("`events.csv`", seeds.EVENT_COLUMNS)):
        section = _section(readme, heading)
        documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
        assert documented == [c.name for c in columns], heading
    for value in (*seeds.ACCESS, *seeds.PRECISIONS):
        assert f"`{value}`" in _section(readme, "`troop_reports.csv`"), value


def test_data_dictionary_states_the_one_rule_and_its_examples_hold(reports):
    """Does seeds/README.md state the primary/secondary rule once, naming exactly the NATO bodies
    of `seeds.source_type_of`, saying publisher and access never change it — and are its three
    examples rows of the table, classified by that rule?"""
    readme = _readme()
    assert readme.count("### Primary and secondary") == 1
    rule = readme[readme.index("### Primary and secondary: the one rule"):]
    rule = " ".join(rule[:rule.index("\n### ", 5)].split())
    commands = re.search(r"is NATO itself or one of its commands: (.*?)\. It is \*\*secondary\*\*", rule)
    assert commands, "the rule names NATO's commands"
    named = set(re.findall(r"`([^`]+)`", commands.group(1)))
    assert named == set(seeds.NATO_BODIES)
    assert all(seeds.source_type_of(body) == "primary" for body in named)
    assert "never change this" in rule and "seeds.source_type_of(origin)" in rule
    # The examples: NATO's report in a UN document read in a copy; NATO's statement relayed by
    # KUNA; RFE/RL's infographic reported by ts.mk.
    for lead, publisher, origin, access, kind in (
        ("read from a document-sharing copy", "docslib.org", "NATO", "copy", "primary"),
        ("NATO's statement relayed by KUNA", "KUNA", "NATO", "relay", "primary"),
        ("RFE/RL's infographic reported by ts.mk", "ts.mk", "RFE/RL", "relay", "secondary"),
    ):
        assert f"{lead} is origin {origin}, {kind}, access `{access}`" in rule, lead
        rows = reports[reports["publisher"].str.startswith(publisher) & (reports["origin"] == origin)
                       & (reports["access"] == access)]
        assert len(rows) >= 1, (publisher, origin, access)
        assert set(rows["source_type"]) == {kind} == {seeds.source_type_of(origin)}


def test_data_dictionary_precision_table_matches_the_rows(reports):
    """Does the README's table of how the evolution page's wordings are stored give the as_of and
    precision of the evolution rows, wording by wording?"""
    lines = re.findall(r'^\| "([^"]+)"[^|]*\| `(\d{4}-\d{2}-\d{2})` \| `(\w+)` \|$', _readme(), flags=re.MULTILINE)
    assert len(lines) == 4
    evolution = reports[reports["url"] == EVOLUTION]
    for wording, as_of, precision in lines:
        # The README quotes the source with "…" for left-out words: every piece is in the quote.
        pieces = [p.strip() for p in wording.split("…") if p.strip()]
        rows = evolution[evolution["quote"].map(lambda q, ps=pieces: all(p in q for p in ps))
                         & (evolution["as_of"] == pd.Timestamp(as_of))]
        assert len(rows) == 1, wording
        assert rows.iloc[0]["as_of_precision"] == precision, wording


def test_the_documented_error_message_is_the_one_the_checks_give(tmp_path):
    """Is the example message in seeds/README.md exactly what a blank url in row 3 gives?"""
    with (ROOT / "seeds" / "troop_reports.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[2]["url"] = ""
    path = tmp_path / "seeds" / "troop_reports.csv"
    path.parent.mkdir()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(seeds.SeedRowError) as caught:
        seeds.read_troop_reports(path)
    assert str(caught.value) == "seeds/troop_reports.csv: row 3, column url: missing"
    assert f"\n{caught.value}\n" in _readme()


# --- assignment 4 -------------------------------------------------------------------------------

SOLUTION = ROOT / "solutions" / "04-tracing-claims" / "04-tracing-claims.ipynb"


def _solution_namespace(monkeypatch) -> dict:
    """The solution notebook's setup and answer cells, run in this process."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(SOLUTION.parent)
    monkeypatch.delenv(seeds.SEEDS_ENV, raising=False)
    namespace: dict = {}
    for cell in notebooks.read(SOLUTION).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade_id") == "setup" or meta.get("solution")):
            exec(cell.source, namespace)
    return namespace


def test_assignment_setup_builds_the_article_series_with_module_3_rules(monkeypatch):
    """Does the setup cell load the checked table and the article's date from the seeds, and is
    ARTICLE_SERIES the article's five dated points by §2's date rules, the exact 3,735 kept
    over "about 3,800" on the publication date (module 3's contract)?"""
    ns = _solution_namespace(monkeypatch)
    published = seeds.article_metadata(seeds_dir=ROOT / "seeds")["published"]
    assert ns["PUBLISHED"] == published
    pd.testing.assert_frame_equal(ns["REPORTS"], seeds.troop_reports(seeds_dir=ROOT / "seeds"))
    series = ns["ARTICLE_SERIES"]
    assert list(series.columns) == ["date", "troops"]
    assert [(d.strftime("%Y-%m-%d"), t) for d, t in zip(series["date"], series["troops"], strict=True)] == [
        ("1999-06-12", 50000), ("2002-03-01", 39000), ("2003-06-15", 26000),
        ("2003-12-31", 17500), (published, 3735),
    ]


def _expected_value(comment: str):
    """The longest start of an example's comment that is a Python value: `424  (…)` → 424,
    `None: …` → None, `Timestamp('2022-08-01 00:00:00')` → that Timestamp; else a sentinel."""
    for end in range(len(comment), 0, -1):
        if end < len(comment) and not re.match(r"[\s:;,]", comment[end]):
            continue
        try:
            tree = ast.parse(comment[:end].strip(), mode="eval")
        except SyntaxError:
            continue
        allowed = (ast.Expression, ast.Constant, ast.Tuple, ast.Call, ast.Name, ast.Load, ast.UnaryOp, ast.USub)
        if not all(isinstance(node, allowed) for node in ast.walk(tree)):
            continue
        if any(isinstance(node, ast.Name) and node.id != "Timestamp" for node in ast.walk(tree)):
            continue
        try:
            return eval(compile(tree, "<example>", "eval"), {"__builtins__": {}, "Timestamp": pd.Timestamp})
        except (TypeError, ValueError):
            continue
    return _NOT_A_VALUE


_NOT_A_VALUE = object()


def _is_expression(code: str) -> bool:
    try:
        ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


def _examples(markdown: str) -> list[tuple[list[str], str, str]]:
    """(code before, expression, expected comment) for every `expr  # value` line, or `expr`
    followed by a `# value` line, in the ```python blocks of a question's text."""
    found = []
    for block in re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL):
        lines = block.splitlines()
        before: list[str] = []
        for number, line in enumerate(lines):
            code, _, comment = line.partition("  #")
            if line.lstrip().startswith("#"):
                continue
            if not comment and number + 1 < len(lines) and lines[number + 1].lstrip().startswith("#"):
                comment = lines[number + 1].lstrip()[1:]
            if comment and _is_expression(code) and _expected_value(comment.strip()) is not _NOT_A_VALUE:
                found.append((list(before), code.strip(), comment.strip()))
            before.append(code)
    return found


def test_worked_examples_in_the_questions_are_what_the_solution_gives(monkeypatch):
    """Does every worked example printed in the questions' text (`first_reported(3735, REPORTS)
    # Timestamp(…)`) give, with the model solution on the real table, the value it shows? The
    release gate runs the test cells, not the questions' prose."""
    ns = _solution_namespace(monkeypatch)
    checked, wrong = 0, []
    for cell in notebooks.read(SOLUTION).cells:
        if cell.cell_type != "markdown":
            continue
        for before, expression, comment in _examples(cell.source):
            scope = dict(ns)
            exec("\n".join(before), scope)
            got = eval(expression, scope)
            expected = _expected_value(comment)
            same = got is None if expected is None else (got is not None and bool(got == expected))
            if not same:
                wrong.append(f"{cell.metadata.get('nbgrader', {}).get('grade_id')}: {expression} gives "
                             f"{got!r}, the text says {comment!r}")
            checked += 1
    assert checked >= 1, "no worked example found in the questions' text"
    assert wrong == [], "\n".join(wrong)


# --- lesson 4 -----------------------------------------------------------------------------------


def test_lesson_cites_the_sources_it_discusses():
    """Does lesson 4 give the address of every source the course spec names for module 4 (the
    reference figures and the events), with the archive capture where one was read, so a reader
    can open each? The other rows of the record are reached through seeds/troop_reports.csv,
    which the lesson reads; its figures are checked by tests/test_course_numbers.py."""
    notebook = nbformat.read(ROOT / "lessons" / "04-tracing-claims.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    addresses = [spec.url for spec in SPEC_REPORTS]
    addresses += [spec.archived_url for spec in SPEC_REPORTS if spec.archived_url]
    addresses += list(seeds.events(seeds_dir=ROOT / "seeds")["url"])
    assert [u for u in dict.fromkeys(addresses) if u not in text] == []

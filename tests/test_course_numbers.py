"""The course checks its own numbers (issue 12, part D).

Every troop figure and date that the lessons, assignments (questions, model answers,
rubrics), student notebooks, README and docs state in the course's own voice — prose, chart
titles and alt text — must be quoted from a source text or match a row of the seeds. The
rules are in the docstring of `tests/course_numbers.py`; `python tests/course_numbers.py`
prints every finding and every marked exception.

The fixture tests prove the check can fail: a planted untraced figure in prose, in a chart
title, in alt text (code and Markdown) and in a folded solution's chart code each fail, as do
a stale date and a misquotation; a verbatim quotation of the article, a figure of
troop_reports.csv and a date of events.csv pass. They read the real seeds/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from course_numbers import (
    MAX_EXCEPTIONS,
    ROOT,
    Piece,
    Seeds,
    When,
    check_course,
    check_files,
    check_piece,
    course_files,
    dates_in,
    file_pieces,
    fits,
    load_seeds,
    numbers_in,
    quoted_in,
)

FIXTURES = ROOT / "tests" / "fixtures" / "course_numbers"


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    return load_seeds(ROOT / "seeds")


def findings_of(path: Path, seeds: Seeds):
    return check_files([path], seeds, root=ROOT)


# --- planted figures fail ------------------------------------------------------------------

PLANTED = {
    # fixture: (what the finding names, a phrase of its reason)
    "fail-prose.md": ("figure 3,900", "no row"),
    "fail-stale-figure.md": ("figure 3,735", "dated 2023-09 here"),
    "fail-misquote.md": ("figure 3,900", "no row"),
    "fail-date.md": ("date 19 June 2023", "not a date of the seeds"),
    "fail-image-alt.md": ("figure 3,735", "dated 2023 here"),
    "fail-chart-title.ipynb": ("figure 3,900", "no row"),
    "fail-alt-text.ipynb": ("figure 3,900", "no row"),
    "fail-metadata-alt-text.ipynb": ("figure 3,900", "no row"),
    "fail-fenced-chart-text.ipynb": ("figure 3,735", "dated 2023-09 here"),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_untraced_figure_fails(name: str, seeds: Seeds) -> None:
    report = findings_of(FIXTURES / name, seeds)
    what, why = PLANTED[name]
    assert [(f.what, why in f.why) for f in report.findings] == [(what, True)], report.text()
    assert not report.exceptions


def test_every_planted_fixture_is_listed() -> None:
    assert sorted(p.name for p in FIXTURES.glob("fail-*")) == sorted(PLANTED)


def test_chart_title_and_alt_text_findings_say_where(seeds: Seeds) -> None:
    title = findings_of(FIXTURES / "fail-chart-title.ipynb", seeds).findings[0]
    assert title.where == "cell 1 (id fail-chart-title-1), line 4, chart text"
    alt = findings_of(FIXTURES / "fail-alt-text.ipynb", seeds).findings[0]
    assert alt.where.endswith("chart text") and "3,900 troops" in alt.sentence
    image = findings_of(FIXTURES / "fail-image-alt.md", seeds).findings[0]
    assert image.where == "line 3, image alt text"


# --- traced figures pass --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("pass-*")))
def test_traced_figures_pass(name: str, seeds: Seeds) -> None:
    report = findings_of(FIXTURES / name, seeds)
    assert not report.findings, report.text()


def test_passing_fixtures_really_check_something(seeds: Seeds) -> None:
    """The pass fixtures pass because their figures are traced, not because none is read."""
    checked = {}
    for path in sorted(FIXTURES.glob("pass-*")):
        log: list[str] = []
        for piece in file_pieces(path, ROOT):
            if piece.exception is None:
                check_piece(piece, seeds, log)
        checked[path.name] = log
    assert sum("quoted from a source" in line for line in checked["pass-article-quote.md"]) == 4
    assert any(line.startswith("figure 49,000 (1999-09-08): troop_reports.csv")
               for line in checked["pass-seeds-figure.md"])
    assert any(line.startswith("figure 41,000") for line in checked["pass-seeds-figure.md"])
    assert any(line.startswith("figure 3,735 (2022-08)") for line in checked["pass-seeds-figure.md"])
    assert any(line.startswith("figure 49000 (1999-09-08)") for line in checked["pass-seeds-figure.md"])
    assert any(line.startswith("figure 700 (2023-05-30)") for line in checked["pass-event-date.md"])
    assert "date 24 September 2023: a seeds date" in checked["pass-event-date.md"]
    assert any(line.startswith("figure 49,000") for line in checked["pass-chart-text.ipynb"])
    # The marked paragraph is skipped; the unmarked one holds no troop figure at all.
    assert checked["pass-marked-exception.md"] == []


def test_a_marked_exception_is_counted(seeds: Seeds) -> None:
    report = findings_of(FIXTURES / "pass-marked-exception.md", seeds)
    assert [(e.reason, e.needed) for e in report.exceptions] == [("an example of a title not to write", True)]


def test_a_marker_that_is_not_needed_is_reported(tmp_path: Path, seeds: Seeds) -> None:
    page = tmp_path / "page.md"
    page.write_text("NATO counted 49,000 troops on 8 September 1999.\n<!-- figure-ok: just in case -->\n",
                    encoding="utf-8")
    (marked,) = check_files([page], seeds, root=tmp_path).exceptions
    assert not marked.needed and "NOT NEEDED" in str(marked)


def test_a_marked_table_counts_once(tmp_path: Path, seeds: Seeds) -> None:
    page = tmp_path / "rules.md"
    page.write_text("<!-- figure-ok: a rule's dates -->\n| phrase | date |\n|---|---|\n"
                    "| early | 2002-03-01 |\n| June | 2003-06-15 |\n", encoding="utf-8")
    report = check_files([page], seeds, root=tmp_path)
    assert not report.findings and len(report.exceptions) == 1
    assert not report.exceptions[0].needed  # no row here is about KFOR: the rule dates pass anyway


def test_nbgrader_test_cells_and_computed_text_are_not_read(seeds: Seeds) -> None:
    texts = [p.text for p in file_pieces(FIXTURES / "pass-chart-text.ipynb", ROOT)]
    assert not any("a test may plant" in t for t in texts)
    assert any("Source: European Western Balkans" in t for t in texts)  # a name, looked up
    assert any("⟨computed⟩" in t and "troops at the last report" in t for t in texts)  # an f-string's {…} is not read
    assert not any("ignored" in t for t in texts)


# --- planted into the real course ----------------------------------------------------------


def test_a_figure_planted_in_the_real_readme_is_found(tmp_path: Path, seeds: Seeds) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    before = check_files([readme], seeds, root=tmp_path).findings
    with readme.open("a", encoding="utf-8") as handle:
        handle.write("\n\nToday KFOR numbers 4,321 soldiers from 28 countries.\n")
    after = check_files([readme], seeds, root=tmp_path).findings
    new = [f for f in after if f not in before]
    assert [f.what for f in new] == ["figure 4,321"]


def test_figures_planted_in_a_real_lesson_are_found(tmp_path: Path, seeds: Seeds) -> None:
    lesson = tmp_path / "03-charting-troop-numbers.ipynb"
    shutil.copy(ROOT / "lessons" / lesson.name, lesson)
    before = check_files([lesson], seeds, root=tmp_path).findings
    notebook = json.loads(lesson.read_text(encoding="utf-8"))
    notebook["cells"] += [
        {"cell_type": "markdown", "id": "planted-prose", "metadata": {},
         "source": "In 2021 the force stood at 3,650 personnel."},
        {"cell_type": "code", "id": "planted-title", "metadata": {}, "outputs": [],
         "execution_count": None,
         "source": 'ax.set_title("KFOR fell to 3,735 in September 2023")\n'
                   'charts.show(fig, alt="Bars of 2,950 and 3,100 troops")'},
    ]
    lesson.write_text(json.dumps(notebook), encoding="utf-8")
    new = [f for f in check_files([lesson], seeds, root=tmp_path).findings if f not in before]
    assert sorted(f.what for f in new) == ["figure 2,950", "figure 3,100", "figure 3,650", "figure 3,735"]


# --- the rules, on a small seeds folder of our own ----------------------------------------


@pytest.fixture
def tiny_seeds(tmp_path: Path) -> Seeds:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "article.txt").write_text("KFOR currently has 3,735 soldiers from 27 countries.", encoding="utf-8")
    (folder / "troop_reports.csv").write_text(
        "id,as_of,as_of_precision,troops,published,archived_url,quote\n"
        "a,2022-08-01,month,3735,2022-08,,\"RFE/RL: 3,735 soldiers\"\n"
        "b,2002-01-01,year,39000,,http://web.archive.org/web/20110605181328/http:/x,\"around 39000 troops\"\n"
        "c,1999-09-08,day,49000,1999-09-08,,\"49,000 personnel, 41,000 of whom are in Kosovo\"\n",
        encoding="utf-8")
    (folder / "events.csv").write_text(
        "date,label,description,quote\n2023-05-30,700 more troops,NATO sends 700 more troops,\n",
        encoding="utf-8")
    (folder / "meta.json").write_text('{"published": "2023-09-29"}', encoding="utf-8")
    return load_seeds(folder)


def _check(text: str, seeds: Seeds, chart: bool = False) -> list[str]:
    return [f"{f.what}: {f.why}" for f in check_piece(Piece("t.md", "", 1, text, chart=chart), seeds)]


@pytest.mark.parametrize("text", [
    "RFE/RL reported 3,735 soldiers in August 2022.",
    "In August 2022, 3,735 soldiers served in KFOR.",
    "3,735 was reported in 2022.",
    "KFOR had around 39,000 troops in 2002.",
    "NATO gave 49,000 on 8 September 1999 and 41,000 in Kosovo.",
    "On 30 May 2023 NATO decided to send 700 more troops.",
    "The article (29 September 2023) says “KFOR currently has 3,735 soldiers”.",
    "No report says 3,735 soldiers, but NATO's update of 8 September 1999 says 49,000.",
    "The archive captured the page on 5 June 2011.",
    "The table stores the report's month as 1 August 2022.",
    "The article's line from 2003 to 3,735 'currently' hides years near its 2003 level, a fall "
    "around 2010 and a rise in 2023.",
])
def test_rules_pass(text: str, tiny_seeds: Seeds) -> None:
    assert _check(text, tiny_seeds) == []


@pytest.mark.parametrize("text, expected", [
    ("RFE/RL reported 3,735 soldiers on 1 August 2022.", "figure 3,735: dated 2022-08-01"),  # month row
    ("KFOR had 3,735 soldiers in September 2023.", "figure 3,735: dated 2023-09"),
    ("KFOR had around 39,000 troops in March 2002.", "figure 39,000: dated 2002-03"),  # year row
    ("The force fell from 49,000 in 1999 to 3,735 in 2023.", "figure 3,735: dated 2023"),
    ("KFOR had 4,200 troops.", "figure 4,200: no row"),
    ("KFOR had 3,735 soldiers from 27 countries in 2023.", "figure 3,735: dated 2023"),
    ("The article says “KFOR currently has 3,753 soldiers”.", "figure 3,753: no row"),
    ("NATO said this on 6 June 2023.", "date 6 June 2023: 2023-06-06 is not a date"),
    ("NATO said this in July 2023.", "date July 2023: 2023-07 is not a date"),
    ("The report of 2 August 2022 says so.", "date 2 August 2022: 2022-08-02 is not a date"),
])
def test_rules_fail(text: str, expected: str, tiny_seeds: Seeds) -> None:
    found = _check(text, tiny_seeds)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize("text", [
    "3,900 troops arrived.",  # at the very start of a text
    "The figure 3,900 is new.",
    "KFOR had a 3,900-strong force.",
])
def test_a_figure_is_found_wherever_it_stands(text: str, tiny_seeds: Seeds) -> None:
    assert [f.split(":")[0] for f in _check(text, tiny_seeds)] == ["figure 3,900"]


@pytest.mark.parametrize("text", [
    "UN Security Council Resolution 1244 set up the mission.",
    "See page 1,200 and a 2,000-word essay; it cost $5,000.",
])
def test_numbers_that_name_things_are_not_figures(text: str, tiny_seeds: Seeds) -> None:
    assert _check(text, tiny_seeds) == []


def test_chart_text_counts_every_number(tiny_seeds: Seeds) -> None:
    assert _check("From 1999 to 2023: 5,100", tiny_seeds, chart=True)[0].startswith("figure 5,100")


def test_numbers_and_dates_are_read_as_written() -> None:
    assert [n for n, _ in numbers_in("3,735 and 50 000, 29th, 3.5, S/2021/228, 2023")] == [3735, 50000, 2023]
    assert [n for n, _ in numbers_in("3,500–3,800 or 3,500-3,800, not S-300")] == [3500, 3800, 3500, 3800]
    assert [str(w) for w, _ in dates_in("5 June 2023, June 2003, 2022-08, 29 Sep. 2023, Sept 29, 2023, 1999")] == [
        "2023-06-05", "2003-06", "2022-08", "2023-09-29", "2023-09-29", "1999"]
    assert fits(When(2022, 8), When(2022, 8)) and not fits(When(2022, 8, 1), When(2022, 8))
    assert fits(When(2003), When(2003, 6)) and not fits(When(2003, 6), When(2003))


def test_quotations_allow_ellipses_and_forgive_the_first_letter() -> None:
    source = ["by the beginning of 2002, kfor had been reduced to around 39000 troops.",
              "KFOR was initially composed of some 50 000 personnel from NATO member countries"]
    assert quoted_in("KFOR was initially composed of some 50 000 personnel…", source)
    assert quoted_in("By the beginning of 2002, kfor … around 39000 troops.", source)
    assert not quoted_in("KFOR was initially composed of about 50,000 personnel", source)


# --- the real course -------------------------------------------------------------------------


def test_the_checker_reads_the_whole_course() -> None:
    files = {str(p.relative_to(ROOT)) for p in course_files()}
    assert "README.md" in files and "docs/instructor-guide.md" in files
    for folder in ("lessons", "solutions", "exercises"):
        assert any(f.startswith(folder + "/") and f.endswith(".ipynb") for f in files), folder


def test_the_course_states_only_traced_numbers() -> None:
    report = check_course()
    assert not report.findings, "\n" + report.text()


def test_exceptions_are_few_and_give_a_reason() -> None:
    report = check_course()
    listing = "\n".join(str(e) for e in report.exceptions)
    assert len(report.exceptions) <= MAX_EXCEPTIONS, f"{len(report.exceptions)} exceptions:\n{listing}"
    assert all(e.reason and e.reason != "(no reason given)" for e in report.exceptions), listing
    assert all(e.needed for e in report.exceptions), f"markers on text that passes without them:\n{listing}"


# --- the teaching guide's pacing table adds up the notebooks' own times ------------------------


def _minutes(text: str, pattern: str) -> int | None:
    import re

    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def _notebook_times() -> dict[str, tuple[int | None, int | None, int | None]]:
    """Per module: (lesson teaching, lesson exercises, assignment) minutes, as the notebooks state them."""
    times = {}
    for lesson in sorted((ROOT / "lessons").glob("*.ipynb")):
        module = str(int(lesson.name[:2]))
        cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
        head = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells[:3])
        teaching = _minutes(head, r"\*\*Teaching:\*\*\s*(\d+)\s*min")
        exercises = _minutes(head, r"\*\*Exercises:\*\*\s*(\d+)\s*min")
        assignment = None
        for path in (ROOT / "solutions").glob(f"{lesson.name[:2]}-*/*.ipynb"):
            first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"]
            first = "".join(first) if isinstance(first, list) else first
            assignment = _minutes(first, r"(?i)about\s*(\d+)\s*min")
        times[module] = (teaching, exercises, assignment)
    return times


def test_the_teaching_guide_paces_the_course_by_the_notebooks_own_times() -> None:
    import re

    guide = (ROOT / "docs" / "teaching-guide.md").read_text(encoding="utf-8")
    table = guide.split("<!-- pacing-table", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip(" *") for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d+|all", cells[0]):
            rows[cells[0]] = [int(c.split()[0]) if c[0].isdigit() else None for c in cells[1:]]
    stated = _notebook_times()
    assert sorted(k for k in rows if k != "all") == sorted(stated), rows
    for module, (teaching, exercises, assignment) in stated.items():
        assert teaching is not None and exercises is not None, f"lesson {module} states no times"
        total = teaching + exercises + (assignment or 0)
        assert rows[module] == [teaching, exercises, assignment, total], (
            f"module {module}: the guide says {rows[module]}, the notebooks "
            f"{[teaching, exercises, assignment, total]}")
    columns = list(zip(*(rows[m] for m in stated), strict=True))
    assert rows["all"] == [sum(v or 0 for v in column) for column in columns]


def test_chart_text_is_read_in_every_form_a_notebook_writes_it() -> None:
    from course_numbers import code_pieces

    source = "\n".join([
        "from textwrap import dedent",
        'TITLE = "KFOR: 3,901 troops"',
        "ax.set_title(TITLE)",
        'ax.set(title="KFOR: 3,902 troops", xlabel="Date")',
        'df.plot(title="3,903 soldiers")',
        'ax.legend(title="3,904 troops")',
        'ALT = " ".join(["KFOR had", "3,905 troops"])',
        'charts.show(fig, alt=dedent("""',
        '    3,906 soldiers"""))',
        'fig.text(0.01, 0.01, "Source: " + "3,907 troops")',
        'ax.annotate(text="3,908 troops", xy=(0, 0))',
        'ax.set_title(f"{n:,} troops, of 3,909")',
        "%matplotlib inline",
    ])
    texts = " ".join(p.text for p in code_pieces(source, "x.ipynb"))
    for figure in range(3901, 3910):
        assert f"{figure:,}" in texts, figure

"""What the instructor reads: does the grade table show points and pending hand-grading, and
does the summary list refused, failed and flagged hand-ins with where the files went?"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from coursekit.grader.collect import Rejected
from coursekit.grader.gradebook import AssignmentScore
from coursekit.grader.pipeline import GradeReport
from coursekit.grader.reasons import Reason
from coursekit.grader.terminal import print_grades
from coursekit.grader.worker import Outcome, Task


def _report(tmp_path: Path) -> GradeReport:
    return GradeReport(
        scores=[AssignmentScore("ann", "01-a", 3.0, 4.0, 2.0, True),
                AssignmentScore("bob", "01-a", 4.0, 4.0, 2.0, False)],
        rejected=[Rejected(Path("/x/cyd/01-a/a.ipynb"), "empty file", "cyd", "01-a")],
        failed=[Outcome(Task("dee", "01-a", "d"), False, 1.0, "nbgrader broke")],
        graded=3, skipped=1, grades_csv=tmp_path / "grades.csv", feedback_dir=tmp_path / "feedback",
        reasons=[Reason("ann", "01-a", 3.0, 4.0, flags=("kernel died in cell f",)),
                 Reason("", "", None, None, flags=("refused a.ipynb: empty file",), refused=True)],
        protections="sandbox: all protections on (network)",
    )


def test_the_summary_names_everything_once(tmp_path):
    console = Console(width=200, record=True)
    print_grades(_report(tmp_path), console=console)
    text = console.export_text()
    assert "3 / 4" in text and "2 pts to grade" in text and "done" in text
    assert "rejected /x/cyd/01-a/a.ipynb: empty file" in text
    assert "not graded dee/01-a: nbgrader broke" in text
    assert "flagged ann/01-a (3.0 / 4.0): kernel died in cell f" in text
    assert "refused a.ipynb" not in text.split("flagged")[-1]  # refusals are listed as rejected, not flagged
    assert "3 submissions autograded, 1 unchanged since last time" in text
    assert f"reasons:  {tmp_path / 'reasons.csv'}" in text


def test_a_flagged_line_is_capped_at_a_word(tmp_path):
    """Is a long run of flags cut at a word with "…" in the terminal, never mid-word?"""
    from coursekit.grader.terminal import FLAGS_WIDTH

    flags = tuple(f"cell {n} raised ValueError: a message long enough to need cutting" for n in range(20))
    report = _report(tmp_path)
    report.reasons[0] = Reason("ann", "01-a", 3.0, 4.0, flags=flags)
    console = Console(width=1000, record=True)
    print_grades(report, console=console)
    (line,) = [line for line in console.export_text().splitlines() if line.startswith("flagged")]
    shown = line.split(": ", 1)[1]
    assert shown.endswith("…") and len(shown) <= FLAGS_WIDTH
    assert "; ".join(flags).startswith(shown[:-1]) and shown[:-1].split()[-1] in "; ".join(flags).split()


MARKUP = ["[bold red]x[/]", "[link=https://evil.example]click[/link]", "[/]", "[red", "x\\", "[/bold]"]


def _hostile_report(tmp_path: Path) -> GradeReport:
    """Every student-derived string carries text rich would read as markup."""
    flags = tuple(f"tampering suspected: cell 1 line 1 imports {m}" for m in MARKUP)
    return GradeReport(
        scores=[AssignmentScore("[bold]ann[/bold]", "01-a", 3.0, 4.0, 0.0, False)],
        rejected=[Rejected(Path(f"/x/cyd/01-a/{MARKUP[0]}.ipynb"), f"refused: {MARKUP[1]}", "cyd", "01-a")],
        failed=[Outcome(Task("[/]", "01-a", "d"), False, 1.0, f"nbgrader broke {MARKUP[3]}")],
        graded=1, skipped=0, grades_csv=tmp_path / "grades.csv", feedback_dir=tmp_path / "feedback",
        reasons=[Reason("[red]", "01-a", 3.0, 4.0, flags=flags)],
    )


def test_student_text_is_printed_as_text_never_as_markup(tmp_path):
    """Does an import name like "[bold red]x[/]" or "[link=…]" neither crash the summary
    (a closing tag with nothing open raises MarkupError) nor render as style or a link?"""
    console = Console(width=400, record=True)
    print_grades(_hostile_report(tmp_path), console=console)
    text = console.export_text()
    for markup in MARKUP:
        assert markup in text, markup
    assert "[bold]ann[/bold]" in text and "not graded [/]/01-a" in text and "flagged [red]/01-a" in text
    assert "evil.example" not in console.export_html(inline_styles=True).split("<code")[0]  # no link
    assert "\x1b]8;" not in _ansi(_hostile_report(tmp_path))  # no OSC 8 hyperlink either


def _ansi(report: GradeReport) -> str:
    import io

    out = io.StringIO()
    print_grades(report, console=Console(file=out, width=400, force_terminal=True, color_system="truecolor"))
    return out.getvalue()


def test_control_unescaped_markup_crashes_or_renders():
    """The control: printed as markup (as before issue 14), the same strings raise or become links."""
    import pytest
    from rich.errors import MarkupError

    with pytest.raises(MarkupError):
        Console(record=True).print("flagged [/]/01-a")
    console = Console(record=True, width=200)
    console.print(f"flagged: {MARKUP[1]}")
    assert "[link=" not in console.export_text()


LONG_FAILURE = ("AssertionError: paragraphs(ARTICLE) gives a new list each time, but the third paragraph "
                "is split in two where the dateline ends")


def _written(tmp_path: Path):
    import pandas as pd

    from coursekit.grader.report import ITEM_COLUMNS, Written

    table = pd.DataFrame([["01-a", "test_[bold]x[/bold]", 2.0, 3, 2, 2 / 3, f"{LONG_FAILURE} (2)"],
                          ["01-a", "test_y", 1.0, 3, 0, 0.0, ""]], columns=ITEM_COLUMNS)
    return Written(html=tmp_path / "report.html", distribution=tmp_path / "d.png", items=tmp_path / "i.png",
                   items_csv=tmp_path / "i.csv", grades_csv=tmp_path / "g.csv", table=table)


def test_the_item_analysis_is_a_table_of_percentages_with_nothing_cut(tmp_path):
    """Is the item analysis a table with "67%" (not 0.666667), every failure message whole
    (wrapped, never cut with "..." or "…"), and student-derived text printed as text?"""
    from coursekit.grader.terminal import print_report

    for width in (100, 400):
        console = Console(width=width, record=True)
        print_report(_written(tmp_path), console=console)
        text = console.export_text()
        assert "67%" in text and "0%" in text and "0.666667" not in text and "0.0" not in text
        assert "..." not in text and "…" not in text
        last_column = "".join(line.split("│")[7] for line in text.splitlines() if line.count("│") == 8)
        assert "".join(LONG_FAILURE.split()) in "".join(last_column.split()), width  # wrapped, all there
    assert LONG_FAILURE in text and "test_[bold]x[/bold]" in text  # at 400 columns, on one line
    assert f"items_csv: {tmp_path / 'i.csv'}" in text


def test_a_student_who_wrote_nothing_is_not_done(tmp_path):
    """Does the written column say "nothing submitted" when every written answer was left as
    released, and "done" only when something was written and graded?"""
    report = _report(tmp_path)
    report.scores = [AssignmentScore("ann", "01-a", 3.0, 4.0, 2.0, False, written_blank=True),
                     AssignmentScore("bob", "01-a", 4.0, 4.0, 2.0, False)]
    console = Console(width=200, record=True)
    print_grades(report, console=console)
    rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines() if line.count("│") > 2}
    assert "nothing submitted" in rows["ann"] and "done" not in rows["ann"]
    assert "done" in rows["bob"]

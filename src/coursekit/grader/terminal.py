"""What an instructor reads in the terminal: the progress bar while grading, then the grade
table, the flagged and refused hand-ins, and where every file went.

Every string that comes from a hand-in (student ids, file names, reasons, flags, errors)
is printed through `escape`: rich would read "[bold]" or "[link=…]" in it as markup, and
a malformed tag ends the CLI after grading."""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from coursekit.grader.gradebook import AssignmentScore
from coursekit.grader.pipeline import GradeReport, Reporter
from coursekit.grader.report import Written
from coursekit.grader.text import clip
from coursekit.grader.worker import Outcome

FLAGS_WIDTH = 300  # a flagged hand-in's line in the terminal; reasons.csv keeps every flag whole


class ProgressReporter(Reporter):
    """A progress bar with counts and ETA while the class is autograded."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.bar = Progress(
            TextColumn("autograding"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
        )
        self.task = None
        self.failed = 0

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def started(self, *, total: int, skipped: int, workers: str) -> None:
        note = f", {skipped} already graded and unchanged" if skipped else ""
        self.console.print(f"{total} submissions to autograde on {workers}{note}")
        self.bar.start()
        self.task = self.bar.add_task("grade", total=total, failed=0)

    def finished(self, outcome: Outcome) -> None:
        self.failed += not outcome.success
        self.bar.update(self.task, advance=1, failed=self.failed)
        if not outcome.success:
            self.bar.console.print(
                f"[red]failed[/red] {escape(outcome.task.student)}/{escape(outcome.task.assignment)}: "
                f"{escape(str(outcome.error))}"
            )


def grade_table(result: GradeReport) -> Table:
    """Students down, assignments across: autograded points, and whether hand-grading waits."""
    assignments = sorted({s.assignment for s in result.scores})
    late_note = (" −N late: points the late policy takes off (nbgrader's late penalty)."
                 if any(s.late_penalty for s in result.scores) else "")
    table = Table(
        title="Autograded points per assignment",
        caption="; ".join(f"{a[:2]} = {a}" for a in assignments) + ". Written answers: hand-grade in formgrader."
                + late_note,
    )
    table.add_column("student")
    for assignment_id in assignments:
        table.add_column(assignment_id[:2], justify="right")
    table.add_column("written", justify="left")
    by_student: dict[str, dict[str, AssignmentScore]] = {}
    for score in result.scores:
        by_student.setdefault(score.student, {})[score.assignment] = score
    for student, scores in sorted(by_student.items()):
        cells = []
        pending = 0.0
        for assignment_id in assignments:
            s = scores.get(assignment_id)
            if s is None:
                cells.append("—")
                continue
            cells.append(f"{s.autograded:g} / {s.autograded_max:g}"
                         + (f" −{s.late_penalty:g} late" if s.late_penalty else ""))
            pending += s.written_max if s.needs_manual_grade else 0.0
        table.add_row(escape(student), *cells, _written_note(pending, list(scores.values())))
    return table


def _written_note(pending: float, scores: list[AssignmentScore]) -> str:
    """The written column: points waiting for a grader, else "nothing submitted" when every
    written answer was left blank (0 points, nothing to grade), else "done"."""
    if pending:
        return f"{pending:g} pts to grade"
    with_written = [s for s in scores if s.written_max > 0]
    blank = [s for s in with_written if s.written_blank]
    if with_written and len(blank) == len(with_written):
        return "nothing submitted"
    if blank:
        return "done; nothing submitted in " + ", ".join(escape(s.assignment[:2]) for s in blank)
    return "done"


def print_grades(result: GradeReport, console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 100)
    console.print(grade_table(result))
    for item in result.rejected:
        console.print(f"[red]rejected[/red] {escape(str(item.path))}: {escape(item.reason)}", soft_wrap=True)
    for outcome in result.failed:
        console.print(f"[red]not graded[/red] {escape(outcome.task.student)}/{escape(outcome.task.assignment)}: "
                      f"{escape(str(outcome.error))}", soft_wrap=True)
    for reason in (r for r in result.reasons if r.flagged):
        console.print(f"[yellow]flagged[/yellow] {escape(reason.student)}/{escape(reason.assignment)} "
                      f"({reason.row()['score']} / {reason.row()['max_score']}): "
                      f"{escape(clip('; '.join(reason.flags), FLAGS_WIDTH))}",
                      soft_wrap=True)
    if result.protections:
        style = "green" if "MISSING" not in result.protections and "OFF" not in result.protections else "red"
        console.print(f"[{style}]{escape(result.protections)}[/{style}]", soft_wrap=True)
    console.print(f"{result.graded} submissions autograded, {result.skipped} unchanged since last time")
    late = [s for s in result.scores if s.days_late]
    if late:
        points = sum(s.late_penalty for s in late)
        console.print(f"late: {len(late)} hand-in(s), {points:g} penalty points in all "
                      "(due dates, extensions, policy: docs/instructor-guide.md)")
    if result.grades_csv is not None:
        console.print(f"grades:   {escape(str(result.grades_csv))}", soft_wrap=True)
        if result.rejected:
            console.print(f"rejected: {escape(str(result.grades_csv.with_name('rejected.csv')))}", soft_wrap=True)
        console.print(f"reasons:  {escape(str(result.grades_csv.with_name('reasons.csv')))} "
                      "(why each hand-in scored what it did)", soft_wrap=True)
    console.print(f"feedback: {escape(str(result.feedback_dir))}/<student>/<assignment>/*.html", soft_wrap=True)


def item_table(items: pd.DataFrame) -> Table:
    """The item analysis: one row per test, the share failing as a percentage, and the
    commonest failures whole (wrapped to the terminal, never cut). Assignments are shown by
    their number (the caption says which is which) and tests never wrap, so the failures
    get the width."""
    assignments = sorted({str(a) for a in items.assignment})
    short = {a: a[:2] for a in assignments} if len({a[:2] for a in assignments}) == len(assignments) else {
        a: a for a in assignments}
    table = Table(title="Item analysis: who fails each test, and why",
                  caption="; ".join(f"{escape(short[a])} = {escape(a)}" for a in assignments if short[a] != a) or None)
    for name, justify, wrap in (("", "left", False), ("test", "left", False), ("points", "right", False),
                                ("students", "right", False), ("failing", "right", False),
                                ("share", "right", False), ("commonest failures (count)", "left", True)):
        table.add_column(name, justify=justify, overflow="fold", no_wrap=not wrap)
    for row in items.itertuples(index=False):
        table.add_row(escape(short[str(row.assignment)]), escape(str(row.test)), f"{row.points:g}", str(row.students),
                      str(row.failing), f"{100 * row.share_failing:.0f}%", escape(str(row.common_failures)))
    return table


def print_item_table(written: Written, console: Console | None = None) -> Console:
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    console.print(item_table(written.table))
    return console


def print_report(written: Written, console: Console | None = None) -> None:
    """The item analysis table and where the report's files went."""
    console = print_item_table(written, console)
    for key in ("html", "distribution", "items", "items_csv", "grades_csv"):
        console.print(f"{key:>12}: {escape(str(getattr(written, key)))}", soft_wrap=True)

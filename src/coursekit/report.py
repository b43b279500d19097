"""What an instructor reads after grading: the grade table and where files went."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from coursekit.grading import GradeReport


def grade_table(result: GradeReport) -> Table:
    """Students down, assignments across: autograded points, and whether hand-grading waits."""
    assignments = sorted({s.assignment for s in result.scores})
    table = Table(title="Autograded scores (written answers wait for formgrader)")
    table.add_column("student")
    for assignment_id in assignments:
        table.add_column(assignment_id, justify="right")
    table.add_column("written answers", justify="left")
    by_student: dict[str, dict[str, object]] = {}
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
            cells.append(f"{s.autograded:g} / {s.autograded_max:g}")
            pending += s.written_max if s.needs_manual_grade else 0.0
        note = f"{pending:g} points to hand-grade" if pending else "graded"
        table.add_row(student, *cells, note)
    return table


def print_grades(result: GradeReport, console: Console | None = None) -> None:
    console = console or Console()
    console.print(grade_table(result))
    for item in result.rejected:
        console.print(f"[red]rejected[/red] {item.path}: {item.reason}", soft_wrap=True)
    console.print(f"grades:   {result.grades_csv}", soft_wrap=True)
    console.print(f"feedback: {result.feedback_dir}/<student>/<assignment>/*.html", soft_wrap=True)

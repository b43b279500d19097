"""What an instructor reads after grading: the grade table and where files went."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from coursekit.grading import GradeReport, Reporter


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

    def finished(self, outcome) -> None:
        self.failed += not outcome.success
        self.bar.update(self.task, advance=1, failed=self.failed)
        if not outcome.success:
            self.bar.console.print(
                f"[red]failed[/red] {outcome.task.student}/{outcome.task.assignment}: {outcome.error}"
            )


def grade_table(result: GradeReport) -> Table:
    """Students down, assignments across: autograded points, and whether hand-grading waits."""
    assignments = sorted({s.assignment for s in result.scores})
    table = Table(
        title="Autograded points per assignment",
        caption="; ".join(f"{a[:2]} = {a}" for a in assignments) + ". Written answers: hand-grade in formgrader.",
    )
    table.add_column("student")
    for assignment_id in assignments:
        table.add_column(assignment_id[:2], justify="right")
    table.add_column("written", justify="left")
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
        note = f"{pending:g} pts to grade" if pending else "done"
        table.add_row(student, *cells, note)
    return table


def print_grades(result: GradeReport, console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 100)
    console.print(grade_table(result))
    for item in result.rejected:
        console.print(f"[red]rejected[/red] {item.path}: {item.reason}", soft_wrap=True)
    for outcome in result.failed:
        console.print(f"[red]not graded[/red] {outcome.task.student}/{outcome.task.assignment}: "
                      f"{outcome.error}", soft_wrap=True)
    flagged = [r for r in result.reasons if r["flags"] and not r["flags"].startswith("refused")]
    for row in flagged:
        console.print(f"[yellow]flagged[/yellow] {row['student']}/{row['assignment']} "
                      f"({row['score']} / {row['max_score']}): {row['flags']}", soft_wrap=True)
    if result.protections:
        style = "green" if "MISSING" not in result.protections and "OFF" not in result.protections else "red"
        console.print(f"[{style}]{result.protections}[/{style}]", soft_wrap=True)
    console.print(f"{result.graded} submissions autograded, {result.skipped} unchanged since last time")
    console.print(f"grades:   {result.grades_csv}", soft_wrap=True)
    if result.rejected:
        console.print(f"rejected: {result.grades_csv.with_name('rejected.csv')}", soft_wrap=True)
    console.print(f"reasons:  {result.grades_csv.with_name('reasons.csv')} (why each hand-in scored what it did)",
                  soft_wrap=True)
    console.print(f"feedback: {result.feedback_dir}/<student>/<assignment>/*.html", soft_wrap=True)


# --- coursekit report: distributions and item analysis ------------------------------------


def _failure_message(autograded_notebook, test_id: str, score: float = 0.0) -> str:
    """The first line of the error a test cell raised in one autograded notebook (a path,
    or the notebook already read)."""
    from coursekit import notebooks

    nb = autograded_notebook
    if not hasattr(nb, "cells"):
        try:
            nb = notebooks.read(autograded_notebook)
        except notebooks.NotebookError:
            return "notebook unreadable"
    for cell in nb.cells:
        if notebooks.grade_id(cell) == test_id:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
                    return message.splitlines()[0][:160] if message else "error"
            return "partial credit" if score > 0 else "no points, no error shown"
    return "test cell missing"


def item_analysis(*, gradebook, autograded_dir, assignments: list[str]):
    """One row per test cell: how many were graded, the share failing, the commonest error."""
    from collections import Counter

    import pandas as pd

    from coursekit.grading import read_test_scores

    rows = []
    for assignment_id in assignments:
        scores = read_test_scores(gradebook, assignment_id)
        tests = sorted({s.test for s in scores})
        for test in tests:
            of_test = [s for s in scores if s.test == test]
            failing = [s for s in of_test if not s.passed]
            messages = Counter(
                _failure_message(autograded_dir / s.student / assignment_id / f"{assignment_id}.ipynb", test, s.score)
                for s in failing
            )
            common = "; ".join(f"{m} ({n})" for m, n in messages.most_common(3))
            rows.append({
                "assignment": assignment_id, "test": test, "points": of_test[0].max_score,
                "students": len(of_test), "failing": len(failing),
                "share_failing": len(failing) / len(of_test) if of_test else 0.0,
                "common_failures": common,
            })
    return pd.DataFrame(rows, columns=["assignment", "test", "points", "students", "failing",
                                       "share_failing", "common_failures"])


def write_report(*, gradebook, autograded_dir, assignments: list[str], out_dir) -> dict[str, object]:
    """Grade distributions and item analysis as PNG charts, CSV tables and one HTML page."""
    import base64
    import html
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from coursekit.grading import read_assignment_scores

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = pd.DataFrame([s.__dict__ for s in read_assignment_scores(gradebook, assignments)])
    items = item_analysis(gradebook=gradebook, autograded_dir=autograded_dir, assignments=assignments)
    if scores.empty:
        raise ValueError(f"{gradebook}: no graded submissions to report on")
    scores["percent"] = 100 * scores["autograded"] / scores["autograded_max"].where(scores["autograded_max"] > 0)
    scores.to_csv(out_dir / "grades_by_student.csv", index=False)
    items.to_csv(out_dir / "item_analysis.csv", index=False)

    # Grade distribution: one panel per assignment plus the overall mean, same bins.
    panels = [*assignments, "overall"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), sharey=True, squeeze=False)
    overall = scores.groupby("student")["percent"].mean()
    bins = list(range(0, 101, 10))
    for ax, name in zip(axes[0], panels, strict=True):
        values = overall if name == "overall" else scores.loc[scores["assignment"] == name, "percent"]
        ax.hist(values.dropna(), bins=bins, color="#0072B2", edgecolor="white")
        ax.set_title(f"{name}\n(n = {values.notna().sum()}, median {values.median():.0f}%)", fontsize=9)
        ax.set_xlabel("autograded score (%)")
        ax.set_xlim(0, 100)
    axes[0][0].set_ylabel("students")
    fig.suptitle("How the class scored on the autograded questions")
    fig.tight_layout()
    distribution_png = out_dir / "grade_distribution.png"
    fig.savefig(distribution_png, dpi=120)
    plt.close(fig)

    # Item analysis: share of students failing each test, hardest at the top.
    ordered = items.sort_values(["share_failing", "assignment", "test"])
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(ordered), 4) + 1.2))
    labels = [f"{a} · {t}" for a, t in zip(ordered["assignment"], ordered["test"], strict=True)]
    ax.barh(labels, 100 * ordered["share_failing"], color="#D55E00")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students failing the test (%)")
    ax.set_title("Which tests the class fails most")
    fig.tight_layout()
    items_png = out_dir / "item_analysis.png"
    fig.savefig(items_png, dpi=120)
    plt.close(fig)

    def embed(path: Path, alt: str) -> str:
        data = base64.b64encode(path.read_bytes()).decode()
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'

    page = out_dir / "report.html"
    page.write_text(
        "<!doctype html><meta charset='utf-8'><title>Grading report</title>"
        "<h1>Grading report</h1>"
        + embed(distribution_png, "Histograms of autograded scores per assignment and overall")
        + "<h2>Item analysis</h2>"
        + embed(items_png, "Bar chart of the share of students failing each test")
        + items.to_html(index=False, float_format=lambda x: f"{x:.2f}")
        + _flagged_html(Path(gradebook).with_name("reasons.csv"))
        + "<h2>Scores</h2>" + scores.to_html(index=False, float_format=lambda x: f"{x:.1f}"),
        encoding="utf-8",
    )
    return {"html": page, "distribution": distribution_png, "items": items_png,
            "items_csv": out_dir / "item_analysis.csv", "grades_csv": out_dir / "grades_by_student.csv",
            "table": items}


def _flagged_html(reasons_csv) -> str:
    """The hand-ins the last grading run flagged or refused, from build/reasons.csv."""
    import pandas as pd

    if not reasons_csv.exists():
        return ""
    rows = pd.read_csv(reasons_csv, dtype=str, keep_default_na=False)
    flagged = rows[rows["flags"] != ""][["student", "assignment", "score", "max_score", "flags"]]
    if flagged.empty:
        return "<h2>Flagged submissions</h2><p>None: no limit hit, no crash, nothing suspected, nothing refused.</p>"
    return ("<h2>Flagged submissions</h2><p>Limits hit, crashes, tampering suspected, mended or refused files "
            "(all reasons: reasons.csv). A flag is a reason to look, not a verdict.</p>"
            + flagged.to_html(index=False))


# --- why each submission scored what it did ----------------------------------------------


def submission_reasons(*, gradebook, autograded_dir, accepted, notes, rejected, failed, assignments) -> list[dict]:
    """One row per hand-in: its autograded score and a one-line reason.

    The reason lists, in this order, what collecting had to mend, what the sandbox and
    SafeExecute recorded (limits hit, kernel deaths, output dropped, tampering suspected;
    see coursekit.execute), and the first error of each test that lost points.
    """
    from pathlib import Path

    from coursekit import notebooks
    from coursekit.execute import INCIDENTS_KEY
    from coursekit.grading import read_assignment_scores, read_test_scores

    autograded_dir = Path(autograded_dir)
    scores = {(s.student, s.assignment): s for s in read_assignment_scores(gradebook, assignments)}
    tests = {}
    for assignment_id in assignments:
        for test in read_test_scores(gradebook, assignment_id):
            tests.setdefault((test.student, assignment_id), []).append(test)
    not_graded = {(o.task.student, o.task.assignment): o.error for o in failed}
    rows = []
    for student, assignment_id in sorted(accepted):
        if assignment_id not in assignments:
            continue
        flags = list(notes.get((student, assignment_id), []))
        path = autograded_dir / student / assignment_id / f"{assignment_id}.ipynb"
        if (student, assignment_id) in not_graded:
            flags.append(f"not graded: {not_graded[(student, assignment_id)]}")
        errors, nb = [], path
        if path.exists() and (student, assignment_id) not in not_graded:
            try:
                nb = notebooks.read(path)
                recorded = nb.metadata.get(INCIDENTS_KEY, {})
            except notebooks.NotebookError as error:
                recorded = {"incidents": [str(error)]}
            flags += recorded.get("incidents", [])
            errors = recorded.get("errors", [])
        lost = [f"{t.test}: {_failure_message(nb, t.test, t.score)}"
                for t in tests.get((student, assignment_id), []) if not t.passed]
        score = scores.get((student, assignment_id))
        rows.append({
            "student": student, "assignment": assignment_id,
            "score": "" if score is None else score.autograded,
            "max_score": "" if score is None else score.autograded_max,
            "flags": "; ".join(flags), "reason": "; ".join(flags + errors[:3] + lost[:3]) or "full marks",
        })
    for item in rejected:
        refused = f"refused {Path(item.path).name}: {item.reason}"
        rows.append({"student": item.student, "assignment": item.assignment, "score": "", "max_score": "",
                     "flags": refused, "reason": refused})
    return rows


def write_reasons(rows: list[dict], path) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["student", "assignment", "score", "max_score", "flags", "reason"])
        writer.writeheader()
        writer.writerows(rows)

"""`coursekit report`: grade distributions and item analysis (the share of students failing
each test), as PNG charts, CSV tables and one HTML page, from the gradebook and reasons.csv."""

from __future__ import annotations

import base64
import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # a Figure, not pyplot: no global backend or state

from coursekit.grader.course import Workspace
from coursekit.grader.errors import ReportError
from coursekit.grader.gradebook import read_assignment_scores, read_test_scores
from coursekit.grader.reasons import failure_message, read_graded

ITEM_COLUMNS = ["assignment", "test", "points", "students", "failing", "share_failing", "common_failures"]


@dataclass(frozen=True)
class Written:
    html: Path
    distribution: Path
    items: Path
    items_csv: Path
    grades_csv: Path
    table: pd.DataFrame


def item_analysis(*, workspace: Workspace, assignments: list[str]) -> pd.DataFrame:
    """One row per test cell: how many were graded, the share failing, the commonest errors."""
    rows = []
    graded_cache: dict[tuple[str, str], list] = {}
    for assignment_id in assignments:
        scores = read_test_scores(workspace.gradebook, assignment_id)
        for test in sorted({s.test for s in scores}):
            of_test = [s for s in scores if s.test == test]
            failing = [s for s in of_test if not s.passed]
            messages = Counter()
            for s in failing:
                key = (s.student, assignment_id)
                if key not in graded_cache:
                    graded_cache[key] = read_graded(workspace.autograded_notebooks(*key))[0]
                messages[failure_message(graded_cache[key], test, s.score)] += 1
            rows.append({
                "assignment": assignment_id, "test": test, "points": of_test[0].max_score,
                "students": len(of_test), "failing": len(failing),
                "share_failing": len(failing) / len(of_test) if of_test else 0.0,
                "common_failures": "; ".join(f"{m} ({n})" for m, n in messages.most_common(3)),
            })
    return pd.DataFrame(rows, columns=ITEM_COLUMNS)


CHART_DPI = 120
MAX_CHART_WIDTH = 10  # inches: 1200 px at CHART_DPI, what a laptop screen shows unscaled
PANELS_PER_ROW = 3
HAND_GRADING = {True: "needs hand grading", False: "autograded only"}  # needs_manual_grade, in words
HAND_GRADING_COLOURS = {True: "#E69F00", False: "#0072B2"}
SCORE_COLUMNS = {"student": "student", "assignment": "assignment", "autograded": "autograded points",
                 "autograded_max": "of", "written_max": "written points", "needs_manual_grade": "hand grading",
                 "written_blank": "written answers", "days_late": "days late", "late_penalty": "late penalty",
                 "percent": "autograded %"}


def save_chart(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=CHART_DPI)
    return path


def distribution_figure(scores: pd.DataFrame, assignments: list[str]) -> Figure:
    """One histogram per assignment plus the overall mean, same bins, at most three to a row
    (a laptop's width); each bar split into hand-ins that still need hand grading and those
    that are autograded only."""
    panels = [*assignments, "overall"]
    columns = min(len(panels), PANELS_PER_ROW)
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(min(MAX_CHART_WIDTH, 3.3 * columns), 2.8 * rows + 1.0))
    axes = fig.subplots(rows, columns, sharey=True, squeeze=False)
    overall = scores.groupby("student").agg(percent=("percent", "mean"),
                                            needs_manual_grade=("needs_manual_grade", "any"))
    for n, ax in enumerate(axes.ravel()):
        if n >= len(panels):
            ax.set_visible(False)
            continue
        name = panels[n]
        frame = overall if name == "overall" else scores.loc[scores["assignment"] == name]
        groups = [frame.loc[frame["needs_manual_grade"] == pending, "percent"].dropna() for pending in (False, True)]
        ax.hist(groups, bins=list(range(0, 101, 10)), stacked=True, edgecolor="white",
                color=[HAND_GRADING_COLOURS[False], HAND_GRADING_COLOURS[True]],
                label=[HAND_GRADING[False], HAND_GRADING[True]])
        values = frame["percent"]
        ax.set_title(f"{name}\n(n = {values.notna().sum()}, median {values.median():.0f}%)", fontsize=9)
        ax.set_xlabel("autograded score (%)", fontsize=8)
        ax.set_xlim(0, 100)
        if n % columns == 0:
            ax.set_ylabel("students")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.suptitle("How the class scored on the autograded questions")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _distribution_chart(scores: pd.DataFrame, assignments: list[str], path: Path) -> Path:
    return save_chart(distribution_figure(scores, assignments), path)


def _items_chart(items: pd.DataFrame, path: Path) -> Path:
    """The share of students failing each test, hardest at the top."""
    ordered = items.sort_values(["share_failing", "assignment", "test"])
    fig = Figure(figsize=(7, 0.35 * max(len(ordered), 4) + 1.2))
    ax = fig.subplots()
    labels = [f"{a} · {t}" for a, t in zip(ordered["assignment"], ordered["test"], strict=True)]
    ax.barh(labels, 100 * ordered["share_failing"], color="#D55E00")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students failing the test (%)")
    ax.set_title("Which tests the class fails most")
    fig.tight_layout()
    return save_chart(fig, path)


def readable_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores table as people read it: column names and hand grading in words."""
    shown = scores.assign(needs_manual_grade=scores["needs_manual_grade"].map(HAND_GRADING),
                          written_blank=scores["written_blank"].map({True: "nothing submitted", False: ""}))
    return shown.rename(columns=SCORE_COLUMNS)


def _embed(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _flagged_html(reasons_csv: Path) -> str:
    """The hand-ins the last grading run flagged or refused, from reasons.csv."""
    if not reasons_csv.exists():
        return ""
    rows = pd.read_csv(reasons_csv, dtype=str, keep_default_na=False)
    flagged = rows[rows["flags"] != ""][["student", "assignment", "score", "max_score", "flags"]]
    if flagged.empty:
        return "<h2>Flagged submissions</h2><p>None: no limit hit, no crash, nothing suspected, nothing refused.</p>"
    return ("<h2>Flagged submissions</h2><p>Limits hit, crashes, tampering suspected, mended or refused files "
            "(all reasons: reasons.csv). A flag is a reason to look, not a verdict.</p>"
            + flagged.to_html(index=False))


def _late_html(scores: pd.DataFrame) -> str:
    """How many hand-ins were late and what the late policy took off (nbgrader's late penalty)."""
    late = scores[scores["days_late"] > 0]
    if late.empty:
        return "<h2>Late work</h2><p>No hand-in was late (or no due dates are set: c.LatePolicy.due).</p>"
    shown = late[["student", "assignment", "days_late", "late_penalty"]].rename(columns=SCORE_COLUMNS)
    return (f"<h2>Late work</h2><p>{len(late)} of {len(scores)} hand-ins late; "
            f"{late['late_penalty'].sum():g} penalty points in all (not taken off the autograded points "
            "above; nbgrader's total score, in grades.csv and formgrader, has them taken off).</p>"
            + shown.to_html(index=False, float_format=lambda x: f"{x:g}"))


def write_report(*, workspace: Workspace, assignments: list[str], out_dir: Path | None = None) -> Written:
    """Charts, tables and one HTML page in `out_dir` (default: the workspace's report/)."""
    out_dir = Path(out_dir or workspace.report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = pd.DataFrame([s.__dict__ for s in read_assignment_scores(workspace.gradebook, assignments)])
    if scores.empty:
        raise ReportError(f"{workspace.gradebook}: no graded submissions to report on")
    items = item_analysis(workspace=workspace, assignments=assignments)
    scores["percent"] = 100 * scores["autograded"] / scores["autograded_max"].where(scores["autograded_max"] > 0)
    written = Written(
        html=out_dir / "report.html",
        distribution=_distribution_chart(scores, assignments, out_dir / "grade_distribution.png"),
        items=_items_chart(items, out_dir / "item_analysis.png"),
        items_csv=out_dir / "item_analysis.csv", grades_csv=out_dir / "grades_by_student.csv", table=items)
    scores.to_csv(written.grades_csv, index=False)
    items.to_csv(written.items_csv, index=False)
    written.html.write_text(
        "<!doctype html><meta charset='utf-8'><title>Grading report</title>"
        "<h1>Grading report</h1>"
        + _embed(written.distribution, "Histograms of autograded scores per assignment and overall")
        + "<h2>Item analysis</h2>"
        + _embed(written.items, "Bar chart of the share of students failing each test")
        + items.to_html(index=False, float_format=lambda x: f"{x:.2f}")
        + _flagged_html(workspace.reasons_csv)
        + _late_html(scores)
        + "<h2>Scores</h2>" + readable_scores(scores).to_html(index=False, float_format=lambda x: f"{x:.1f}"),
        encoding="utf-8",
    )
    return written

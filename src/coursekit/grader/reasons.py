"""Why each hand-in scored what it did: one row per hand-in, written to reasons.csv.

A reason lists, in this order, what collecting had to mend, what SafeExecute recorded
(limits hit, kernel deaths, output dropped, tampering suspected; see
coursekit.grader.execution.safe_execute), and the first error of each test that lost
points. Hand-ins refused before grading get a row too, saying why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from coursekit import notebooks
from coursekit.grader import cells
from coursekit.grader.collect import Collected, Rejected
from coursekit.grader.course import Workspace
from coursekit.grader.execution.safe_execute import INCIDENTS_KEY
from coursekit.grader.gradebook import AssignmentScore, read_assignment_scores, read_test_scores
from coursekit.grader.text import clip
from coursekit.grader.worker import Outcome

COLUMNS = ("student", "assignment", "score", "max_score", "flags", "reason")


@dataclass(frozen=True)
class Reason:
    student: str
    assignment: str
    score: float | None  # None: not graded (refused, or nbgrader could not finish)
    max_score: float | None
    flags: tuple[str, ...] = ()  # limits hit, crashes, tampering suspected, mended or refused files
    details: tuple[str, ...] = ()  # errors in the student's cells, tests that lost points
    refused: bool = False  # refused before grading (collect)

    @property
    def flagged(self) -> bool:
        """Worth a look by the instructor (refusals are listed on their own)."""
        return bool(self.flags) and not self.refused

    @property
    def text(self) -> str:
        return "; ".join(self.flags + self.details) or "full marks"

    def short(self, width: int = 160) -> str:
        """The reason in at most `width` characters, cut at a word with "…" (terminal)."""
        return clip(self.text, width)

    def row(self) -> dict[str, str]:
        return {"student": self.student, "assignment": self.assignment,
                "score": "" if self.score is None else str(self.score),
                "max_score": "" if self.max_score is None else str(self.max_score),
                "flags": "; ".join(self.flags), "reason": self.text}


def write_reasons(reasons: Iterable[Reason], path: Path) -> Path:
    with Path(path).open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(r.row() for r in reasons)
    return Path(path)


def write_rejections(rejected: list[Rejected], path: Path) -> Path:
    """Every hand-in that could not be graded, with the reason, for the instructor's records."""
    with Path(path).open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["path", "reason"])
        for item in rejected:
            writer.writerow([item.path, item.reason])
    return Path(path)


def _error_line(output, notebook_cells: list, index: int) -> str:
    """"Name: first line of the message", whole; a bare name (nothing after it) names the
    question the test checks instead, so the line still says what went wrong."""
    name = str(output.get("ename") or "Error")
    lines = [line.strip() for line in str(output.get("evalue") or "").splitlines() if line.strip()]
    if lines:
        return f"{name}: {lines[0]}"
    return f"{name} with no message, in {cells.question(notebook_cells, index)}"


def failure_message(graded: list[NotebookNode], test_id: str, score: float = 0.0) -> str:
    """The first line of the error a test cell raised, in the autograded notebooks of one
    hand-in, whole (the CSV keeps it all; the terminal caps it with `Reason.short`)."""
    for nb in graded:
        for cell in nb.cells:
            if cells.grade_id(cell) == test_id:
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        return _error_line(output, nb.cells, nb.cells.index(cell))
                return "partial credit" if score > 0 else "no points, no error shown"
    return "test cell missing" if graded else "notebook unreadable"


def read_graded(paths: list[Path]) -> tuple[list[NotebookNode], list[str]]:
    """The autograded notebooks of one hand-in, and any that could not be read."""
    graded, unreadable = [], []
    for path in paths:
        if not Path(path).is_file() or Path(path).is_symlink():  # never follow a link or open a pipe
            unreadable.append(f"{path}: not a regular file; not read")
            continue
        try:
            graded.append(notebooks.read(path))
        except notebooks.NotebookError as error:
            unreadable.append(str(error))
    return graded, unreadable


def _graded_reason(workspace: Workspace, key: tuple[str, str], scores, tests, notes, not_graded) -> Reason:
    flags = list(notes.get(key, []))
    details: list[str] = []
    graded: list[NotebookNode] = []
    if key in not_graded:
        flags.append(f"not graded: {not_graded[key]}")
    else:
        graded, unreadable = read_graded(workspace.autograded_notebooks(*key))
        flags += unreadable
        for nb in graded:
            recorded = nb.metadata.get(INCIDENTS_KEY, {})
            flags += recorded.get("incidents", [])
            details += recorded.get("errors", [])[:3]
    lost = [f"{t.test}: {failure_message(graded, t.test, t.score)}" for t in tests.get(key, []) if not t.passed]
    score = scores.get(key)
    return Reason(student=key[0], assignment=key[1],
                  score=None if score is None else score.autograded,
                  max_score=None if score is None else score.autograded_max,
                  flags=tuple(flags), details=tuple(details[:3] + lost))  # every failing test


def submission_reasons(*, workspace: Workspace, collected: Collected, failed: list[Outcome],
                       assignments: list[str], scores: list[AssignmentScore] | None = None) -> list[Reason]:
    """One Reason per hand-in of `assignments`, then one per refused file. `scores`: the
    gradebook's (read_assignment_scores), if the caller has read them already."""
    if scores is None:
        scores = read_assignment_scores(workspace.gradebook, assignments)
    scores = {(s.student, s.assignment): s for s in scores}
    tests: dict[tuple[str, str], list] = {}
    for assignment_id in assignments:
        for test in read_test_scores(workspace.gradebook, assignment_id):
            tests.setdefault((test.student, assignment_id), []).append(test)
    not_graded = {(o.task.student, o.task.assignment): o.error for o in failed}
    reasons = [_graded_reason(workspace, key, scores, tests, collected.notes, not_graded)
               for key in sorted(collected.accepted) if key[1] in assignments]
    for item in collected.rejected:
        refused = f"refused {Path(item.path).name}: {item.reason}"
        reasons.append(Reason(student=item.student, assignment=item.assignment, score=None, max_score=None,
                              flags=(refused,), refused=True))
    return reasons

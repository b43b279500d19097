"""Feedback that never shows hidden tests.

Stock nbgrader renders feedback from the autograded notebook, into which autograde has
restored every hidden test, so students read the hidden code (jupyter/nbgrader#917) and
the next class gets it from them. This preprocessor, run by `generate_feedback` (see
nbgrader_config.py), replaces each hidden region with a one-line note and cuts the
traceback of a failed test cell down to its error and message: the student learns which
test failed and why, never how the hidden test was written.

It also makes the page readable (the `coursekit_feedback` template shows it): each graded
cell is labelled by its question (the heading above it, or its grade_id in words), a
written answer no one has graded yet says "to be graded" (FeedbackGrades, nbgrader's
GetGrades that also reads whether a grade waits for a grader), and no output shows a path
of the grading machine (its Python, site-packages, the course folder): a library's file
becomes `<grader>/name.py`, any other absolute path its base name.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

from coursekit.grader import cells, late

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests ran here; they are not shown)"
LATE_KEY = "coursekit_late"  # resources: the feedback's line about a late hand-in
LABELS = "coursekit"  # cell metadata the template reads; set here for every cell, never taken from a hand-in
GRADER = "<grader>"
# An absolute path: not part of a URL or of a relative path (nothing word-like, ':' or '/' before it).
_PATH = re.compile(r"(?<![\w:/.~-])(/(?:[^\s/:'\"()\[\],;\x1b]+/)+)([^\s/:'\"()\[\],;\x1b]+)")
_ANSI = re.compile(r"(\x1b\[[0-9;]*[A-Za-z])")
_LIBRARY = ("/site-packages/", "/dist-packages/", "/.pyenv/", "/lib/python")


def strip_paths(text: str) -> str:
    """`text` with every absolute path cut to its base name, and a library's or Python's own
    file shown as `<grader>/name` (where the grader installed things is nobody's business)."""
    def short(match: re.Match) -> str:
        folder, name = match.group(1), match.group(2)
        return f"{GRADER}/{name}" if any(part in folder for part in _LIBRARY) else name

    # a terminal colour code may sit right before a path: paths are looked for between them
    return "".join(part if _ANSI.fullmatch(part) else _PATH.sub(short, part) for part in _ANSI.split(text))


def hide_hidden_region(source: str) -> tuple[str, bool]:
    """The source with every hidden-test region replaced by one placeholder line."""
    lines, kept, inside, hidden = source.splitlines(), [], False, False
    for line in lines:
        if BEGIN in line:
            inside = hidden = True
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(indent + PLACEHOLDER)
        elif END in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), hidden


class FeedbackGrades(GetGrades):
    """nbgrader's GetGrades, which also records whether a grade still waits for a grader (no
    manual score yet, and autograding could not score it): the page says "to be graded".
    For a late hand-in it also says how late, against which (extended) due date, under which
    policy, and what it cost (resources["coursekit_late"], plain text; coursekit.grader.late)."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        nb, resources = super().preprocess(nb, resources)
        resources.pop(LATE_KEY, None)
        with Gradebook(self.db_url) as gb:
            try:
                submission = gb.find_submission(self.assignment_id, self.student_id)
            except MissingEntry:
                return nb, resources
            found = late.lateness_of(submission)
        if found.seconds_late > 0:
            folder = Path(str(resources.get("metadata", {}).get("path") or "."))
            resources[LATE_KEY] = late.feedback_line(found, late.penalty_plugin(self.config),
                                                     _small_text(folder / late.TIME_UNKNOWN))
        return nb, resources

    def _get_score(self, cell: NotebookNode, resources) -> None:
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["to_be_graded"] = grade.manual_score is None and bool(grade.needs_manual_grade)


def _small_text(path: Path) -> str:
    """A short note coursekit left beside the hand-in ("" if none): never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return handle.read(1000).decode("utf-8", "replace")


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden test code, and the tracebacks that would quote it, from feedback; label
    each graded cell by its question; strip the grading machine's paths from outputs."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        for index, cell in enumerate(nb.cells):
            cell.metadata.pop(LABELS, None)  # a hand-in's own: never shown as ours
            nbgrader = cell.metadata.get("nbgrader") or {}
            if nbgrader.get("grade") and nbgrader.get("grade_id"):
                cell.metadata[LABELS] = {"question": cells.question(nb.cells, index)}
            elif "to_be_graded" in nbgrader:
                del nbgrader["to_be_graded"]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["evalue"] = strip_paths(str(output.get("evalue", "")))
                output["traceback"] = [strip_paths(str(line)) for line in output.get("traceback", [])]
            elif output.get("output_type") == "stream":
                output["text"] = strip_paths(str(output.get("text", "")))
        if cell.cell_type == "code" and cells.is_test(cell):
            cell.source, _ = hide_hidden_region(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    # A traceback quotes the failing line; the message is the helpful part.
                    message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".rstrip(": ")
                    output["traceback"] = [message]
        return cell, resources

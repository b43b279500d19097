"""Feedback that never shows hidden tests.

Stock nbgrader renders feedback from the autograded notebook, into which autograde has
restored every hidden test, so students read the hidden code (jupyter/nbgrader#917) and
the next class gets it from them. This preprocessor, run by `generate_feedback` (see
nbgrader_config.py), replaces each hidden region with a one-line note and cuts the
traceback of a failed test cell down to its error and message: the student learns which
test failed and why, never how the hidden test was written.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from coursekit.grader import cells

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests ran here; they are not shown)"


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


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden test code, and the tracebacks that would quote it, from feedback."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if cell.cell_type == "code" and cells.is_test(cell):
            cell.source, _ = hide_hidden_region(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    # A traceback quotes the failing line; the message is the helpful part.
                    message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".rstrip(": ")
                    output["traceback"] = [message]
        return cell, resources

"""Find attempts to subvert the autograder's tests in a student's notebook, without running it.

The grader calls `scan_notebook` on a submitted notebook before nbgrader executes it and
puts `summary(...)` (one line) in the instructor's report; a finding never changes a score.
Only the code a student could have written is scanned: nbgrader restores the locked and
test cells from the release before grading, so what a student wrote in them never runs.

This is a tripwire, not a proof. It reads the syntax tree (`ast`) and resolves import
aliases, so `import numpy.testing as npt; npt.assert_allclose = ...` is seen for what it is,
but a student who builds names at run time (`getattr(mod, "assert_" + "allclose")`, code
hidden in strings) can evade any static check. That is why the escape hatches themselves
(`exec`, `eval`, `compile`, `__import__`, `ctypes`, `gc`, `sys.modules`, `get_ipython()`)
are reported wherever they appear: ordinary answers to this course never need them.

Written here because no maintained library does static tamper detection for notebooks:
linters (ruff, pylint) and security scanners (bandit) report risky code in general, not
code that rebinds what a test relies on, and Otter-Grader and nbgrader only restore cells.
"""


from __future__ import annotations

from dataclasses import dataclass

import nbformat

from coursekit.grader import cells
from coursekit.grader.execution.tamper_rules import _Namespace, _parse
from coursekit.grader.execution.tamper_scanner import _Scanner


@dataclass(frozen=True)
class Finding:
    cell: str  # the cell's nbgrader grade_id if it has one, else f"cell {index}"
    line: int  # 1-based line in the cell source
    what: str  # short human text, e.g. "assigns builtins.isinstance"


def scan_source(source: str, *, cell: str = "cell") -> list[Finding]:
    """Findings in one cell's code, with the setup cell's aliases (np, pd, plt) known."""
    return _scan_cell(source, cell, _Namespace.seeded())


def scan_notebook(nb: nbformat.NotebookNode) -> list[Finding]:
    """Findings in every cell a student could have written, in notebook order.

    Aliases carry over from one scanned cell to the next, as they do in the kernel.
    """
    namespace = _Namespace.seeded()
    findings: list[Finding] = []
    for index, cell in enumerate(nb.cells):
        if not cells.written_by_student(cell):
            continue
        name = cells.grade_id(cell) or f"cell {index}"
        source = cell.get("source", "")
        if not isinstance(source, str):
            source = "".join(source)
        findings.extend(_scan_cell(source, name, namespace))
    return findings


def summary(findings: list[Finding], limit: int = 3) -> str:
    """One line for the instructor's report, or "" when nothing was found.

    At most `limit` findings (at least one) are named; the rest are counted.
    """
    if not findings:
        return ""
    shown = findings[: max(limit, 1)]
    parts = [" ".join(f"{f.cell} line {f.line} {f.what}".split()) for f in shown]
    text = "tampering suspected: " + "; ".join(parts)
    if len(findings) > len(shown):
        text += f" (+{len(findings) - len(shown)} more)"
    return text


def _scan_cell(source: str, cell: str, namespace: _Namespace) -> list[Finding]:
    source = source.replace("\r\n", "\n").replace("\r", "\n")  # same line numbers, simpler magic patterns
    try:
        tree = _parse(source)
        if tree is None:  # a syntax error is a wrong answer, not tampering
            return []
        scanner = _Scanner(namespace)
        scanner.scan(tree)
    except RecursionError:  # the kernel may compile what is too deep for this scan
        return [Finding(cell, 1, "too deeply nested to scan")]
    return [Finding(cell, line, what) for line, what in sorted(scanner.findings, key=lambda item: item[0])]

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

import re
from dataclasses import dataclass, replace

import nbformat

from coursekit.grader import cells
from coursekit.grader.execution.tamper_rules import _Namespace, _parse, _parses
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


# Cell magics whose body runs as Python outside the kernel's namespace, or is saved as a
# file the kernel may import or %run later: the body is scanned as a module of its own.
FILE_MAGICS = frozenset({"writefile", "file"})
SUBPROCESS_PYTHON = frozenset({"python", "python2", "python3", "pypy"})
SHELL_MAGICS = frozenset({"bash", "sh", "zsh", "system", "sx", "script", "perl", "ruby"})
# A shell command that runs or writes Python where the kernel would pick it up.
_SHELL_PYTHON = re.compile(r"python|\.pyc?\b|\.pth\b|sitecustomize|usercustomize|site-packages|\.ipython|IPYTHON")
_SHELL_LINE = re.compile(
    r"^[ \t]*(?:[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*[ \t]*=[ \t]*)?(?:!!?|%(?:system|sx)\b)(?P<command>.*)$")
_RUN_LINE = re.compile(r"^[ \t]*%run\b(?P<args>.*)$")


def _scan_cell(source: str, cell: str, namespace: _Namespace) -> list[Finding]:
    source = source.replace("\r\n", "\n").replace("\r", "\n")  # same line numbers, simpler magic patterns
    magic = _cell_magic(source, cell)
    if magic is not None:
        return magic
    try:
        tree = _parse(source)
        if tree is None:  # a syntax error is a wrong answer, not tampering
            return []
        scanner = _Scanner(namespace)
        scanner.scan(tree)
    except RecursionError:  # the kernel may compile what is too deep for this scan
        return [Finding(cell, 1, "too deeply nested to scan")]
    found = [Finding(cell, line, what) for line, what in scanner.findings]
    if not _parses(source):  # magics only where IPython syntax is (not in strings)
        found += _line_magics(source, cell)
    return sorted(found, key=lambda finding: finding.line)


def _cell_magic(source: str, cell: str) -> list[Finding] | None:
    """Findings in a cell magic's body that is not the kernel's own Python (None: not such a cell).

    %%writefile/%%file and %%python/%%script python bodies are scanned as modules of their
    own (a module written here and imported later patches the kernel all the same); a shell
    body is reported when it runs or writes Python.
    """
    first, _, body = source.partition("\n")
    head = first.strip()
    if not head.startswith("%%"):
        return None
    words = head[2:].split()
    name, args = (words[0], words[1:]) if words else ("", [])
    interpreter = args[0].rsplit("/", 1)[-1] if name == "script" and args else ""
    if name in FILE_MAGICS or name in SUBPROCESS_PYTHON or interpreter.startswith(("python", "pypy")):
        found = [replace(f, line=f.line + 1) for f in _scan_cell(body, cell, _Namespace.seeded())]
        target = next((a for a in args if not a.startswith("-")), "")
        if name in FILE_MAGICS and target.endswith(".py"):
            found.insert(0, Finding(cell, 1, f"writes {target} with %%{name}"))
        return found
    if name in SHELL_MAGICS:
        for number, line in enumerate(body.split("\n"), start=2):
            if _SHELL_PYTHON.search(line):
                return [Finding(cell, number, f"runs or writes Python from %%{name}")]
        return []
    return None


def _line_magics(source: str, cell: str) -> list[Finding]:
    """%run and shell escapes (!cmd, x = !cmd, %system, %sx) that run or write Python."""
    found = []
    for number, line in enumerate(source.split("\n"), start=1):
        if match := _RUN_LINE.match(line):
            target = next((a for a in match["args"].split() if not a.startswith("-")), "a file")
            found.append(Finding(cell, number, f"runs {target} with %run"))
        elif (match := _SHELL_LINE.match(line)) and _SHELL_PYTHON.search(match["command"]):
            found.append(Finding(cell, number, "runs or writes Python from a shell escape"))
    return found

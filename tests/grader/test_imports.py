"""Do imports point one way? A short check of the package's import graph, read from the
source with `ast` (nothing is imported): no cycles, the student toolkit never reaches the
grader or the judge, the layers of docs/design.md hold, and imports inside functions are only
the few that say why.

`coursekit.judge` is grader code kept outside `coursekit.grader` on purpose: its kernel-side
part and codec are imported inside the student's kernel (the sandbox mounts src/), and that
import must not pull in the grader. So the judge imports nothing of `coursekit.grader`, and
only `grader.execution` (SafeExecute) imports the judge."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src"
TOOLKIT = {"coursekit", "coursekit.seeds", "coursekit.charts", "coursekit.claims", "coursekit.notebooks",
           "coursekit.errors"}
# Imports inside a function, each for a reason given where it is written.
LOCAL_IMPORTS_ALLOWED = {
    ("coursekit.grader.autograde", "distributed"),  # heavy, only for --dask
    ("coursekit.grader.isolation.kernels", "ipykernel.kernelapp"),  # only in the kernel-to-be
    # only in the zygote (the grading worker itself never imports matplotlib)
    ("coursekit.grader.isolation.kernels", "matplotlib.backends"),
}
# The judge's imports inside functions, by module: what each may import there, and why.
JUDGE_LOCAL_IMPORTS_ALLOWED = {
    # runs in the student's kernel: IPython's display and matplotlib only when a call needs them
    "coursekit.judge.kernel_side": ("IPython", "matplotlib", "coursekit", "sys", "numpy"),
    # matplotlib (heavy) only once a chart is encoded or rebuilt
    "coursekit.judge.axes": ("matplotlib", "numpy", "coursekit"),
    "coursekit.judge.rebuild": ("matplotlib", "numpy", "pandas.plotting"),
    "coursekit.judge.rebuild_checks": ("matplotlib", "numpy"),
    # the judge process: its heavy imports after it has said it is starting
    "coursekit.judge.worker": ("IPython.lib.pretty", "matplotlib", "numpy", "pandas", "coursekit"),
    "coursekit.judge.bridge": ("jupyter_core.utils", "zmq"),  # only for an async kernel client
    "coursekit.judge.process": ("resource",  # in the judge's child, before exec
                                "coursekit.judge.zygote"),  # only when a warm judge is asked for
    # the zygote process imports the judge's heavy modules once, before forking judges
    "coursekit.judge.zygote": ("matplotlib", "coursekit.judge.worker"),
}
# Lower layers never import higher ones (docs/design.md): module prefix -> what it must not import.
FORBIDDEN = {
    "coursekit.grader.course": ("coursekit.grader.pipeline", "coursekit.grader.autograde", "coursekit.grader.cli"),
    "coursekit.grader.collect": ("coursekit.grader.pipeline", "coursekit.grader.autograde", "coursekit.grader.report"),
    "coursekit.grader.gradebook": ("coursekit.grader.pipeline", "coursekit.grader.report", "coursekit.grader.reasons"),
    "coursekit.grader.reasons": ("coursekit.grader.pipeline", "coursekit.grader.report", "coursekit.grader.terminal"),
    "coursekit.grader.autograde": ("coursekit.grader.pipeline", "coursekit.grader.reasons", "coursekit.grader.report"),
    "coursekit.grader.execution": ("coursekit.grader.isolation", "coursekit.grader.pipeline",
                                   "coursekit.grader.autograde"),
    "coursekit.grader.isolation": ("coursekit.grader.execution", "coursekit.grader.pipeline",
                                   "coursekit.grader.autograde"),
    "coursekit.grader.report": ("coursekit.grader.pipeline", "coursekit.grader.autograde"),
    "coursekit.grader.pipeline": ("coursekit.grader.cli", "coursekit.grader.terminal", "coursekit.grader.gate"),
    "coursekit.judge": ("coursekit.grader",),  # imported in the student's kernel: never the grader
}
# Who may import the judge: SafeExecute's layer only.
JUDGE_IMPORTERS = ("coursekit.judge", "coursekit.grader.execution")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions) of one file, as module names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, local = set(), set()
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = names = {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = {node.module}
            names = modules | {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
        else:
            continue
        if id(node) in inside:
            local |= modules
        else:
            top |= names
    return top, local


def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        top, _ = _imports(path)
        edges[name] = {m for m in top if m in modules and m != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (each reported once, from where it was met)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_the_import_graph_has_no_cycles():
    """Is there no import cycle anywhere in the package?"""
    assert cycles(graph()) == []


def test_the_cycle_check_bites():
    """Would a cycle be found (the check is not vacuous)?"""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_student_toolkit_never_imports_the_grader():
    """Does nothing students receive depend on coursekit.grader?"""
    edges = graph()
    assert TOOLKIT <= set(edges)
    for name in TOOLKIT:
        assert not {m for m in edges[name] if m.startswith(("coursekit.grader", "coursekit.judge"))}, name


def test_only_safe_execute_imports_the_judge():
    """Is the judge reached only through grader.execution (and itself)?"""
    edges = graph()
    assert any(m.startswith("coursekit.judge") for m in edges["coursekit.grader.execution.safe_execute"])
    wrong = [(name, m) for name, targets in edges.items() for m in targets
             if m.startswith("coursekit.judge") and not name.startswith(JUDGE_IMPORTERS)]
    assert wrong == []


def test_lower_layers_never_import_higher_ones():
    """cli -> pipeline -> {collect, autograde, gradebook, reasons} -> course; autograde ->
    execution, isolation; report -> gradebook, reasons: never the other way."""
    edges = graph()
    wrong = [(name, m) for name, targets in edges.items() for m in targets
             for low, high in FORBIDDEN.items() if (name == low or name.startswith(low + "."))
             and any(m == h or m.startswith(h + ".") for h in high)]
    assert wrong == []


def test_imports_inside_functions_are_the_documented_few():
    """Is every import inside a grader function one of the few that say why?"""
    found = set()
    for path in (SRC / "coursekit" / "grader").rglob("*.py"):
        if path.name == "guard.py":  # the guard's own imports run in the kernel (see its docstring)
            continue
        _, local = _imports(path)
        found |= {(_module_name(path), m) for m in local}
    assert found <= LOCAL_IMPORTS_ALLOWED, found - LOCAL_IMPORTS_ALLOWED


def test_the_judges_imports_inside_functions_are_the_documented_few():
    """Is every import inside a judge function one its module is allowed (see above)?"""
    wrong = set()
    for path in (SRC / "coursekit" / "judge").rglob("*.py"):
        name = _module_name(path)
        _, local = _imports(path)
        allowed = JUDGE_LOCAL_IMPORTS_ALLOWED.get(name, ())
        wrong |= {(name, m) for m in local if not any(m == a or m.startswith(a + ".") for a in allowed)}
    assert wrong == set()

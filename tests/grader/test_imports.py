"""Do imports point one way? A short check of the package's import graph, read from the
source with `ast` (nothing is imported): no cycles, the student toolkit never reaches the
grader, the layers of docs/design.md hold, and imports inside functions are only the few
that say why."""

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
}


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
        assert not {m for m in edges[name] if m.startswith("coursekit.grader")}, name


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

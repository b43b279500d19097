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

import ast
import re
from dataclasses import dataclass, field

import nbformat

# Modules a test cell relies on; an assignment into any of them can make a test lie.
PROTECTED_ROOTS = frozenset({
    "builtins", "numpy", "pandas", "math", "operator", "unittest", "sys", "pytest",
    "IPython", "ipykernel", "coursekit",
})
# Display options: changing them cannot make a test pass.
UNPROTECTED_PREFIXES = ("pandas.options.", "pandas.options[")

# Builtins the test cells call; rebinding one in the notebook's namespace changes every test.
TEST_BUILTINS = frozenset({
    "isinstance", "type", "len", "round", "abs", "set", "sorted", "sum", "min", "max", "float",
    "int", "str", "bool", "list", "dict", "tuple", "print", "range", "all", "any", "repr",
    "hasattr", "getattr", "id", "AssertionError", "Exception", "callable", "zip", "map", "iter",
    "next",
})

# What the locked setup cells import; the student's cells see these names.
SETUP_ALIASES = {"np": "numpy", "pd": "pandas", "plt": "matplotlib.pyplot"}

# Attributes that swap an object's class, namespace or a function's code behind its name.
SWAP_ATTRIBUTES = frozenset({
    "__class__", "__dict__", "__code__", "__globals__", "__defaults__", "__kwdefaults__",
    "__closure__",
})

# Calls reported wherever they appear (resolved through aliases, `builtins.` stripped).
ESCAPE_CALLS = frozenset({
    "exec", "eval", "compile", "__import__", "importlib.reload", "imp.reload",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "sys.settrace", "sys.setprofile", "sys.addaudithook", "threading.settrace", "threading.setprofile",
    "os.kill", "os.killpg", "os.fork", "os.forkpty", "signal.signal",
})
# Modules whose import alone is reported: no answer in this course needs them.
SUSPICIOUS_IMPORTS = frozenset({"ctypes", "gc"})
IMPORTERS = frozenset({"__import__", "importlib.import_module"})
# Methods that write into a namespace mapping (globals(), some_module.__dict__).
MAPPING_WRITES = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"})
# Comparison methods whose constant answer fools `==`-based asserts.
CONSTANT_COMPARISONS = {"__eq__": True, "__ne__": False}
# Cell magics whose body is Python (any other cell magic's body is not Python, so not scanned).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
# Line magics followed by a Python statement that they run.
STATEMENT_MAGICS = frozenset({"time", "timeit", "prun"})


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
        if not _written_by_student(cell):
            continue
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        name = meta.get("grade_id") or f"cell {index}"
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


def _written_by_student(cell: nbformat.NotebookNode) -> bool:
    if cell.get("cell_type") != "code":
        return False
    meta = (cell.get("metadata") or {}).get("nbgrader")
    if not meta:
        return True
    if meta.get("solution"):
        return True
    return not meta.get("locked") and not meta.get("grade")


# --- parsing ---------------------------------------------------------------------------

_LINE_MAGIC = re.compile(r"^(?P<indent>[ \t]*)(?:[!%].*|\?.*|[\w.]+\?\??)$")
_MAGIC_ASSIGNMENT = re.compile(r"^(?P<indent>[ \t]*)(?P<targets>[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)[ \t]*=[ \t]*[!%]")
_STATEMENT_MAGIC = re.compile(r"^(?P<indent>[ \t]*)%(?P<name>\w+)(?P<rest>.*)$")
_TIMEIT_OPTIONS = re.compile(r"^(?:\s*(?:-[nrp]\s*\d+|-[tcqo]))*\s*")


class _CellNotPython(Exception):
    """The cell's body belongs to a non-Python cell magic (%%bash, %%html, ...)."""


def _parse(source: str) -> ast.Module | None:
    """The cell's syntax tree, IPython syntax blanked out; None when it is not valid Python."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    try:
        return ast.parse(_blank_ipython_syntax(source))
    except (SyntaxError, ValueError, _CellNotPython):
        return None


def _blank_ipython_syntax(source: str) -> str:
    """Replace magics, shell escapes and help lines by Python of the same line count.

    A magic line becomes `pass` at its indentation; `x = !ls` becomes `x = None`, so the
    binding of x is still seen; `%time stmt` becomes `stmt`, which the magic runs.
    """
    lines = source.split("\n")
    first = lines[0].lstrip() if lines else ""
    if first.startswith("%%"):
        words = first[2:].split()
        if not words or words[0] not in PYTHON_CELL_MAGICS:
            raise _CellNotPython(first)
        lines[0] = "pass"
    for number, line in enumerate(lines):
        if (match := _STATEMENT_MAGIC.match(line)) and match["name"] in STATEMENT_MAGICS:
            statement = _TIMEIT_OPTIONS.sub("", match["rest"], count=1).strip()
            if statement and _parses(statement):
                lines[number] = match["indent"] + statement
                continue
        if match := _MAGIC_ASSIGNMENT.match(line):
            lines[number] = f"{match['indent']}{match['targets']} = None"
        elif match := _LINE_MAGIC.match(line):
            lines[number] = match["indent"] + "pass"
    return "\n".join(lines)


def _parses(statement: str) -> bool:
    try:
        ast.parse(statement)
    except (SyntaxError, ValueError):
        return False
    return True


# --- name resolution -------------------------------------------------------------------


@dataclass
class _Scope:
    kind: str  # "module", "function", "class" or "comprehension"
    names: dict[str, str | None] = field(default_factory=dict)  # name -> dotted path, None = unknown value
    global_names: frozenset[str] = frozenset()  # names a function declared `global`


@dataclass
class _Namespace:
    """The notebook's global names as far as the scan can tell, carried from cell to cell."""

    names: dict[str, str | None]
    modules: set[str]  # names bound to a whole module (setup aliases, `import x as y`)

    @classmethod
    def seeded(cls) -> _Namespace:
        return cls(dict(SETUP_ALIASES), set(SETUP_ALIASES))


def _root(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _protected(path: str | None) -> bool:
    return bool(path) and _root(path) in PROTECTED_ROOTS and not path.startswith(UNPROTECTED_PREFIXES)


def _unqualified(path: str | None) -> str | None:
    """`builtins.exec` and `exec` name the same function."""
    if path and path.startswith("builtins."):
        return path[len("builtins."):]
    return path


def _constant_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


# --- the scanner -----------------------------------------------------------------------


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


class _Scanner(ast.NodeVisitor):
    """Walks one cell in execution order, keeping track of what each name refers to.

    Function bodies are scanned after the cell's top level, as they run after it: they see
    the names the cell's imports bound, even an import written below the function.
    """

    def __init__(self, namespace: _Namespace) -> None:
        self.namespace = namespace
        self.scopes = [_Scope("module", namespace.names)]
        self.findings: list[tuple[int, str]] = []
        self.seen: set[tuple[int, str]] = set()
        self.claimed: set[int] = set()  # nodes already part of a reported construct
        self.deferred: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[_Scope]]] = []

    def scan(self, tree: ast.Module) -> None:
        self.visit(tree)
        while self.deferred:
            function, scopes = self.deferred.pop(0)
            self._scan_function_body(function, scopes)

    # reporting

    def report(self, node: ast.AST, what: str) -> None:
        key = (getattr(node, "lineno", 1), what)
        if key not in self.seen:
            self.seen.add(key)
            self.findings.append(key)

    def claim(self, node: ast.AST) -> None:
        """Mark a dotted chain (`a.b[c].d`, `__import__("x").y`) as reported already."""
        while True:
            self.claimed.add(id(node))
            if isinstance(node, ast.Attribute | ast.Subscript):
                node = node.value
            elif isinstance(node, ast.Call):
                node = node.func
            else:
                return

    # names

    def lookup(self, name: str) -> str | None:
        innermost = self.scopes[-1]
        for scope in reversed(self.scopes):
            if scope.kind == "class" and scope is not innermost:
                continue  # a class body's names are not visible inside its methods
            if name in scope.names:
                return scope.names[name]
        return "builtins" if name == "__builtins__" else name

    def path(self, node: ast.AST) -> str | None:
        """The dotted path an expression names (`np.testing` -> "numpy.testing"), if any."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            base = self.path(node.value)
            return None if base is None else f"{base}.{node.attr}"
        if isinstance(node, ast.Subscript):
            base = self.path(node.value)
            if base is None:
                return None
            key = _constant_str(node.slice)
            return f"{base}[{key!r}]" if key is not None else f"{base}[...]"
        if isinstance(node, ast.Call):
            return self._call_path(node)
        return None

    def _call_path(self, call: ast.Call) -> str | None:
        """What a module-fetching call returns: `__import__("sys")`, `getattr(np, "testing")`."""
        callee = _unqualified(self.path(call.func))
        first = call.args[0] if call.args else None
        if callee == "__import__" and (module := _constant_str(first)):
            fromlist = len(call.args) >= 4 or any(k.arg == "fromlist" for k in call.keywords)
            return module if fromlist else module.split(".")[0]
        if callee == "importlib.import_module" and (module := _constant_str(first)):
            return module
        if callee == "getattr" and len(call.args) >= 2 and (attr := _constant_str(call.args[1])):
            base = self.path(call.args[0])
            return None if base is None else f"{base}.{attr}"
        if callee == "vars" and len(call.args) == 1:
            base = self.path(call.args[0])
            return None if base is None else f"{base}.__dict__"
        return None

    def _binding_scope(self, name: str, *, walrus: bool = False) -> _Scope:
        scope = self.scopes[-1]
        if walrus:  # `:=` in a comprehension binds in the enclosing function or module
            scope = next(s for s in reversed(self.scopes) if s.kind != "comprehension")
        if scope.kind == "function" and name in scope.global_names:
            scope = self.scopes[0]
        return scope

    def bind(self, node: ast.AST, name: str, value: str | None, *, walrus: bool = False,
             module_import: bool = False) -> None:
        scope = self._binding_scope(name, walrus=walrus)
        if scope.kind == "module":
            old = scope.names.get(name)
            if name in TEST_BUILTINS and value not in (name, f"builtins.{name}"):
                self.report(node, f"rebinds builtin {name}")
            elif name == "__builtins__" and value != "builtins":
                self.report(node, "rebinds __builtins__")
            elif name in self.namespace.modules and _protected(old) and value != old:
                self.report(node, f"rebinds {name} ({old})")
            if module_import:
                self.namespace.modules.add(name)
            else:
                self.namespace.modules.discard(name)
        scope.names[name] = value

    def bind_target(self, target: ast.AST, value: ast.AST | None, *, walrus: bool = False) -> None:
        """Bind an assignment target; attribute and subscript targets are checked as stores."""
        if isinstance(target, ast.Name):
            self.bind(target, target.id, None if value is None else self.path(value), walrus=walrus)
        elif isinstance(target, ast.Tuple | ast.List):
            values: list[ast.AST | None] = [None] * len(target.elts)
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts) and not any(
                isinstance(e, ast.Starred) for e in (*value.elts, *target.elts)
            ):
                values = list(value.elts)
            for element, element_value in zip(target.elts, values, strict=True):
                self.bind_target(element, element_value, walrus=walrus)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, None, walrus=walrus)
        else:
            self.visit(target)

    # statements that bind names

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind_target(target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self.bind_target(node.target, None)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is None:  # `x: int` binds nothing
            return
        self.visit(node.value)
        self.bind_target(node.target, node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind_target(node.target, node.value, walrus=True)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._binding_scope(target.id).names[target.id] = None
            else:
                self.visit(target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, None)
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars, None)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bind(node, node.name, None)
        for statement in node.body:
            self.visit(statement)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self.generic_visit(node)
        if node.name:
            self.bind(node, node.name, None)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node, node.name, None)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.bind(node, node.rest, None)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _root(alias.name) in SUSPICIOUS_IMPORTS:
                self.report(node, f"imports {_root(alias.name)}")
            if alias.asname:
                self.bind(node, alias.asname, alias.name, module_import=True)
            else:
                top = alias.name.split(".")[0]
                self.bind(node, top, top, module_import=True)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0 and _root(module) in SUSPICIOUS_IMPORTS:
            self.report(node, f"imports {_root(module)}")
        for alias in node.names:
            if alias.name == "*":
                continue
            full = f"{module}.{alias.name}" if node.level == 0 else None
            if full == "sys.modules":
                self.report(node, "imports sys.modules")
            self.bind(node, alias.asname or alias.name, full)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expression in (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults):
            if expression is not None:
                self.visit(expression)
        for argument in _arguments(node.args):
            if argument.annotation is not None:
                self.visit(argument.annotation)
        if node.returns is not None:
            self.visit(node.returns)
        self.bind(node, node.name, None)
        self.deferred.append((node, list(self.scopes)))

    visit_AsyncFunctionDef = visit_FunctionDef

    def _scan_function_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scopes: list[_Scope]) -> None:
        outer = self.scopes
        local = dict.fromkeys((a.arg for a in _arguments(node.args)), None)
        self.scopes = [*scopes, _Scope("function", local, _declared_global(node.body))]
        try:
            for statement in node.body:
                self.visit(statement)
        finally:
            self.scopes = outer

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in (*node.args.defaults, *node.args.kw_defaults):
            if expression is not None:
                self.visit(expression)
        local = dict.fromkeys((a.arg for a in _arguments(node.args)), None)
        self.scopes.append(_Scope("function", local))
        try:
            self.visit(node.body)
        finally:
            self.scopes.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expression)
        self._check_constant_comparisons(node)
        self.scopes.append(_Scope("class"))
        try:
            for statement in node.body:
                self.visit(statement)
        finally:
            self.scopes.pop()
        self.bind(node, node.name, None)

    def _check_constant_comparisons(self, node: ast.ClassDef) -> None:
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                name, body = statement.name, _without_docstring(statement.body)
                returned = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
            elif (
                isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name) and isinstance(statement.value, ast.Lambda)
            ):
                name, returned = statement.targets[0].id, statement.value.body
            else:
                continue
            answer = CONSTANT_COMPARISONS.get(name)
            if answer is not None and isinstance(returned, ast.Constant) and returned.value is answer:
                self.report(statement, f"defines {name} that always returns {answer}")

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       results: tuple[ast.AST, ...]) -> None:
        # The first iterable is evaluated outside the comprehension's own scope.
        self.visit(node.generators[0].iter)
        self.scopes.append(_Scope("comprehension"))
        try:
            for number, generator in enumerate(node.generators):
                if number:
                    self.visit(generator.iter)
                self.bind_target(generator.target, None)
                for condition in generator.ifs:
                    self.visit(condition)
            for result in results:
                self.visit(result)
        finally:
            self.scopes.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, (node.elt,))

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, (node.key, node.value))

    # expressions

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_reference(node)
        else:
            self._check_store(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._check_store(node)
        self.generic_visit(node)

    def _check_store(self, node: ast.Attribute | ast.Subscript) -> None:
        verb = "deletes" if isinstance(node.ctx, ast.Del) else "assigns"
        path = self.path(node)
        if _protected(path):
            self.report(node, f"{verb} {path}")
            self.claim(node)
        elif isinstance(node, ast.Subscript) and (namespace := self._namespace_call(node.value)):
            self.report(node, f"writes {namespace}()")
            self.claim(node)
        elif isinstance(node, ast.Attribute) and node.attr in SWAP_ATTRIBUTES:
            self.report(node, f"{verb} {node.attr}")

    def _check_reference(self, node: ast.Name | ast.Attribute) -> None:
        if id(node) in self.claimed:
            return
        path = self.path(node)
        if path is None:
            return
        name = _unqualified(path)
        if path == "sys.modules":
            self.report(node, "uses sys.modules")
        elif name == "get_ipython" or (_root(path) == "IPython" and path.endswith(".get_ipython")):
            self.report(node, "uses get_ipython()")
        elif _root(path) == "ctypes":
            self.report(node, "uses ctypes")
        elif name in ESCAPE_CALLS:
            self.report(node, f"uses {name}")
        else:
            return
        self.claim(node)

    def _namespace_call(self, node: ast.AST) -> str | None:
        """"globals" for `globals()`; also `vars()`/`locals()` at top level, where they are globals."""
        if not (isinstance(node, ast.Call) and not node.args and not node.keywords):
            return None
        name = _unqualified(self.path(node.func))
        if name == "globals" or (name in ("vars", "locals") and self.scopes[-1].kind == "module"):
            return name
        return None

    def visit_Call(self, node: ast.Call) -> None:
        if id(node) not in self.claimed and id(node.func) not in self.claimed:
            self._check_call(node)
        self.generic_visit(node)

    def _check_call(self, node: ast.Call) -> None:
        callee = _unqualified(self.path(node.func))
        first = node.args[0] if node.args else None
        if callee in ESCAPE_CALLS:
            self.report(node, f"calls {callee}")
            self.claim(node.func)
        elif callee == "importlib.import_module":
            module = _constant_str(first)
            if module is None:
                self.report(node, "calls importlib.import_module with a computed name")
            elif _root(module) in PROTECTED_ROOTS | SUSPICIOUS_IMPORTS:
                self.report(node, f"calls importlib.import_module on {module}")
            self.claim(node.func)
        elif callee in ("setattr", "delattr"):
            self._check_setattr(node, callee, first, node.args[1] if len(node.args) > 1 else None)
        elif callee in ("object.__setattr__", "object.__delattr__", "type.__setattr__", "type.__delattr__"):
            verb = callee.split(".")[1].strip("_")
            self._check_setattr(node, verb, first, node.args[1] if len(node.args) > 1 else None)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__"):
            self._check_setattr(node, node.func.attr.strip("_"), node.func.value, first)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in MAPPING_WRITES:
            if namespace := self._namespace_call(node.func.value):
                self.report(node, f"writes {namespace}()")
                self.claim(node.func)
            elif (owner := self.path(node.func.value)) and _protected(owner) and owner.endswith("__dict__"):
                self.report(node, f"changes {owner}")
                self.claim(node.func)

    def _check_setattr(self, node: ast.Call, verb: str, target: ast.AST | None, attr: ast.AST | None) -> None:
        if target is None:
            return
        path = self.path(target)
        if _protected(path):
            self.report(node, f"calls {verb} on {path}")
            self.claim(target)
            return
        if isinstance(target, ast.Call):
            callee = _unqualified(self.path(target.func))
            if callee and (callee in IMPORTERS or callee in ("getattr", "vars") or _protected(callee)):
                self.report(node, f"calls {verb} on {callee}(...)")
                self.claim(target)
                return
        if (name := _constant_str(attr)) in SWAP_ATTRIBUTES:
            self.report(node, f"calls {verb} on {name}")


def _arguments(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *extra]


def _declared_global(body: list[ast.stmt]) -> frozenset[str]:
    """Names a function body declares `global`, not looking into nested functions or classes."""
    names: set[str] = set()
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Global):
            names.update(node.names)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and _constant_str(body[0].value) is not None:
        return body[1:]
    return body

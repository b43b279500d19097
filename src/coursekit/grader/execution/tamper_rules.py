"""What the tamper scan treats as tampering, and how it reads a cell: the rules, IPython
syntax blanked out, and the name resolution every check relies on (`np.testing` is
"numpy.testing"). The checks themselves are in tamper_scanner, the API in tamper."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# Modules a test cell relies on; an assignment into any of them can make a test lie.
PROTECTED_ROOTS = frozenset({
    "builtins", "numpy", "pandas", "math", "operator", "unittest", "sys", "pytest",
    "IPython", "ipykernel", "coursekit",
})
# Display options: changing them cannot make a test pass.
UNPROTECTED_PREFIXES = ("pandas.options.", "pandas.options[")

# Builtins the test cells call; rebinding one in the notebook's namespace changes every test.
TEST_BUILTINS = (
    "isinstance", "type", "len", "round", "abs", "set", "sorted", "sum", "min", "max", "float", "int", "str",
    "bool", "list", "dict", "tuple", "print", "range", "all", "any", "repr", "hasattr", "getattr", "id",
    "AssertionError", "Exception", "callable", "zip", "map", "iter", "next",
)

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


class _Resolver(ast.NodeVisitor):
    """What each name of a cell refers to, scope by scope; records findings."""

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

"""A library that costs seconds to import and is almost never used, imported when first used.

`jsonschema` (through nbformat, hence nbgrader) imports `rfc3987_syntax` as soon as it is
imported itself, for its `iri` and `iri-reference` format checks. That module builds its Lark
grammars when imported: about 1.8 s of CPU on the course's machine (`python -X importtime`), a
known cost (python-jsonschema/jsonschema issue 1428). No notebook or nbgrader schema uses those
formats, and a grading run imports jsonschema in several processes (the `coursekit grade`
process, the workers' forkserver, one judge zygote per worker; each Dask worker), so that cost
was paid four times per run of two local workers, mostly before the first notebook was graded
(docs/performance.md, seventh pass).

`defer_iri_grammar()` puts a stand-in in its place: jsonschema imports the stand-in's
`is_valid_syntax`, which imports the real module the first time an IRI is checked and then
answers exactly as the real one does; any other public attribute does the same. The stand-in
carries the module's own `__file__`, `__spec__` and `__path__`, and a lookup of any other
dunder name is an AttributeError, not an import: code that looks over every loaded module
(`inspect.getmodule`, which IPython runs to format every traceback) must not build the grammar
(a first version did, in every kernel: 1.8 s per notebook with an error). Nothing is blocked
and no check changes: only when the grammar is built. tests/test_deferred_imports.py checks
jsonschema's answers with and without it.

Only grading processes get it: `coursekit.grader` installs it before it imports nbgrader, and
the kernel zygote, which imports the grader's isolation module, takes it out again
(`undo()`), so a student's kernel sees the modules a fresh kernel would.

Written here because neither jsonschema nor rfc3987_syntax has a setting for it, and the
standard library's `importlib.util.LazyLoader` loads a module on its first attribute access,
which is jsonschema's own import (`from rfc3987_syntax import is_valid_syntax`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

NAME = "rfc3987_syntax"
_LOCK = threading.Lock()


class _StandIn(types.ModuleType):
    """`rfc3987_syntax` until something needs more than the name of its check."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(f"module {NAME!r} (not yet imported) has no attribute {attribute!r}")
        return getattr(_real(), attribute)


def _real() -> types.ModuleType:
    """Import the real module (once) and put it where the stand-in was."""
    with _LOCK:
        current = sys.modules.get(NAME)
        if isinstance(current, _StandIn) or current is None:
            sys.modules.pop(NAME, None)
            try:
                current = importlib.import_module(NAME)
            except BaseException:
                if NAME not in sys.modules and _STAND_IN is not None:
                    sys.modules[NAME] = _STAND_IN
                raise
        return current


def is_valid_syntax(term: str, value: str) -> bool:
    """rfc3987_syntax.is_valid_syntax, importing the module the first time it is asked."""
    return _real().is_valid_syntax(term, value)


_STAND_IN: _StandIn | None = None


def defer_iri_grammar() -> bool:
    """Install the stand-in, unless the module is already imported or not installed.
    Returns whether the stand-in is (now) in place. Idempotent."""
    global _STAND_IN
    with _LOCK:
        current = sys.modules.get(NAME)
        if isinstance(current, _StandIn):
            return True
        if current is not None:
            return False
        try:
            spec = importlib.util.find_spec(NAME)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            return False
        stand_in = _StandIn(NAME, "stand-in for rfc3987_syntax: imported when first used (coursekit)")
        stand_in.__spec__ = spec
        stand_in.__loader__ = spec.loader
        stand_in.__file__ = spec.origin
        stand_in.__package__ = NAME
        stand_in.__path__ = list(spec.submodule_search_locations or [])
        stand_in.is_valid_syntax = is_valid_syntax
        _STAND_IN = stand_in
        sys.modules[NAME] = stand_in
        return True


def undo() -> None:
    """Take the stand-in out again (if the real module was never needed), so that a process
    forked from this one, a student's kernel, finds the module table a fresh one would."""
    with _LOCK:
        if isinstance(sys.modules.get(NAME), _StandIn):
            del sys.modules[NAME]

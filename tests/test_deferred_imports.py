"""jsonschema's IRI grammar, built only when an IRI is checked (coursekit/deferred_imports.py).

Grading processes import the grader (or the judge zygote) before nbgrader: jsonschema then
gets a stand-in for `rfc3987_syntax`. These tests check that the grammar is really not built
by the imports grading does, and that jsonschema's `iri` and `iri-reference` answers are the
same, value for value, with and without the stand-in."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import ROOT

from coursekit import deferred_imports

# Valid and invalid IRIs and IRI references, so that a check that always said yes (or no)
# would differ from the real one.
VALUES = [
    "https://europeanwesternbalkans.com/2023/09/29/nato-authorizes-additional-forces-for-kosovo/",
    "https://www.nato.int/cps/en/natolive/topics_48818.htm",
    "http://例え.テスト/パス?q=ü#frag",
    "urn:isbn:0451450523",
    "mailto:kfor@example.org",
    "relative/path",
    "//example.org/x",
    "#only-a-fragment",
    "",
    "http://exa mple.org/",
    "http://[::1/",
    "ht tp://x",
    "https://example.org/%zz",
    "https://example.org/a b",
]

CHECK = """
import json, sys
{prelude}
import jsonschema
checker = jsonschema.FormatChecker()
values = json.loads(sys.argv[1])
before = {{"lark": "lark" in sys.modules, "stand_in": type(sys.modules.get("rfc3987_syntax")).__name__}}
answers = {{fmt: [checker.conforms(v, fmt) for v in values] for fmt in ("iri", "iri-reference")}}
after = type(sys.modules.get("rfc3987_syntax")).__name__
print(json.dumps({{"before": before, "answers": answers, "after": after}}))
"""


def _run(prelude: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", CHECK.format(prelude=prelude), json.dumps(VALUES)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )
    return json.loads(completed.stdout)


# Without the module (an older jsonschema, or the GPL `rfc3987` installed instead) there is
# nothing to defer: `defer_iri_grammar` does nothing, which the last two tests cover.
needs_the_module = pytest.mark.skipif(importlib.util.find_spec("rfc3987_syntax") is None,
                                      reason="jsonschema's non-GPL IRI checker (rfc3987_syntax) is not installed")


@needs_the_module
def test_the_grader_defers_the_iri_grammar_and_jsonschema_answers_the_same():
    plain = _run("")
    deferred = _run("import coursekit.grader, nbgrader.apps.api")

    assert plain["before"]["lark"], "without the stand-in, importing jsonschema builds the grammar"
    assert deferred["before"] == {"lark": False, "stand_in": "_StandIn"}, deferred
    # The checks exist either way and give the same answer for every value...
    assert deferred["answers"] == plain["answers"]
    # ...which are not all alike (so the comparison can fail)
    assert set(plain["answers"]["iri"]) == {True, False}
    assert set(plain["answers"]["iri-reference"]) == {True, False}
    # after the first check, the real module took the stand-in's place
    assert deferred["after"] == "module"


@needs_the_module
def test_looking_over_every_module_does_not_build_the_grammar():
    """IPython formats every traceback with inspect.getmodule, which reads `__file__` of every
    loaded module: a first stand-in built the grammar there, in every kernel with an error."""
    script = """
import sys
import coursekit.grader, nbgrader.apps.api, inspect
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("1/0")
shell.run_cell("import warnings; warnings.warn('w')")
for module in list(sys.modules.values()):
    inspect.getmodule(module); getattr(module, "__all__", None); getattr(module, "__wrapped__", None)
stand_in = sys.modules["rfc3987_syntax"]
print(type(stand_in).__name__, inspect.getfile(stand_in).endswith("__init__.py"), "lark" in sys.modules)
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                               timeout=120, check=True)
    assert completed.stdout.strip().splitlines()[-1] == "_StandIn True False", completed.stdout


@needs_the_module
def test_a_warm_judge_has_nbformat_but_not_the_grammar():
    """The judge zygote preloads the course's toolkit (nbformat among it) with the stand-in."""
    from coursekit.judge import process

    source = ("import sys\nprint('nbformat' in sys.modules, 'lark' in sys.modules,"
              " type(sys.modules.get('rfc3987_syntax')).__name__)")
    with process.JudgeProcess([], warm=True) as judge:
        outputs = judge.run_cell(source, "t", object(), 60)
        assert judge.stats.warm
    assert outputs[0]["text"] == "True False _StandIn\n", outputs


def test_nothing_is_put_in_place_of_a_module_that_is_not_installed(monkeypatch):
    monkeypatch.setattr(deferred_imports, "NAME", "coursekit_no_such_module")
    assert deferred_imports.defer_iri_grammar() is False
    assert "coursekit_no_such_module" not in sys.modules


def test_an_already_imported_module_is_left_alone(monkeypatch):
    sentinel = type(sys)("coursekit_already_here")
    monkeypatch.setitem(sys.modules, "coursekit_already_here", sentinel)
    monkeypatch.setattr(deferred_imports, "NAME", "coursekit_already_here")
    assert deferred_imports.defer_iri_grammar() is False
    assert sys.modules["coursekit_already_here"] is sentinel

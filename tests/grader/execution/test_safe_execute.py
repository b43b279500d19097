"""SafeExecute on small notebooks, each with its control: the same notebook with the
protection off must come out differently, so these tests cannot pass by accident."""

from __future__ import annotations

import nbformat
import pytest
from traitlets.config import Config

from coursekit.grader.execution.safe_execute import INCIDENTS_KEY, SafeExecute


def _cell(source: str, kind: str, grade_id: str):
    meta = {"grade_id": grade_id, "schema_version": 3, "locked": kind == "test", "solution": kind == "answer",
            "grade": kind == "test"}
    if kind == "test":
        meta["points"] = 1
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


def _run(tmp_path, cells, guard=True, **limits):
    """Run `cells` through SafeExecute with these c.Sandbox limits (cell_timeout, ...)."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config({"Sandbox": {"cell_timeout": 10, "notebook_timeout": 60, **limits},
                     "SafeExecute": {"guard": guard}})
    executor = SafeExecute(config=config)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb


def _errors(cell) -> list[str]:
    return [o.get("ename") for o in cell.outputs if o.get("output_type") == "error"]


PATCH = """
import builtins, math
import pandas as pd
builtins.round = lambda *args, **kwargs: 3
builtins.abs = lambda x: 2
math.isclose = lambda *args, **kwargs: True
pd.testing.assert_series_equal = lambda *args, **kwargs: None
"""
TESTS = """
import math
import pandas as pd
assert round(7.4) == 7 and abs(-5) == 5
assert not math.isclose(1.0, 2.0)
try:
    pd.testing.assert_series_equal(pd.Series([1]), pd.Series([2]))
except AssertionError:
    pass
else:
    raise AssertionError("assert_series_equal was patched")
"""


@pytest.mark.parametrize("guard", [True, False], ids=["guarded", "control"])
def test_guard_restores_patched_builtins_and_helpers_before_tests(tmp_path, guard):
    nb = _run(tmp_path, [_cell(PATCH, "answer", "answer"), _cell(TESTS, "test", "test")], guard=guard)
    if guard:
        assert _errors(nb.cells[1]) == []
    else:
        assert _errors(nb.cells[1]) == ["AssertionError"]


def test_shadowing_globals_are_set_aside_for_tests_only(tmp_path):
    nb = _run(tmp_path, [
        _cell("def len(x):\n    return 23\n", "answer", "answer"),
        _cell("assert len([]) == 0", "test", "test"),
        _cell("assert len([]) == 23", "answer", "later"),
    ])
    assert _errors(nb.cells[1]) == [] and _errors(nb.cells[2]) == []
    assert any("shadow builtins" in i for i in nb.metadata[INCIDENTS_KEY]["incidents"])


def test_stderr_in_a_test_cell_is_output_not_failure(tmp_path):
    noisy = "import sys, warnings\nwarnings.warn('careful')\nprint('note', file=sys.stderr)\n"
    nb = _run(tmp_path, [_cell(noisy, "test", "test"), _cell(noisy, "answer", "answer")])
    streams = [o.get("name") for o in nb.cells[0].outputs if o.get("output_type") == "stream"]
    assert streams and set(streams) == {"stdout"}  # kept, as ordinary output
    # in a student's own cell, stderr stays stderr (it costs nothing there)
    assert "stderr" in [o.get("name") for o in nb.cells[1].outputs if o.get("output_type") == "stream"]


def test_output_is_capped_but_errors_are_kept(tmp_path):
    flood = "for _ in range(20_000):\n    print('x' * 100)\nraise ValueError('after the flood')\n"
    nb = _run(tmp_path, [_cell(flood, "test", "test")], output_kb=64)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")
    assert len(text) < 80 * 1024 and "output beyond 64 KiB dropped" in text
    assert _errors(nb.cells[0]) == ["ValueError"]


def test_a_crash_keeps_what_was_earned_before_it(tmp_path):
    nb = _run(tmp_path, [
        _cell("x = 1", "answer", "a"), _cell("assert x == 1", "test", "t1"),
        _cell("import os\nos._exit(7)", "answer", "b"), _cell("assert True", "test", "t2"),
    ])
    assert _errors(nb.cells[1]) == []
    assert _errors(nb.cells[2]) == ["DeadKernelError"] and _errors(nb.cells[3]) == ["NotRun"]
    assert any("exit code 7" in i for i in nb.metadata[INCIDENTS_KEY]["incidents"])


def test_the_notebook_budget_stops_a_slow_notebook(tmp_path):
    slow = "import time\ntime.sleep(3)\n"
    nb = _run(tmp_path, [_cell(slow, "answer", f"a{i}") for i in range(4)] + [_cell("pass", "test", "t")],
              cell_timeout=10, notebook_timeout=5)
    assert _errors(nb.cells[-1]) == ["NotRun"]
    assert any("notebook time limit (5 s)" in i for i in nb.metadata[INCIDENTS_KEY]["incidents"])


def test_large_errors_and_results_are_cut_but_still_decide_the_score(tmp_path):
    """Is an 8 MB evalue, an 8 MB text/html result and an 8 MB repr cut (the notebook stays
    small), while the error stays a ValueError and a small numeric result is untouched?"""
    nb = _run(tmp_path, [
        _cell("raise ValueError('x' * 8_000_000)", "test", "t_error"),
        _cell("from IPython.display import HTML\nHTML('<b>' * 3_000_000)", "test", "t_html"),
        _cell("'y' * 8_000_000", "test", "t_repr"),
        _cell("0.5", "test", "t_partial"),
        _cell("class Half:\n    def __repr__(self): return '0.5'\n    def _repr_html_(self): return '<i>' * 3_000_000\n"
              "Half()", "test", "t_half"),
    ], output_kb=64)
    assert len(nbformat.writes(nb)) < 64 * 1024 + 4 * 8 * 1024
    assert _errors(nb.cells[0]) == ["ValueError"]
    [error] = [o for o in nb.cells[0].outputs if o.get("output_type") == "error"]
    assert error["evalue"].startswith("xxx") and "characters cut" in error["evalue"]
    results = [[o["data"] for o in cell.outputs if o.get("output_type") == "execute_result"] for cell in nb.cells]
    assert results[1] == [{"text/plain": "<IPython.core.display.HTML object>"}]  # the 9 MB of HTML dropped
    assert list(results[2][0]) == ["text/plain"] and "characters cut" in results[2][0]["text/plain"]
    assert results[3] == [{"text/plain": "0.5"}]  # small: untouched
    assert results[4] == [{"text/plain": "0.5"}]  # its HTML dropped, its partial credit still readable
    assert "output beyond 64 KiB dropped" in nb.metadata["coursekit"]["incidents"]


def test_control_uncut_errors_and_results_are_as_large_as_sent():
    """The control: _cap_result is what cuts; a payload under its room is left exactly as it is."""
    from coursekit.grader.execution import safe_execute

    big = {"ename": "ValueError", "evalue": "x" * 100_000, "traceback": ["t" * 100_000]}
    small = {"data": {"text/plain": "0.5"}, "metadata": {}}
    assert safe_execute._cap_result(dict(small), "execute_result", 2048) is False
    assert safe_execute._size(big, "error") > 200_000
    assert safe_execute._cap_result(big, "error", 2048) and safe_execute._size(big, "error") < 2 * 2048 + 300
    assert big["ename"] == "ValueError"

"""`nbgrader validate` as a student runs it from the course folder: is a failing test's
message printed whole, not cut at nbgrader's 90 columns ("…not 'BRU...")?"""

from __future__ import annotations

import subprocess
import sys

import nbformat
from conftest import ROOT

MESSAGE = ("dateline(ARTICLE) should be 'BRUSSELS', not 'BRUSSELS, 12 June 2023 (NATO)': "
           "keep the place name only, without the date and the agency that follows it")


def _notebook(path):
    meta = {"nbgrader": {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                         "grade_id": "test_dateline", "points": 1}}
    cell = nbformat.v4.new_code_cell(f"assert False, {MESSAGE!r}", metadata=meta)
    nbformat.write(nbformat.v4.new_notebook(cells=[cell], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def _validate(path, cwd) -> str:
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    return done.stdout


def test_validate_prints_a_failing_tests_message_whole(tmp_path):
    notebook = _notebook(tmp_path / "hw.ipynb")
    ours = _validate(notebook, ROOT)
    assert "The following cell failed" in ours, ours
    assert f"AssertionError: {MESSAGE}" in ours, ours
    assert max(len(line) for line in ours.splitlines() if line.startswith("=")) <= 90  # rules stay short
    (tmp_path / "elsewhere").mkdir()
    stock = _validate(notebook, tmp_path / "elsewhere")  # control: nbgrader's own settings cut it
    assert "The following cell failed" in stock and MESSAGE not in stock and "..." in stock, stock

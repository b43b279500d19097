"""Notebook hygiene: the one normal form every committed notebook is kept in.

nbformat 4.5 with cell ids, kernelspec `python3`, no outputs or execution counts, and
every `metadata.nbgrader` field left exactly as it is (nbgrader's checksums cover it).
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path

import nbformat

from coursekit.errors import CoursekitError

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Front-end state that changes when a notebook is merely opened; never worth a diff.
VOLATILE_CELL_METADATA = ("collapsed", "scrolled", "execution", "ExecuteTime", "trusted")


class NotebookError(CoursekitError, ValueError):
    """A notebook file that cannot be read as a notebook."""


def read(path: str | os.PathLike[str]) -> nbformat.NotebookNode:
    """Read a notebook, or raise `NotebookError` naming the file and the cause."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise NotebookError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not raw.strip():
        raise NotebookError(f"{path}: empty file, not a notebook")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    if isinstance(data, dict) and data.get("nbformat") not in (None, 4):
        raise NotebookError(f"{path}: nbformat {data.get('nbformat')!r}, this course needs 4")
    if not isinstance(data, dict) or "cells" not in data:
        raise NotebookError(f"{path}: JSON but not a notebook (no 'cells' list)")
    if data.get("nbformat") != 4:
        raise NotebookError(f"{path}: nbformat {data.get('nbformat')!r}, this course needs 4")
    try:
        with warnings.catch_warnings():  # nbformat warns (and mends) clashing cell ids: see mend_clashes
            warnings.simplefilter("ignore")
            return nbformat.reads(raw, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types here
        raise NotebookError(f"{path}: not a valid notebook ({error})") from None


def normalized(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` in the course's normal form (ids kept, outputs dropped)."""
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for key in ("widgets", "toc", "varInspector"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        if "id" not in cell:
            cell["id"] = nbformat.v4.new_code_cell().id
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """The exact text a committed notebook has (nbformat's own layout, trailing newline)."""
    return nbformat.writes(nb) + "\n"


def tidy(path: str | os.PathLike[str]) -> bool:
    """Rewrite one notebook file in normal form; return whether anything changed."""
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    after = dumps(normalized(read(path)))
    if after != before:
        path.write_text(after, encoding="utf-8")
        return True
    return False


def problems(path: str | os.PathLike[str]) -> list[str]:
    """What keeps a committed notebook from being clean; empty when it is."""
    nb = read(path)
    found = []
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        found.append(f"{path}: nbformat {nb.nbformat}.{nb.nbformat_minor}, expected 4.5")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append(f"{path}: kernelspec is not python3")
    for index, cell in enumerate(nb.cells):
        where = f"{path}: cell {index} ({cell.get('id', 'no id')})"
        if not cell.get("id"):
            found.append(f"{where} has no id")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            found.append(f"{where} has outputs or an execution count")
    ids = [cell.get("id") for cell in nb.cells]
    if len(ids) != len(set(ids)):
        found.append(f"{path}: duplicate cell ids")
    return found


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    """The nbgrader grade_id of a cell, or None for an ordinary cell."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")

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

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Front-end state that changes when a notebook is merely opened; never worth a diff.
VOLATILE_CELL_METADATA = ("collapsed", "scrolled", "execution", "ExecuteTime", "trusted")


class NotebookError(ValueError):
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


def mend_clashes(nb: dict) -> list[str]:
    """Make a hand-in with repeated cell ids or nbgrader grade ids gradable; say what changed.

    A student who copies or splits a cell in some editors hands in two cells with one id,
    which nbformat and nbgrader refuse (nbgrader's own DeduplicateIds leaves the earlier
    copy with empty metadata, and then stops on it as "an old version of the metadata
    format"). As nbgrader intends, the last cell with a grade id is the graded one; earlier
    copies become ordinary cells that still run in their place; repeated cell ids get a
    suffix.
    """
    notes = []
    seen: set[str] = set()
    for cell in nb["cells"]:
        cell_id = cell.get("id")
        if cell_id is None:
            continue
        if cell_id in seen:
            number = 2
            while f"{cell_id}-{number}" in seen:
                number += 1
            cell["id"] = f"{cell_id}-{number}"
            notes.append(f"cell id {cell_id!r} repeated; renamed {cell['id']!r}")
        seen.add(cell["id"])
    graded: set[str] = set()
    for cell in reversed(nb["cells"]):
        grade = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade is None:
            continue
        if grade in graded:
            del cell["metadata"]["nbgrader"]
            notes.append(f"grade id {grade!r} repeated; the last such cell is graded, earlier ones run as plain cells")
        graded.add(grade)
    return notes


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    """The nbgrader grade_id of a cell, or None for an ordinary cell."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def fill_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of a student notebook with the answer cells named in `answers` replaced.

    This is how the test fixtures turn the release into a student's submission: every
    key must be the grade_id of an answer cell (nbgrader `solution: true`).
    """
    nb = copy.deepcopy(nb)
    answer_cells = {
        grade_id(cell): cell
        for cell in nb.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    unknown = sorted(set(answers) - set(answer_cells))
    if unknown:
        raise KeyError(f"no answer cell with grade_id {', '.join(unknown)}")
    for key, source in answers.items():
        answer_cells[key].source = source.rstrip("\n")
    return nb

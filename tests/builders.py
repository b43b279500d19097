"""Fixture builders for the tests: the adversarial class (hostile hand-ins) of
tests/fixtures/adversarial/cases.json, built from the sample student `ada`'s answers.
Kept with the tests, never in the package: students and instructors never need it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from coursekit import notebooks
from coursekit.grader import cells
from coursekit.grader.answers import fill_answers
from coursekit.grader.course import Course


def adversarial_cases(fixtures: Path) -> list[dict]:
    """The hostile submissions of every `tests/fixtures/adversarial/cases*.json`, each with the
    score it must earn (None: refused before grading) and a pattern its reason must match."""
    folder = fixtures / "adversarial"
    cases = []
    for path in sorted(folder.glob("cases*.json")):
        cases += json.loads(path.read_text(encoding="utf-8"))
    return cases


def adversarial_class(*, course: Course, fixtures: Path) -> dict[Path, bytes]:
    """Relative path -> file bytes for every adversarial case.

    A case starts from the full-marks answers of the sample student `ada` and changes them:
    `answers` replaces answer cells, `prepend` puts code before an answer, `replace` swaps
    text in one, `edits` deletes, rewrites, duplicates or splits cells by grade id, `raw`
    is the file's whole content, `pad_mb` pads a valid notebook past a size, `file` names
    the file differently.
    """

    out = {}
    for case in adversarial_cases(fixtures):
        assignment_id = case["assignment"]
        release_path = sorted((course.exercises / assignment_id).glob("*.ipynb"))[0]
        relative = Path(case["student"]) / assignment_id / case.get("file", release_path.name)
        if "raw" in case:
            out[relative] = case["raw"].encode("utf-8")
            continue
        base = json.loads((fixtures / "answers" / assignment_id / "ada.json").read_text(encoding="utf-8"))
        answers = {**base, **case.get("answers", {})}
        for key, prefix in case.get("prepend", {}).items():
            answers[key] = prefix + answers[key]
        for key, (old, new) in case.get("replace", {}).items():
            if old not in answers[key]:
                raise ValueError(f"{case['student']}: {old!r} is not in the answer {key}")
            answers[key] = answers[key].replace(old, new, 1)
        nb = fill_answers(notebooks.read(release_path), answers)
        for edit in case.get("edits", []):
            index = next(i for i, cell in enumerate(nb.cells) if cells.grade_id(cell) == edit["grade_id"])
            cell = nb.cells[index]
            if edit["op"] == "delete":
                del nb.cells[index]
            elif edit["op"] == "source":
                cell.source = edit["source"]
            elif edit["op"] == "duplicate":
                twin = copy.deepcopy(cell)
                twin.source = edit["source"]
                nb.cells.insert(index + 1, twin)
            elif edit["op"] == "split":
                lines = cell.source.splitlines(keepends=True)
                half = len(lines) // 2
                twin = copy.deepcopy(cell)
                cell.source, twin.source = "".join(lines[:half]), "".join(lines[half:])
                nb.cells.insert(index + 1, twin)
            else:
                raise ValueError(f"{case['student']}: unknown edit {edit['op']!r}")
        if case.get("pad_mb"):
            nb.cells.append(nbformat_markdown("x" * int(case["pad_mb"] * 1024 * 1024)))
        # written without validation on purpose: clashing cell ids are the attack
        out[relative] = json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8")
    return out


def nbformat_markdown(text: str):
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "padding"
    return cell

"""Fixture builders for the tests: the adversarial class (hostile hand-ins) of
tests/fixtures/adversarial/cases.json, built from the sample student `ada`'s answers.
Kept with the tests, never in the package: students and instructors never need it."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursekit import notebooks
from coursekit.grader import cells
from coursekit.grader.answers import fill_answers
from coursekit.grader.course import Course


def adversarial_cases(fixtures: Path) -> list[dict]:
    """The hostile submissions of `tests/fixtures/adversarial/cases*.json`, each with the
    score it must earn (None: refused before grading) and a pattern its reason must match."""
    folder = fixtures / "adversarial"
    cases: list[dict] = []
    for path in sorted(folder.glob("cases*.json")):  # cases.json, then cases-<part>.json, in name order
        cases += json.loads(path.read_text(encoding="utf-8"))
    return cases


@dataclass(frozen=True)
class Special:
    """A file that is not bytes: a symbolic link to `target` (a course-relative target is
    made absolute) or a FIFO. `make` creates it at a path."""

    kind: str  # "symlink" or "fifo"
    target: str = ""

    def make(self, path: Path) -> None:
        if self.kind == "symlink":
            path.symlink_to(self.target)
        else:
            os.mkfifo(path)


def adversarial_class(*, course: Course, fixtures: Path) -> dict[Path, bytes | Special]:
    """Relative path -> file bytes for every adversarial case.

    A case starts from the full-marks answers of the sample student `ada` and changes them:
    `answers` replaces answer cells, `prepend` puts code before an answer, `replace` swaps
    text in one, `edits` deletes, rewrites, duplicates or splits cells by grade id, `raw`
    is the file's whole content (with `raw_expand` tokens replaced by a character repeated),
    `pad_mb` pads a valid notebook past a size, `file` names the file differently,
    `special` makes a symbolic link (`target`: absolute, or under the course folder) or a
    FIFO in place of the notebook (`at`: "assignment" for the assignment folder, "student"
    for the student folder, whose case has assignment "").
    """

    out = {}
    for case in adversarial_cases(fixtures):
        assignment_id = case["assignment"]
        if case.get("at") == "student":  # the student folder itself; no assignment (its reason has none)
            out[Path(case["student"])] = Special(case["special"], str(course.root / case["target"]))
            continue
        release_path = sorted((course.exercises / assignment_id).glob("*.ipynb"))[0]
        relative = Path(case["student"]) / assignment_id / case.get("file", release_path.name)
        if "special" in case:
            target = case.get("target", "")
            target = target if target.startswith("/") or not target else str(course.root / target)
            out[relative.parent if case.get("at") == "assignment" else relative] = Special(case["special"], target)
            continue
        if "raw" in case:
            raw = case["raw"]
            for token, (text, count) in case.get("raw_expand", {}).items():
                raw = raw.replace(token, text * count)
            out[relative] = raw.encode("utf-8")
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
            elif edit["op"] == "nbgrader":  # metadata.nbgrader of any JSON value
                cell.metadata["nbgrader"] = edit["value"]
            elif edit["op"] == "replace_cell":  # the cell becomes any JSON value
                nb.cells[index] = edit["value"]
            elif edit["op"] == "insert":  # a plain code cell before this one
                nb.cells.insert(index, nbformat.v4.new_code_cell(edit["source"]))
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


def shown_text(build_dir: Path, student: str, assignment_id: str) -> str:
    """What a hand-in's grading shows: the outputs of its autograded notebooks (never their
    sources, which hold the hidden tests by design) and its feedback pages."""
    parts = []
    for path in sorted((build_dir / "autograded" / student / assignment_id).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        parts += [json.dumps(cell.get("outputs", []), ensure_ascii=False) for cell in nb["cells"]]
    feedback = build_dir / "feedback" / student / assignment_id
    parts += [page.read_text(encoding="utf-8") for page in sorted(feedback.glob("*.html"))]
    return "\n".join(parts)

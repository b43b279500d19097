"""The bundled sample class: students' submissions made from the release plus answers.

Each student's answers are kept as `{grade_id: cell source}` in
`tests/fixtures/answers/<assignment>/<student>.json`, so the submissions can be rebuilt
whenever the release changes; `expected.csv` beside them holds the autograded score each
student must get.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from coursekit import notebooks
from coursekit.grading import Course


def sample_submissions(*, course: Course, answers_dir: Path) -> dict[Path, str]:
    """Relative path -> notebook text, for every student and assignment with answers."""
    out = {}
    for assignment_id in course.assignments():
        folder = answers_dir / assignment_id
        if not folder.is_dir():
            continue
        releases = sorted((course.exercises / assignment_id).glob("*.ipynb"))
        if len(releases) != 1:
            raise FileNotFoundError(f"{course.exercises / assignment_id}: expected one notebook")
        release = notebooks.read(releases[0])
        for answers_file in sorted(folder.glob("*.json")):
            answers = json.loads(answers_file.read_text(encoding="utf-8"))
            submission = notebooks.fill_answers(release, answers)
            relative = Path(answers_file.stem) / assignment_id / releases[0].name
            out[relative] = notebooks.dumps(submission)
    return out


def write_sample_class(*, course: Course, answers_dir: Path, out_dir: Path) -> list[Path]:
    """Write the sample class's submissions; return the files written."""
    written = []
    for relative, text in sample_submissions(course=course, answers_dir=answers_dir).items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def expected_scores(answers_dir: Path) -> dict[tuple[str, str], float]:
    """(student, assignment) -> the autograded score the sample student must get."""
    expected = {}
    for table in sorted(answers_dir.glob("*/expected.csv")):
        with table.open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                expected[(row["student_id"], table.parent.name)] = float(row["autograded_score"])
    return expected


# A broken answer a beginner really hands in: it does not even define the function.
_ERRORING_ANSWER = "def {name}(*args, **kwargs):\n    return undefined_helper(*args)  # NameError when tested\n"
_SYNTAX_ERROR_ANSWER = "def {name}(text:\n    return text\n"


def synthetic_class(*, course: Course, fixtures: Path, students: int, seed: int = 2023) -> dict[Path, str]:
    """Relative path -> notebook text for `students` synthetic students and every assignment.

    Each answer is drawn, with a seeded generator, from the solution, the known-right and
    known-wrong variants in `fixtures/variants/`, a blank answer, or code that errors, so
    the class has a realistic spread of full, partial, zero and crashing work.
    """
    import random

    from coursekit import gate

    rng = random.Random(seed)
    out = {}
    for assignment_id in course.assignments():
        releases = sorted((course.exercises / assignment_id).glob("*.ipynb"))
        solutions = sorted((course.solutions / assignment_id).glob("*.ipynb"))
        if len(releases) != 1 or len(solutions) != 1:
            raise FileNotFoundError(f"{course.exercises / assignment_id}: expected one notebook")
        release = notebooks.read(releases[0])
        right = gate.solution_answers(notebooks.read(solutions[0]))
        variants = gate.load_variants(fixtures / "variants" / assignment_id)
        for number in range(1, students + 1):
            student = f"student{number:05d}"
            if rng.random() < 0.05:  # handed in the blank notebook
                answers = {}
            else:
                answers = {}
                for function, solution in right.items():
                    pool = variants.get(function, [])
                    roll = rng.random()
                    wrong = [v for v in pool if not v.right]
                    other_right = [v for v in pool if v.right]
                    if roll < 0.55:
                        answers[function] = solution
                    elif roll < 0.65 and other_right:
                        answers[function] = rng.choice(other_right).source
                    elif roll < 0.88 and wrong:
                        answers[function] = rng.choice(wrong).source
                    elif roll < 0.95:
                        continue  # left as released: raise NotImplementedError()
                    elif roll < 0.98:
                        answers[function] = _ERRORING_ANSWER.format(name=function)
                    else:
                        answers[function] = _SYNTAX_ERROR_ANSWER.format(name=function)
            text = notebooks.dumps(notebooks.fill_answers(release, answers))
            out[Path(student) / assignment_id / releases[0].name] = text
    return out


# --- the adversarial class --------------------------------------------------------------


def adversarial_cases(fixtures: Path) -> list[dict]:
    """The hostile submissions of `tests/fixtures/adversarial/cases.json`, each with the
    score it must earn (None: refused before grading) and a pattern its reason must match."""
    return json.loads((fixtures / "adversarial" / "cases.json").read_text(encoding="utf-8"))


def adversarial_class(*, course: Course, fixtures: Path) -> dict[Path, bytes]:
    """Relative path -> file bytes for every adversarial case.

    A case starts from the full-marks answers of the sample student `ada` and changes them:
    `answers` replaces answer cells, `prepend` puts code before an answer, `replace` swaps
    text in one, `edits` deletes, rewrites, duplicates or splits cells by grade id, `raw`
    is the file's whole content, `pad_mb` pads a valid notebook past a size, `file` names
    the file differently.
    """
    import copy

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
        nb = notebooks.fill_answers(notebooks.read(release_path), answers)
        for edit in case.get("edits", []):
            index = next(i for i, cell in enumerate(nb.cells) if notebooks.grade_id(cell) == edit["grade_id"])
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
    import nbformat

    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "padding"
    return cell

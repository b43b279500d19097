"""The bundled sample class: students' submissions made from the release plus answers.

Each student's answers are kept as `{grade_id: cell source}` in
`tests/fixtures/answers/<assignment>/<student>.json`, so the submissions can be rebuilt
whenever the release changes; `expected.csv` beside them holds the autograded score each
student must get.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from coursekit import notebooks
from coursekit.grader.answers import fill_answers, load_variants, solution_answers
from coursekit.grader.course import Course
from coursekit.grader.errors import SampleClassError


def sample_submissions(*, course: Course, answers_dir: Path) -> dict[Path, str]:
    """Relative path -> notebook text, for every student and assignment with answers."""
    out = {}
    for assignment_id in course.assignments():
        folder = answers_dir / assignment_id
        if not folder.is_dir():
            continue
        release_path = course.release_notebook(assignment_id)
        release = notebooks.read(release_path)
        for answers_file in sorted(folder.glob("*.json")):
            try:
                answers = json.loads(answers_file.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise SampleClassError(f"{answers_file}: not valid JSON ({error})") from None
            submission = fill_answers(release, answers)
            relative = Path(answers_file.stem) / assignment_id / release_path.name
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
    rng = random.Random(seed)
    out = {}
    for assignment_id in course.assignments():
        release_path = course.release_notebook(assignment_id)
        release = notebooks.read(release_path)
        right = solution_answers(notebooks.read(course.solution_notebook(assignment_id)))
        variants = load_variants(fixtures / "variants" / assignment_id)
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
            text = notebooks.dumps(fill_answers(release, answers))
            out[Path(student) / assignment_id / release_path.name] = text
    return out

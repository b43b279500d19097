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

"""The release gate: prove every assignment's tests before students get it.

Autograded with real nbgrader, in a throwaway gradebook: the solution must get full
marks, the blank release zero (without crashing), every known-wrong variant of a
function must lose that function's points and every known-right one must keep them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit import notebooks
from coursekit.grader import cells
from coursekit.grader.answers import Variant, fill_answers, load_variants, solution_answers
from coursekit.grader.build import generate_release
from coursekit.grader.course import Course, Workspace, notebooks_in, scratch_workspace
from coursekit.grader.gradebook import read_test_scores
from coursekit.grader.pipeline import Run, grade_class

__all__ = ["GateReport", "Variant", "check", "check_assignment", "load_variants", "solution_answers"]


@dataclass
class Expectation:
    student: str
    describe: str
    full_marks: set[str] = field(default_factory=set)  # tests that must keep all points
    lose_marks: dict[str, str] = field(default_factory=dict)  # test -> why it must lose
    all_zero: bool = False


@dataclass
class GateReport:
    assignment: str
    checked: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def _submissions(
    course: Course, assignment_id: str, release_dir: Path, variants: dict[str, list[Variant]]
) -> list[tuple[str, dict[str, nbformat.NotebookNode], Expectation]]:
    """The notebooks to grade: solution, blank release, and one per variant rank.

    Variants of different functions share a notebook (wrong #1 of every function in
    one, wrong #2 in the next...) because each test cell only calls its own function;
    that keeps the gate to a handful of kernels per assignment.
    """
    solution_paths = notebooks_in(course.solutions / assignment_id)
    releases = {p.name: notebooks.read(release_dir / p.name) for p in solution_paths}
    solutions = {p.name: notebooks.read(p) for p in solution_paths}
    tests_of = {name: {cells.grade_id(c) for c in nb.cells if cells.is_test(c)} for name, nb in solutions.items()}
    all_tests = set().union(*tests_of.values())
    answers = {name: solution_answers(nb) for name, nb in solutions.items()}
    out = [
        ("solution", solutions, Expectation("solution", "the instructor's solution", full_marks=all_tests)),
        ("blank", releases, Expectation("blank", "the blank student version", all_zero=True)),
    ]
    for right in (False, True):
        kind = "right" if right else "wrong"
        ranked: dict[str, list[Variant]] = {
            f: [v for v in vs if v.right == right] for f, vs in variants.items()
        }
        for rank in range(max((len(vs) for vs in ranked.values()), default=0)):
            student = f"{kind}-{rank + 1}"
            expectation = Expectation(student, f"{kind} variants #{rank + 1}")
            filled = {}
            for name, release in releases.items():
                chosen = dict(answers[name])
                for function, vs in ranked.items():
                    if rank < len(vs) and function in chosen:
                        chosen[function] = vs[rank].source
                        if not right:
                            expectation.lose_marks[f"test_{function}"] = str(vs[rank].path)
                filled[name] = fill_answers(release, chosen)
            expectation.full_marks = all_tests - set(expectation.lose_marks)
            out.append((student, filled, expectation))
    return out


def check_assignment(
    *, course: Course, assignment_id: str, fixtures: Path, workspace: Workspace, workers: int | None = None
) -> GateReport:
    """Autograde the gate's submissions for one assignment and judge them."""
    release_dir = generate_release(course, workspace, assignment_id)
    variants = load_variants(fixtures / "variants" / assignment_id)
    plan = _submissions(course, assignment_id, release_dir, variants)
    handed_in = workspace.root / "handed-in"
    for student, filled, _ in plan:
        target = handed_in / student / assignment_id
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name, nb in filled.items():
            (target / name).write_text(notebooks.dumps(nb), encoding="utf-8")
    # The same grading path as `coursekit grade` (proven equal to stock sequential nbgrader
    # by the autograde tests), so the gate takes seconds, not minutes. The release is the
    # one just generated, which the gate's notebooks were filled from.
    result = grade_class(course=course, submissions=handed_in, workspace=workspace, assignments=[assignment_id],
                         run=Run(workers=workers, force=True, feedback=False, export=False, release=False))
    broken = {o.task.student: o.error for o in result.failed}
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    for row in read_test_scores(workspace.gradebook, assignment_id):
        scores.setdefault(row.student, {})[row.test] = (row.score, row.max_score)

    failures = []
    for student, _, expect in plan:
        got = scores.get(student)
        if got is None or student in broken:
            failures.append(f"{assignment_id}: {expect.describe} was not graded ({broken.get(student, 'no grades')})")
            continue
        if expect.all_zero:
            earned = {t: s for t, (s, _) in got.items() if s > 0}
            for test, score in sorted(earned.items()):
                failures.append(f"{assignment_id}: {test} gives {score:g} points to {expect.describe}")
        for test in sorted(expect.full_marks):
            score, most = got.get(test, (0.0, 0.0))
            if score < most:
                failures.append(
                    f"{assignment_id}: {test} gives {score:g}/{most:g} to {expect.describe}; "
                    "it rejects a right answer"
                )
        for test, path in sorted(expect.lose_marks.items()):
            score, most = got.get(test, (0.0, 0.0))
            if score >= most:
                failures.append(f"{assignment_id}: {test} is weak: it gives full marks to {path}")
    return GateReport(assignment=assignment_id, checked=len(plan), failures=failures)


def check(*, course: Course, fixtures: Path | None = None, assignments: list[str] | None = None) -> list[GateReport]:
    """Run the gate on every assignment (or the ones named); a throwaway gradebook each time."""
    fixtures = fixtures or course.fixtures
    wanted = course.wanted(assignments)
    reports = []
    for assignment_id in wanted:
        # One workspace per assignment: checks of different assignments never share files.
        root = course.build_dir / "gate" / assignment_id
        shutil.rmtree(root, ignore_errors=True)
        workspace = scratch_workspace(root)
        reports.append(
            check_assignment(course=course, assignment_id=assignment_id, fixtures=fixtures, workspace=workspace)
        )
    return reports

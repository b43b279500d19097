"""Build the student versions: nbgrader's generate_assignment, in the notebook normal form,
compared with the committed copy in exercises/."""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from coursekit import notebooks
from coursekit.grader.commands import run_nbgrader
from coursekit.grader.course import Course, Workspace, notebooks_in, scratch_workspace


def generate_release(course: Course, workspace: Workspace, assignment_id: str) -> Path:
    """Generate one assignment's student version into the workspace, in normal form.

    generate_assignment also records the source cells (and hidden tests) in the
    workspace's gradebook, which autograde restores into every submission.
    """
    for source in notebooks_in(course.solutions / assignment_id):
        notebooks.read(source)  # a broken notebook is named here, not deep in nbgrader's log
    target = workspace.release / assignment_id
    shutil.rmtree(target, ignore_errors=True)
    run_nbgrader(course, workspace, "generate_assignment", assignment_id, "--force",
                 log=workspace.logs / f"generate-{assignment_id}.log")
    for path in notebooks_in(target):
        notebooks.tidy(path)
    return target


def compare_trees(expected: Path, committed: Path) -> list[str]:
    """Files that differ between a freshly generated release and the committed one."""
    differences = []
    new = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    old = {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()} if committed.exists() else set()
    for name in sorted(new - old):
        differences.append(f"{committed / name}: missing (nbgrader generates it)")
    for name in sorted(old - new):
        differences.append(f"{committed / name}: not generated from solutions/")
    for name in sorted(new & old):
        if name.suffix == ".ipynb":
            fresh = notebooks.dumps(notebooks.normalized(notebooks.read(expected / name)))
            kept = notebooks.dumps(notebooks.normalized(notebooks.read(committed / name)))
            same = fresh == kept
        else:
            same = filecmp.cmp(expected / name, committed / name, shallow=False)
        if not same:
            differences.append(f"{committed / name}: differs from what solutions/ generates")
    return differences


def build(*, course: Course, check: bool = False, assignments: list[str] | None = None) -> list[str]:
    """Regenerate exercises/ from solutions/; return what differed from the committed copy.

    With `check=True` nothing is written: the differences are the verdict.
    """
    wanted = course.wanted(assignments)
    with tempfile.TemporaryDirectory(prefix="coursekit-build-") as scratch:
        workspace = scratch_workspace(Path(scratch))
        differences = []
        for assignment_id in wanted:
            fresh = generate_release(course, workspace, assignment_id)
            committed = course.exercises / assignment_id
            found = compare_trees(fresh, committed)
            differences += found
            if found and not check:
                shutil.rmtree(committed, ignore_errors=True)
                shutil.copytree(fresh, committed)
        return differences

"""Shared fixtures: the repository root, throwaway copies of the course, and the one way
the tests run the `coursekit` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.grader.course import Course

ROOT = Path(__file__).resolve().parents[1]


def coursekit(*args: str, course: Path = ROOT, **kwargs) -> subprocess.CompletedProcess:
    """Run `coursekit --course COURSE ARGS...` as a user would; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--course", str(course), *args],
        capture_output=True, text=True, **kwargs,
    )


def pytest_configure(config):
    """`make test` runs `-n auto --dist loadgroup`: tests marked with one xdist_group (the
    browser tests share one JupyterLab and build/hub) must run on one worker. pytest 9.2 keeps
    a node's id where pytest-xdist 3.8 cannot add the group to it, and then the groups are
    silently ignored (seen: two hub set-ups at once, formgrader pages timing out). Stop with
    the reason instead; pyproject.toml keeps pytest below 9.2."""
    if config.getoption("dist", default="no") != "loadgroup":
        return
    import xdist
    from packaging.version import Version

    if Version(pytest.__version__) >= Version("9.2") and Version(xdist.__version__) <= Version("3.8.0"):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {xdist.__version__}: --dist loadgroup would ignore "
            "the xdist_group marks and run grouped tests (the browser tests) in parallel. Install the versions "
            "pyproject.toml allows: pip install -e '.[test]' (make setup)."
        )


# What the suite measures and prints, never asserts: name of a recorded property -> (title, aim s).
REPORTED_TIMES = {"lesson_seconds": ("each lesson, top to bottom with a fresh kernel (aim: under 30 s)", 30.0)}


def pytest_terminal_summary(terminalreporter):
    """Print the times tests recorded (test_lessons.py's lesson times), workers' included."""
    found: dict[str, list[tuple[str, float]]] = {}
    for status in ("passed", "failed"):
        for report in terminalreporter.stats.get(status, []):
            for name, value in getattr(report, "user_properties", []):
                if name in REPORTED_TIMES and report.when == "call":
                    found.setdefault(name, []).append((report.nodeid.split("[")[-1].rstrip("]"), value))
    for name, rows in found.items():
        title, aim = REPORTED_TIMES[name]
        terminalreporter.write_sep("-", f"times: {title}")
        for label, seconds in sorted(rows):
            over = "" if seconds < aim else f"  (over {aim:g} s)"
            terminalreporter.write_line(f"{label:<48} {seconds:6.1f} s{over}")


def copy_course(target: Path) -> Path:
    return Course(ROOT).copy_to(target)


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A private copy of the course, so a test may grade, break or rewrite it."""
    return copy_course(tmp_path / "course")


def assignment_ids() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def committed_notebooks() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    found = {ROOT / p for p in listed}
    # Also the ones not yet committed, so a new notebook is checked before its first commit.
    for folder in ("lessons", "solutions", "exercises", "tests/fixtures"):
        found |= set((ROOT / folder).rglob("*.ipynb"))
    return sorted(p for p in found if p.exists() and ".ipynb_checkpoints" not in p.parts)


def planned_class(course_copy: Path, assignment_id: str):
    """The sample class's hand-ins of one assignment collected, released and planned in a
    copy of the course, ready for `autograde.run`: (course, workspace, state, tasks). The
    caller closes `state`."""
    from coursekit.grader import autograde, collect, gradebook
    from coursekit.grader.build import generate_release
    from coursekit.grader.course import instructor_workspace

    course = Course.at(course_copy)
    workspace = instructor_workspace(course)
    collect.collect(course=course, submissions=course_copy / "tests" / "fixtures" / "submissions",
                    workspace=workspace)
    generate_release(course, workspace, assignment_id)
    gradebook.prepare(workspace.gradebook)
    state = autograde.State(workspace.state_db)
    tasks, _ = autograde.plan(workspace=workspace, assignments=[assignment_id], state=state, force=True)
    return course, workspace, state, tasks

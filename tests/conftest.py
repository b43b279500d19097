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

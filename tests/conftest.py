"""Shared fixtures: the repository root and throwaway copies of the course."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def copy_course(target: Path) -> Path:
    from coursekit.grading import Course

    return Course(ROOT).copy_to(target)


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A private copy of the course, so a test may grade, break or rewrite it."""
    return copy_course(tmp_path / "course")


def assignment_ids() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def committed_notebooks() -> list[Path]:
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    found = {ROOT / p for p in listed}
    # Also the ones not yet committed, so a new notebook is checked before its first commit.
    for folder in ("lessons", "solutions", "exercises", "tests/fixtures"):
        found |= set((ROOT / folder).rglob("*.ipynb"))
    return sorted(p for p in found if p.exists() and ".ipynb_checkpoints" not in p.parts)

"""The course model: a course folder, and the nbgrader workspace where one run keeps its files.

Every path the grader reads or writes is named here, once.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from coursekit import seeds
from coursekit.grader.errors import CourseError

# Seconds a worker waits for the gradebook's write lock before nbgrader reports an
# error; a task writes for milliseconds, so this is only reached if something hangs.
GRADEBOOK_LOCK_TIMEOUT = 120


def notebooks_in(folder: Path) -> list[Path]:
    """The notebooks of one assignment folder, in name order (never checkpoints)."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@dataclass(frozen=True)
class Course:
    """A course folder: nbgrader_config.py, solutions/, exercises/, seeds/, build/."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None) -> Course:
        """The course at `root` (default: the current folder), checked to be one."""
        folder = Path(root or Path.cwd()).resolve()
        if not folder.is_dir():
            raise CourseError(f"{folder}: course folder not found")
        for needed in ("nbgrader_config.py", "solutions", "seeds"):
            if not (folder / needed).exists():
                raise CourseError(f"{folder / needed}: missing, so {folder} is not a course folder")
        seeds.verify(folder / "seeds")
        return cls(folder)

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    @property
    def seeds(self) -> Path:
        return self.root / "seeds"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def fixtures(self) -> Path:
        return self.root / "tests" / "fixtures"

    @property
    def gradebook(self) -> Path:
        return self.build_dir / "gradebook.db"

    def assignments(self) -> list[str]:
        """Assignment ids in course order (the order is in the folder names)."""
        found = sorted(p.name for p in self.solutions.iterdir() if p.is_dir() and notebooks_in(p))
        if not found:
            raise CourseError(f"{self.solutions}: no assignment folders with notebooks")
        return found

    def assignment(self, assignment_id: str) -> str:
        if assignment_id not in self.assignments():
            known = ", ".join(self.assignments())
            raise CourseError(f"{self.solutions / assignment_id}: no such assignment (known: {known})")
        return assignment_id

    def wanted(self, assignments: list[str] | None) -> list[str]:
        """The assignments named (each checked), or all of them."""
        return [self.assignment(a) for a in assignments] if assignments else self.assignments()

    def release_notebook(self, assignment_id: str) -> Path:
        """The one student notebook of an assignment, in exercises/."""
        found = notebooks_in(self.exercises / assignment_id)
        if len(found) != 1:
            raise CourseError(f"{self.exercises / assignment_id}: expected one notebook, found {len(found)}")
        return found[0]

    def solution_notebook(self, assignment_id: str) -> Path:
        found = notebooks_in(self.solutions / assignment_id)
        if len(found) != 1:
            raise CourseError(f"{self.solutions / assignment_id}: expected one notebook, found {len(found)}")
        return found[0]

    # What a working copy of the course needs to build, grade and test (never build/, .venv).
    COPY_PARTS = ("nbgrader_config.py", "seeds", "solutions", "exercises", "lessons", "tests/fixtures")

    def copy_to(self, target: Path) -> Path:
        """Copy the course's sources to `target` (for benchmarks and tests); return it."""
        target = Path(target)
        for part in self.COPY_PARTS:
            source = self.root / part
            if source.is_dir():
                shutil.copytree(source, target / part)
            elif source.is_file():
                (target / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / part)
        return target


@dataclass(frozen=True)
class Workspace:
    """Where one nbgrader run keeps its folders, gradebook, logs and tables.

    The instructor's real workspace is build/ (see nbgrader_config.py); `check` uses a
    throwaway one so that a release check never touches real grades.
    """

    root: Path
    gradebook: Path

    def settings(self, course: Course) -> dict[str, str]:
        """nbgrader's CourseDirectory settings that point it at this workspace."""
        return {
            "root": str(self.root),
            "source_directory": str(course.solutions),
            "release_directory": str(self.release),
            "submitted_directory": str(self.submitted),
            "autograded_directory": str(self.autograded),
            "feedback_directory": str(self.feedback),
            "db_url": f"sqlite:///{self.gradebook}",
        }

    def overrides(self, course: Course) -> list[str]:
        """The settings as nbgrader command-line flags (for nbgrader run as a program)."""
        return [f"--CourseDirectory.{key}={value}" for key, value in self.settings(course).items()]

    def config(self, course: Course) -> Config:
        """The settings as a traitlets Config (for nbgrader run in a worker process);
        the gradebook waits for its write lock instead of failing at once."""
        config = Config()
        for key, value in self.settings(course).items():
            config.CourseDirectory[key] = value
        config.CourseDirectory.db_url += f"?timeout={GRADEBOOK_LOCK_TIMEOUT}"
        return config

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def unzipped(self) -> Path:
        return self.root / "unzipped"

    @property
    def state_db(self) -> Path:
        return self.root / "grading-state.db"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    @property
    def rejected_csv(self) -> Path:
        return self.root / "rejected.csv"

    @property
    def reasons_csv(self) -> Path:
        return self.root / "reasons.csv"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    def autograded_notebooks(self, student: str, assignment_id: str) -> list[Path]:
        """The autograded notebooks of one hand-in, whatever their names."""
        return notebooks_in(self.autograded / student / assignment_id)


def instructor_workspace(course: Course) -> Workspace:
    return Workspace(root=course.build_dir, gradebook=course.gradebook)


def demo_workspace(course: Course) -> Workspace:
    """Where `coursekit demo` grades the sample class: build/demo/, its own gradebook and
    tables, so that the instructor's workspace (build/) never holds the sample students."""
    return scratch_workspace(course.build_dir / "demo")


def scratch_workspace(root: Path) -> Workspace:
    """A throwaway workspace with its own gradebook (build --check, the gate)."""
    return Workspace(root=Path(root), gradebook=Path(root) / "gradebook.db")

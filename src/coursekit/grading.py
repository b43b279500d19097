"""The instructor pipeline around nbgrader: build the student versions, check the
release, collect and autograde submissions, write feedback, export grades.

nbgrader stays the authority: its gradebook, its formats, its commands. This module
only decides what to run, in which folders, and turns the gradebook into tables.
"""

from __future__ import annotations

import csv
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from coursekit import notebooks, seeds

# Student ids become folder names and gradebook keys: keep them boring.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class CourseError(RuntimeError):
    """The course folder, an assignment or an nbgrader step is not as it should be."""


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
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def gradebook(self) -> Path:
        return self.build_dir / "gradebook.db"

    def assignments(self) -> list[str]:
        """Assignment ids in course order (the order is in the folder names)."""
        found = sorted(p.name for p in self.solutions.iterdir() if p.is_dir() and _notebooks_in(p))
        if not found:
            raise CourseError(f"{self.solutions}: no assignment folders with notebooks")
        return found

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

    def assignment(self, assignment_id: str) -> str:
        if assignment_id not in self.assignments():
            known = ", ".join(self.assignments())
            raise CourseError(f"{self.solutions / assignment_id}: no such assignment (known: {known})")
        return assignment_id


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@dataclass(frozen=True)
class Workspace:
    """Where one nbgrader run keeps its folders and gradebook.

    The instructor's real workspace is build/ (see nbgrader_config.py); `check` uses a
    throwaway one so that a release check never touches real grades.
    """

    root: Path
    gradebook: Path

    def overrides(self, course: Course) -> list[str]:
        settings = {
            "CourseDirectory.root": self.root,
            "CourseDirectory.source_directory": course.solutions,
            "CourseDirectory.release_directory": self.root / "release",
            "CourseDirectory.submitted_directory": self.root / "submitted",
            "CourseDirectory.autograded_directory": self.root / "autograded",
            "CourseDirectory.feedback_directory": self.root / "feedback",
            "CourseDirectory.db_url": f"sqlite:///{self.gradebook}",
        }
        return [f"--{key}={value}" for key, value in settings.items()]

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"


def instructor_workspace(course: Course) -> Workspace:
    return Workspace(root=course.build_dir, gradebook=course.gradebook)


def run_nbgrader(course: Course, workspace: Workspace, *args: str, log: Path) -> None:
    """Run one nbgrader command in `workspace`; its full output goes to `log`.

    nbgrader is run as a program, not imported, because it calls `alembic` through PATH
    and keeps global state between commands; the interpreter's bin/ goes first on PATH.
    """
    workspace.root.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    command = [sys.executable, "-m", "nbgrader", *args, *workspace.overrides(course)]
    with log.open("a", encoding="utf-8") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        done = subprocess.run(command, cwd=course.root, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise CourseError(f"{log}: nbgrader {args[0]} failed ({_last_error(log)})")


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    return (errors or lines or ["no output"])[-1][:300]


# --- build ------------------------------------------------------------------------------


def generate_release(course: Course, workspace: Workspace, assignment_id: str) -> Path:
    """Generate one assignment's student version into the workspace, in normal form."""
    for source in _notebooks_in(course.solutions / assignment_id):
        notebooks.read(source)  # a broken notebook is named here, not deep in nbgrader's log
    target = workspace.release / assignment_id
    shutil.rmtree(target, ignore_errors=True)
    run_nbgrader(
        course, workspace, "generate_assignment", assignment_id, "--force",
        log=workspace.root / "logs" / f"generate-{assignment_id}.log",
    )
    for path in _notebooks_in(target):
        notebooks.tidy(path)
    return target


def _compare_trees(expected: Path, committed: Path) -> list[str]:
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
    wanted = [course.assignment(a) for a in assignments] if assignments else course.assignments()
    with tempfile.TemporaryDirectory(prefix="coursekit-build-") as scratch:
        workspace = Workspace(root=Path(scratch), gradebook=Path(scratch) / "gradebook.db")
        differences = []
        for assignment_id in wanted:
            fresh = generate_release(course, workspace, assignment_id)
            committed = course.exercises / assignment_id
            found = _compare_trees(fresh, committed)
            differences += found
            if found and not check:
                shutil.rmtree(committed, ignore_errors=True)
                shutil.copytree(fresh, committed)
        return differences


# --- submissions ----------------------------------------------------------------------


@dataclass
class Rejected:
    path: Path
    reason: str
    student: str = ""  # where known (not for a folder that is no student, or a file an LMS zip could not place)
    assignment: str = ""


@dataclass
class Collected:
    accepted: dict[tuple[str, str], Path] = field(default_factory=dict)  # (student, id) -> folder
    rejected: list[Rejected] = field(default_factory=list)
    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # what collect had to mend


# An LMS download names each file <student>_<…>_<original name>; Canvas, for instance,
# writes "smithjane_late_12345_678901_01-reading-the-source.ipynb". nbgrader's zip_collect
# leaves this pattern to the instructor (FileNameCollectorPlugin.named_regexp); this is ours,
# overridable with --zip-pattern, with the same named groups.
LMS_FILE_PATTERN = r"^(?P<student_id>[A-Za-z0-9.-]+)_(?:late_)?(?:\d+_)*(?P<file_id>[^/]+\.ipynb)$"
ZIP_MAX_BYTES = 2 * 1024**3  # refuse archives that unpack to more than this (zip bombs)


def unpack_lms_zip(
    *, course: Course, archive: Path, target: Path, pattern: str = LMS_FILE_PATTERN
) -> tuple[Path, list[Rejected]]:
    """Lay out an LMS zip as <student>/<assignment>/<notebook> under `target`.

    Entries already laid out that way are kept as they are; flat files are matched with
    `pattern` (named groups student_id and file_id) and sorted into folders by which
    assignment's notebook name their file_id starts with.
    """
    import zipfile

    rejected: list[Rejected] = []
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise CourseError(f"{archive}: not a readable zip file ({error})") from None
    with bundle:
        infos = [i for i in bundle.infolist() if not i.is_dir()]
        if sum(i.file_size for i in infos) > ZIP_MAX_BYTES:
            raise CourseError(f"{archive}: unpacks to more than {ZIP_MAX_BYTES // 1024**3} GiB; refused")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        names = {n.removesuffix(".ipynb"): a for a in course.assignments()
                 for n in (p.name for p in _notebooks_in(course.solutions / a))}
        regex = re.compile(pattern)
        for info in infos:
            parts = Path(info.filename).parts
            where = Rejected(archive / info.filename, "")
            if info.filename.startswith("/") or ".." in parts or not info.filename.endswith(".ipynb"):
                where.reason = "not a notebook in a safe place in the archive; skipped"
                rejected.append(where)
                continue
            if len(parts) >= 3 and parts[-2] in names.values():  # already <student>/<assignment>/x
                student, assignment_id, name = parts[-3], parts[-2], parts[-1]
            else:
                match = regex.match(parts[-1])
                if not match:
                    where.reason = "file name does not match the LMS pattern (see --zip-pattern)"
                    rejected.append(where)
                    continue
                student, file_id = match.group("student_id"), match.group("file_id")
                stem = file_id.removesuffix(".ipynb")
                # an LMS may append "-1", "-2" to a re-submitted file
                found = [n for n in names if stem == n or re.fullmatch(re.escape(n) + r"-\d+", stem)]
                if not found:
                    where.reason = f"{file_id!r} is not the notebook of any assignment"
                    rejected.append(where)
                    continue
                assignment_id, name = names[found[0]], found[0] + ".ipynb"
            destination = target / student / assignment_id / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)
    return target, rejected


def collect(
    *, course: Course, submissions: Path, workspace: Workspace, zip_pattern: str = LMS_FILE_PATTERN,
    max_notebook_bytes: int | None = None,
) -> Collected:
    """Copy `<student>/<assignment>/*.ipynb` into nbgrader's submitted/ folder.

    Each notebook is read first, so a broken file is reported by name and cause
    instead of stopping nbgrader halfway through the class.
    """
    submissions = Path(submissions)
    result = Collected()
    if submissions.is_file() and submissions.suffix == ".zip":
        submissions, result.rejected = unpack_lms_zip(
            course=course, archive=submissions, target=workspace.root / "unzipped" / submissions.stem,
            pattern=zip_pattern,
        )
    if not submissions.is_dir():
        raise CourseError(f"{submissions}: submissions folder not found")
    known = set(course.assignments())
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(student_dir.name):
            result.rejected.append(Rejected(student_dir, "folder name is not a valid student id"))
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name not in known:
                result.rejected.append(Rejected(assignment_dir, "not an assignment of this course", student_dir.name))
                continue
            owner = (student_dir.name, assignment_dir.name)
            expected = {p.name for p in _notebooks_in(course.solutions / assignment_dir.name)}
            handed_in = _notebooks_in(assignment_dir)
            good = []
            for path in handed_in:
                if path.name not in expected:
                    names = ", ".join(sorted(expected))
                    result.rejected.append(Rejected(path, f"unexpected file name (expected {names})", *owner))
                    continue
                size = path.stat().st_size
                if max_notebook_bytes is not None and size > max_notebook_bytes:
                    limit = f"{max_notebook_bytes / 2**20:g} MiB"
                    result.rejected.append(Rejected(path, f"{size / 2**20:.1f} MiB, over the {limit} limit "
                                                          "(c.Sandbox.notebook_mb)", *owner))
                    continue
                try:
                    notebooks.read(path)
                except notebooks.NotebookError as error:
                    result.rejected.append(Rejected(path, str(error).removeprefix(f"{path}: "), *owner))
                    continue
                # nbformat mends clashing cell ids quietly when it reads; nbgrader refuses them
                raw = json.loads(path.read_text(encoding="utf-8"))
                good.append((path, raw, notebooks.mend_clashes(raw)))
            if not good:
                if not handed_in:
                    result.rejected.append(Rejected(assignment_dir, "no notebook handed in", *owner))
                continue
            target = workspace.submitted / student_dir.name / assignment_dir.name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for path, raw, mended in good:
                if mended:
                    # graded as mended; the hand-in itself stays as it was
                    (target / path.name).write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
                    result.notes.setdefault((student_dir.name, assignment_dir.name), []).append(
                        f"{path.name}: " + "; ".join(dict.fromkeys(mended)))
                else:
                    shutil.copy2(path, target / path.name)
            result.accepted[(student_dir.name, assignment_dir.name)] = target
    return result


# --- the gradebook as tables ----------------------------------------------------------


@dataclass(frozen=True)
class TestScore:
    student: str
    assignment: str
    test: str
    score: float
    max_score: float

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass(frozen=True)
class AssignmentScore:
    student: str
    assignment: str
    autograded: float
    autograded_max: float
    written_max: float
    needs_manual_grade: bool


def read_test_scores(gradebook: Path, assignment_id: str) -> list[TestScore]:
    """Every autograded test cell's score for every student of one assignment."""
    from nbgrader.api import Gradebook  # imported late: it pulls in SQLAlchemy

    rows = []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for submission in gb.assignment_submissions(assignment_id):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type != "code":
                        continue
                    rows.append(
                        TestScore(
                            student=submission.student.id,
                            assignment=assignment_id,
                            test=grade.name,
                            score=float(grade.score or 0.0),
                            max_score=float(grade.max_score or 0.0),
                        )
                    )
    return sorted(rows, key=lambda r: (r.student, r.test))


def read_assignment_scores(gradebook: Path, assignment_ids: Iterable[str]) -> list[AssignmentScore]:
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for assignment_id in assignment_ids:
            for submission in gb.assignment_submissions(assignment_id):
                rows.append(
                    AssignmentScore(
                        student=submission.student.id,
                        assignment=assignment_id,
                        autograded=float(submission.code_score or 0.0),
                        autograded_max=float(submission.max_code_score or 0.0),
                        written_max=float(submission.max_written_score or 0.0),
                        needs_manual_grade=bool(submission.needs_manual_grade),
                    )
                )
    return sorted(rows, key=lambda r: (r.student, r.assignment))


# --- grade ------------------------------------------------------------------------------


@dataclass
class GradeReport:
    scores: list[AssignmentScore]
    rejected: list[Rejected]
    failed: list  # autograde.Outcome of tasks nbgrader could not finish
    graded: int
    skipped: int
    grades_csv: Path
    feedback_dir: Path
    reasons: list[dict] = field(default_factory=list)  # one row per hand-in (report.submission_reasons)
    protections: str = ""  # which sandbox layers grading had (sandbox.describe)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # (student, assignment) -> task time


class Reporter:
    """Hooks a front end (the CLI's progress bar) can fill; the default says nothing."""

    def started(self, *, total: int, skipped: int, workers: str) -> None: ...

    def finished(self, outcome) -> None: ...


def grade(
    *,
    course: Course,
    submissions: Path,
    assignments: list[str] | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
    warm_kernels: bool = True,
    zip_pattern: str = LMS_FILE_PATTERN,
    sandbox: bool = True,
) -> GradeReport:
    """Collect, autograde in parallel, write feedback and export grades for a class.

    Re-running grades only submissions that are new or changed since they were last
    graded completely (`force=True` regrades all), so an interrupted run resumes.
    """
    from coursekit import autograde

    reporter = reporter or Reporter()
    workspace = instructor_workspace(course)
    logs = workspace.root / "logs"
    wanted = [course.assignment(a) for a in assignments] if assignments else course.assignments()
    limits = sandbox_settings(course)
    from coursekit import sandbox as sandbox_layers

    if sandbox and limits.enabled:
        protections = sandbox_layers.describe(sandbox_layers.probe())
    else:
        protections = "sandbox: OFF (--no-sandbox or c.Sandbox.enabled = False): student code runs with your rights"
    collected = collect(course=course, submissions=submissions, workspace=workspace, zip_pattern=zip_pattern,
                        max_notebook_bytes=limits.notebook_mb * 2**20)
    for assignment_id in wanted:
        # generate_assignment records the source cells (and hidden tests) in the gradebook,
        # which autograde restores into every submission before running it.
        generate_release(course, workspace, assignment_id)
    autograde.prepare_gradebook(workspace.gradebook)
    state = autograde.State(workspace.root / "grading-state.db")
    try:
        tasks, skipped = autograde.plan(workspace=workspace, assignments=wanted, state=state, force=force)
        where = f"Dask cluster {dask_address}" if dask_address else f"{workers or os.cpu_count()} workers"
        reporter.started(total=len(tasks), skipped=skipped, workers=where)
        outcomes = autograde.run(
            tasks,
            settings=autograde.settings_for(course, workspace, feedback=True, warm_kernels=warm_kernels,
                                            sandbox=sandbox),
            state=state,
            workers=workers,
            dask_address=dask_address,
            on_done=reporter.finished,
        )
    finally:
        state.close()
    grades_csv = workspace.root / "grades.csv"
    grades_csv.unlink(missing_ok=True)
    run_nbgrader(course, workspace, "export", f"--to={grades_csv}", log=logs / "export.log")
    write_rejections(collected.rejected, grades_csv.with_name("rejected.csv"))
    from coursekit import report

    reasons = report.submission_reasons(
        gradebook=workspace.gradebook, autograded_dir=workspace.root / "autograded", accepted=collected.accepted,
        notes=collected.notes, rejected=collected.rejected, failed=[o for o in outcomes if not o.success],
        assignments=wanted)
    report.write_reasons(reasons, grades_csv.with_name("reasons.csv"))
    return GradeReport(
        scores=read_assignment_scores(workspace.gradebook, wanted),
        rejected=collected.rejected,
        failed=[o for o in outcomes if not o.success],
        graded=len(outcomes),
        skipped=skipped,
        grades_csv=grades_csv,
        feedback_dir=workspace.feedback,
        reasons=reasons,
        protections=protections,
        seconds={(o.task.student, o.task.assignment): o.seconds for o in outcomes},
    )


def sandbox_settings(course: Course):
    """The course's sandbox limits (`c.Sandbox.*` in nbgrader_config.py, else the defaults)."""
    from traitlets.config.loader import PyFileConfigLoader

    from coursekit.sandbox import Sandbox

    return Sandbox(config=PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config())


def write_rejections(rejected: list[Rejected], path: Path) -> Path:
    """Every hand-in that could not be graded, with the reason, for the instructor's records."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["path", "reason"])
        for item in rejected:
            writer.writerow([item.path, item.reason])
    return path


# --- the student bundle -------------------------------------------------------------------

# What students receive. Never solutions/, tests/ (answer keys, variants, sample class),
# docs/ (grading guides) or the gradebook.
STUDENT_BUNDLE = ("README.md", "LICENSE", "Makefile", "pyproject.toml", "environment.yml",
                  "lessons", "exercises", "seeds", "src")


def student_bundle(*, course: Course, out: Path) -> Path:
    """A zip of exactly what students may have: lessons, exercises, seeds and the toolkit."""
    import zipfile

    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for part in STUDENT_BUNDLE:
            source = course.root / part
            if not source.exists():
                continue
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                relative = path.relative_to(course.root)
                if {"__pycache__", ".ipynb_checkpoints"} & set(relative.parts) or relative.suffix == ".pyc":
                    continue
                if relative.parts[0] == "src" and ".egg-info" in str(relative):
                    continue
                bundle.write(path, Path("kfor-in-numbers") / relative)
    return out

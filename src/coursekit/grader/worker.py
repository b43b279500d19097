"""Inside a grading worker process: autograde one submission with nbgrader's own API.

A worker builds one `NbGraderAPI` from the Config it is handed (never from files,
environment variables or command-line strings), keeps it for the tasks that follow, and
sends its log, and its kernels' output, to `<logs>/worker-<pid>.log` through a logging
handler and the provisioner.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from traitlets.config import Config

from coursekit.grader import speedups
from coursekit.grader.isolation import kernels, sandbox
from coursekit.grader.text import clip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    student: str
    assignment: str
    digest: str  # sha256 over the handed-in notebooks, to notice a changed submission


@dataclass(frozen=True)
class Outcome:
    task: Task
    success: bool
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs: plain data, so it pickles (to a process pool or a Dask cluster)."""

    course_root: str
    config: Config = field(hash=False, compare=False)  # nbgrader's, complete (coursekit.grader.autograde)
    feedback: bool
    log_dir: str = ""  # where the worker's log goes
    key: str = ""  # names this configuration: a worker keeps one API per key


# One API per worker process and configuration: building one imports and configures
# nbgrader (about a second), which every task would otherwise pay again.
_APIS: dict[str, NbGraderAPI] = {}


def _log_to_file(log_dir: str) -> None:
    """This worker's log (and the warnings of the libraries it runs) go to a file: kernels
    and nbgrader talk a lot, and an instructor reading the progress bar should not have to."""
    root = logging.getLogger()
    if not log_dir or any(getattr(h, "coursekit_worker", False) for h in root.handlers):
        return
    path = Path(log_dir) / f"worker-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.coursekit_worker = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


def _api(settings: WorkerSettings) -> NbGraderAPI:
    """The worker's NbGraderAPI for these settings; its kernels go through coursekit's
    provisioner, which reads what to do (warm, sandboxed) from the same Config."""
    api = _APIS.get(settings.key)
    if api is None:
        # nbgrader resolves the course's relative paths (and finds `alembic`) from here
        os.chdir(settings.course_root)
        kernels.use_fork_provisioner()
        speedups.install()
        api = _APIS[settings.key] = NbGraderAPI(config=settings.config)
    return api


def grade_task(task: Task, settings: WorkerSettings) -> Outcome:
    """Autograde one submission (and write its feedback) with nbgrader; never raises."""
    started = time.perf_counter()
    try:
        # nbgrader calls `alembic` through PATH: this interpreter's bin/ first
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        _log_to_file(settings.log_dir)
        api = _api(settings)
        errors = _ErrorRecords()
        api.log.addHandler(errors)
        try:
            refused = _special_files(api, "submitted_directory", task)
            if refused:
                return Outcome(task, False, time.perf_counter() - started, refused)
            result = api.autograde(task.assignment, task.student, force=True, create=True)
            if result["success"] and settings.feedback:
                refused = _special_files(api, "autograded_directory", task)
                if refused:
                    return Outcome(task, False, time.perf_counter() - started, refused)
                with _release_files_only(api, task):
                    result = api.generate_feedback(task.assignment, task.student, force=True)
        finally:
            api.log.removeHandler(errors)
        error = ""
        if not result["success"]:
            log.error("%s/%s failed:\n%s\n%s", task.student, task.assignment, result.get("log", ""),
                      result.get("error", ""))
            error = errors.first() + (" (full log: build/logs/worker-*.log)" if settings.log_dir else "")
        return Outcome(task, bool(result["success"]), time.perf_counter() - started, error)
    except Exception as exc:  # a worker must report, not die: the class goes on
        log.exception("%s/%s failed", task.student, task.assignment)
        return Outcome(task, False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")


def _special_files(api: NbGraderAPI, directory: str, task: Task) -> str:
    """Why nbgrader must not work in this hand-in's folder ("" if it may): nbgrader copies
    and chmods as the grader, following links, so a folder holding a symbolic link, a pipe
    or a device is refused, naming it. Student kernels never write in these folders (they
    work in a scratch copy, coursekit.grader.isolation.sandbox); this is the check that
    nothing else put one there either."""
    coursedir = api.coursedir
    folder = coursedir.format_path(getattr(coursedir, directory), task.student, task.assignment)
    found = sandbox.special_entries(folder)
    if not found:
        return ""
    return (f"{os.path.relpath(os.path.join(folder, found[0]), coursedir.root)}: a symbolic link, pipe or device "
            f"in the hand-in's folder; refused")


@contextlib.contextmanager
def _release_files_only(api: NbGraderAPI, task: Task):
    """While feedback is written: nbgrader copies every file of the autograded folder
    besides the notebooks into the feedback folder; only those the instructor's release
    holds (as regular files) may go. The others are ignored by name for this one call."""
    coursedir = api.coursedir
    folder = coursedir.format_path(coursedir.autograded_directory, task.student, task.assignment)
    release = coursedir.format_path(coursedir.release_directory, ".", task.assignment)
    others = set()
    for base, _, files in os.walk(folder):
        for name in files:
            relative = os.path.relpath(os.path.join(base, name), folder)
            if not name.endswith(".ipynb") and not os.path.isfile(os.path.join(release, relative)):
                others.add(glob.escape(name))
    saved = list(coursedir.ignore)
    coursedir.ignore = saved + sorted(others)
    try:
        yield
    finally:
        coursedir.ignore = saved


class _ErrorRecords(logging.Handler):
    """The error records nbgrader logs during one task. The first names the cause; the
    ones after it only say that an error happened."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def first(self) -> str:
        lines = [line.strip() for m in self.messages[:1] for line in m.splitlines() if line.strip()]
        return clip(lines[0] if lines else "nbgrader reported a failure", 300)

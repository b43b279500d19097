"""Inside a grading worker process: autograde one submission with nbgrader's own API.

A worker builds one `NbGraderAPI` from the Config it is handed (never from files,
environment variables or command-line strings), keeps it for the tasks that follow, and
sends its log, and its kernels' output, to `<logs>/worker-<pid>.log` through a logging
handler and the provisioner.

While it grades one hand-in, a watchdog (`_Watchdog`) waits in a thread of its own: if the
task makes no progress for far longer than every limit allows, it writes the stack of each of
the worker's threads to `<logs>/running-<key>-<pid>.txt` and ends the process, so a frozen
worker cannot hold a run forever (coursekit.grader.autograde then grades the hand-in again,
once, alone).
"""

from __future__ import annotations

import contextlib
import faulthandler
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
from coursekit.grader.course import GRADEBOOK_LOCK_TIMEOUT
from coursekit.grader.execution.safe_execute import use_judge_zygote
from coursekit.grader.isolation import kernels, sandbox
from coursekit.grader.limits import Sandbox
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
    stall_seconds: float = 0  # the watchdog's bound (0: from the limits, `stall_bound`)
    # Unix sockets of the machine's kernel and judge zygotes (autograde.MachineZygotes); a
    # worker where a socket is not (another machine; "": the zygote did not start) starts its own
    kernel_zygote: str = ""
    judge_zygote: str = ""


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


RUNNING_PREFIX = "running-"  # the watchdog's file: `running-<key>-<pid>.txt` in the log folder


def stall_bound(config: Config, notebooks: int) -> float:
    """Seconds a task may go on before its worker counts as frozen: far past what the limits
    allow (each notebook's time limit, and a few waits for the gradebook's lock per notebook),
    so only a worker that has stopped making progress reaches it."""
    return 120 + max(1, notebooks) * (Sandbox(config=config).notebook_timeout + 3 * GRADEBOOK_LOCK_TIMEOUT)


class _Watchdog:
    """If a task goes on past its bound: every thread's stack to a file, then the process ends.

    The standard library's faulthandler does this from a C thread that needs neither Python's
    lock nor the event loop, so it fires even when a thread holds the lock in a C call or the
    loop is blocked (a Dask worker was once seen frozen so for ten minutes, cause unknown). The
    file names the task on its first line; the parent (coursekit.grader.autograde) reads it to
    learn which hand-in a worker that ended was grading, and whether it froze. Without a log
    folder there is no watchdog."""

    def __init__(self, settings: WorkerSettings, task: Task, notebooks: int):
        self.path = None
        if not settings.log_dir:
            return
        self.path = Path(settings.log_dir) / f"{RUNNING_PREFIX}{settings.key}-{os.getpid()}.txt"
        self.seconds = settings.stall_seconds or stall_bound(settings.config, notebooks)
        self.file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (faulthandler keeps the fd)
        self.file.write(f"{task.student}\t{task.assignment}\n")
        self.file.flush()
        faulthandler.dump_traceback_later(self.seconds, exit=True, file=self.file)

    def close(self) -> None:
        if self.path is None:
            return
        faulthandler.cancel_dump_traceback_later()
        self.file.close()
        self.path.unlink(missing_ok=True)


def grade_task(task: Task, settings: WorkerSettings) -> Outcome:
    """Autograde one submission (and write its feedback) with nbgrader; never raises."""
    started = time.perf_counter()
    watchdog = None
    try:
        # nbgrader calls `alembic` through PATH: this interpreter's bin/ first
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        _log_to_file(settings.log_dir)
        kernels.Zygote.attach(settings.kernel_zygote)
        use_judge_zygote(settings.judge_zygote)
        watchdog = _Watchdog(settings, task, _count_notebooks(settings, task))
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
    finally:
        if watchdog is not None:
            watchdog.close()


def _count_notebooks(settings: WorkerSettings, task: Task) -> int:
    """How many notebooks this hand-in holds (the watchdog's bound grows with them)."""
    submitted = settings.config.CourseDirectory.get("submitted_directory")  # absolute (Workspace.settings)
    if not submitted:
        return 1
    try:
        return sum(1 for _ in (Path(submitted) / task.student / task.assignment).glob("*.ipynb"))
    except OSError:
        return 1


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

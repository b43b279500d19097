"""Autograde a whole class in parallel with nbgrader's own Autograde, one submission per task.

Stock `nbgrader autograde` runs one notebook after another (jupyter/nbgrader#174). Here
each (student, assignment) is one task, run by `NbGraderAPI.autograde` (the code path
formgrader uses) in a pool of long-lived worker processes, or on a Dask cluster. Every
task runs exactly what stock nbgrader runs, so the grades are the same; only the order
and the number of kernels at once change. A small state table records each finished
task with the checksum of what was handed in, so an interrupted run resumes where it
stopped and a second run grades only new or changed work.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import multiprocessing
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from coursekit.grading import Course, Workspace

# Seconds a worker waits for the gradebook's write lock before nbgrader reports an
# error; a task writes for milliseconds, so this is only reached if something hangs.
GRADEBOOK_LOCK_TIMEOUT = 120


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
    """What a worker needs to build its own nbgrader API: plain data, so it pickles."""

    course_root: str
    overrides: tuple[str, ...]
    feedback: bool
    warm_kernels: bool = True  # fork kernels from a pre-imported parent (coursekit.kernels)
    log_dir: str = ""  # where each worker's stderr (nbgrader's and the kernels') goes
    sandbox: bool = True  # run every kernel in coursekit.sandbox, with coursekit.execute.SafeExecute


def submission_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.ipynb")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class State:
    """Which submissions are fully graded, kept beside the gradebook (never inside it:
    nbgrader's schema belongs to nbgrader and its migrations)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=GRADEBOOK_LOCK_TIMEOUT)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS graded (student TEXT, assignment TEXT, digest TEXT,"
            " graded_at REAL, PRIMARY KEY (student, assignment))"
        )
        self.db.commit()

    def is_done(self, task: Task) -> bool:
        row = self.db.execute(
            "SELECT digest FROM graded WHERE student = ? AND assignment = ?",
            (task.student, task.assignment),
        ).fetchone()
        return row is not None and row[0] == task.digest

    def mark_done(self, task: Task) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO graded VALUES (?, ?, ?, ?)",
                (task.student, task.assignment, task.digest, time.time()),
            )

    def forget(self, tasks: Iterable[Task]) -> None:
        with self.db:
            self.db.executemany(
                "DELETE FROM graded WHERE student = ? AND assignment = ?",
                [(t.student, t.assignment) for t in tasks],
            )

    def close(self) -> None:
        self.db.close()


def plan(*, workspace: Workspace, assignments: list[str], state: State, force: bool) -> tuple[list[Task], int]:
    """The tasks still to run, and how many were skipped as already graded."""
    todo, skipped = [], 0
    for assignment_id in assignments:
        for folder in sorted(workspace.submitted.glob(f"*/{assignment_id}")):
            if not folder.is_dir() or not any(folder.glob("*.ipynb")):
                continue
            task = Task(folder.parent.name, assignment_id, submission_digest(folder))
            autograded = workspace.root / "autograded" / task.student / assignment_id
            if not force and state.is_done(task) and autograded.is_dir():
                skipped += 1
            else:
                todo.append(task)
    return todo, skipped


# --- in the worker ------------------------------------------------------------------------

_API_CACHE: dict[WorkerSettings, object] = {}
_LOGGING_TO: list[str] = []


def _log_to_file(log_dir: str) -> None:
    """Send this worker's stdout and stderr, which its kernels inherit, to a log file.

    Kernels and nbgrader talk a lot on stderr (transport warnings, SQLAlchemy notices);
    an instructor reading the progress bar should not have to wade through it.
    """
    if not log_dir or _LOGGING_TO:
        return
    path = Path(log_dir) / f"worker-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    _LOGGING_TO.append(str(path))


def _api(settings: WorkerSettings):
    """One NbGraderAPI per worker process, built from nbgrader_config.py plus overrides;
    with the sandbox on, nbgrader's Execute is replaced by SafeExecute and every kernel
    this worker starts is sandboxed."""
    api = _API_CACHE.get(settings)
    if api is None:
        from nbgrader.apps import NbGraderAPI
        from traitlets.config import Config
        from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

        os.chdir(settings.course_root)
        config = Config()
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=settings.course_root).load_config())
        config.merge(KVArgParseConfigLoader(argv=list(settings.overrides)).load_config())
        from coursekit import kernels

        policy = None
        if settings.sandbox:
            policy = _sandbox_policy(settings, config)
            if policy is not None:
                _use_safe_execute(config, policy)
        kernels.configure(warm=settings.warm_kernels, policy=policy)
        api = NbGraderAPI(config=config)
        _API_CACHE[settings] = api
    return api


def _sandbox_policy(settings: WorkerSettings, config):
    from coursekit import sandbox

    if not sandbox.Sandbox(config=config).enabled:
        return None
    layers = tuple(name for name, missing in sandbox.probe().items() if not missing)
    root = Path(settings.course_root)
    return sandbox.Policy.from_config(
        config, readable=sandbox.readable_paths(root), seeds=str((root / "seeds").resolve()), layers=layers)


def _use_safe_execute(config, policy) -> None:
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    from coursekit.execute import SafeExecute

    steps = config.Autograde.get("autograde_preprocessors") or Autograde.class_traits()[
        "autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [
        SafeExecute if step in (Execute, "nbgrader.preprocessors.Execute") else step for step in steps]
    config.SafeExecute.timeout = policy.cell_timeout
    config.SafeExecute.notebook_timeout = policy.notebook_timeout
    config.SafeExecute.output_kb = policy.output_kb


def grade_task(task: Task, settings: WorkerSettings) -> Outcome:
    """Autograde one submission (and write its feedback) with nbgrader; never raises."""
    started = time.perf_counter()
    try:
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        _log_to_file(settings.log_dir)
        api = _api(settings)
        result = api.autograde(task.assignment, task.student, force=True, create=True)
        if result["success"] and settings.feedback:
            result = api.generate_feedback(task.assignment, task.student, force=True)
        error = "" if result["success"] else _summary(result)
        if not result["success"]:
            # The whole story goes to this worker's log (build/logs/worker-<pid>.log).
            print(f"--- {task.student}/{task.assignment} failed:\n{result.get('log', '')}\n{result.get('error', '')}",
                  file=sys.stderr, flush=True)
            error += " (full log: build/logs/worker-*.log)" if settings.log_dir else ""
        return Outcome(task, bool(result["success"]), time.perf_counter() - started, error)
    except Exception as exc:  # a worker must report, not die: the class goes on
        return Outcome(task, False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")


def _summary(result: dict) -> str:
    """The most telling line of nbgrader's log: its first error, not its closing remark."""
    lines = [line.strip() for line in (result.get("log") or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("[ERROR]") and "see the the above" not in line]
    if errors:
        return errors[0].removeprefix("[ERROR]").strip()[:300]
    text = (result.get("error") or "").strip().splitlines()
    return (text[-1] if text else "nbgrader reported a failure")[:300]


# --- in the instructor's process ----------------------------------------------------------


def prepare_gradebook(gradebook: Path) -> None:
    """WAL journal: workers read while one writes (setting persists in the file)."""
    if gradebook.exists():
        with sqlite3.connect(gradebook, timeout=GRADEBOOK_LOCK_TIMEOUT) as db:
            db.execute("PRAGMA journal_mode=WAL")


def settings_for(
    course: Course, workspace: Workspace, *, feedback: bool, warm_kernels: bool = True, sandbox: bool = True
) -> WorkerSettings:
    overrides = []
    for item in workspace.overrides(course):
        if item.startswith("--CourseDirectory.db_url="):
            item += f"?timeout={GRADEBOOK_LOCK_TIMEOUT}"
        overrides.append(item)
    return WorkerSettings(
        course_root=str(course.root), overrides=tuple(overrides), feedback=feedback,
        warm_kernels=warm_kernels, log_dir=str(workspace.root / "logs"), sandbox=sandbox,
    )


def run(
    tasks: list[Task],
    *,
    settings: WorkerSettings,
    state: State,
    workers: int | None = None,
    dask_address: str | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run the tasks on local worker processes (or a Dask cluster); record each success."""
    outcomes = []

    def finished(outcome: Outcome) -> None:
        if outcome.success:
            state.mark_done(outcome.task)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)

    if not tasks:
        return outcomes
    if dask_address:
        from distributed import Client, as_completed

        with Client(dask_address) as client:
            jobs = client.map(grade_task, tasks, settings=settings, pure=False)
            for job in as_completed(jobs):
                finished(job.result())
        return outcomes

    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    # forkserver: workers start from a clean interpreter, not a copy of this one with
    # its open gradebook connections and threads.
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has already imported nbgrader (about a second
    # each), instead of importing it again in every worker.
    context.set_forkserver_preload(["coursekit.autograde", "coursekit.kernels", "nbgrader.apps.api"])
    with futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        jobs = [pool.submit(grade_task, task, settings) for task in tasks]
        try:
            for job in futures.as_completed(jobs):
                finished(job.result())
        except KeyboardInterrupt:
            for job in jobs:
                job.cancel()
            raise
    return outcomes

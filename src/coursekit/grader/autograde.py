"""Autograde a whole class in parallel with nbgrader's own Autograde, one submission per task.

Stock `nbgrader autograde` runs one notebook after another (jupyter/nbgrader#174). Here
each (student, assignment) is one task, run by `NbGraderAPI.autograde` (the code path
formgrader uses) in a pool of long-lived worker processes (coursekit.grader.worker), or
on a Dask cluster. Every task runs exactly what stock nbgrader runs, so the grades are
the same; only the order and the number of kernels at once change. A small state table
records each finished task with the checksum of what was handed in, so an interrupted
run resumes where it stopped and a second run grades only new or changed work.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute
from traitlets.config import Config

from coursekit.grader.course import GRADEBOOK_LOCK_TIMEOUT, Course, Workspace
from coursekit.grader.errors import WorkersFailed
from coursekit.grader.execution.safe_execute import SafeExecute, start_judge_zygote
from coursekit.grader.isolation.kernels import Zygote
from coursekit.grader.isolation.policy import Policy, readable_paths
from coursekit.grader.worker import RUNNING_PREFIX, Outcome, Task, WorkerSettings, grade_task

log = logging.getLogger(__name__)

__all__ = ["MachineZygotes", "Outcome", "State", "Task", "WorkerSettings", "plan", "run", "worker_settings"]


def submission_digest(folder: Path) -> str:
    """The notebooks handed in, and the hand-in's time if it has one (a changed time regrades)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.ipynb")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    stamp = folder / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        digest.update(b"\0timestamp.txt\0" + stamp.read_bytes())
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


def plan(*, workspace: Workspace, assignments: list[str], state: State, force: bool,
         only: set[tuple[str, str]] | None = None) -> tuple[list[Task], int]:
    """The tasks still to run, and how many were skipped as already graded.

    `only`: the (student, assignment) hand-ins to consider (those collected in this run);
    None: everything in submitted/.
    """
    todo, skipped = [], 0
    for assignment_id in assignments:
        for folder in sorted(workspace.submitted.glob(f"*/{assignment_id}")):
            if only is not None and (folder.parent.name, assignment_id) not in only:
                continue
            if not folder.is_dir() or not any(folder.glob("*.ipynb")):
                continue
            task = Task(folder.parent.name, assignment_id, submission_digest(folder))
            autograded = workspace.autograded / task.student / assignment_id
            if not force and state.is_done(task) and autograded.is_dir():
                skipped += 1
            else:
                todo.append(task)
    return todo, skipped


def worker_settings(
    config: Config, *, course: Course, workspace: Workspace, feedback: bool, warm_kernels: bool = True,
    layers: tuple[str, ...] | None = None,
) -> WorkerSettings:
    """Everything a worker needs, as one Config: the course's (as nbgrader loaded it), the
    workspace's folders, SafeExecute in nbgrader's place, and what coursekit's kernel
    provisioner is to do. `layers`: the sandbox layers to apply (None: no sandbox)."""
    full = Config()
    full.merge(config)
    full.merge(workspace.config(course))
    steps = full.Autograde.get("autograde_preprocessors") or Autograde.class_traits()[
        "autograde_preprocessors"].default()
    # nbgrader_config.py selects SafeExecute; a course whose config does not still gets it
    full.Autograde.autograde_preprocessors = [
        SafeExecute if step in (Execute, "nbgrader.preprocessors.Execute") else step for step in steps]
    full.ForkProvisioner.warm = warm_kernels
    full.ForkProvisioner.log_dir = str(workspace.logs)
    if layers is not None:
        policy = Policy.from_config(full, readable=readable_paths(course.root), seeds=str(course.seeds.resolve()),
                                    layers=tuple(layers))
        full.ForkProvisioner.policy = policy.to_json()
    else:
        full.ForkProvisioner.policy = ""
    return WorkerSettings(course_root=str(course.root), config=full, feedback=feedback,
                          log_dir=str(workspace.logs), key=uuid.uuid4().hex)


class MachineZygotes:
    """One kernel zygote and one judge zygote for all the local workers of a run.

    Each worker would otherwise start its own pair on its first hand-in: about 2 CPU-s of
    imports for the kernel zygote and 1 for the judge zygote (measured, docs/performance.md,
    eighth pass), paid once per worker and all at the start of the run, when every core is
    busy with the same. Started here as soon as the run begins, they import while this process
    collects the class; the workers fork from them. A worker that ends leaves nothing running:
    each zygote ends the kernels and judges of a worker that has exited (coursekit.owners),
    and ends itself when this process does. Dask workers on this machine use them too (they
    find the sockets); a worker on another machine does not, and starts its own pair."""

    def __init__(self, *, kernels: bool, judges: bool, log_dir: str | Path = "") -> None:
        self.kernel: Zygote | None = None
        self.judge = None  # a JudgeZygote (coursekit.judge.zygote, reached through execution)
        try:
            if kernels:
                log_file = str(Path(log_dir) / f"kernel-zygote-{os.getpid()}.log") if log_dir else ""
                self.kernel = Zygote(log_file, wait=False)
            if judges:
                self.judge = start_judge_zygote()
        except OSError as error:  # each worker starts its own instead
            log.warning("could not start the machine's zygotes (%s): each worker starts its own", error)

    def settings(self, settings: WorkerSettings) -> WorkerSettings:
        """`settings` with the zygotes' sockets, once they are ready (a zygote that did not
        start is left out: the workers start their own, as without this)."""
        sockets = {}
        for name, zygote in (("kernel_zygote", self.kernel), ("judge_zygote", self.judge)):
            if zygote is None:
                continue
            try:
                zygote.wait_ready()
                sockets[name] = zygote.socket_path
            except (OSError, RuntimeError) as error:
                log.warning("the machine's %s did not start (%s): each worker starts its own",
                            name.replace("_", " "), error)
        return replace(settings, **sockets)

    def stop(self) -> None:
        for zygote in (self.kernel, self.judge):
            if zygote is not None:
                zygote.stop()


def run(
    tasks: list[Task],
    *,
    settings: WorkerSettings,
    state: State,
    workers: int | None = None,
    dask_address: str | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    zygotes: MachineZygotes | None = None,
) -> list[Outcome]:
    """Run the tasks on local worker processes (or a Dask cluster); record each success.
    Workers on this machine fork their kernels and judges from `zygotes`, if given."""
    outcomes = []

    def finished(outcome: Outcome) -> None:
        if outcome.success:
            state.mark_done(outcome.task)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)

    if not tasks:
        return outcomes
    if zygotes is not None:
        settings = zygotes.settings(settings)
    if dask_address:
        # distributed is imported only here: it is heavy, and only --dask needs it
        from distributed import Client, as_completed

        with Client(dask_address) as client:
            jobs = client.map(grade_task, tasks, settings=settings, pure=False)
            task_of = {job.key: task for job, task in zip(jobs, tasks, strict=True)}
            for job in as_completed(jobs):
                try:
                    outcome = job.result()
                except Exception as exc:  # grade_task never raises: its worker ended (KilledWorker), each time
                    outcome = Outcome(task_of[job.key], False, 0.0, f"the Dask cluster gave up on it ("
                                      f"{type(exc).__name__}: {exc}); see the workers' logs and build/logs/")
                finished(outcome)
        return outcomes

    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    _run_local(tasks, settings=settings, workers=workers, finished=finished)
    return outcomes


def _run_local(tasks: list[Task], *, settings: WorkerSettings, workers: int,
               finished: Callable[[Outcome], None]) -> None:
    """The tasks on a pool of local worker processes, surviving a worker that ends.

    A worker process that ends in the middle of a task (killed, crashed, or ended by its
    watchdog because it froze: coursekit.grader.worker) breaks the whole pool, and every
    unfinished task with it. Then the tasks that were not running are put on a new pool; each
    that was running is graded again once more, alone, at the end: if its worker ends again,
    it is reported as failed (with the frozen worker's stacks, if it froze), and the rest of
    the class is graded all the same."""
    queue, alone, barren, named = list(tasks), [], 0, []
    while queue:
        unfinished = _pool_pass(queue, settings=settings, workers=min(workers, len(queue)), finished=finished)
        running = _ended_workers_tasks(settings, unfinished)
        for task, frozen in running.items():
            log.warning("%s/%s: its worker ended while grading it (%s); grading it again alone at the end",
                        task.student, task.assignment, frozen or "no stacks: killed or crashed")
            alone.append(task)
        if unfinished and len(unfinished) == len(queue):  # a pass that graded nothing
            barren += 1
            named += [f"{t.student}/{t.assignment}" for t in running]
        else:
            barren, named = 0, []
        _stop_if_workers_cannot_grade(settings, barren, named)
        queue = [t for t in unfinished if t not in running]
    barren, named = 0, []
    for task in alone:
        if not _pool_pass([task], settings=settings, workers=1, finished=finished):
            barren, named = 0, []
            continue
        ended = _ended_workers_tasks(settings, [task])
        barren += 1
        if task in ended:
            named.append(f"{task.student}/{task.assignment}")
            why = (f"its grading worker froze (no progress for {_bound(settings)}); each thread's stack: "
                   f"{ended[task]}" if ended[task] else
                   "its grading worker process ended while grading it (killed or crashed; see build/logs/worker-*.log)")
        else:
            why = "its grading worker ended before it started this hand-in"
        finished(Outcome(task, False, 0.0, why + "; it was graded twice, alone the second time; "
                                                 "run `coursekit grade` again to retry"))
        _stop_if_workers_cannot_grade(settings, barren, named)


# Passes of the pool (or hand-ins graded alone) in a row that grade nothing because their
# workers end, before grading stops: a worker that ends on every hand-in points at the machine
# or the environment (student code runs in its own sandboxed kernel), and would
# otherwise cost two worker starts per hand-in of the class.
ENDED_IN_A_ROW = 3


def _stop_if_workers_cannot_grade(settings: WorkerSettings, barren: int, named: list[str]) -> None:
    """Raise WorkersFailed after passes in a row that graded nothing (see ENDED_IN_A_ROW); twice
    suffice when no worker even named its hand-in (they end before starting one)."""
    logs = settings.log_dir or "the log folder"
    if barren >= 2 and not named:
        raise WorkersFailed(
            f"grading worker processes end before they start a hand-in: the machine or the Python "
            f"environment is at fault, not a submission; the workers' errors are printed above or in "
            f"{logs}/worker-*.log. The grades made so far are kept; run `coursekit grade` again once the "
            f"cause is fixed")
    if barren >= ENDED_IN_A_ROW:
        shown = ", ".join(named[:6]) + (f" and {len(named) - 6} more" if len(named) > 6 else "")
        raise WorkersFailed(
            f"grading workers ended on every hand-in they started, {barren} times in a row ({shown}): "
            f"student code runs in its own sandboxed kernel, so the machine or the Python environment "
            f"is the likely cause (see {logs}/worker-*.log and {logs}/frozen-*.txt). The "
            f"grades made so far are kept; run `coursekit grade` again once the cause is fixed")


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers start from a clean interpreter, not a copy of this one with
    # its open gradebook connections and threads.
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has already imported nbgrader (about a second
    # each), instead of importing it again in every worker.
    context.set_forkserver_preload(["coursekit.grader.worker", "nbgrader.apps.api"])
    return context


def start_early() -> None:
    """Start the server local workers fork from now, so that its imports (nbgrader's: seconds)
    can run while this process collects the class and prepares the gradebook. The pool uses the
    same server (multiprocessing keeps one). No gain was measurable on 2 cores against the
    machine's drift (docs/performance.md, sixth pass); it costs nothing."""
    _context()
    multiprocessing.forkserver.ensure_running()


def _pool_pass(tasks: list[Task], *, settings: WorkerSettings, workers: int,
               finished: Callable[[Outcome], None]) -> list[Task]:
    """Run the tasks on a new pool until they are done or the pool breaks: the unfinished."""
    context = _context()
    unfinished = []
    with futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        jobs: dict[futures.Future, Task] = {}
        try:
            for task in tasks:
                jobs[pool.submit(grade_task, task, settings)] = task
        except BrokenProcessPool:
            # A worker ended (a broken machine or environment: it can die on its first
            # task) before every task was handed to the pool: the rest are unfinished too.
            handed = set(jobs.values())
            unfinished.extend(task for task in tasks if task not in handed)
        try:
            for job in futures.as_completed(jobs):
                try:
                    outcome = job.result()
                except BrokenProcessPool:
                    unfinished.append(jobs[job])
                    continue
                finished(outcome)
        except KeyboardInterrupt:
            for job in jobs:
                job.cancel()
            raise
    unfinished_set = set(unfinished)
    return [task for task in tasks if task in unfinished_set]


def _bound(settings: WorkerSettings) -> str:
    return f"{settings.stall_seconds:g} s" if settings.stall_seconds else "longer than every limit allows"


def _ended_workers_tasks(settings: WorkerSettings, unfinished: list[Task]) -> dict[Task, str]:
    """Of the unfinished tasks, those a worker was running when the pool broke (each worker's
    watchdog file names its task: coursekit.grader.worker), each with the file that holds the
    frozen worker's stacks ("" if its worker did not freeze). Those files are kept, renamed
    `frozen-<student>-<assignment>-<time>.txt`; the others are removed."""
    if not settings.log_dir:
        return {}
    wanted = {(t.student, t.assignment): t for t in unfinished}
    found: dict[Task, str] = {}
    for path in Path(settings.log_dir).glob(f"{RUNNING_PREFIX}{settings.key}-*.txt"):
        try:
            head, _, stacks = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        except OSError:
            continue
        task = wanted.get(tuple(head.split("\t")))
        if task is None:
            continue
        if stacks.strip():
            kept = path.with_name(f"frozen-{task.student}-{task.assignment}-{time.strftime('%Y%m%d-%H%M%S')}.txt")
            path.replace(kept)
            found[task] = str(kept)
        else:
            path.unlink(missing_ok=True)
            found.setdefault(task, "")
    return found

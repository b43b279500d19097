"""Where a grading worker's time goes, notebook by notebook.

    python benchmarks/profile_worker.py --students 6 [--cprofile build/bench/worker.prof]

It prints each stage per notebook over the whole run, then the same by assignment.

Grades a generated class in this one process, exactly as a grading worker does
(`coursekit.grader.worker.grade_task`, every protection on, no feedback: as `make bench`),
with a stopwatch on the functions that stand for each stage. A stage's time is exclusive:
the time of a stage called inside another (a gradebook query inside a preprocessor) is
counted once, in the inner one. What no stopwatch covers is "nbgrader and nbconvert, the rest".

Written here rather than read off cProfile: cProfile's cumulative times count nested calls
twice and do not see time spent waiting on the kernel as the kernel's. `--cprofile` also
writes a cProfile file of the same run for a closer look (snakeviz, pstats).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import inspect
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import nbclient  # noqa: E402
import nbformat  # noqa: E402
import nbgrader.api  # noqa: E402
import nbgrader.converters.autograde  # noqa: E402
import nbgrader.preprocessors  # noqa: E402
from bench_grading import fresh_course, prepare, write_class  # noqa: E402

from coursekit.grader import autograde, gradebook  # noqa: E402
from coursekit.grader.config import load_config  # noqa: E402
from coursekit.grader.execution import ready, safe_execute, tamper  # noqa: E402
from coursekit.grader.pipeline import isolation  # noqa: E402
from coursekit.grader.worker import grade_task  # noqa: E402
from coursekit.judge import grade as judge_grade  # noqa: E402


class Stopwatch:
    """Exclusive wall time per stage: a stage's clock pauses while an inner stage runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []  # [stage, started, inner seconds]

    def _enter(self, stage: str) -> None:
        self._stack.append([stage, time.perf_counter(), 0.0])

    def _leave(self) -> None:
        stage, started, inner = self._stack.pop()
        spent = time.perf_counter() - started
        self.seconds[stage] += spent - inner
        self.calls[stage] += 1
        if self._stack:
            self._stack[-1][2] += spent

    def wrap(self, owner, name: str, stage: str) -> None:
        original = getattr(owner, name)
        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed(*args, **kwargs):
                self._enter(stage)
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._leave()
        else:
            @functools.wraps(original)
            def timed(*args, **kwargs):
                self._enter(stage)
                try:
                    return original(*args, **kwargs)
                finally:
                    self._leave()
        setattr(owner, name, timed)


STAGES = {
    "kernel start (fork from the zygote, sandbox, connect, wait for ready)": [
        (nbclient.NotebookClient, "async_start_new_kernel"), (nbclient.NotebookClient, "start_new_kernel"),
        (nbclient.NotebookClient, "async_start_new_kernel_client"),
        (nbclient.NotebookClient, "start_new_kernel_client"),
        (ready.PromptStart, "async_start_new_kernel_client"), (ready.PromptStart, "start_new_kernel_client"),
    ],
    "kernel shutdown and sandbox clean-up": [
        (nbclient.NotebookClient, "_async_cleanup_kernel"), (nbclient.NotebookClient, "_cleanup_kernel"),
    ],
    "student cells (the kernel runs them)": [
        (safe_execute.SafeExecute, "async_execute_cell"), (safe_execute.SafeExecute, "execute_cell"),
    ],
    "judge (start, test cells, proxied calls, close)": [
        (safe_execute.SafeExecute, "_judge_cell"),
        (judge_grade.JudgeSession, "__init__"),
        (judge_grade.JudgeSession, "close"),
    ],
    "tamper scan": [(tamper, "scan_notebook")],
    "gradebook (open, queries, writes)": [
        (nbgrader.api.Gradebook, name) for name, value in vars(nbgrader.api.Gradebook).items()
        if inspect.isfunction(value) and not name.startswith("__") or name == "__init__"
    ],
    "notebook files (read, write, copy)": [
        (nbformat, "read"), (nbformat, "write"), (nbformat, "reads"), (nbformat, "writes"),
        (nbformat, "validate"),
    ],
}


def install(watch: Stopwatch) -> None:
    for stage, targets in STAGES.items():
        for owner, name in targets:
            watch.wrap(owner, name, stage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "profile")
    parser.add_argument("--cprofile", type=Path, default=None, help="also write a cProfile file here")
    args = parser.parse_args(argv)
    if args.cprofile:
        args.cprofile = args.cprofile.resolve()  # the worker changes to the course's folder
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]

    course = fresh_course(args.out / "course")
    submissions = args.out / "class"
    shutil.rmtree(submissions, ignore_errors=True)
    n = len(write_class(course, args.students, submissions))
    workspace = prepare(course, submissions)
    gradebook.prepare(workspace.gradebook)
    config = load_config(course)
    layers, protections = isolation(config, sandbox_on=True)
    settings = autograde.worker_settings(config, course=course, workspace=workspace, feedback=False, layers=layers)
    state = autograde.State(workspace.state_db)
    tasks, _ = autograde.plan(workspace=workspace, assignments=course.assignments(), state=state, force=True)
    state.close()
    print(protections)
    # the first task pays one-off costs (the API, the zygote, the judges' zygote): not profiled
    warm_up, tasks = tasks[0], tasks[1:]
    grade_task(warm_up, settings)

    watch = Stopwatch()
    install(watch)
    profiler = cProfile.Profile() if args.cprofile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    by_assignment: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, int] = defaultdict(int)
    failed = []
    for task in tasks:
        before, task_started = dict(watch.seconds), time.perf_counter()
        outcome = grade_task(task, settings)
        spent = by_assignment[task.assignment]
        spent["total"] += time.perf_counter() - task_started
        for stage in STAGES:
            spent[stage] += watch.seconds[stage] - before.get(stage, 0.0)
        counts[task.assignment] += 1
        if not outcome.success:
            failed.append(outcome)
    if profiler:
        profiler.disable()
    total = time.perf_counter() - started
    count = len(tasks)
    print(f"\n{count} notebooks graded one after another in one worker ({n} in the class, the first "
          f"as a warm-up); {len(failed)} failed")
    print(f"{'stage':<72} {'s/notebook':>10} {'share':>6}")
    covered = 0.0
    for stage in STAGES:
        covered += watch.seconds[stage]
        print(f"{stage:<72} {watch.seconds[stage] / count:>10.3f} {watch.seconds[stage] / total:>6.0%}")
    rest = total - covered
    print(f"{'nbgrader and nbconvert, the rest (set-up, preprocessors, copies)':<72} {rest / count:>10.3f} "
          f"{rest / total:>6.0%}")
    print(f"{'total':<72} {total / count:>10.3f} {1:>6.0%}")
    names = sorted(by_assignment)
    print("\nby assignment, s/notebook: " + ", ".join(f"{name} ({counts[name]})" for name in names))
    print(f"{'stage':<72} " + " ".join(f"{name[:2]:>6}" for name in names))
    for stage in [*STAGES, "rest", "total"]:
        row = []
        for name in names:
            spent = by_assignment[name]
            value = spent["total"] - sum(spent[s] for s in STAGES) if stage == "rest" else spent[stage]
            row.append(f"{value / counts[name]:>6.3f}")
        print(f"{stage[:72]:<72} " + " ".join(row))
    if profiler:
        args.cprofile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(args.cprofile)
        print(f"cProfile: {args.cprofile}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: stock sequential `nbgrader autograde` against `coursekit grade`, same class,
same machine, one run. Stock nbgrader runs first and again last, `coursekit grade` twice in
between, and between those two `coursekit grade` twice through a Dask LocalCluster: the
machine's speed drifts over the minutes a bench takes, so each comparison is of means over runs
placed symmetrically in time (stock, local, Dask, Dask, local, stock): the speed-up is the mean
of the stock runs over the mean of the local runs, Dask's throughput the mean of the local runs
over the mean of the Dask runs (`--once`: one run of each, `--no-dask`: no Dask runs).
Prints wall times, their ratio, submissions per minute, peak memory (PSS of the process
tree), and two floors per notebook: bare nbclient with a cold kernel (mean over a sample with
every assignment in the class's proportions), and a warm sandboxed kernel running the same
cells as grading (nbgrader's autograded copy: the hidden tests included) with nothing else
around it (mean over every notebook of the class, alone, and as many at once as grading has
workers, so that the cores are shared as in grading). With more than one worker it also runs
`coursekit grade` once with one worker, just before the floor alone, so that each floor has a
grading run to compare with like for like. Checks the scores agree.

    python benchmarks/bench_grading.py --students 40 [--workers N] [--out build/bench] [--no-dask] [--once]

The figures are also written to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from coursekit import notebooks  # noqa: E402
from coursekit.grader import build, collect, commands, gradebook, sampleclass  # noqa: E402
from coursekit.grader.build import generate_release  # noqa: E402
from coursekit.grader.course import Course, Workspace, instructor_workspace  # noqa: E402
from coursekit.grader.pipeline import Run, grade_class  # noqa: E402


class PeakMemory:
    """Peak memory of this process and all its descendants, sampled from /proc: the sum of
    their proportional set sizes (PSS, /proc/PID/smaps_rollup), so a page that forked
    processes share counts once in all, not once per process as summed RSS would.

    Written here because the standard library only reports the largest single child
    (ru_maxrss), and a grading run's memory is the sum over kernels, judges and workers.
    Reading another user's smaps_rollup (sandboxed kernels run as their own user) needs
    root; a process that cannot be read is counted by its RSS, and the run says how many were.
    """

    def __init__(self, interval: float = 1.0):
        # Not faster: reading smaps_rollup walks each process's page tables, and every 0.1 s
        # over a grading run's ~15 processes it took 17 % of both cores (perf, 2 Dec 2026),
        # slowing the run it measured. `cpu_seconds` is its own cost, printed by the bench.
        self.interval = interval
        self.peak_kib = 0
        self.cpu_seconds = 0.0
        self.unreadable = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _field(path: str, name: str) -> int:
        with open(path) as handle:
            for line in handle:
                if line.startswith(name):
                    return int(line.split()[1])
        return 0

    def _tree_pss(self) -> int:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        total, todo = 0, [os.getpid()]
        while todo:
            pid = todo.pop()
            try:
                total += self._field(f"/proc/{pid}/smaps_rollup", "Pss:")
            except PermissionError:
                self.unreadable += 1
                try:
                    total += self._field(f"/proc/{pid}/status", "VmRSS:")
                except OSError:
                    pass
            except OSError:  # gone meanwhile
                pass
            todo += children.get(pid, [])
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self._tree_pss())
            self.cpu_seconds = time.thread_time()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self.unreadable:
            print(f"peak memory: {self.unreadable} process samples could not be read as PSS (not root?); "
                  "counted by RSS, which overstates", file=sys.stderr)


def fresh_course(target: Path) -> Course:
    shutil.rmtree(target, ignore_errors=True)
    Course(ROOT).copy_to(target)
    course = Course.at(target)
    build.build(course=course)  # the release the class answers, fresh from solutions/
    return course


STOCK_CONFIG = """

# Added by benchmarks/bench_grading.py for the stock run: nbgrader's own autograde
# preprocessors (its Execute: no sandbox, no judge, no guard), everything else as the course.
c.Autograde.pop("autograde_preprocessors", None)
"""


def make_stock(course: Course) -> None:
    """Make this copy of the course grade as stock nbgrader does."""
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text(encoding="utf-8") + STOCK_CONFIG, encoding="utf-8")


def write_class(course: Course, students: int, out: Path) -> list[Path]:
    made = sampleclass.synthetic_class(
        course=course, fixtures=course.root / "tests" / "fixtures", students=students
    )
    for relative, text in made.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text, encoding="utf-8")
    return [out / r for r in made]


def prepare(course: Course, submissions: Path) -> Workspace:
    workspace = instructor_workspace(course)
    collect.collect(course=course, submissions=submissions, workspace=workspace)
    for assignment_id in course.assignments():
        generate_release(course, workspace, assignment_id)
    return workspace


def scores_of(workspace: Workspace, assignments: list[str]) -> dict:
    return {
        (s.student, s.assignment, s.test): s.score
        for a in assignments for s in gradebook.read_test_scores(workspace.gradebook, a)
    }


def bench_stock(course: Course, workspace: Workspace) -> tuple[float, PeakMemory]:
    with PeakMemory() as memory:
        started = time.perf_counter()
        for assignment_id in course.assignments():
            commands.run_nbgrader(course, workspace, "autograde", assignment_id, "--force",
                                 log=workspace.root / "logs" / f"stock-{assignment_id}.log")
        elapsed = time.perf_counter() - started
    return elapsed, memory


def bench_coursekit(course: Course, submissions: Path, workers: int | None):
    """coursekit's one grading path, on the class `prepare` collected and released."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = grade_class(course=course, submissions=submissions, reporter=None,
                             run=Run(workers=workers, force=True, feedback=False, export=False, release=False))
        elapsed = time.perf_counter() - started
    return elapsed, memory, result.seconds, result.failed, result.protections


def bench_dask(course: Course, submissions: Path, workers: int) -> tuple[float, list, dict]:
    """The same grading path through a Dask LocalCluster: `workers` separate worker processes,
    one thread each, started before the clock (as a running cluster would be), with Dask's
    statistical profiler off, as docs/instructor-guide.md asks of a grading cluster (it samples
    every thread's stack 100 times a second; docs/performance.md, ninth pass, measured it)."""
    import dask
    from distributed import LocalCluster  # first: distributed's defaults must be loaded before the set below

    with dask.config.set({"distributed.worker.profile.enabled": False}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        started = time.perf_counter()
        result = grade_class(course=course, submissions=submissions, reporter=None,
                             run=Run(dask_address=cluster.scheduler_address, force=True, feedback=False,
                                     export=False, release=False))
        elapsed = time.perf_counter() - started
    return elapsed, result.failed, result.seconds


def judge_summary(workspace: Workspace) -> dict:
    """What the judge did in the coursekit run, read from each autograded notebook's metadata
    (SafeExecute records it): how many notebooks had their test cells judged, by a warm
    (forked) judge or a cold one, and the judge's start-up and call times."""
    reports = []
    for path in sorted(workspace.autograded.glob("*/*/*.ipynb")):
        judge = notebooks.read(path).metadata.get("coursekit", {}).get("judge")
        if judge:
            reports.append(judge)
    if not reports:
        return {"judged_notebooks": 0}
    return {
        "judged_notebooks": sum(1 for r in reports if r.get("judged")),
        "warm_judges": sum(1 for r in reports if r.get("warm")),
        "judge_start_s_mean": round(statistics.mean(r["seconds"]["start"] for r in reports), 3),
        "judge_start_waited_s_mean": round(statistics.mean(r["seconds"]["start_waited"] for r in reports), 3),
        "judge_calls_per_notebook": round(statistics.mean(r.get("calls", 0) for r in reports), 1),
        "judge_calls_over_the_channel": f"{sum(r.get('channel_calls', 0) for r in reports)} of "
                                        f"{sum(r.get('calls', 0) for r in reports)}",
        "judge_call_s_per_notebook": round(statistics.mean(r["seconds"]["calls"] for r in reports), 3),
    }


def _sample(paths: list[Path], sample: int) -> list[Path]:
    """The first `sample` notebooks of paths[::len(paths) // sample]: how the floors were
    sampled until 4 December (kept to print the old measure beside the new)."""
    step = max(1, len(paths) // sample)
    return paths[::step][:sample]


def _balanced_sample(paths: list[Path], sample: int) -> list[Path]:
    """About `sample` notebooks, the same number from every assignment, spread over students.
    Assignments cost very different times (01 a few tenths of a second, 04 several times as
    much), so a sample must hold them in the class's proportions, and its mean (not its
    median, which falls between the cheap and the dear ones) is the floor per notebook."""
    by_assignment: dict[str, list[Path]] = {}
    for path in paths:
        by_assignment.setdefault(path.parent.name, []).append(path)
    each = max(1, round(sample / len(by_assignment)))
    chosen = []
    for offset, (_, group) in enumerate(sorted(by_assignment.items())):
        step = max(1, len(group) // each)
        # a different student in each assignment: offset by the assignment's place
        chosen.extend(group[offset % step::step][:each])
    return chosen


def as_graded(path: Path, workspace: Workspace | None):
    """The hand-in at `path` with its cells as grading ran them, outputs cleared: nbgrader's
    autograded copy in `workspace`, whose test cells are the instructor's, hidden tests
    included (nbgrader puts them back before it executes). A floor must run these cells: the
    hand-in itself holds only the visible tests (until 4 December, twelfth pass, the floors ran
    the hand-in as it was). With `workspace` None, the hand-in as handed in."""
    if workspace is None:
        return notebooks.read(path)
    student, assignment = path.parent.parent.name, path.parent.name
    graded = workspace.autograded / student / assignment / path.name
    if not graded.is_file():
        raise FileNotFoundError(f"{graded}: no autograded copy of {path} to time the floor on "
                                f"(the coursekit run before the floors did not grade it)")
    nb = notebooks.read(graded)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def bench_floor(paths: list[Path], sample: int, log: Path, workspace: Workspace) -> list[float]:
    """Bare nbclient execution, one notebook after another, on a sample with every assignment
    in the class's proportions: a cold kernel (a new Python that imports pandas and
    matplotlib) runs each notebook's cells as graded (`as_graded`: hidden tests included),
    and nothing else. The kernels' own messages go to `log`, not the terminal."""
    import nbclient

    times = []
    with log.open("a", encoding="utf-8") as kernel_output:
        for path in _balanced_sample(paths, sample):
            nb = as_graded(path, workspace)
            started = time.perf_counter()
            client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                                             resources={"metadata": {"path": str(path.parent)}})
            client.execute(stdout=kernel_output, stderr=kernel_output)
            times.append(time.perf_counter() - started)
    return times


def bench_warm_floor(paths: list[Path], course: Course, workspace: Workspace,
                     parallel: int = 1, *, graded: bool = True) -> dict[Path, float]:
    """The warm floor: what the grader cannot avoid per notebook. A kernel forked from the
    warm zygote and put in the same sandbox as grading's (coursekit's provisioner, the
    grading run's policy), runs the notebook's cells as graded (`as_graded`: the hidden tests
    included, in the kernel, as stock nbgrader runs them) in its autograded folder, and shuts
    down; nothing else (no nbgrader, no gradebook, no judge, no files). `graded=False` runs
    the hand-in as handed in (visible tests only), as the floors did until the twelfth pass.

    Every notebook of the class is timed, the same notebooks the workers graded (since 4
    December; before, a sample of ten whose median was taken). Each process first runs one
    notebook untimed: the zygote's start is paid once per run, not per notebook.

    With `parallel` > 1, that many processes share the class between them and run at once
    (as many as grading has workers), so each notebook's kernel shares the cores as a
    grading worker's does. Returns each notebook's time."""
    if parallel <= 1:
        return _warm_floor_run(paths, course.root, workspace, graded)
    import multiprocessing
    from concurrent import futures

    context = multiprocessing.get_context("forkserver")
    with futures.ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        runs = [pool.submit(_warm_floor_run, paths[i::parallel], course.root, workspace, graded)
                for i in range(parallel)]
        return {path: seconds for run in runs for path, seconds in run.result().items()}


def _warm_floor_run(paths: list[Path], course_root: Path, workspace: Workspace,
                    graded: bool = True) -> dict[Path, float]:
    """One process's warm floor over `paths`, after one untimed notebook (see bench_warm_floor)."""
    import nbclient

    from coursekit.grader import autograde
    from coursekit.grader.config import load_config
    from coursekit.grader.execution.ready import PromptStart
    from coursekit.grader.isolation import kernels
    from coursekit.grader.pipeline import isolation

    class WarmFloorClient(PromptStart, nbclient.NotebookClient):
        """Awaits the kernel as grading does (coursekit.grader.execution.ready)."""

    course = Course.at(course_root)
    config = load_config(course)
    layers, _ = isolation(config, sandbox_on=True)
    settings = autograde.worker_settings(config, course=course, workspace=workspace, feedback=False, layers=layers)
    kernels.use_fork_provisioner()
    times = {}
    try:
        for number, path in enumerate([paths[0], *paths]):
            nb = as_graded(path, workspace if graded else None)
            student, assignment = path.parent.parent.name, path.parent.name
            folder = workspace.autograded / student / assignment
            started = time.perf_counter()
            client = WarmFloorClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                                     config=settings.config, resources={"metadata": {"path": str(folder)}})
            client.execute()
            if number:  # the first is the untimed warm-up
                times[path] = time.perf_counter() - started
    finally:
        kernels.use_fork_provisioner(False)
        if kernels.Zygote._shared is not None:
            kernels.Zygote._shared.stop()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--floor-sample", type=int, default=12,
                        help="notebooks timed with bare nbclient (the same number from each assignment)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--no-dask", dest="dask", action="store_false",
                        help="skip the runs through a Dask LocalCluster")
    parser.add_argument("--once", dest="repeat", action="store_false",
                        help="run stock nbgrader and coursekit once each (no second run of either)")
    args = parser.parse_args(argv)
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]

    stock_course = fresh_course(args.out / "stock")
    make_stock(stock_course)
    ours_course = fresh_course(args.out / "coursekit")
    submissions = args.out / "class"
    shutil.rmtree(submissions, ignore_errors=True)
    paths = write_class(stock_course, args.students, submissions)
    n = len(paths)
    print(f"class: {args.students} students x {len(stock_course.assignments())} assignments = {n} notebooks")

    stock_ws = prepare(stock_course, submissions)
    ours_ws = prepare(ours_course, submissions)
    dask_runs = (1 if not args.repeat else 2) if args.dask else 0
    dask_prepared = []
    for number in range(dask_runs):
        dask_course = fresh_course(args.out / ("dask" if number == 0 else "dask-again"))
        dask_prepared.append((dask_course, prepare(dask_course, submissions)))
    if args.dask or args.repeat:
        again_course = fresh_course(args.out / "coursekit-again")
        again_ws = prepare(again_course, submissions)
    if args.repeat:
        stock_again_course = fresh_course(args.out / "stock-again")
        make_stock(stock_again_course)
        stock_again_ws = prepare(stock_again_course, submissions)

    stock_s, stock_mem = bench_stock(stock_course, stock_ws)
    print(f"stock nbgrader autograde (sequential): {stock_s:8.1f} s")
    ours_s, ours_mem, task_seconds, failed, protections = bench_coursekit(ours_course, submissions, args.workers)
    print(protections)
    workers = args.workers or os.cpu_count()
    print(f"coursekit grade ({workers} workers):        {ours_s:8.1f} s")
    dask_seconds, dask_failed, dask_tasks = [], [], []
    for dask_course, _ in dask_prepared:
        # twice in a row between the two local runs: one Dask run moved by +-8 % against local
        # runs around it on an unchanged machine (docs/performance.md, fourth pass)
        seconds, failed_here, tasks_here = bench_dask(dask_course, submissions, workers)
        dask_seconds.append(seconds)
        dask_tasks.append(tasks_here)
        dask_failed.extend(failed_here)
        print(f"coursekit grade (Dask LocalCluster, {workers} worker processes, profiler off): {seconds:8.1f} s")
    if args.dask or args.repeat:
        # local workers once more: the machine's speed drifts over a run of minutes (by up to
        # half here), so Dask is compared with the local runs on either side of it...
        again_s, _, again_tasks, again_failed, _ = bench_coursekit(again_course, submissions, args.workers)
        print(f"coursekit grade ({workers} workers), again:            {again_s:8.1f} s")
    if args.repeat:
        # ... and stock nbgrader runs again last, so that the speed-up compares runs spread over
        # the same stretch of time (one stock run of 24 students took 344 s, 8.7 s per notebook
        # on module 1 while the machine was slow; minutes later, 2.4 s each on six of them)
        stock_again_s, stock_again_mem = bench_stock(stock_again_course, stock_again_ws)
        print(f"stock nbgrader autograde, again:       {stock_again_s:8.1f} s")
    floor = bench_floor(paths, args.floor_sample, log=args.out / "floor-kernels.log", workspace=ours_ws)
    one_worker = None
    if workers > 1:
        # one worker alone, next to the warm floor alone: the like-for-like pair without
        # contention (the goal's measure takes the workers' tasks, two at once, against the
        # floor alone)
        one_course = fresh_course(args.out / "one-worker")
        one_ws = prepare(one_course, submissions)
        one_s, _, one_tasks, one_failed, _ = bench_coursekit(one_course, submissions, 1)
        one_worker = (one_s, one_tasks, one_failed, one_ws)
        print(f"coursekit grade (1 worker):            {one_s:8.1f} s")
    warm_floor = bench_warm_floor(paths, ours_course, ours_ws)
    warm_floor_shared = bench_warm_floor(paths, ours_course, ours_ws, parallel=workers)
    # the floor as measured until the twelfth pass (the hand-ins as handed in: no hidden tests)
    warm_floor_visible = bench_warm_floor(paths, ours_course, ours_ws, graded=False)

    assignments = stock_course.assignments()
    same = scores_of(stock_ws, assignments) == scores_of(ours_ws, assignments)
    stock_runs, ours_runs, memory_runs = [stock_s], [ours_s], [stock_mem]
    if args.dask or args.repeat:
        same = same and scores_of(stock_ws, assignments) == scores_of(again_ws, assignments)
        failed = [*failed, *again_failed]
        ours_runs.append(again_s)
    if args.repeat:
        same = same and scores_of(stock_ws, assignments) == scores_of(stock_again_ws, assignments)
        stock_runs.append(stock_again_s)
        memory_runs.append(stock_again_mem)
    stock_mean, ours_mean = statistics.mean(stock_runs), statistics.mean(ours_runs)
    # means over the same notebooks: the worker's every task (its first, which also pays the
    # worker's own start, included), the warm floor's every notebook of the class
    worker_time = statistics.mean(task_seconds.values())
    floor_mean = statistics.mean(floor)
    warm_mean = statistics.mean(warm_floor.values())
    shared_mean = statistics.mean(warm_floor_shared.values())
    # the sampling used until 4 December (eleventh pass), from the same timings: the median of a
    # sample of ten (uneven across assignments: 3, 3, 2 and 2 of 01-04 at 24 students)
    old_warm = statistics.median(warm_floor[path] for path in _sample(paths, 10))
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "notebooks": n,
        "workers": workers,
        "stock_seconds": " / ".join(f"{s:.1f}" for s in stock_runs),
        "coursekit_seconds": " / ".join(f"{s:.1f}" for s in ours_runs),
        # the goal's measure: mean of the stock runs over mean of the local coursekit runs
        "speedup": round(stock_mean / ours_mean, 2),
        "speedup_each_pair": " / ".join(f"{a / b:.2f}" for a, b in zip(stock_runs, ours_runs, strict=False)),
        "stock_per_notebook_s": " / ".join(f"{s / n:.3f}" for s in stock_runs),
        "coursekit_wall_per_notebook_s": " / ".join(f"{s / n:.3f}" for s in ours_runs),
        "coursekit_worker_seconds_per_notebook": round(worker_time, 3),
        # a worker's first tasks also pay its own start: the largest task times
        "coursekit_worker_seconds_median_max": " / ".join(
            f"{f(task_seconds.values()):.3f}" for f in (statistics.median, max)),
        "coursekit_worker_by_assignment_s": " / ".join(
            f"{statistics.mean(t for (_, a), t in task_seconds.items() if a == assignment):.3f}"
            for assignment in stock_course.assignments()),
        "nbclient_floor_per_notebook_s": round(floor_mean, 3),
        "worker_cost_vs_floor": round(worker_time / floor_mean, 2),
        "warm_floor_per_notebook_s": round(warm_mean, 3),
        "worker_cost_vs_warm_floor": round(worker_time / warm_mean, 2),
        "warm_floor_by_assignment_s": " / ".join(
            f"{statistics.mean(t for p, t in warm_floor.items() if p.parent.name == assignment):.3f}"
            for assignment in stock_course.assignments()),
        "warm_floor_old_measure_s": f"{old_warm:.3f} (ratio {worker_time / old_warm:.2f})",
        # the floor on the hand-ins as handed in, without the hidden tests (until 4 December)
        "warm_floor_without_hidden_tests_s": f"{statistics.mean(warm_floor_visible.values()):.3f} (ratio "
                                             f"{worker_time / statistics.mean(warm_floor_visible.values()):.2f})",
        # the same floor with as many running at once as grading has workers (like for like:
        # the worker's time is taken with the cores shared); reported, not the goal's measure
        f"warm_floor_{workers}_at_once_per_notebook_s": round(shared_mean, 3),
        f"worker_cost_vs_warm_floor_{workers}_at_once": round(worker_time / shared_mean, 2),
        "stock_submissions_per_minute": round(60 * n / stock_mean, 1),
        "coursekit_submissions_per_minute": round(60 * n / ours_mean, 1),
        "stock_peak_memory_pss_mib": round(max(m.peak_kib for m in memory_runs) / 1024),
        "coursekit_peak_memory_pss_mib": round(ours_mem.peak_kib / 1024),
        "memory_sampler_cpu_s_stock_coursekit": f"{stock_mem.cpu_seconds:.1f} / {ours_mem.cpu_seconds:.1f}",
        "failed_tasks": len(failed),
        "identical_scores": same,
        "protections": protections,
        **judge_summary(ours_ws),
    }
    if one_worker is not None:
        one_s, one_tasks, one_failed, one_ws = one_worker
        one_time = statistics.mean(one_tasks.values())
        same = same and scores_of(stock_ws, assignments) == scores_of(one_ws, assignments)
        failed = [*failed, *one_failed]
        results.update({
            "one_worker_seconds": round(one_s, 1),
            "one_worker_seconds_per_notebook": round(one_time, 3),
            "one_worker_by_assignment_s": " / ".join(
                f"{statistics.mean(t for (_, a), t in one_tasks.items() if a == assignment):.3f}"
                for assignment in assignments),
            # like for like: one worker against the floor alone, the workers against the floor
            # run as many at once (above); the goal's measure below mixes the two
            "one_worker_cost_vs_warm_floor_alone": round(one_time / warm_mean, 2),
            "failed_tasks": len(failed),
            "identical_scores": same,
        })
    dask_ok = True
    if args.dask or args.repeat:
        results["coursekit_worker_seconds_second_run_mean_median_max"] = " / ".join(
            f"{f(again_tasks.values()):.3f}" for f in (statistics.mean, statistics.median, max))
    if args.dask:
        dask_same = all(scores_of(stock_ws, assignments) == scores_of(ws, assignments) for _, ws in dask_prepared)
        # throughput ratio: notebooks per second through Dask over through local workers (the
        # mean of the local runs before and after the Dask runs over the mean of those)
        ratio = (ours_s + again_s) / 2 / statistics.mean(dask_seconds)
        dask_ok = dask_same and not dask_failed and not again_failed and ratio >= 0.9
        results.update({
            "dask_seconds": " / ".join(f"{s:.1f}" for s in dask_seconds),
            "dask_throughput_vs_local": round(ratio, 3),
            # the Dask workers' task times, as the local workers' above (mean / median / max)
            "dask_worker_seconds_mean_median_max": "; ".join(
                " / ".join(f"{f(t.values()):.3f}" for f in (statistics.mean, statistics.median, max))
                for t in dask_tasks),
            "dask_failed_tasks": len(dask_failed),
            "dask_identical_scores": dask_same,
        })
    goals = {
        "goal: speed-up >= 5x stock": results["speedup"] >= 5,
        "goal: worker cost <= 1.3x warm floor": results["worker_cost_vs_warm_floor"] <= 1.3,
    }
    if args.dask:
        goals["goal: Dask throughput within 10 % of local workers, same scores"] = dask_ok
    results.update({goal: "met" if met else "NOT met" for goal, met in goals.items()})
    print()
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not same or failed:
        print("FAIL: the two runs disagree or tasks failed", file=sys.stderr)
        return 1
    if not dask_ok:
        print("FAIL: the Dask run was more than 10 % slower than local workers, disagreed or failed tasks",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

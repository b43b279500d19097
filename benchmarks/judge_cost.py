"""What the judge costs: test cells in a judge process instead of the student's kernel.

For each solution notebook, in fresh kernels, it times executing the notebook the stock
way (every cell in the kernel, as nbgrader's Execute does) and with the judge
(`coursekit.judge.grade.judge_test_cells`), and splits the judge's time into judge
start-up, setup cells run in the judge, test cells, and the proxied calls' round trips.
Kernel start-up is the same either way and is not counted; before either run the kernel imports
what a grading kernel has imported (it is forked from a zygote that did). It also measures the bare
round trip of one proxied call (a trivial function on a short string).

    python benchmarks/judge_cost.py [--repeat 3] [--calls 200] [--json out.json]

Medians over `--repeat` runs. Numbers are for this machine; docs/judge.md cites a run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import nbformat  # noqa: E402
from jupyter_client import KernelManager  # noqa: E402
from nbgrader import utils  # noqa: E402

from coursekit.grader.isolation.kernels import PRELOAD  # noqa: E402
from coursekit.judge.grade import JudgeSession, is_test, judge_test_cells, run_in_kernel  # noqa: E402
from coursekit.judge.process import JudgeProcess  # noqa: E402


class Kernel:
    def __enter__(self):
        self.sockets = tempfile.mkdtemp(prefix="judge-cost-")  # ipc sockets: no TCP port races
        self.km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(self.sockets, "kernel"))
        self.km.start_kernel(cwd=str(ROOT))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        return self

    def __exit__(self, *exc):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        shutil.rmtree(self.sockets, ignore_errors=True)


def scores(nb) -> dict[str, float]:
    return {c.metadata.nbgrader["grade_id"]: utils.determine_grade(c)[0] for c in nb.cells if is_test(c)}


# What a grading kernel has imported before its notebook starts (forked from the kernel zygote:
# coursekit.grader.isolation.kernels.PRELOAD), imported in both kernels before the clock starts.
# Without it the judged run's first call paid pandas' and matplotlib's imports in notebooks that
# never import them (01: about 0.6 s; docs/performance.md, tenth pass), which no graded kernel pays.
PRELOADED = "import " + ", ".join(PRELOAD)


def preload(kernel: Kernel) -> None:
    run_in_kernel(kernel.kc, nbformat.v4.new_code_cell(PRELOADED), timeout=120, kernel_manager=kernel.km)


def stock(source) -> tuple[float, dict]:
    nb = copy.deepcopy(source)
    with Kernel() as kernel:
        preload(kernel)
        started = time.perf_counter()
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.strip():
                run_in_kernel(kernel.kc, cell, timeout=120, kernel_manager=kernel.km)
        return time.perf_counter() - started, scores(nb)


def judged(source) -> tuple[float, dict, dict]:
    nb = copy.deepcopy(source)
    with Kernel() as kernel:
        preload(kernel)
        started = time.perf_counter()
        report = judge_test_cells(nb, source_nb=source, kernel_client=kernel.kc, kernel_manager=kernel.km,
                                  timeout=120, warm=WARM)
        return time.perf_counter() - started, scores(nb), report.as_metadata()


def round_trip(calls: int) -> list[float]:
    """Seconds per proxied call of a trivial function, measured inside the judge."""
    source = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def echo(text):\n    return text\n")
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "echo"}
    test = nbformat.v4.new_code_cell(
        "import time\n_times = []\n"
        f"for _ in range({calls}):\n"
        "    _start = time.perf_counter()\n    assert echo('KFOR') == 'KFOR'\n"
        "    _times.append(time.perf_counter() - _start)\n"
        "print(repr(_times))\n")
    test.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "test_echo", "points": 1}
    source.cells = [answer, test]
    with Kernel() as kernel:
        run_in_kernel(kernel.kc, answer, kernel_manager=kernel.km)
        with JudgeSession(source, kernel.kc, kernel.km, timeout=600, warm=WARM) as session:
            outputs = session.run_test_cell(copy.deepcopy(test))
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return json.loads(text.strip().replace("'", '"'))


WARM = True  # judges forked by the zygote, as grading does (c.SafeExecute.warm_judges)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cold", action="store_true", help="start each judge cold, not forked by the zygote")
    args = parser.parse_args(argv)
    global WARM
    WARM = not args.cold
    rows, results = [], {}
    if WARM:  # a grading run starts its judge zygote once, before its first notebook
        with JudgeProcess([], warm=True) as warm_up:
            warm_up.wait_ready()
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        source = nbformat.read(path, as_version=4)
        tests = sum(1 for c in source.cells if is_test(c))
        plain, judge, parts = [], [], []
        for _ in range(args.repeat):
            seconds, stock_scores = stock(source)
            plain.append(seconds)
            seconds, judge_scores, report = judged(source)
            judge.append(seconds)
            parts.append(report)
            if judge_scores != stock_scores:
                print(f"{path.stem}: scores differ: stock {stock_scores}, judge {judge_scores}", file=sys.stderr)
                return 1
        median = statistics.median
        extra = median(judge) - median(plain)
        keys = ("start", "start_waited", "setup", "tests", "calls")
        part = {key: median(p["seconds"][key] for p in parts) for key in keys}
        calls = parts[0]["calls"]
        results[path.stem] = {
            "tests": tests, "stock_s": median(plain), "judge_s": median(judge), "extra_s": extra,
            "extra_per_test_s": extra / tests, "calls": calls, **{f"{k}_s": v for k, v in part.items()},
            "per_call_ms": 1000 * part["calls"] / calls if calls else 0.0,
        }
        rows.append(path.stem)
    trips = sorted(round_trip(args.calls))
    results["round_trip_ms"] = {"median": 1000 * statistics.median(trips),
                                "p90": 1000 * trips[int(0.9 * len(trips))], "calls": len(trips)}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "repeat": args.repeat}

    print(f"judge cost, median of {args.repeat} runs, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{'warm' if WARM else 'cold'} judges")
    print("| notebook | tests | stock s | judge s | extra s | extra s/test | judge start s (waited) | setup s "
          "| calls | ms/call (incl. work) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in rows:
        r = results[name]
        print(f"| {name} | {r['tests']} | {r['stock_s']:.2f} | {r['judge_s']:.2f} | {r['extra_s']:+.2f} | "
              f"{r['extra_per_test_s']:+.2f} | {r['start_s']:.2f} ({r['start_waited_s']:.2f}) | "
              f"{r['setup_s']:.2f} | {r['calls']} | {r['per_call_ms']:.1f} |")
    trip = results["round_trip_ms"]
    print(f"round trip of one proxied call (echo of a short str, {trip['calls']} calls): "
          f"median {trip['median']:.2f} ms, p90 {trip['p90']:.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

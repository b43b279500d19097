"""What one proxied call costs, and in which process: the judge's calls into the kernel.

    python benchmarks/call_cost.py [--calls 400] [--rounds 3]

A test cell that calls a trivial graded function `--calls` times (`f(i) == i`) is judged
against a real kernel (ipc transport and jupyter_client's async client, as in grading, where
nbclient drives it), through the real bridge and a warm judge
(`coursekit.judge.grade.JudgeSession`). Prints, per call, the wall time and the CPU time of
the kernel, the judge and this process (the grading worker's part: the bridge, nbclient's
client, the relay to the judge), read from /proc and getrusage around each round.

Written for issue 17 (docs/performance.md): a grading worker's per-notebook cost beyond the
warm floor is largely these calls (30-120 per notebook in the course's assignments).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import nbformat  # noqa: E402
from jupyter_client import AsyncKernelManager  # noqa: E402
from jupyter_core.utils import run_sync  # noqa: E402

from coursekit.judge.grade import JudgeSession  # noqa: E402


def process_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def notebook(calls: int):
    answer = {"nbgrader": {"solution": True, "grade_id": "f"}}
    test = {"nbgrader": {"grade": True, "solution": False, "grade_id": "test_f", "points": 1}}
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(x):\n    return x\n", metadata=answer),
        nbformat.v4.new_code_cell(f"for i in range({calls}):\n    assert f(i) == i\n", metadata=test),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    source = notebook(args.calls)
    sockets = tempfile.mkdtemp(prefix="call-cost-")
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
    devnull = open(os.devnull, "w")  # noqa: SIM115 - the kernel's output, closed at the end
    run_sync(km.start_kernel)(stdout=devnull, stderr=devnull)
    kc = km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=60)
        run_sync(kc.execute_interactive)(source.cells[0].source, timeout=60)
        kernel_pid = km.provisioner.process.pid
        print(f"{args.calls} calls of a trivial function per round, ms per call:")
        print(f"{'round':>5} {'wall':>6} {'kernel CPU':>10} {'judge CPU':>9} {'worker CPU':>10}")
        for number in range(1, args.rounds + 1):
            session = JudgeSession(source, kc, km, warm=True)
            session.judge.wait_ready()
            session.run_test_cell(source.cells[1].copy())  # warm-up: imports, the kernel's handler
            before = process_cpu(kernel_pid), process_cpu(session.judge.pid), own_cpu(), time.perf_counter()
            session.run_test_cell(source.cells[1].copy())
            after = process_cpu(kernel_pid), process_cpu(session.judge.pid), own_cpu(), time.perf_counter()
            session.close()
            kernel, judge, worker, wall = (1000 * (b - a) / args.calls for a, b in zip(before, after, strict=True))
            print(f"{number:>5} {wall:>6.2f} {kernel:>10.2f} {judge:>9.2f} {worker:>10.2f}")
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)
        devnull.close()
        shutil.rmtree(sockets, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

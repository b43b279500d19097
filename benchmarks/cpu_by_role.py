"""Where the CPU goes while a class is graded, by process role: kernels, judges, grading
workers, zygotes, the parent, idle.

    python benchmarks/cpu_by_role.py [--students 12] [--workers 2] [--perf]

Grades a generated class with `coursekit grade` (every protection on, no feedback, as
`make bench`) and prints the wall time, how busy the cores were (/proc/stat) and the CPU
seconds per notebook. With `--perf` it also samples every CPU with Linux perf (software
clock, 299 Hz; needs the `perf` tool, Debian package linux-perf, and root) and splits the
samples by role: each process is named by its command line and its parents', read from
/proc every 10 ms while the class is graded. Threads count with their process.

Written for issue 17 (docs/performance.md): a Python profiler sees one process, and
py-spy counts idle threads of sandboxed kernels as busy; perf counts CPU where it is spent.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_grading import bench_coursekit, fresh_course, prepare, write_class  # noqa: E402

HZ = 299


def cpu_counters() -> tuple[int, int]:
    """(all jiffies, idle jiffies) of all CPUs so far."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values), values[3] + values[4]


class ProcessMap:
    """pid -> (command line, parent pid), for every process seen while it runs."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit() and entry not in self.seen:
                    try:
                        with open(f"/proc/{entry}/cmdline", "rb") as handle:
                            command = handle.read().replace(b"\0", b" ").decode(errors="replace")[:200]
                        with open(f"/proc/{entry}/stat") as handle:
                            parent = handle.read().rsplit(")", 1)[1].split()[1]
                    except (OSError, IndexError):
                        continue
                    self.seen[entry] = (command, parent)
            self._stop.wait(0.01)

    def __enter__(self) -> ProcessMap:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def role(self, pid: str) -> str:
        if pid == "0":
            return "idle"
        chain, current = [], pid
        while current in self.seen and len(chain) < 16:
            chain.append(self.seen[current][0])
            current = self.seen[current][1]
        if not chain:
            return "unknown (ended before it was seen)"
        me = chain[0]
        kernel_depth = sum("isolation.kernels" in c for c in chain)
        judge_depth = sum("judge.zygote" in c for c in chain)
        if "cpu_by_role" in me:
            return "parent (this script: coursekit grade's client, /proc readers)"
        if "isolation.kernels" in me:  # zygote > sandbox parents (namespaces) > the kernel
            if kernel_depth == 1:
                return "kernel zygotes"
            return "kernels" if kernel_depth >= 4 else "kernel sandbox parents"
        if "judge.zygote" in me:
            return "judge zygotes" if judge_depth == 1 else "judges"
        if "forkserver" in me:
            return "grading workers"
        return "other"


def perf_by_role(data: Path, processes: ProcessMap) -> dict[str, float]:
    """CPU seconds per role from perf's samples."""
    out = subprocess.run(["perf", "script", "-i", str(data), "-F", "pid"], capture_output=True, text=True,
                         check=True).stdout
    counts = collections.Counter(line.split("/")[0].strip() for line in out.splitlines() if line.strip())
    seconds: dict[str, float] = collections.defaultdict(float)
    for pid, n in counts.items():
        seconds[processes.role(pid)] += n / HZ
    return dict(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--perf", action="store_true", help="split the CPU by role with Linux perf")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "cpu-by-role")
    args = parser.parse_args(argv)
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    course = fresh_course(args.out / "course")
    submissions = args.out / "class"
    shutil.rmtree(submissions, ignore_errors=True)
    n = len(write_class(course, args.students, submissions))
    prepare(course, submissions)

    data = Path(tempfile.mkdtemp(prefix="cpu-by-role-")) / "perf.data"
    perf = None
    if args.perf:
        perf = subprocess.Popen(["perf", "record", "-a", "-e", "cpu-clock", "-F", str(HZ), "-o", str(data)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    with ProcessMap() as processes:
        total0, idle0 = cpu_counters()
        wall, _memory, _tasks, failed, protections = bench_coursekit(course, submissions, args.workers)
        total1, idle1 = cpu_counters()
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait()
    busy = 1 - (idle1 - idle0) / (total1 - total0)
    cpu_seconds = busy * (total1 - total0) / os.sysconf("SC_CLK_TCK")
    print(protections)
    print(f"{n} notebooks, {args.workers} workers: {wall:.1f} s, {wall / n:.3f} s per notebook; "
          f"cores {busy * 100:.0f} % busy; {cpu_seconds / n:.3f} CPU-s per notebook; {len(failed)} failed")
    if perf is not None:
        roles = perf_by_role(data, processes)
        total = sum(roles.values())
        print(f"\n{'role':<62} {'CPU-s':>7} {'per notebook':>13} {'share':>6}")
        for role, seconds in sorted(roles.items(), key=lambda item: -item[1]):
            print(f"{role:<62} {seconds:7.1f} {seconds / n:13.3f} {seconds / total * 100:5.1f}%")
        (args.out / "cpu-by-role.json").write_text(json.dumps(roles, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(data.parent, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

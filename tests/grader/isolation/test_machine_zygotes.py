"""One kernel zygote and one judge zygote for all the local workers of a run
(coursekit.grader.autograde.MachineZygotes): do the workers fork from them, with the right
grades, and does a worker that ends leave no kernel or judge of its own running?"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from coursekit.grader.isolation import kernels
from coursekit.judge.zygote import JudgeZygote

# A stand-in for a grading worker: attaches to the machine's kernel zygote, has a kernel forked
# (an ordinary ipykernel, which waits for a client for ever), says its pid, and waits.
KERNEL_ASKER = textwrap.dedent("""
    import os, sys, time
    from jupyter_client.connect import write_connection_file
    from coursekit.grader.isolation import kernels
    kernels.Zygote.attach(sys.argv[1])
    zygote = kernels.Zygote.shared()
    assert zygote.process is None, "not attached"
    connection_file, _ = write_connection_file(os.path.join(sys.argv[2], "kernel.json"))
    pid = zygote.fork_kernel(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", connection_file],
                             env={k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"}, cwd=sys.argv[2])
    print(pid, flush=True)
    time.sleep(600)
""")

# The same for the judge zygote: a judge forked for this process, running a test cell that
# never ends.
JUDGE_ASKER = textwrap.dedent("""
    import json, sys, time
    from coursekit.judge.zygote import JudgeZygote
    JudgeZygote.attach(sys.argv[1])
    zygote = JudgeZygote.shared()
    assert zygote.process is None, "not attached"
    stream = zygote.connect().makefile("rwb")
    stream.write(json.dumps({"op": "init", "functions": []}).encode() + b"\\n")
    stream.flush()
    print(json.loads(stream.readline())["pid"], flush=True)
    stream.write(json.dumps({"op": "run", "source": "while True:\\n    pass", "name": "loop"}).encode() + b"\\n")
    stream.flush()
    time.sleep(600)
""")


def _running(pid: int) -> bool:
    """Is the process there and not a zombie?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state[0] not in ("Z", "X")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _end(*pids: int) -> None:
    """Kill what a test started, whatever its verdict: a kernel or judge that a failing check
    left behind (this one spins in a loop) would burn a core for the rest of the run."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _ask(script: str, *args: str) -> tuple[subprocess.Popen, int]:
    asker = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    line = asker.stdout.readline()
    assert line.strip().isdigit(), f"the asker said {line!r}"
    return asker, int(line)


@pytest.mark.slow
def test_a_kernel_whose_worker_ends_is_ended_and_no_other(tmp_path):
    """A worker attached to the machine's kernel zygote gets a kernel forked from it; while the
    worker lives its kernel runs on; once the worker is killed, the zygote ends that kernel
    (nothing else would stop a student's loop), and not the kernel of a worker still alive."""
    machine = kernels.Zygote()
    askers, started = [], []
    try:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        doomed, doomed_kernel = _ask(KERNEL_ASKER, machine.socket_path, str(tmp_path / "a"))
        living, living_kernel = _ask(KERNEL_ASKER, machine.socket_path, str(tmp_path / "b"))
        askers, started = [doomed, living], [doomed_kernel, living_kernel]
        assert _parent(doomed_kernel) == _parent(living_kernel) == machine.process.pid, "not forked by the machine's"
        time.sleep(1.0)  # several of the zygote's looks at its askers
        assert _running(doomed_kernel) and _running(living_kernel), "a kernel of a live worker was ended"
        doomed.kill()
        doomed.wait()
        assert _until(lambda: not _running(doomed_kernel), 10), "the kernel outlived its worker"
        time.sleep(0.6)
        assert _running(living_kernel), "the other worker's kernel was ended too"
        living.kill()
        living.wait()
        assert _until(lambda: not _running(living_kernel), 10)
    finally:
        for asker in askers:
            asker.kill()
        _end(*started)
        machine.stop()


@pytest.mark.slow
def test_a_judge_whose_worker_ends_is_ended(tmp_path):
    """A judge forked by the machine's judge zygote, busy in a test cell that never ends: is it
    ended once its worker is killed?"""
    machine = JudgeZygote()
    asker, judge = None, 0
    try:
        asker, judge = _ask(JUDGE_ASKER, machine.socket_path)
        time.sleep(1.0)
        assert _running(judge), "the judge of a live worker was ended"
        asker.kill()
        asker.wait()
        assert _until(lambda: not _running(judge), 10), "the judge outlived its worker"
    finally:
        if asker is not None:
            asker.kill()
        if judge:
            _end(judge)
        machine.stop()


class _Zygotes(threading.Thread):
    """Every zygote process (kernel or judge) of this test process's tree alive while a run
    grades (other tests may run beside it, under pytest-xdist): their pids by kind. A zygote's
    forked children carry its command line, so only the eldest of a chain counts."""

    MARKS = {"kernel": "isolation.kernels import serve", "judge": "judge.zygote import serve"}

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[str, set[int]] = {"kernel": set(), "judge": set()}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.scan()
            self.done.wait(0.02)

    def scan(self) -> None:
        table = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    table[int(entry)] = (command, _parent(int(entry)))
                except (OSError, IndexError, ValueError):
                    continue
        me = os.getpid()

        def mine(pid: int) -> bool:
            for _ in range(32):
                pid = table.get(pid, ("", 0))[1]
                if pid == me:
                    return True
                if pid <= 1:
                    return False
            return False

        for pid, (command, parent) in table.items():
            for kind, mark in self.MARKS.items():
                if mark in command and mark not in table.get(parent, ("", 0))[0] and mine(pid):
                    self.seen[kind].add(pid)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "dask"])
def test_a_runs_workers_fork_from_one_pair_of_zygotes_with_the_right_grades(course_copy, where):
    """Two workers (local, or a Dask LocalCluster's on this machine) grading assignment 01 of the
    sample class with the machine's zygotes: is every kernel and judge forked from those two
    processes (not a pair per worker), are the grades right, and are both zygotes gone once
    stopped?"""
    from conftest import planned_class

    from coursekit.grader import autograde, gradebook, sampleclass
    from coursekit.grader.config import load_config

    assignment_id = "01-reading-the-source"
    course, workspace, state, tasks = planned_class(course_copy, assignment_id)
    settings = autograde.worker_settings(load_config(course), course=course, workspace=workspace, feedback=False,
                                         layers=None)
    earlier = _Zygotes()  # those of this test process, left by other tests: not this run's
    earlier.scan()
    zygotes = autograde.MachineZygotes(kernels=True, judges=True, log_dir=workspace.logs)
    watcher = _Zygotes()
    watcher.start()
    outcomes = []
    try:
        if where == "dask":
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                autograde.run(tasks, settings=settings, state=state, dask_address=cluster.scheduler_address,
                              on_done=outcomes.append, zygotes=zygotes)
        else:
            autograde.run(tasks, settings=settings, state=state, workers=2, on_done=outcomes.append,
                          zygotes=zygotes)
    finally:
        watcher.done.set()
        watcher.join()
        state.close()
        zygotes.stop()
    assert len(tasks) >= 4 and all(o.success for o in outcomes), [o.error for o in outcomes if not o.success]
    seen = {kind: pids - earlier.seen[kind] for kind, pids in watcher.seen.items()}
    assert seen == {"kernel": {zygotes.kernel.process.pid}, "judge": {zygotes.judge.process.pid}}
    expected = {s: score for (s, a), score in sampleclass.expected_scores(
        course_copy / "tests" / "fixtures" / "answers").items() if a == assignment_id}
    scores = {s.student: s.autograded for s in gradebook.read_assignment_scores(workspace.gradebook, [assignment_id])}
    assert scores == expected
    assert _until(lambda: not _running(zygotes.kernel.process.pid) and not _running(zygotes.judge.process.pid), 5)


def test_the_judge_zygote_lets_go_of_judges_that_ended():
    """Judges end by themselves and the system reaps them: does the table of who asked for
    what let go of each (its pidfd closed), instead of holding one open per judge for the whole
    run (10,000 notebooks would exceed the open-file limit)?"""
    from coursekit.owners import Owners

    owners = Owners(group=False, reaped_by_system=True)
    asker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    children = [subprocess.Popen([sys.executable, "-c", "pass"]) for _ in range(3)]
    try:
        for child in children:
            owners.add(child.pid, asker.pid)
        for child in children:
            child.wait()
        owners.sweep()
        assert owners._children == {}, "ended children are still held"
        assert asker.poll() is None, "the live asker was touched"
    finally:
        asker.kill()
        asker.wait()


class _Recorded:
    """The real MachineZygotes, recording each one made and whether it was stopped."""

    def __init__(self, monkeypatch):
        from coursekit.grader import autograde

        self.made, self.stopped = [], []
        recorded = self

        class Recording(autograde.MachineZygotes):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                recorded.made.append(self)

            def stop(self):
                recorded.stopped.append(self)
                super().stop()

        monkeypatch.setattr(autograde, "MachineZygotes", Recording)


def test_a_run_with_nothing_to_grade_starts_no_zygote(course_copy, tmp_path, monkeypatch):
    """`coursekit grade` on a folder with no hand-in stops with its message before starting the
    machine's zygotes (seconds of imports, for nothing)."""
    from coursekit.grader import pipeline
    from coursekit.grader.course import Course
    from coursekit.grader.errors import CourseError

    recorded = _Recorded(monkeypatch)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CourseError):
        pipeline.grade_class(course=Course.at(course_copy), submissions=empty)
    assert recorded.made == []


def test_the_zygotes_are_stopped_when_a_run_fails_after_starting_them(course_copy, monkeypatch):
    """A run that stops on an error once its zygotes are started (here: preparing the due
    dates fails) leaves neither zygote running."""
    from coursekit.grader import late, pipeline
    from coursekit.grader.course import Course
    from coursekit.grader.errors import CourseError

    recorded = _Recorded(monkeypatch)

    def fails(**_):
        raise CourseError("due dates could not be prepared (this test)")

    monkeypatch.setattr(late, "prepare", fails)
    with pytest.raises(CourseError, match="this test"):
        pipeline.grade_class(course=Course.at(course_copy), assignments=["01-reading-the-source"],
                             submissions=course_copy / "tests" / "fixtures" / "submissions")
    assert len(recorded.made) == 1 and recorded.stopped == recorded.made
    made = recorded.made[0]
    for zygote in (made.kernel, made.judge):
        assert zygote is not None and _until(lambda z=zygote: not _running(z.process.pid), 5)


def test_a_worker_whose_machine_kernel_zygote_is_gone_forks_from_one_of_its_own(tmp_path):
    """The machine's kernel zygote ended mid-run (killed: its socket file is left behind): does
    the next warm kernel of a worker attached to it come from a zygote the worker starts itself,
    rather than failing the hand-in?"""
    import nbclient
    import nbformat
    from traitlets.config import Config

    probe = "import os\nprint(os.getppid())"

    def parent_of_a_warm_kernel() -> int:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
        nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                config=Config({"ForkProvisioner": {"warm": True}}),
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
        return int(nb.cells[0].outputs[0]["text"])

    kernels.use_fork_provisioner()
    machine = kernels.Zygote(str(tmp_path / "machine.log"))
    try:
        kernels.Zygote.attach(machine.socket_path)
        assert parent_of_a_warm_kernel() == machine.process.pid
        machine.process.kill()
        machine.process.wait()
        assert os.path.exists(machine.socket_path), "the attached worker must still see a socket"
        fallback = parent_of_a_warm_kernel()
        own = kernels.Zygote.shared()
        assert own.process is not None and fallback == own.process.pid != machine.process.pid
    finally:
        kernels.Zygote.attach("")
        kernels.use_fork_provisioner(False)
        machine.stop()


def test_a_worker_whose_machine_judge_zygote_is_gone_forks_from_one_of_its_own():
    """The same for the judge zygote: a warm judge still starts, from the worker's own."""
    from coursekit.judge import process

    machine = JudgeZygote()
    try:
        JudgeZygote.attach(machine.socket_path)
        with process.JudgeProcess([], warm=True) as judge:
            judge.wait_ready()
            assert judge.stats.warm and _parent(judge.pid) == machine.process.pid
        machine.process.kill()
        machine.process.wait()
        assert os.path.exists(machine.socket_path), "the attached worker must still see a socket"
        with process.JudgeProcess([], warm=True) as judge:
            outputs = judge.run_cell("1 + 1", "t", None, 30)  # no call, so no kernel is needed
            assert outputs[0]["data"]["text/plain"] == "2"
            own = JudgeZygote.shared()
            assert judge.stats.warm and own.process is not None and _parent(judge.pid) == own.process.pid
    finally:
        JudgeZygote.attach("")
        machine.stop()

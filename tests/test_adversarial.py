"""Hostile submissions graded in one class with the honest sample students.

Each case in tests/fixtures/adversarial/cases.json is a submission with the score it must
earn (or None: refused before grading) and a pattern its one-line reason must match. The
class is graded once, sandboxed, with tight limits; then every case, every honest
student, the gradebook, the network and the process table are checked. A second test
grades a few of the same attacks with the sandbox off and shows that they do succeed
there, so the first test is not passing by accident.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from coursekit import sampleclass, sandbox
from coursekit.grading import Course, grade, read_assignment_scores

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
# Where adv-network connects (fixed in its code). Not 127.0.0.1: the kernels and Jupyter
# servers of other tests bind random ports there, and one may hold this one.
ADDRESS = ("127.0.0.77", 47391)
LIMITS = """
# tight limits, so the adversarial class grades in minutes
c.Sandbox.cell_timeout = 10
c.Sandbox.notebook_timeout = 40
c.Sandbox.cpu_seconds = 30
c.Sandbox.notebook_mb = 1
"""

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]


class Listener:
    """A TCP server on the grader's loopback that records every connection it gets."""

    def __init__(self, address: tuple[str, int]):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.server.bind(address)
        except OSError as error:
            pytest.fail(f"{address} is taken ({error}); the network case needs it free")
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.received: list[bytes] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(100) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.server.close()


def _sandbox_processes() -> list[str]:
    """Processes still running as a sandbox user."""
    left = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
        if uid >= sandbox.UID_BASE:
            name = re.search(r"^Name:\s+(.*)$", text, re.M).group(1)
            left.append(f"{status.parent.name} {name}")
    return left


def _class_folder(course: Course, target: Path, students: list[str] | None = None) -> Path:
    for relative, data in sampleclass.adversarial_class(course=course, fixtures=FIXTURES).items():
        if students is None or relative.parts[0] in students:
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return target


def test_adversarial_class_gets_what_it_earned_and_harms_nobody(course_copy, tmp_path):
    with (course_copy / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write(LIMITS)
    course = Course.at(course_copy)
    folder = _class_folder(course, tmp_path / "class")
    for student in (FIXTURES / "submissions").iterdir():  # the honest students, around them
        shutil.copytree(student, folder / student.name)
    cases = sampleclass.adversarial_cases(FIXTURES)
    listener = Listener(ADDRESS)
    try:
        result = grade(course=course, submissions=folder)
    finally:
        listener.close()

    assert result.protections.startswith("sandbox: all protections on"), result.protections
    reasons = {(r["student"], r["assignment"]): r for r in result.reasons}
    problems = []
    for case in cases:
        key = (case["student"], case["assignment"])
        row = reasons.get(key)
        if row is None:
            problems.append(f"{key}: no row in the report")
            continue
        expected = case["expected_score"]
        got = None if row["score"] == "" else float(row["score"])
        if got != expected:
            problems.append(f"{case['student']} ({case['attack']}): scored {got}, expected {expected}; "
                            f"reason: {row['reason']}")
        if not re.search(case["reason"], row["reason"]):
            problems.append(f"{case['student']}: reason {row['reason']!r} does not match {case['reason']!r}")
    assert not problems, "\n".join(problems)

    # Every honest student's grade is what it is without the attackers.
    expected = sampleclass.expected_scores(FIXTURES / "answers")
    scores = _scores(course)
    for key, score in expected.items():
        assert scores[key] == score, f"honest student {key} scored {scores[key]}, expected {score}"

    # No submission stalled grading past its limits: each took at most the notebook budget
    # plus kernel start-up, shutdown and feedback.
    slow = {key: seconds for key, seconds in result.seconds.items() if seconds > 40 + 45}
    assert not slow, f"submissions that ran past the notebook time limit: {slow}"

    # Nothing reached the grader's loopback, the gradebook is whole and untouched by
    # students, and no student process outlived its kernel.
    assert listener.received == [], f"a kernel reached the network: {listener.received}"
    with sqlite3.connect(course.gradebook) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL").fetchone()[0] == 0
    assert "adv-write-gradebook,100" not in (course.build_dir / "grades.csv").read_text()
    assert _sandbox_processes() == []
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _is_sleeper(p)], "student processes left behind"


def _scores(course: Course) -> dict[tuple[str, str], float]:
    return {(s.student, s.assignment): s.autograded
            for s in read_assignment_scores(course.gradebook, course.assignments())}


def _is_sleeper(cmdline: Path) -> bool:
    try:
        return cmdline.read_bytes().split(b"\0")[:2] == [b"sleep", b"600"]
    except OSError:
        return False


def test_the_same_attacks_succeed_without_the_sandbox(course_copy, tmp_path):
    """The control: with the sandbox off, reading the solutions, patching math.isclose,
    writing the gradebook and calling the loopback all work, so the test above would
    notice a sandbox that stopped working."""
    course = Course.at(course_copy)
    attackers = ["adv-read-solutions", "adv-patch-math", "adv-write-gradebook", "adv-network"]
    folder = _class_folder(course, tmp_path / "class", attackers)
    listener = Listener(ADDRESS)
    try:
        result = grade(course=course, submissions=folder, sandbox=False)
    finally:
        listener.close()
    assert result.protections.startswith("sandbox: OFF")
    with sqlite3.connect(course.gradebook) as db:
        # adv-write-gradebook gave every grade a manual score of 100 ...
        assert db.execute("SELECT COUNT(*) FROM grade WHERE manual_score = 100").fetchone()[0] > 0
        # ... so compare what the tests themselves gave
        auto = dict(((student, assignment), score) for student, assignment, score in db.execute(
            "SELECT s.student_id, a.name, SUM(g.auto_score) FROM grade g"
            " JOIN submitted_notebook n ON g.notebook_id = n.id JOIN submitted_assignment s ON n.assignment_id = s.id"
            " JOIN assignment a ON s.assignment_id = a.id GROUP BY s.id"))
    assert auto[("adv-read-solutions", "01-reading-the-source")] == 12  # copied the model answer
    assert auto[("adv-patch-math", "03-charting-troop-numbers")] == 12  # a wrong answer passed
    assert listener.received == [b"leak"]


# --- the sandbox's parts, without grading ----------------------------------------------------


def test_probe_finds_every_layer_on_this_machine():
    found = sandbox.probe()
    assert set(found) == set(sandbox.LAYERS)
    if os.geteuid() == 0:  # CI runs as root: every layer must be there
        assert found == {layer: "" for layer in sandbox.LAYERS}, found


def test_missing_layers_are_named_in_the_report(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SANDBOX_LAYERS", "limits,user")
    found = sandbox.probe()
    assert found["network"] == found["filesystem"] == "turned off by COURSEKIT_SANDBOX_LAYERS"
    line = sandbox.describe(found)
    assert line.startswith("sandbox: MISSING") and "network" in line and "filesystem" in line
    assert "limits (" not in line


def test_a_kernel_never_sees_the_course(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    paths = sandbox.readable_paths(course, extra=[str(course), str(course / "tests"), str(tmp_path),
                                                  str(course / "seeds")])
    assert str(course) not in paths and str(course / "tests") not in paths and str(tmp_path) not in paths
    assert str(course / "seeds") in paths


def test_policy_travels_as_json():
    policy = sandbox.Policy(memory_mb=100, readable=("/a",), seeds="/s", layers=("limits",))
    spec = sandbox.KernelSpec(policy=policy, cwd="/c", private="/p", env={"A": "1"})
    assert sandbox.KernelSpec.from_json(spec.to_json()) == spec


def test_kernel_environment_keeps_no_secrets():
    env = sandbox.kernel_environment({"PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "x", "JPY_PARENT_PID": "1",
                                      "HOME": "/root"}, sandbox.Policy(seeds="/s"))
    assert "AWS_SECRET_ACCESS_KEY" not in env and "JPY_PARENT_PID" not in env
    assert env["HOME"] == "/tmp" and env["COURSEKIT_SEEDS"] == "/s" and env["PATH"] == "/usr/bin"


PROBE = """
import os, socket, sys
print("uid", os.getuid())
print("root", sorted(os.listdir("/")))
print("pids", sorted(p for p in os.listdir("/proc") if p.isdigit()))
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    print("network open")
except OSError as error:
    print("network", error.errno)
try:
    open(sys.argv[1]).read()
    print("secret read")
except OSError as error:
    print("secret", type(error).__name__)
open("written.txt", "w").write("ok")
"""


@pytest.mark.parametrize("user_namespace", [False, True], ids=["as-root", "in-a-user-namespace"])
def test_the_launcher_isolates_a_command(tmp_path, user_namespace):
    """`python -m coursekit.sandbox SPEC -- COMMAND` (the cold-kernel path) on a plain
    command: no network, no view of the course, a process table of its own, a user of
    its own (as root), and its working folder writable."""
    import json
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root); without it the user-namespace path is the only one")
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    secret = course / "solutions" / "answer.txt"
    secret.write_text("42")
    work = course / "build" / "autograded" / "s" / "a"
    work.mkdir(parents=True)
    private = tmp_path / "private"
    private.mkdir()
    layers = tuple(layer for layer in sandbox.LAYERS if not (user_namespace and layer == "user"))
    policy = sandbox.Policy(readable=tuple(sandbox.readable_paths(course)), seeds="", layers=layers)
    env = sandbox.kernel_environment(dict(os.environ), policy)
    spec = sandbox.KernelSpec(policy=policy, cwd=str(work), private=str(private), env=env)
    launcher_env = dict(os.environ, COURSEKIT_SANDBOX_USERNS="1" if user_namespace else "0")
    done = subprocess.run([sys.executable, "-m", "coursekit.sandbox", spec.to_json(), "--", sys.executable, "-c",
                           PROBE, str(secret)], env=launcher_env, timeout=60, capture_output=True, text=True)
    log = (private / "kernel.log").read_text()
    assert done.returncode == 0, (done.stderr, log)
    lines = dict(line.split(" ", 1) for line in log.splitlines() if " " in line)
    assert lines["network"] == "101", log  # ENETUNREACH: no interface is up
    assert lines["secret"] == "FileNotFoundError", log
    assert "course" not in json.dumps(lines["root"]) and "proc" in lines["root"]
    assert len(eval(lines["pids"])) <= 3, log  # its sandbox init and itself (and nothing of ours)
    if user_namespace:
        assert lines["uid"] == "0", log  # root inside its namespace only
    else:
        assert int(lines["uid"]) >= sandbox.UID_BASE, log
    assert (work / "written.txt").read_text() == "ok"

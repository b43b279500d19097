"""Hostile submissions graded in one class with the honest sample students.

Each case in tests/fixtures/adversarial/cases.json is a submission with the score it must
earn (or None: refused before grading) and a pattern its one-line reason must match. The
class is graded once, sandboxed, with tight limits; then every case, every honest
student, the gradebook, the network and the process table are checked. A second test
grades a few of the same attacks with the sandbox off and shows that those the sandbox
stops do succeed there, so the first test is not passing by accident, while those
SafeExecute stops (its guard) still fail: it runs with or without the sandbox.
"""

from __future__ import annotations

import io
import re
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import pytest
from builders import Special, adversarial_cases, adversarial_class, shown_text
from conftest import ROOT
from htmlcheck import payloads
from rich.console import Console

from coursekit.grader import sampleclass
from coursekit.grader.course import Course, instructor_workspace
from coursekit.grader.gradebook import read_assignment_scores
from coursekit.grader.pipeline import grade
from coursekit.grader.report import write_report
from coursekit.grader.terminal import print_grades

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


def _class_folder(course: Course, target: Path, students: list[str] | None = None, address: str = "") -> Path:
    for relative, data in adversarial_class(course=course, fixtures=FIXTURES).items():
        if students is None or relative.parts[0] in students:
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, Special):  # a symbolic link or FIFO (cases-collect.json)
                data.make(path)
                continue
            if address:  # another loopback address, so two tests may run at once
                data = data.replace(ADDRESS[0].encode(), address.encode())
            path.write_bytes(data)
    return target


def test_adversarial_class_gets_what_it_earned_and_harms_nobody(course_copy, tmp_path):
    with (course_copy / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write(LIMITS)
    course = Course.at(course_copy)
    folder = _class_folder(course, tmp_path / "class")
    for student in (FIXTURES / "submissions").iterdir():  # the honest students, around them
        shutil.copytree(student, folder / student.name)
    cases = adversarial_cases(FIXTURES)
    listener = Listener(ADDRESS)
    copies = _course_in_system_folders(course)  # what adv-read-system-folders looks for
    try:
        result = grade(course=course, submissions=folder)
    finally:
        listener.close()
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)

    assert result.protections.startswith("sandbox: all protections on"), result.protections
    reasons = {(r.student, r.assignment): r.row() for r in result.reasons}
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
        shown = shown_text(course.build_dir, case["student"], case["assignment"]) if case.get("never_shown") else ""
        for marker in case.get("never_shown", []):  # hidden test text, printed by the student's code
            if marker in shown:
                problems.append(f"{case['student']}: {marker!r} shown in its outputs or feedback")
    assert not problems, "\n".join(problems)

    # The terminal summary prints student text as text: adv-markup-flag's "[/]" crashed it before.
    console = Console(record=True, width=400, file=io.StringIO())
    print_grades(result, console=console)
    assert "writes [/][bold]x[link=y].py with %%writefile" in console.export_text()

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

    # Nothing a kernel planted was followed by the grader (cases-filesystem.json): the
    # gradebook is still a database, the honest hand-ins are as handed in, the autograded
    # and feedback folders hold no link, pipe or device, and no feedback holds the
    # solutions, the gradebook, an answer key or a huge file.
    assert course.gradebook.read_bytes()[:16] == b"SQLite format 3\x00"
    for student in (FIXTURES / "submissions").iterdir():
        for handed_in in student.rglob("*.ipynb"):
            kept = course.build_dir / "submitted" / handed_in.relative_to(student.parent)
            assert kept.read_bytes() == handed_in.read_bytes(), f"{kept} was changed"
    for path in [*(course.build_dir / "autograded").rglob("*"), *(course.build_dir / "feedback").rglob("*")]:
        assert path.is_dir() or (path.is_file() and not path.is_symlink()), f"{path}: not a regular file"
    solutions = {path.read_bytes() for path in course.solutions.rglob("*") if path.is_file()}
    for path in (course.build_dir / "feedback").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert len(data) < 4 * 2**20, f"{path}: {len(data)} bytes"
            assert data not in solutions and not data.startswith(b"SQLite format 3"), path
            assert path.suffix in (".html", ".ipynb"), f"{path}: copied into the feedback"

    # No script from a student runs for anyone: their feedback pages carry no payload
    # (cases-scripts.json; tests/grader/test_sanitize.py has the control).
    script_cases = [c["student"] for c in cases if c["student"].startswith("adv-script-")]
    pages = {p: payloads(p.read_text(encoding="utf-8"))
             for s in script_cases for p in (course.build_dir / "feedback" / s).glob("*/*.html")}
    assert len(pages) == len(script_cases), f"feedback pages of the script cases: {sorted(pages)}"
    assert not {p.parent.parent.name: found for p, found in pages.items() if found}

    # The class report lists the flagged hand-ins with their reasons.
    page = write_report(workspace=instructor_workspace(course), assignments=course.assignments()).html.read_text()
    assert "Flagged submissions" in page and "adv-exit" in page and "kernel died" in page
    assert "adv-not-json" in page and "refused" in page
    # adv-process-flood's sleepers died with its kernel (its PID namespace)
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _is_sleeper(p)], "student processes left behind"


SYSTEM_COPIES = ("/opt", "/usr/local/share", "/etc", "/srv")


def _course_in_system_folders(course: Course) -> list[Path]:
    """Copies of the course's solutions and gradebook under /opt, /usr/local/share, /etc
    and /srv, where a course may live; none may be readable from a kernel."""
    made = []
    for top in SYSTEM_COPIES:
        copy = Path(top) / "coursekit-adversarial-course"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(course.root / "solutions", copy / "solutions")
        (copy / "build").mkdir()
        with sqlite3.connect(copy / "build" / "gradebook.db") as db:
            db.execute("CREATE TABLE grade (student TEXT, score REAL)")
        made.append(copy)
    return made


def _scores(course: Course) -> dict[tuple[str, str], float]:
    return {(s.student, s.assignment): s.autograded
            for s in read_assignment_scores(course.gradebook, course.assignments())}


def _is_sleeper(cmdline: Path) -> bool:
    try:
        return cmdline.read_bytes().split(b"\0")[:2] == [b"sleep", b"600"]
    except OSError:
        return False


def test_without_the_sandbox_its_attacks_succeed_and_safe_execute_still_guards(course_copy, tmp_path):
    """The control: with the sandbox off, reading the solutions, writing the gradebook and
    calling the loopback all work, so the test above would notice a sandbox that stopped
    working. SafeExecute is no part of the sandbox: patching math.isclose still fails (the
    guard), and the reasons still say what happened."""
    course = Course.at(course_copy)
    attackers = ["adv-read-solutions", "adv-patch-math", "adv-write-gradebook", "adv-network"]
    folder = _class_folder(course, tmp_path / "class", attackers, address="127.0.0.78")
    listener = Listener(("127.0.0.78", ADDRESS[1]))
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
    assert listener.received == [b"leak"]
    # the guard, with the sandbox off: the wrong answer behind the patch earns what it earned
    expected = {c["student"]: c for c in adversarial_cases(FIXTURES)}["adv-patch-math"]
    assert auto[("adv-patch-math", "03-charting-troop-numbers")] == expected["expected_score"] < 12
    reasons = {r.student: r for r in result.reasons}
    assert re.search(expected["reason"], reasons["adv-patch-math"].text)
    assert (course.build_dir / "reasons.csv").read_text().count("adv-") >= len(attackers)


def test_without_the_scratch_folder_planted_links_reach_the_grader(course_copy, tmp_path):
    """The control for cases-filesystem.json: with the sandbox off, the kernel works in
    the real autograded folder (the layout before the scratch folder), and nbgrader
    writes the graded notebook through the link adv-link-hand-in planted, over another
    student's hand-in. (The worker's own check then refuses to write feedback from a
    folder holding a link, naming it: the second wall.)"""
    course = Course.at(course_copy)
    folder = _class_folder(course, tmp_path / "class", ["adv-link-hand-in"])
    shutil.copytree(FIXTURES / "submissions" / "ada", folder / "ada")
    before = {p.relative_to(folder): p.read_bytes() for p in (folder / "ada").rglob("*.ipynb")}
    result = grade(course=course, submissions=folder, assignments=["01-reading-the-source"], sandbox=False)
    assert result.protections.startswith("sandbox: OFF")
    changed = [name for name, data in before.items() if (course.build_dir / "submitted" / name).read_bytes() != data]
    assert changed == [Path("ada/01-reading-the-source/01-reading-the-source.ipynb")], changed
    failed = {o.task.student: o.error for o in result.failed}
    assert "symbolic link, pipe or device" in failed.get("adv-link-hand-in", ""), failed

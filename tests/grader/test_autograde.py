"""Does parallel grading give exactly stock nbgrader's scores, resume after being killed,
and regrade only what changed?"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, coursekit

from coursekit.grader import autograde, collect, commands, gradebook, pipeline, sampleclass
from coursekit.grader.build import generate_release
from coursekit.grader.course import Course, instructor_workspace


def test_scores(db, assignments):
    return {
        (s.student, s.assignment, s.test): s.score
        for a in assignments for s in gradebook.read_test_scores(db, a)
    }


test_scores.__test__ = False  # a helper, not a test


@pytest.mark.slow
def test_parallel_grading_equals_stock_sequential_nbgrader(tmp_path):
    """Graded by stock `nbgrader autograde` one after another (test cells in the kernel:
    `--SafeExecute.judge=False`), and by `coursekit grade` with two workers, warm kernels and
    the judge, does every test cell of every student score the same?"""
    from conftest import copy_course

    stock = Course.at(copy_course(tmp_path / "stock"))
    ours = copy_course(tmp_path / "ours")
    submissions = ROOT / "tests" / "fixtures" / "submissions"
    assignments = sorted({a for _, a in sampleclass.expected_scores(ROOT / "tests" / "fixtures" / "answers")})

    workspace = instructor_workspace(stock)
    collect.collect(course=stock, submissions=submissions, workspace=workspace)
    for assignment_id in assignments:
        generate_release(stock, workspace, assignment_id)
        commands.run_nbgrader(stock, workspace, "autograde", assignment_id, "--force",
                             "--SafeExecute.judge=False", log=workspace.root / "logs" / f"stock-{assignment_id}.log")
    done = coursekit("grade", str(submissions), "--workers", "2", course=ours)
    assert done.returncode == 0, done.stdout + done.stderr

    expected = test_scores(stock.gradebook, assignments)
    assert len(expected) >= 6 * 4
    stock_notebooks = list((workspace.root / "autograded").rglob("*.ipynb"))
    assert stock_notebooks and not any("judge" in json.loads(p.read_text(encoding="utf-8"))["metadata"].get(
        "coursekit", {}) for p in stock_notebooks)
    assert test_scores(ours / "build" / "gradebook.db", assignments) == expected


@pytest.mark.slow
def test_second_run_grades_only_new_or_changed_work(course_copy):
    """Does a rerun skip unchanged submissions, regrade an edited one, and --force regrade all?"""
    submissions = course_copy / "tests" / "fixtures" / "submissions"
    assignment_id = "01-reading-the-source"
    first = coursekit("grade", str(submissions), "--assignment", assignment_id, course=course_copy)
    assert first.returncode == 0, first.stderr
    students = sorted(p.name for p in submissions.iterdir() if (p / assignment_id).is_dir())
    assert f"{len(students)} submissions autograded, 0 unchanged" in first.stdout

    again = coursekit("grade", str(submissions), "--assignment", assignment_id, course=course_copy)
    assert f"0 submissions autograded, {len(students)} unchanged" in again.stdout

    ben = submissions / "ben" / assignment_id / f"{assignment_id}.ipynb"
    ada = submissions / "ada" / assignment_id / f"{assignment_id}.ipynb"
    ben.write_text(ada.read_text(encoding="utf-8"), encoding="utf-8")  # ben hands in again
    changed = coursekit("grade", str(submissions), "--assignment", assignment_id, course=course_copy)
    assert f"1 submissions autograded, {len(students) - 1} unchanged" in changed.stdout
    scores = {s.student: s.autograded for s in gradebook.read_assignment_scores(
        course_copy / "build" / "gradebook.db", [assignment_id])}
    assert scores["ben"] == scores["ada"] > 0

    forced = coursekit("grade", str(submissions), "--assignment", assignment_id, "--force", course=course_copy)
    assert f"{len(students)} submissions autograded, 0 unchanged" in forced.stdout


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_halfway_then_rerun_finishes_with_every_grade_once(course_copy, how):
    """Killed in the middle of the class, does a second run finish it, with the gradebook
    intact and each student's grade present exactly once and right?"""
    submissions = course_copy / "tests" / "fixtures" / "submissions"
    assignment_id = "01-reading-the-source"
    expected = {
        s: score for (s, a), score in
        sampleclass.expected_scores(course_copy / "tests" / "fixtures" / "answers").items() if a == assignment_id
    }
    state_db = course_copy / "build" / "grading-state.db"
    command = [sys.executable, "-m", "coursekit.cli", "--course", str(course_copy), "grade",
               str(submissions), "--assignment", assignment_id, "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        if state_db.exists():
            try:
                with sqlite3.connect(state_db, timeout=5) as db:
                    done = db.execute("SELECT count(*) FROM graded").fetchone()[0]
            except sqlite3.OperationalError:
                pass
        if done >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None and 2 <= done < len(expected), "could not catch the run halfway"
    if how == signal.SIGKILL:
        os.killpg(process.pid, signal.SIGKILL)  # the whole tree, as an OOM killer or a power cut would
    else:
        os.kill(process.pid, signal.SIGINT)  # Ctrl-C
    process.wait(timeout=60)

    rerun = coursekit("grade", str(submissions), "--assignment", assignment_id, course=course_copy)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "unchanged since last time" in rerun.stdout
    db_path = course_copy / "build" / "gradebook.db"
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute(
            "SELECT student.id, count(*) FROM submitted_assignment JOIN student ON student.id = "
            "submitted_assignment.student_id JOIN assignment ON assignment.id = submitted_assignment.assignment_id "
            "WHERE assignment.name = ? GROUP BY student.id", (assignment_id,)
        ).fetchall()
    assert dict(rows) == dict.fromkeys(expected, 1)
    scores = {s.student: s.autograded for s in gradebook.read_assignment_scores(db_path, [assignment_id])}
    assert scores == expected


def test_state_records_what_was_graded(tmp_path):
    """Does the state table tell a changed submission from an unchanged one?"""
    state = autograde.State(tmp_path / "state.db")
    task = autograde.Task("ada", "01", "abc")
    assert not state.is_done(task)
    state.mark_done(task)
    assert state.is_done(task)
    assert not state.is_done(autograde.Task("ada", "01", "changed"))
    state.close()


@pytest.mark.slow
def test_dask_cluster_gives_the_same_grades_as_local_workers(course_copy):
    """Run on a Dask cluster (a LocalCluster here), is every grade the one local mode gives?"""
    from distributed import LocalCluster

    assignment_id = "01-reading-the-source"
    expected = {
        s: score for (s, a), score in
        sampleclass.expected_scores(course_copy / "tests" / "fixtures" / "answers").items() if a == assignment_id
    }
    course = Course.at(course_copy)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = pipeline.grade(
            course=course, submissions=course_copy / "tests" / "fixtures" / "submissions",
            assignments=[assignment_id], dask_address=cluster.scheduler_address,
        )
    assert report.failed == [] and report.graded == len(expected)
    assert {s.student: s.autograded for s in report.scores} == expected


def _grade_with_a_misbehaving_worker(course_copy, how: str, *, student: str, workers: int = 2,
                                     dask_address: str | None = None, outcomes: list | None = None):
    """Grade assignment 01 of the sample class on local workers whose worker freezes or dies
    on `student`'s hand-in (tests/misbehaving.py): (outcomes, expected scores, workspace)."""
    import dataclasses

    from conftest import planned_class
    from misbehaving import Misbehave

    from coursekit.grader.config import load_config

    assignment_id = "01-reading-the-source"
    course, workspace, state, tasks = planned_class(course_copy, assignment_id)
    config = load_config(course)
    config.Misbehave.student, config.Misbehave.how = student, how
    if how == "die-at-start":
        from misbehaving import DiesWhenUnpickled

        config.Misbehave.trap = DiesWhenUnpickled()
    settings = autograde.worker_settings(config, course=course, workspace=workspace, feedback=False, layers=None)
    settings.config.Autograde.autograde_preprocessors = [
        Misbehave, *settings.config.Autograde.autograde_preprocessors]
    settings = dataclasses.replace(settings, stall_seconds=30)  # a first task starts the zygotes: seconds
    outcomes = [] if outcomes is None else outcomes
    try:
        autograde.run(tasks, settings=settings, state=state, workers=workers, dask_address=dask_address,
                      on_done=outcomes.append)
    finally:
        state.close()
    expected = {s: score for (s, a), score in sampleclass.expected_scores(
        course_copy / "tests" / "fixtures" / "answers").items() if a == assignment_id}
    return outcomes, expected, workspace


@pytest.mark.slow
@pytest.mark.parametrize("how", ["freeze", "die"])
def test_a_worker_that_freezes_or_dies_fails_its_hand_in_only(course_copy, how):
    """A local worker frozen (its watchdog ends it, with every thread's stack in a file) or
    killed on one hand-in: is that hand-in reported as failed, naming why (and the stacks'
    file), after a second try alone, while every other hand-in gets its right grade once?"""
    outcomes, expected, workspace = _grade_with_a_misbehaving_worker(course_copy, how, student="ben")
    by_student = {o.task.student: o for o in outcomes}
    assert sorted(o.task.student for o in outcomes) == sorted(expected), "each hand-in reported once"
    ben = by_student.pop("ben")
    assert not ben.success
    assert "graded twice, alone the second time" in ben.error
    if how == "freeze":
        assert "froze (no progress for 30 s)" in ben.error
        stacks = Path(ben.error.rsplit("each thread's stack: ", 1)[1].split(";")[0])
        assert stacks.parent == workspace.logs and stacks.name.startswith("frozen-ben-01-reading-the-source-")
        text = stacks.read_text(encoding="utf-8")
        assert text.startswith("ben\t01-reading-the-source\n") and "in preprocess" in text and "misbehaving.py" in text
    else:
        assert "ended while grading it (killed or crashed" in ben.error
    assert all(o.success for o in by_student.values()), [o.error for o in by_student.values() if not o.success]
    scores = {s.student: s.autograded for s in gradebook.read_assignment_scores(
        workspace.gradebook, ["01-reading-the-source"])}
    assert {s: scores[s] for s in by_student} == {s: expected[s] for s in by_student}
    assert not list(workspace.logs.glob("running-*")), "no watchdog file is left behind"


def test_the_watchdog_waits_past_every_limit_and_the_guide_says_how_long():
    """Is a worker's watchdog bound longer than a notebook's time limit plus gradebook waits,
    growing with the notebooks and the limit, and is the guide's figure that bound?"""
    from traitlets.config import Config

    from coursekit.grader.course import GRADEBOOK_LOCK_TIMEOUT
    from coursekit.grader.worker import stall_bound

    default = stall_bound(Config(), 1)
    assert default > 300 + GRADEBOOK_LOCK_TIMEOUT
    longer = Config()
    longer.Sandbox.notebook_timeout = 600
    assert stall_bound(longer, 1) == default + 300
    assert stall_bound(Config(), 3) >= default + 2 * 300  # each notebook adds at least its time limit
    guide = " ".join((ROOT / "docs" / "instructor-guide.md").read_text(encoding="utf-8").split())
    assert f"{default / 60:g} minutes for a one-notebook hand-in" in guide


@pytest.mark.slow
def test_a_hand_in_whose_dask_worker_dies_is_reported_not_raised(course_copy):
    """On Dask, when the cluster gives up on a hand-in whose worker died (KilledWorker), is it
    reported as failed, naming why, while every other hand-in gets its right grade?"""
    import dask
    from distributed import LocalCluster

    # give up at the first death; one task per worker at a time, so that only ben's dies with it
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}), LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        outcomes, expected, workspace = _grade_with_a_misbehaving_worker(
            course_copy, "die", student="ben", dask_address=cluster.scheduler_address)
    by_student = {o.task.student: o for o in outcomes}
    assert sorted(by_student) == sorted(expected)
    ben = by_student.pop("ben")
    assert not ben.success and "the Dask cluster gave up on it (KilledWorker" in ben.error
    assert all(o.success for o in by_student.values()), [o.error for o in by_student.values() if not o.success]
    scores = {s.student: s.autograded for s in gradebook.read_assignment_scores(
        workspace.gradebook, ["01-reading-the-source"])}
    assert {s: scores[s] for s in by_student} == {s: expected[s] for s in by_student}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["die", "die-at-start"])
def test_workers_that_end_on_every_hand_in_stop_the_run_with_the_cause(course_copy, how):
    """When every worker dies on every hand-in, or before it can start one (a broken machine
    or environment, not a submission), does grading stop soon with one clear error, rather than
    trying each hand-in of the class twice, and report what it graded before?"""
    from coursekit.grader.errors import WorkersFailed

    outcomes = []
    started = time.monotonic()
    with pytest.raises(WorkersFailed) as stopped:
        _grade_with_a_misbehaving_worker(course_copy, how, student="*", outcomes=outcomes)
    message = str(stopped.value)
    assert "the machine or the Python environment is" in message
    assert "The grades made so far are kept" in message and outcomes == []
    if how == "die":
        assert "ended on every hand-in they started, 3 times in a row (" in message
    else:
        assert "end before they start a hand-in" in message
    assert time.monotonic() - started < 120


@pytest.mark.slow
def test_a_pool_that_breaks_while_hand_ins_are_handed_to_it_stops_the_run_with_the_cause(course_copy, monkeypatch):
    """A worker can die on its first task while the rest of the class is still being handed to
    the pool (a race: CI saw it once): does the run still stop with the one clear error rather than
    an uncaught BrokenProcessPool? Here the race is forced: each hand-in after the first waits
    until the pool has broken."""
    from concurrent import futures

    from coursekit.grader.errors import WorkersFailed

    class BreaksFirst(futures.ProcessPoolExecutor):
        first = None

        def submit(self, fn, /, *args, **kwargs):
            if self.first is not None:
                futures.wait([self.first], timeout=60)  # the pool fails it when it breaks
                assert self.first.done(), "the worker did not die on its first task"
            job = super().submit(fn, *args, **kwargs)
            self.first = self.first or job
            return job

    monkeypatch.setattr(autograde.futures, "ProcessPoolExecutor", BreaksFirst)
    outcomes = []
    with pytest.raises(WorkersFailed, match="end before they start a hand-in"):
        _grade_with_a_misbehaving_worker(course_copy, "die-at-start", student="*", outcomes=outcomes)
    assert outcomes == []


@pytest.mark.parametrize("create", [True, False], ids=["create_student-on", "create_student-off"])
def test_a_runs_new_students_are_in_the_gradebook_before_any_worker_starts(course_copy, monkeypatch, create):
    """Two workers grading two assignments of one new student at once both had nbgrader create
    the student, and one of the two hand-ins failed on the gradebook's unique id (seen in a
    one-student bench). Every new student of the run must exist when the workers start, unless
    the instructor turned `Autograde.create_student` off (then nbgrader refuses unknown
    students, as before)."""
    course = Course.at(course_copy)
    if not create:
        config = course_copy / "nbgrader_config.py"
        config.write_text(config.read_text(encoding="utf-8") + "\nc.Autograde.create_student = False\n",
                          encoding="utf-8")
    seen = {}

    def run(tasks, **_):  # stands in for the workers: what does the gradebook hold when they start?
        seen["tasks"] = {task.student for task in tasks}
        seen["gradebook"] = set(gradebook.students(instructor_workspace(course).gradebook))
        return []

    monkeypatch.setattr(autograde, "run", run)
    pipeline.grade_class(course=course, submissions=ROOT / "tests" / "fixtures" / "submissions",
                         run=pipeline.Run(workers=2))
    assert len(seen["tasks"]) >= 3
    assert seen["tasks"] <= seen["gradebook"] if create else not seen["tasks"] & seen["gradebook"]

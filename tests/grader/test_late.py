"""Due dates, extensions and the late policy: a real nbgrader gradebook, nbgrader's own
AssignLatePenalties calling coursekit's LatePenalty plugin, and collect carrying the times."""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties
from nbgrader.utils import parse_utc
from traitlets.config import Config

from coursekit.grader import collect, late
from coursekit.grader.course import Course, instructor_workspace
from coursekit.grader.errors import CourseError

A01 = "01-reading-the-source"
A02 = "02-extracting-claims"
DUE = "2026-10-05 23:59:00 Europe/London"  # British Summer Time: 22:59 UTC
DUE_UTC = dt.datetime(2026, 10, 5, 22, 59)
HAND_IN = ROOT / "tests/fixtures/submissions/ada" / A01 / f"{A01}.ipynb"


def _config(method: str = "per_day", per_day: float = 10, cap: float = 50, **policy) -> Config:
    config = Config()
    config.AssignLatePenalties.plugin_class = "coursekit.grader.late.LatePenalty"
    config.LatePenalty.penalty_method = method
    config.LatePenalty.percent_per_day = per_day
    config.LatePenalty.max_percent = cap
    config.LatePolicy.due = {A01: DUE, A02: "2026-10-12 23:59 UTC"}  # not graded here
    for key, value in policy.items():
        config.LatePolicy[key] = value
    return config


@pytest.fixture(scope="module")
def blank_gradebook(tmp_path_factory) -> Path:
    """A gradebook with A01 (one notebook, one test worth 10) and ada's hand-in: made once
    (nbgrader's set-up of a new gradebook takes seconds), copied by each test."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy warnings of its own
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{path}") as gb:
            gb.add_assignment(A01)
            gb.add_notebook(A01, A01)
            gb.add_grade_cell("test_1", A01, A01, max_score=10, cell_type="code")
            gb.add_student("ada")
            gb.add_submission(A01, "ada")
            gb.db.commit()
    return path


@pytest.fixture
def gradebook(blank_gradebook):
    def make(path: Path, score: float = 8.0) -> Path:
        """A copy of the gradebook in which ada's hand-in scores `score` of 10."""
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(blank_gradebook, path)
        with Gradebook(f"sqlite:///{path}") as gb:
            gb.find_grade("test_1", A01, A01, "ada").auto_score = score
            gb.db.commit()
        return path
    return make


def _submitted(root: Path, timestamp: str | None) -> Path:
    folder = root / "ada" / A01
    folder.mkdir(parents=True)
    if timestamp is not None:
        (folder / late.TIMESTAMP).write_text(timestamp + "\n", encoding="utf-8")
    return root


@pytest.fixture
def penalty(gradebook):
    def run(tmp_path: Path, config: Config, timestamp: str | None, extensions: str | None = None,
            time_unknown: bool = False) -> float:
        return _penalty(gradebook(tmp_path / "gradebook.db"), config, timestamp, extensions, time_unknown)
    return run


def _penalty(gradebook: Path, config: Config, timestamp: str | None, extensions: str | None = None,
             time_unknown: bool = False) -> float:
    """prepare (due date, extension, time into the gradebook), then nbgrader's AssignLatePenalties
    on ada's notebook, as autograde runs it: the penalty nbgrader records."""
    tmp_path = gradebook.parent
    if extensions is not None:
        (tmp_path / "extensions.csv").write_text(extensions, encoding="utf-8")
    submitted = _submitted(tmp_path / "submitted", timestamp)
    late.prepare(gradebook=gradebook, config=config, course_root=tmp_path, submitted=submitted,
                 assignments=[A01], known=[A01, A02], hand_ins={("ada", A01)},
                 time_unknown={("ada", A01)} if time_unknown else set())
    resources = {"nbgrader": {"notebook": A01, "assignment": A01, "student": "ada",
                              "db_url": f"sqlite:///{gradebook}"}}
    AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        return gb.find_submission_notebook(A01, A01, "ada").late_submission_penalty or 0.0


# --- the policy -------------------------------------------------------------------------------------


def test_a_late_hand_in_loses_the_configured_share_per_started_day(penalty, tmp_path):
    # 1 h late: 1 started day, 10 % of the 8 points earned
    assert penalty(tmp_path, _config(), "2026-10-05 23:59:00 UTC") == pytest.approx(0.8)


@pytest.mark.parametrize(("late_by", "days"), [(dt.timedelta(seconds=1), 1), (dt.timedelta(hours=24), 1),
                                               (dt.timedelta(hours=24, seconds=1), 2), (dt.timedelta(days=3), 3)])
def test_days_are_started_24_hour_periods_after_the_due_date(late_by, days, penalty, tmp_path):
    stamp = late.format_utc(DUE_UTC + late_by)
    assert penalty(tmp_path, _config(cap=100), stamp) == pytest.approx(8 * 0.1 * days)


def test_the_cap_holds(penalty, tmp_path):
    # 9 days late at 10 % a day is 90 %; capped at 50 %: 4 of the 8 points
    assert penalty(tmp_path, _config(cap=50), late.format_utc(DUE_UTC + dt.timedelta(days=9))) == pytest.approx(4.0)


def test_on_time_costs_nothing(penalty, tmp_path):
    assert penalty(tmp_path, _config(), "2026-10-05 23:58:59 Europe/London") == 0.0


def test_zero_takes_the_whole_score_and_none_nothing(penalty, tmp_path):
    stamp = "2026-10-07 12:00:00 UTC"
    assert penalty(tmp_path / "zero", _config("zero"), stamp) == pytest.approx(8.0)
    assert penalty(tmp_path / "none", _config("none"), stamp) == 0.0


def test_an_extension_removes_the_penalty(penalty, tmp_path):
    stamp = "2026-10-07 12:00:00 UTC"  # 1 day 13 h late: 2 days, 20 %
    assert penalty(tmp_path / "without", _config(), stamp) == pytest.approx(1.6)
    assert penalty(tmp_path / "days", _config(), stamp,
                   "student_id,assignment,days\nada,01-reading-the-source,2\n") == 0
    assert penalty(tmp_path / "date", _config(), stamp,
                    "student_id,assignment,due\nada,01-reading-the-source,2026-10-08 12:00 Europe/London\n") == 0
    # a shorter one only shortens the lateness: 1 day 1 h after the 12 h extension, 2 days
    assert penalty(tmp_path / "hours", _config(), stamp,
                    "student_id,assignment,hours\nada,01-reading-the-source,12\n") == pytest.approx(1.6)
    with Gradebook(f"sqlite:///{tmp_path / 'hours' / 'gradebook.db'}") as gb:
        assert gb.find_submission(A01, "ada").duedate == DUE_UTC + dt.timedelta(hours=12)


def test_the_due_date_is_written_where_nbgrader_and_formgrader_read_it(penalty, tmp_path):
    penalty(tmp_path, _config(), None)
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        assert gb.find_assignment(A01).duedate == DUE_UTC
        assert gb.find_submission(A01, "ada").timestamp is None  # no time: never late


def test_a_canvas_late_marker_counts_as_canvas_late_days_after_the_extended_due_date(penalty, tmp_path):
    assert penalty(tmp_path / "default", _config(), None, time_unknown=True) == pytest.approx(0.8)  # 1 day
    assert penalty(tmp_path / "three", _config(canvas_late_days=3), None, time_unknown=True) == pytest.approx(2.4)
    assert penalty(tmp_path / "off", _config(canvas_late_days=0), None, time_unknown=True) == 0
    assert penalty(tmp_path / "ext", _config(), None, "student_id,assignment,days\nada,01-reading-the-source,4\n",
                    time_unknown=True) == pytest.approx(0.8)
    folder = tmp_path / "ext" / "submitted" / "ada" / A01
    assert parse_utc((folder / late.TIMESTAMP).read_text()) == DUE_UTC + dt.timedelta(days=5)
    assert "without giving a time" in (folder / late.TIME_UNKNOWN).read_text()


def test_feedback_says_when_the_time_was_unknown(penalty, tmp_path):
    from coursekit.grader.feedback import LATE_KEY, FeedbackGrades

    penalty(tmp_path, _config(), None, time_unknown=True)
    resources = {"nbgrader": {"notebook": A01, "assignment": A01, "student": "ada",
                              "db_url": f"sqlite:///{tmp_path / 'gradebook.db'}"},
                 "metadata": {"path": str(tmp_path / "submitted" / "ada" / A01)}}
    _, resources = FeedbackGrades(config=_config()).preprocess(nbformat.v4.new_notebook(), resources)
    assert resources["nbgrader"]["late_penalty"] == pytest.approx(0.8)
    assert resources[LATE_KEY].startswith("The LMS marked this hand-in late without giving a time: counted as 1 day(s)")
    assert "Due 2026-10-05 22:59 UTC: 1 day(s) late" in resources[LATE_KEY]


def test_prepare_writes_a_new_hand_in_only_when_it_has_an_extension(gradebook, tmp_path):
    """A hand-in the gradebook does not hold yet is left to nbgrader's autograde (which makes
    its record, with the time in its timestamp.txt) unless it has an extension to record;
    ada's, which the gradebook holds, gets its new time."""
    book = gradebook(tmp_path / "gradebook.db")
    submitted = tmp_path / "submitted"
    for student in ("ada", "ben", "cy"):
        (submitted / student / A01).mkdir(parents=True)
        (submitted / student / A01 / late.TIMESTAMP).write_text("2026-10-06 10:00:00 UTC\n", encoding="utf-8")
    (tmp_path / "extensions.csv").write_text(f"student_id,assignment,days\ncy,{A01},2\n", encoding="utf-8")
    late.prepare(gradebook=book, config=_config(), course_root=tmp_path, submitted=submitted, assignments=[A01],
                 known=[A01, A02], hand_ins={("ada", A01), ("ben", A01), ("cy", A01)}, time_unknown=set())
    with Gradebook(f"sqlite:///{book}") as gb:
        held = {s.student.id: (s.timestamp, s.extension) for s in gb.assignment_submissions(A01)}
    assert held == {"ada": (dt.datetime(2026, 10, 6, 10), None), "cy": (dt.datetime(2026, 10, 6, 10),
                                                                       dt.timedelta(days=2))}



def test_reapply_brings_penalties_up_to_date_without_regrading(penalty, tmp_path):
    penalty(tmp_path, _config(), "2026-10-07 12:00:00 UTC")  # 20 % of 8
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.find_grade("test_1", A01, A01, "ada").manual_score = 10  # hand-graded since
        gb.db.commit()
    found = late.reapply(gradebook=tmp_path / "gradebook.db", config=_config(), hand_ins={("ada", A01)})
    assert found["ada", A01].penalty == pytest.approx(2.0) and found["ada", A01].days == 2
    line = late.feedback_line(found["ada", A01], late.penalty_plugin(_config()))
    assert "2 day(s) late" in line and "10% of the score per started day late, at most 50%" in line


# --- times and files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-10-05 23:59:00 Europe/London", DUE_UTC),
    ("2026-10-05 22:59:00.500000 UTC", DUE_UTC + dt.timedelta(microseconds=500000)),
    ("2026-10-05T23:59+01:00", DUE_UTC), ("2026-10-05 23:59:00 +0100", DUE_UTC), ("2026-10-05 22:59Z", DUE_UTC),
    ("2026-10-05 22:59:00", DUE_UTC),  # no zone: UTC, as nbgrader reads it
])
def test_times_are_read_in_utc_as_nbgrader_stores_them(text, utc):
    assert late.parse_time(text) == utc
    assert parse_utc(late.format_utc(utc)) == utc  # what collect writes, nbgrader reads back exactly


@pytest.mark.parametrize(("text", "why"), [
    ("5", "is not a time like"), ("2026-13-05 10:00", "month must be in 1..12"),
    ("2026-10-05 23:59:00 BST", "unknown time zone 'BST'"), ("2026-10-05 10:00 ../../etc/passwd", "is not a time"),
    ("2026-10-05 10:00 +2500", "not a UTC offset"),
])
def test_a_bad_time_is_refused_saying_why(text, why):
    with pytest.raises(ValueError, match=why):
        late.parse_time(text)


def test_a_due_date_needs_a_time_zone_and_an_assignment(tmp_path):
    config = _config()
    config.LatePolicy.due = {A01: "2026-10-05 23:59"}
    with pytest.raises(CourseError, match=r"c.LatePolicy.due\['01-reading-the-source'\]: .* has no time zone"):
        late.settings(config, tmp_path, [A01, A02])
    config.LatePolicy.due = {"01-reading": DUE}
    with pytest.raises(CourseError, match="'01-reading', which is not an assignment"):
        late.settings(config, tmp_path, [A01, A02])


@pytest.mark.parametrize(("csv_text", "message"), [
    ("student,assignment,days\n", r"extensions.csv, line 1: the header must name student_id"),
    ("student_id,assignment,days\nada,01-reading-the-source,two\n", r"extensions.csv, line 2: days 'two' is not"),
    ("student_id,assignment,days\n\nada,99-nope,1\n", r"extensions.csv, line 3: '99-nope' is not an assignment"),
    ("student_id,assignment,days\nada,01-reading-the-source,1,3\n", r"extensions.csv, line 2: 4 fields"),
    ("student_id,assignment,days\nada,01-reading-the-source,-1\n", r"line 2: days '-1' must be 0 or more"),
    ("student_id,assignment,due\nada,01-reading-the-source,2026-10-09\n", r"line 2: .* is not a time like"),
    ("student_id,assignment,due\nada,01-reading-the-source,2026-10-01 10:00 UTC\n", r"line 2: .* is before"),
    ("student_id,assignment,days,hours\nada,01-reading-the-source,1,\nada,01-reading-the-source,,5\n",
     r"line 3: ada already has an extension for 01-reading-the-source \(line 2\)"),
    ("student_id,assignment,days\nada,01-reading-the-source,\n", r"line 2: no extension given"),
    ("student_id,assignment,days,due\nada,01-reading-the-source,1,2026-10-09 10:00 UTC\n", r"line 2: .* not both"),
])
def test_a_malformed_extensions_file_names_the_file_and_line(csv_text, message, tmp_path):
    (tmp_path / "extensions.csv").write_text(csv_text, encoding="utf-8")
    with pytest.raises(CourseError, match=message):
        late.settings(_config(), tmp_path, [A01, A02])


def test_an_unreadable_extensions_file_is_named(tmp_path):
    (tmp_path / "extensions.csv").write_bytes(b"student_id,assignment,days\n\xff\xfe\n")
    with pytest.raises(CourseError, match=r"extensions.csv: the extensions file cannot be read"):
        late.settings(_config(), tmp_path, [A01, A02])


def _class_with_times(tmp_path: Path, stamps: dict[str, bytes]) -> Path:
    folder = tmp_path / "class"
    for student, stamp in stamps.items():
        (folder / student / A01).mkdir(parents=True)
        shutil.copy(HAND_IN, folder / student / A01)
        (folder / student / A01 / late.TIMESTAMP).write_bytes(stamp)
    return folder


def test_collect_carries_a_timestamp_in_utc_and_refuses_a_bad_one_by_name(course_copy, tmp_path):
    course = Course.at(course_copy)
    workspace = instructor_workspace(course)
    folder = _class_with_times(tmp_path, {
        "ada": b"2026-10-06 10:00:00.000000 Europe/London\n",  # nbgrader's exchange writes this form
        "ben": b"next tuesday\n", "chloe": b"2026-10-06 10:00 BST\n", "dev": b"\xff\xfe",
        "eve": b"2026-10-06 10:00 UTC\n" * 200})
    (folder / "femi" / A01).mkdir(parents=True)
    shutil.copy(HAND_IN, folder / "femi" / A01)
    (folder / "femi" / A01 / late.TIMESTAMP).symlink_to("/etc/hostname")
    collected = collect.collect(course=course, submissions=folder, workspace=workspace)
    assert len(collected.accepted) == 6  # a bad time never stops a hand-in from being graded
    assert (workspace.submitted / "ada" / A01 / late.TIMESTAMP).read_text() == "2026-10-06 09:00:00.000000 UTC\n"
    refused = {r.student: r.reason for r in collected.rejected}
    assert {r.path.name for r in collected.rejected} == {late.TIMESTAMP}
    assert "next tuesday" in refused["ben"] and "is not a time like" in refused["ben"]
    assert "unknown time zone 'BST'" in refused["chloe"] and "c.Exchange.timezone is UTC" in refused["chloe"]
    assert "not UTF-8" in refused["dev"]
    assert "over 1024 bytes" in refused["eve"]
    assert "symbolic link; not followed" in refused["femi"]
    for student in ("ben", "chloe", "dev", "eve", "femi"):
        assert not (workspace.submitted / student / A01 / late.TIMESTAMP).exists()
        assert any("graded with no hand-in time" in n for n in collected.notes[student, A01])


def test_collect_marks_canvas_late_hand_ins(course_copy, tmp_path):
    course = Course.at(course_copy)
    folder = tmp_path / "canvas"
    folder.mkdir()
    shutil.copy(HAND_IN, folder / f"ada_late_123_456_{A01}.ipynb")
    shutil.copy(HAND_IN, folder / f"ben_123_456_{A01}.ipynb")
    shutil.copy(HAND_IN, folder / f"chloe_late_123_456_{A01}.ipynb")
    shutil.copy(HAND_IN, folder / f"chloe_123_457_{A01}-1.ipynb")  # re-submitted on time: graded, not late
    collected = collect.collect(course=course, submissions=folder, workspace=instructor_workspace(course))
    assert set(collected.accepted) == {("ada", A01), ("ben", A01), ("chloe", A01)}
    assert collected.late == {("ada", A01)}

    archive = tmp_path / "canvas.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", folder)
    collected = collect.collect(course=course, submissions=archive, workspace=instructor_workspace(course))
    assert ("ada", A01) in collected.late and ("ben", A01) not in collected.late


def test_a_changed_time_regrades_and_no_time_keeps_the_old_checksum(tmp_path):
    import hashlib

    from coursekit.grader.autograde import submission_digest

    folder = tmp_path / "ada" / A01
    folder.mkdir(parents=True)
    shutil.copy(HAND_IN, folder)
    notebooks_only = hashlib.sha256(HAND_IN.name.encode() + HAND_IN.read_bytes()).hexdigest()
    assert submission_digest(folder) == notebooks_only  # hand-ins graded before this change stay graded
    (folder / late.TIMESTAMP).write_text("2026-10-06 10:00:00.000000 UTC\n")
    first = submission_digest(folder)
    (folder / late.TIMESTAMP).write_text("2026-10-06 11:00:00.000000 UTC\n")
    assert len({notebooks_only, first, submission_digest(folder)}) == 3


# --- what the instructor reads ---------------------------------------------------------------------


def test_the_terminal_table_and_the_report_show_late_hand_ins_and_penalty_points(tmp_path):
    import pandas as pd
    from rich.console import Console

    from coursekit.grader.gradebook import AssignmentScore
    from coursekit.grader.pipeline import GradeReport
    from coursekit.grader.report import _late_html
    from coursekit.grader.terminal import print_grades

    scores = [AssignmentScore("ann", "01-a", 12.0, 12.0, 0.0, False, days_late=2, late_penalty=2.4),
              AssignmentScore("bob", "01-a", 5.0, 12.0, 0.0, False),
              AssignmentScore("cyd", "01-a", 6.0, 12.0, 0.0, False, days_late=1, late_penalty=0.0)]
    console = Console(width=200, record=True)
    print_grades(GradeReport(scores=scores, rejected=[], failed=[], graded=3, skipped=0, grades_csv=None,
                             feedback_dir=tmp_path), console=console)
    text = " ".join(console.export_text().split())  # the caption wraps
    assert "12 / 12 −2.4 late" in text and "points the late policy takes off" in text
    assert "late: 2 hand-in(s), 2.4 penalty points in all" in text
    page = _late_html(pd.DataFrame([s.__dict__ for s in scores]))
    assert "2 of 3 hand-ins late; 2.4 penalty points in all" in page
    assert "<th>days late</th>" in page and "<th>late penalty</th>" in page


# --- end to end -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_late_hand_in_is_penalised_through_grade_class(course_copy, tmp_path):
    """`coursekit grade`'s pipeline, real nbgrader, one hand-in two days late under 10 % a day:
    the penalty is in the gradebook, grades.csv, the feedback page and the reasons."""
    from coursekit.grader.pipeline import Run, grade_class

    with (course_copy / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write(f'\nc.LatePolicy.due = {{"{A01}": "{DUE}", "{A02}": "2026-10-12 23:59 UTC"}}\n'
                     'c.LatePenalty.penalty_method = "per_day"\nc.LatePenalty.percent_per_day = 10\n'
                     'c.LatePenalty.max_percent = 50\n')
    folder = _class_with_times(tmp_path, {"ada": b"2026-10-07 12:00:00 Europe/London\n"})  # 1 d 12 h late
    course = Course.at(course_copy)
    report = grade_class(course=course, submissions=folder, assignments=[A01], run=Run(workers=1))
    assert not report.failed and report.graded == 1
    workspace = instructor_workspace(course)
    with Gradebook(f"sqlite:///{workspace.gradebook}") as gb:
        submission = gb.find_submission(A01, "ada")
        assert gb.find_assignment(A01).duedate == DUE_UTC
        assert submission.timestamp == dt.datetime(2026, 10, 7, 11, 0)
        notebook = gb.find_submission_notebook(A01, A01, "ada")
        score, penalty = notebook.score, notebook.late_submission_penalty
    assert score > 0 and penalty == pytest.approx(0.2 * score)  # 2 started days, 20 %
    assert report.lateness["ada", A01].days == 2 and report.lateness["ada", A01].penalty == pytest.approx(penalty)
    feedback = (workspace.feedback / "ada" / A01 / f"{A01}.html").read_text(encoding="utf-8")
    assert f"Late submission penalty (Score: -{round(penalty, 2):g})" in feedback
    assert "Due 2026-10-05 22:59 UTC: 2 day(s) late" in feedback
    assert "10% of the score per started day late, at most 50%" in feedback
    grades = (workspace.grades_csv).read_text(encoding="utf-8").splitlines()
    header, row = grades[0].split(","), grades[1].split(",")
    assert float(row[header.index("late_submission_penalty")]) == pytest.approx(penalty)
    reason = next(r for r in report.reasons if r.student == "ada")
    assert any(flag.startswith("late: 2 day(s) after 2026-10-05 22:59 UTC, penalty") for flag in reason.flags)

    # an extension granted afterwards: the next run regrades nothing, and the penalty is gone
    (course_copy / "extensions.csv").write_text(f"student_id,assignment,days\nada,{A01},2\n", encoding="utf-8")
    again = grade_class(course=course, submissions=folder, assignments=[A01], run=Run(workers=1))
    assert (again.graded, again.skipped) == (0, 1)
    with Gradebook(f"sqlite:///{workspace.gradebook}") as gb:
        assert not gb.find_submission_notebook(A01, A01, "ada").late_submission_penalty
        assert gb.find_submission(A01, "ada").duedate == DUE_UTC + dt.timedelta(days=2)
    reason = next(r for r in again.reasons if r.student == "ada")
    assert reason.flags == ("extension of 2 days (extensions.csv, line 2)",)


def test_a_late_hand_in_from_the_exchange_is_penalised_and_an_extension_removes_it(
        blank_gradebook, course_copy, tmp_path, monkeypatch):
    """The whole path of a JupyterHub Submit: nbgrader's exchange inbound (its timestamp.txt) →
    `grade --exchange`'s collection → collect into submitted/ → the policy, as autograde applies it."""
    from coursekit.grader import exchange

    monkeypatch.setattr(exchange, "_owner", lambda path: path.name.split("+")[0])  # ada's own folder
    course = Course.at(course_copy)
    stamp = "2026-10-07 12:00:00.000001 UTC"  # 1 day 13 h after DUE: 2 started days, 20 % of 8
    inbound = tmp_path / "exchange" / "kfor-in-numbers" / "inbound" / f"ada+{A01}+{stamp}+r4nd0m"
    inbound.mkdir(parents=True)
    shutil.copy(HAND_IN, inbound / HAND_IN.name)
    (inbound / "timestamp.txt").write_text(stamp, encoding="utf-8")
    found = exchange.collect_from_exchange(course=course, root=tmp_path / "exchange", course_id="kfor-in-numbers",
                                           assignments=[A01])
    workspace = instructor_workspace(course)
    collected = collect.collect(course=course, submissions=found.folder, workspace=workspace)
    assert set(collected.accepted) == {("ada", A01)}

    def penalty(name: str, extensions: str | None) -> float:
        gradebook = tmp_path / name / "gradebook.db"
        gradebook.parent.mkdir()
        shutil.copy(blank_gradebook, gradebook)
        with Gradebook(f"sqlite:///{gradebook}") as gb:
            gb.find_grade("test_1", A01, A01, "ada").auto_score = 8.0
            gb.db.commit()
        if extensions is not None:
            (tmp_path / name / "extensions.csv").write_text(extensions, encoding="utf-8")
        late.prepare(gradebook=gradebook, config=_config(), course_root=tmp_path / name,
                     submitted=workspace.submitted, assignments=[A01], known=[A01, A02], hand_ins={("ada", A01)},
                     time_unknown=set())
        resources = {"nbgrader": {"notebook": A01, "assignment": A01, "student": "ada",
                                  "db_url": f"sqlite:///{gradebook}"}}
        AssignLatePenalties(config=_config()).preprocess(nbformat.v4.new_notebook(), resources)
        with Gradebook(f"sqlite:///{gradebook}") as gb:
            return gb.find_submission_notebook(A01, A01, "ada").late_submission_penalty or 0.0

    assert penalty("late", None) == pytest.approx(1.6)
    assert penalty("extended", "student_id,assignment,days\nada,01-reading-the-source,2\n") == 0

"""Hand-ins from nbgrader's exchange (a JupyterHub's Submit): the latest of each student,
owned by that student, copied with nbgrader's receipts into a folder of the grader's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, coursekit

from coursekit.grader import exchange
from coursekit.grader.course import Course, instructor_workspace

ASSIGNMENT = "01-reading-the-source"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
EARLY, LATE = "2026-12-01 09:00:00.000001 UTC", "2026-12-01 10:30:00.000002 UTC"


def hand_in(root: Path, student: str, stamp: str, *, text: str = "{}", extra: dict[str, str] | None = None) -> Path:
    """A folder as `nbgrader submit` leaves it in the exchange's inbound."""
    folder = root / "kfor-in-numbers" / "inbound" / f"{student}+{ASSIGNMENT}+{stamp}+r4nd0m"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(text, encoding="utf-8")
    (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")
    (folder / "submission_secret.txt").write_text(f"secret-of-{student}-{stamp}", encoding="utf-8")
    for name, content in (extra or {}).items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def owners(monkeypatch) -> dict[str, str]:
    """Who owns each inbound folder (by folder name); default: the student it names."""
    table: dict[str, str] = {}
    monkeypatch.setattr(exchange, "_owner", lambda path: table.get(path.name, path.name.split("+")[0]))
    return table


def collect(course_root: Path, root: Path) -> exchange.ExchangeCollected:
    return exchange.collect_from_exchange(course=Course(course_root), root=root, course_id="kfor-in-numbers",
                                          assignments=[ASSIGNMENT])


def test_the_latest_hand_in_of_each_student_is_collected_with_its_receipts(course_copy, tmp_path, owners):
    """Two hand-ins of ada, one of bea: ada's later one and bea's, each with timestamp.txt
    (nbgrader's format, the time in the folder's name) and the secret, in build/exchange/collected."""
    root = tmp_path / "exchange"
    hand_in(root, "ada", LATE, text='{"late": 1}')
    hand_in(root, "ada", EARLY, text='{"early": 1}')
    hand_in(root, "bea", EARLY)
    found = collect(course_copy, root)

    assert found.folder == course_copy / "build" / "exchange" / "collected"
    assert [(h.student, h.stamp) for h in found.handins] == [("ada", LATE), ("bea", EARLY)]
    assert found.replaced == 1 and found.rejected == []
    ada = found.folder / "ada" / ASSIGNMENT
    assert (ada / NOTEBOOK).read_text(encoding="utf-8") == '{"late": 1}'
    assert (ada / "timestamp.txt").read_text(encoding="utf-8") == LATE
    assert (ada / "submission_secret.txt").read_text(encoding="utf-8") == f"secret-of-ada-{LATE}"
    assert sorted(p.name for p in ada.iterdir()) == sorted([NOTEBOOK, "timestamp.txt", "submission_secret.txt"])


def test_a_hand_in_owned_by_someone_else_is_refused(course_copy, tmp_path, owners):
    """A folder named for ada but written by bea (the inbound is writable by all) is not ada's."""
    root = tmp_path / "exchange"
    forged = hand_in(root, "ada", LATE)
    owners[forged.name] = "bea"
    found = collect(course_copy, root)

    assert found.handins == []
    assert [(r.path, r.student) for r in found.rejected] == [(forged, "ada")]
    assert "owned by bea" in found.rejected[0].reason


def test_links_and_other_files_are_not_copied_and_old_collections_go(course_copy, tmp_path, owners):
    """Only notebooks (never a link) and nbgrader's receipts; a student collected by an earlier
    run but no longer in the exchange is not graded again."""
    root = tmp_path / "exchange"
    folder = hand_in(root, "ada", LATE, extra={"notes.txt": "hello"})
    (folder / "answers.ipynb").symlink_to(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK)
    stale = course_copy / "build" / "exchange" / "collected" / "zed" / ASSIGNMENT
    stale.mkdir(parents=True)
    found = collect(course_copy, root)

    copied = sorted(p.name for p in (found.folder / "ada" / ASSIGNMENT).iterdir())
    assert copied == sorted([NOTEBOOK, "timestamp.txt", "submission_secret.txt"])
    assert any(r.path.name == "answers.ipynb" and "symbolic link" in r.reason for r in found.rejected)
    assert not stale.exists()


def test_receipts_go_beside_the_feedback_for_release_feedback(course_copy, tmp_path, owners):
    """nbgrader release_feedback reads timestamp.txt and the secret from the feedback folder."""
    root = tmp_path / "exchange"
    hand_in(root, "ada", LATE)
    hand_in(root, "bea", LATE)
    found = collect(course_copy, root)
    workspace = instructor_workspace(Course(course_copy))
    feedback = workspace.feedback / "ada" / ASSIGNMENT
    feedback.mkdir(parents=True)
    (feedback / f"{ASSIGNMENT}.html").write_text("<html></html>", encoding="utf-8")

    assert exchange.place_receipts(collected=found.folder, workspace=workspace) == [("ada", ASSIGNMENT)]
    assert (feedback / "timestamp.txt").read_text(encoding="utf-8") == LATE
    assert (feedback / "submission_secret.txt").read_text(encoding="utf-8") == f"secret-of-ada-{LATE}"


def test_exchange_root_comes_from_the_flag_the_environment_or_make_hub(course_copy, tmp_path, monkeypatch):
    course = Course(course_copy)
    monkeypatch.delenv(exchange.EXCHANGE_ENV, raising=False)
    assert exchange.exchange_root(course) == course_copy / "build" / "hub" / "exchange"
    monkeypatch.setenv(exchange.EXCHANGE_ENV, str(tmp_path / "env"))
    assert exchange.exchange_root(course) == tmp_path / "env"
    assert exchange.exchange_root(course, tmp_path / "flag") == tmp_path / "flag"


def test_grade_wants_a_folder_or_the_exchange_not_both(course_copy, tmp_path):
    neither = coursekit("grade", course=course_copy)
    both = coursekit("grade", str(tmp_path), "--exchange", course=course_copy)
    assert neither.returncode == both.returncode == 2
    assert "give a SUBMISSIONS folder or --exchange" in neither.stderr


def test_grade_from_an_exchange_with_no_inbound_says_so(course_copy, tmp_path):
    done = coursekit("grade", "--exchange", "--exchange-root", str(tmp_path / "nowhere"), course=course_copy)
    assert done.returncode == 1
    assert "inbound: no such folder: nothing was handed in through the exchange" in done.stderr


def test_close_build_closes_all_but_the_hub(tmp_path):
    """On a hub, students are users of the machine: what grading writes in build/ is closed to
    them; the hub's folder (exchange, homes) stays reachable, build/ itself only o+x."""
    course = tmp_path / "course"
    build = course / "build"
    (build / "hub" / "exchange").mkdir(parents=True)
    (build / "feedback").mkdir()
    (build / "gradebook.db").write_text("", encoding="utf-8")
    for path in (build, build / "hub", build / "feedback"):
        path.chmod(0o755)
    (build / "gradebook.db").chmod(0o644)

    closed = exchange.close_build(course, keep=build / "hub" / "exchange")

    assert sorted(p.name for p in closed) == ["feedback", "gradebook.db"]
    assert (build / "feedback").stat().st_mode & 0o007 == 0
    assert (build / "gradebook.db").stat().st_mode & 0o007 == 0
    assert (build / "hub").stat().st_mode & 0o777 == 0o755
    assert build.stat().st_mode & 0o007 == 0o001

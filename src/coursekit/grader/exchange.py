"""nbgrader's exchange: a class on a JupyterHub hands in with the Assignments panel's Submit.

`coursekit grade --exchange` reads the exchange's inbound folder itself (not `nbgrader
collect`, which only warns when a hand-in's folder is owned by someone other than the
student it names): the latest hand-in of each student and assignment, owned by that student,
is copied into build/exchange/collected/<student>/<assignment>/ with nbgrader's
timestamp.txt and the submission's secret, and that folder is graded by the pipeline like
any other folder of hand-ins. build/submitted is filled by the pipeline's own collect step,
from this folder only.

After grading, the two receipts go beside each hand-in's feedback, where `nbgrader
release_feedback` needs them (the file name students fetch is a hash of the secret);
`coursekit release-feedback` releases the feedback of the hand-ins collected here.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nbgrader.utils import parse_utc

from coursekit.grader.collect import STUDENT_ID, Rejected, _fresh_folder
from coursekit.grader.commands import run_nbgrader
from coursekit.grader.course import Course, Workspace, instructor_workspace
from coursekit.grader.errors import CourseError

try:  # matching a hand-in's owner to the student it names (not on Windows, like nbgrader)
    import pwd
except ImportError:  # pragma: no cover
    pwd = None

EXCHANGE_ENV = "COURSEKIT_EXCHANGE"  # set by the hub (hub/jupyterhub_config.py) and read by nbgrader_config.py
TIMESTAMP = "timestamp.txt"
SECRET = "submission_secret.txt"
RECEIPTS = (TIMESTAMP, SECRET)


def exchange_root(course: Course, given: str | os.PathLike[str] | None = None) -> Path:
    """The exchange folder: `given`, else $COURSEKIT_EXCHANGE, else make hub's build/hub/exchange."""
    chosen = given or os.environ.get(EXCHANGE_ENV) or course.build_dir / "hub" / "exchange"
    return Path(chosen).resolve()


def collected_dir(course: Course) -> Path:
    """Where the exchange's hand-ins are copied to be graded: the instructor's, in build/."""
    return course.build_dir / "exchange" / "collected"


@dataclass(frozen=True)
class HandIn:
    """One folder in the exchange's inbound: <student>+<assignment>+<timestamp>[+<random>]."""

    student: str
    assignment: str
    timestamp: datetime
    stamp: str  # the timestamp as nbgrader wrote it (its timestamp_format)
    path: Path


@dataclass
class ExchangeCollected:
    folder: Path
    inbound: Path
    handins: list[HandIn] = field(default_factory=list)  # the latest of each student and assignment
    replaced: int = 0  # earlier hand-ins left in the exchange
    rejected: list[Rejected] = field(default_factory=list)


def _owner(path: Path) -> str:
    uid = os.lstat(path).st_uid
    if pwd is None:  # pragma: no cover
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def read_inbound(inbound: Path, assignments: list[str]) -> tuple[list[HandIn], int, list[Rejected]]:
    """The latest hand-in of each student and assignment in `inbound`, how many earlier ones
    there were, and the folders refused (named for a student by someone else, a link, …)."""
    latest: dict[tuple[str, str], HandIn] = {}
    rejected: list[Rejected] = []
    seen = 0
    for path in sorted(inbound.iterdir()):
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            rejected.append(Rejected(path, "not a folder (the exchange holds one folder per hand-in)"))
            continue
        parts = path.name.rsplit("+", 3)
        if len(parts) < 3:
            rejected.append(Rejected(path, "not named <student>+<assignment>+<timestamp> as nbgrader submits"))
            continue
        student, assignment, stamp = parts[0], parts[1], parts[2]
        if not STUDENT_ID.match(student):
            rejected.append(Rejected(path, "the student id in the folder name is not a valid student id"))
            continue
        if assignment not in assignments:
            continue  # another assignment than the ones asked for: not this run's
        owner = _owner(path)
        if pwd is not None and owner != student:
            rejected.append(Rejected(path, f"handed in as {student} but owned by {owner}; not graded",
                                     student, assignment))
            continue
        try:
            when = parse_utc(stamp)
        except (ValueError, OverflowError):
            rejected.append(Rejected(path, f"{stamp!r} is not a timestamp", student, assignment))
            continue
        seen += 1
        handin = HandIn(student, assignment, when, stamp, path)
        key = (student, assignment)
        if key not in latest or when > latest[key].timestamp:
            latest[key] = handin
    return sorted(latest.values(), key=lambda h: (h.student, h.assignment)), seen - len(latest), rejected


def collect_from_exchange(*, course: Course, root: Path, course_id: str, assignments: list[str]) -> ExchangeCollected:
    """Copy the latest hand-in of each student into collected_dir(course), afresh."""
    inbound = root / course_id / "inbound"
    if not inbound.is_dir():
        raise CourseError(f"{inbound}: no such folder: nothing was handed in through the exchange at {root} "
                          f"(is it the exchange the hub uses? --exchange-root, ${EXCHANGE_ENV})")
    handins, replaced, rejected = read_inbound(inbound, assignments)
    folder = collected_dir(course)
    shutil.rmtree(folder, ignore_errors=True)  # only the latest hand-ins, never an older run's
    folder.mkdir(parents=True)
    os.chmod(folder, 0o700)
    result = ExchangeCollected(folder=folder, inbound=inbound, replaced=replaced, rejected=rejected)
    for handin in handins:
        target = _fresh_folder(folder, handin.student, handin.assignment)
        for path in sorted(handin.path.iterdir()):
            mode = os.lstat(path).st_mode
            if path.name in RECEIPTS:
                continue
            if stat.S_ISREG(mode) and path.suffix == ".ipynb":
                shutil.copyfile(path, target / path.name, follow_symlinks=False)
            elif stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                rejected.append(Rejected(path, "a symbolic link or special file; not copied",
                                         handin.student, handin.assignment))
        # nbgrader's receipts: the time of the hand-in in nbgrader's format, and its secret
        (target / TIMESTAMP).write_text(handin.stamp, encoding="utf-8")
        secret = handin.path / SECRET
        if secret.is_file() and not secret.is_symlink():
            (target / SECRET).write_text(secret.read_text(encoding="utf-8"), encoding="utf-8")
        result.handins.append(handin)
    return result


def close_build(course: Path, keep: Path) -> list[Path]:
    """Take other users' permissions from everything in the course's build/ (the gradebook,
    grades, hand-ins, feedback) but the folder that holds `keep` (a hub's exchange and homes
    under build/hub): on a hub, students are users of the same machine. build/ itself keeps
    o+x, the way to the hub's folder. Run before and after grading from the exchange."""
    build = course / "build"
    if os.name != "posix" or not build.is_dir():
        return []
    keep = keep.resolve()
    closed = []
    for entry in sorted(build.iterdir()):
        mode = os.lstat(entry).st_mode
        if stat.S_ISLNK(mode) or keep == entry.resolve() or keep.is_relative_to(entry.resolve()):
            continue
        if mode & 0o007:
            os.chmod(entry, stat.S_IMODE(mode) & ~0o007)
            closed.append(entry)
    os.chmod(build, (stat.S_IMODE(os.stat(build).st_mode) & ~0o007) | 0o001)
    return closed


def place_receipts(*, collected: Path, workspace: Workspace) -> list[tuple[str, str]]:
    """Put each collected hand-in's timestamp.txt and secret beside its feedback (which
    `nbgrader release_feedback` reads); return the (student, assignment) pairs that have both."""
    ready = []
    for receipts in sorted(collected.glob(f"*/*/{TIMESTAMP}")):
        hand_in = receipts.parent
        student, assignment = hand_in.parent.name, hand_in.name
        feedback = workspace.feedback / student / assignment
        if not (hand_in / SECRET).is_file() or not list(feedback.glob("*.html")):
            continue
        for name in RECEIPTS:
            shutil.copyfile(hand_in / name, feedback / name)
        ready.append((student, assignment))
    return ready


def release_feedback(*, course: Course, root: Path, assignments: list[str]) -> list[tuple[str, str]]:
    """`nbgrader release_feedback` for each hand-in collected from the exchange and graded
    (feedback and receipts in place); never for other students in build/feedback."""
    workspace = instructor_workspace(course)
    ready = [key for key in place_receipts(collected=collected_dir(course), workspace=workspace)
             if key[1] in assignments]
    if not ready:
        raise CourseError(f"{collected_dir(course)}: no graded hand-in from the exchange to release feedback for; "
                          "run `coursekit grade --exchange` first")
    for student, assignment in ready:
        run_nbgrader(course, workspace, "release_feedback", assignment, f"--student={student}",
                     f"--Exchange.root={root}", log=workspace.logs / "release_feedback.log")
    return ready

"""Due dates, per-student extensions and the late policy (docs/instructor-guide.md,
"Due dates, extensions and late work").

nbgrader already has the pieces: a due date per assignment (``Assignment.duedate``), an
extension per hand-in (``SubmittedAssignment.extension``, with no command or page to set
it), the time of each hand-in (``timestamp.txt`` in its folder, read by autograde into
``SubmittedAssignment.timestamp``) and a plugin that turns lateness into a penalty
(``AssignLatePenalties`` calls ``c.AssignLatePenalties.plugin_class``). What it lacks is a
place to write the due dates and extensions down, a penalty between "none" and "zero",
and a way to read a Canvas download's ``late`` marker. This module adds them:

- `LatePolicy` (``c.LatePolicy.*`` in nbgrader_config.py): the due dates, the extensions
  file and what a Canvas ``late`` marker counts as.
- `prepare`, run by ``coursekit grade`` before autograde: writes the due dates into the
  gradebook, each hand-in's extension and time, so nbgrader's own ``total_seconds_late``
  (and formgrader) see them.
- `LatePenalty`, the plugin: none, zero or a percentage of the earned score per started
  day late, with a cap.
- `reapply`, run after autograde: the same plugin over this run's hand-ins, so a hand-in
  that was not regraded (unchanged) still gets the penalty of today's due dates,
  extensions and policy, and written answers hand-graded since count in the score.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from dateutil.tz import gettz
from nbgrader.api import Assignment, Gradebook, MissingEntry, SubmittedAssignment
from nbgrader.plugins import LateSubmissionPlugin
from sqlalchemy.exc import SAWarning
from traitlets import Dict, Enum, Float, Unicode
from traitlets.config import Config, Configurable
from traitlets.utils.importstring import import_item

from coursekit.grader.errors import CourseError

DAY = 86400.0
TIMESTAMP = "timestamp.txt"  # nbgrader's name (exchange, collect, autograde)
TIME_UNKNOWN = "late-time-unknown.txt"  # beside timestamp.txt when the time is a stand-in (Canvas's marker)
TIMESTAMP_MAX_BYTES = 1024

_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<clock>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?:\s*(?P<zone>Z|[+-]\d{2}:?\d{2}|[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*))?$")


def parse_time(text: str, *, need_zone: bool = False) -> dt.datetime:
    """A time as nbgrader stores it: naive, in UTC. ValueError, saying why, for anything else.

    Accepted: ``YYYY-MM-DD HH:MM[:SS[.ffffff]]`` (or a ``T`` between), then a time zone:
    an IANA name (``Europe/London``), ``UTC``, ``Z`` or an offset (``+01:00``, ``+0100``).
    nbgrader's own reader (``nbgrader.utils.parse_utc``) reads an unknown zone name, such
    as ``BST``, as UTC and an offset ``+0100`` as 100 seconds; here both are handled or
    refused, never guessed. Without a zone the time is UTC, as in nbgrader, unless
    `need_zone` (due dates: a forgotten zone is an hour's mistake).
    """
    text = text.strip()
    found = _TIME.match(text)
    if not found:
        raise ValueError(f"{text[:60]!r} is not a time like '2026-10-05 23:59:00 Europe/London'")
    try:
        clock = found["clock"] + (":00" if found["clock"].count(":") == 1 else "")
        value = dt.datetime.fromisoformat(f"{found['date']} {clock}")
    except ValueError as error:
        raise ValueError(f"{text[:60]!r}: {error}") from None
    zone = found["zone"]
    if zone is None:
        if need_zone:
            raise ValueError(f"{text!r} has no time zone (add one, e.g. 'Europe/London' or 'UTC')")
        return value
    if zone == "Z":
        tz = dt.UTC
    elif zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{text!r}: {zone!r} is not a UTC offset")
        offset = dt.timedelta(hours=hours, minutes=minutes)
        tz = dt.timezone(offset if zone[0] == "+" else -offset)
    else:
        tz = gettz(zone)
        if tz is None:
            raise ValueError(f"{text!r}: unknown time zone {zone!r} (use a name such as 'Europe/London', "
                             "'UTC' or an offset such as '+01:00')")
    aware = value.replace(tzinfo=tz)
    return (aware - aware.utcoffset()).replace(tzinfo=None)


def format_utc(value: dt.datetime) -> str:
    """A naive UTC time as timestamp.txt holds it, in a form nbgrader's parse_utc reads exactly."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


def shown(value: dt.datetime | None) -> str:
    """A naive UTC time for people: '2026-10-05 22:59 UTC'."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def read_timestamp(data: bytes) -> dt.datetime:
    """The time a timestamp.txt's bytes give; ValueError saying why not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty")
    if len(lines) > 1:
        raise ValueError(f"{len(lines)} lines; nbgrader's timestamp.txt holds one")
    return parse_time(lines[0])


def days_late(seconds: float) -> int:
    """Started 24-hour periods after the due date: 1 s late is 1 day, 24 h is 1, 24 h 1 s is 2."""
    return math.ceil(seconds / DAY) if seconds > 0 else 0


class LatePolicy(Configurable):
    """When work is due, who has longer, and what Canvas's ``late`` marker counts as
    (``c.LatePolicy.<name>`` in nbgrader_config.py). What a late hand-in costs is
    `LatePenalty`'s (``c.LatePenalty.<name>``)."""

    due = Dict(
        key_trait=Unicode(), value_trait=Unicode(),
        help="Due date of each assignment, e.g. {'01-reading-the-source': '2026-10-05 23:59:00 Europe/London'}. "
             "A time zone is required. An assignment not listed keeps the due date the gradebook has (formgrader's "
             "'Manage assignments' page can set one), or none: then nothing is late.",
    ).tag(config=True)
    extensions = Unicode(
        "extensions.csv",
        help="CSV of per-student extensions, relative to the course folder (beside nbgrader_config.py); used if "
             "it exists. Columns student_id, assignment, and either due (a new due date) or days and/or hours.",
    ).tag(config=True)
    canvas_late_days = Float(
        1.0, min=0.0,
        help="A Canvas download marks late hand-ins ('<student>_late_…') but gives no time: such a hand-in counts "
             "as this many days after its (extended) due date. 0: the marker is noted, not penalised.",
    ).tag(config=True)

    def due_dates(self, assignments: list[str]) -> dict[str, dt.datetime]:
        """The configured due dates (naive UTC); a bad one is a CourseError naming it."""
        dates = {}
        for name, text in self.due.items():
            if name not in assignments:
                raise CourseError(f"c.LatePolicy.due names {name!r}, which is not an assignment of this course "
                                  f"({', '.join(assignments)})")
            try:
                dates[name] = parse_time(text, need_zone=True)
            except ValueError as error:
                raise CourseError(f"c.LatePolicy.due[{name!r}]: {error}") from None
        return dates


@dataclass(frozen=True)
class Extension:
    student: str
    assignment: str
    extra: dt.timedelta  # added to the assignment's due date (nbgrader's SubmittedAssignment.extension)
    line: int

    def describe(self) -> str:
        hours = self.extra.total_seconds() / 3600
        return f"{hours / 24:g} days" if hours % 24 == 0 else f"{hours:g} hours"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} {text!r} must be 0 or more")
    return value


def read_extensions(path: Path, assignments: list[str],
                    due: dict[str, dt.datetime]) -> dict[tuple[str, str], Extension]:
    """(student, assignment) -> the extension the file grants; CourseError naming the file and
    line for anything it cannot use. A missing file grants none."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"{path}: the extensions file cannot be read ({error})") from None
    rows = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(rows, [])]
    missing = {"student_id", "assignment"} - set(header)
    if missing or not {"due", "days", "hours"} & set(header):
        raise CourseError(f"{path}, line 1: the header must name student_id, assignment and due or days/hours "
                          f"(found {', '.join(header) or 'nothing'})")
    found: dict[tuple[str, str], Extension] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CourseError(f"{path}, line {number}: {len(row)} fields, the header has {len(header)}")
        cells = {key: value.strip() for key, value in zip(header, row, strict=True)}
        student, assignment = cells["student_id"], cells["assignment"]
        try:
            if not student:
                raise ValueError("no student_id")
            if assignment not in assignments:
                raise ValueError(f"{assignment!r} is not an assignment of this course ({', '.join(assignments)})")
            new_due = cells.get("due", "")
            relative = [cells.get(k, "") for k in ("days", "hours")]
            if new_due and any(relative):
                raise ValueError("give either a new due date or days/hours, not both")
            if new_due:
                if assignment not in due:
                    raise ValueError(f"a new due date, but {assignment} has no due date in c.LatePolicy.due "
                                     "to extend (give days/hours, or set its due date)")
                extra = parse_time(new_due, need_zone=True) - due[assignment]
                if extra < dt.timedelta(0):
                    raise ValueError(f"the new due date {new_due} is before the assignment's")
            elif any(relative):
                extra = dt.timedelta(days=_number(relative[0] or "0", "days"),
                                     hours=_number(relative[1] or "0", "hours"))
            else:
                raise ValueError("no extension given (fill in due, or days/hours)")
        except ValueError as error:
            raise CourseError(f"{path}, line {number}: {error}") from None
        if (student, assignment) in found:
            raise CourseError(f"{path}, line {number}: {student} already has an extension for {assignment} "
                              f"(line {found[student, assignment].line})")
        found[student, assignment] = Extension(student, assignment, extra, number)
    return found


class LatePenalty(LateSubmissionPlugin):
    """What a late hand-in costs: ``c.AssignLatePenalties.plugin_class =
    "coursekit.grader.late.LatePenalty"`` and ``c.LatePenalty.penalty_method``:

    - ``none``: nothing (nbgrader's default); lateness is still recorded and shown.
    - ``zero``: the whole earned score (nbgrader's ``zero``).
    - ``per_day``: ``percent_per_day`` % of the earned score for every started 24-hour
      period after the due date (the student's extended one, if any), at most
      ``max_percent`` %. With 10 and 50: 1 second to 24 h late costs 10 %, 24 h 1 s
      to 48 h 20 %, …, 5 days or more 50 %.

    nbgrader calls it for each notebook of a late hand-in with the notebook's score and
    ``SubmittedAssignment.total_seconds_late``, which nbgrader computes from the hand-in's
    timestamp and its due date *including* ``SubmittedAssignment.extension``: the
    extension from the extensions file, which `prepare` writes there before autograde.
    The "earned score" is the notebook's score at that moment: autograded points, plus
    written answers already hand-graded (`reapply`, run by every ``coursekit grade``,
    brings the penalty up to date with later hand grading).
    """

    penalty_method = Enum(
        ("none", "zero", "per_day"), default_value="none",
        help="none: no penalty; zero: the whole score; per_day: percent_per_day % of the score per started day "
             "late, at most max_percent %.",
    ).tag(config=True)
    percent_per_day = Float(10.0, min=0.0, max=100.0, help="per_day: % of the score per started day.").tag(config=True)
    max_percent = Float(100.0, min=0.0, max=100.0, help="per_day: the most a late hand-in loses, %.").tag(config=True)

    def percent(self, seconds_late: float) -> float:
        """The share of the score a hand-in this late loses, %."""
        if seconds_late <= 0 or self.penalty_method == "none":
            return 0.0
        if self.penalty_method == "zero":
            return 100.0
        return min(self.max_percent, self.percent_per_day * days_late(seconds_late))

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        if self.penalty_method == "none":
            return None
        return round(float(score or 0.0) * self.percent(total_seconds_late) / 100.0, 6)

    def describe(self) -> str:
        """The rule in one sentence, for feedback and the report."""
        if self.penalty_method == "none":
            return "no penalty for late work"
        if self.penalty_method == "zero":
            return "late work scores 0"
        cap = f", at most {self.max_percent:g}%" if self.max_percent < 100 else ""
        return f"{self.percent_per_day:g}% of the score per started day late{cap}"


def penalty_plugin(config: Config) -> LateSubmissionPlugin:
    """The plugin autograde uses with this configuration (c.AssignLatePenalties.plugin_class,
    nbgrader's LateSubmissionPlugin when unset)."""
    chosen = config.AssignLatePenalties.get("plugin_class", LateSubmissionPlugin)
    plugin = import_item(chosen) if isinstance(chosen, str) else chosen
    return plugin(config=config)


# --- before and after autograde ----------------------------------------------------------------


@dataclass(frozen=True)
class Late:
    """One hand-in's lateness as the gradebook has it."""

    student: str
    assignment: str
    submitted: dt.datetime | None
    due: dt.datetime | None  # including the extension
    extension: dt.timedelta | None
    seconds_late: float
    penalty: float

    @property
    def days(self) -> int:
        return days_late(self.seconds_late)


def settings(config: Config, course_root: Path, assignments: list[str]
             ) -> tuple[LatePolicy, dict[str, dt.datetime], dict[tuple[str, str], Extension]]:
    """The policy, the due dates and the extensions; CourseError naming what is wrong."""
    policy = LatePolicy(config=config)
    due = policy.due_dates(assignments)
    return policy, due, read_extensions(Path(course_root) / policy.extensions, assignments, due)


def prepare(*, gradebook: Path, config: Config, course_root: Path, submitted: Path, assignments: list[str],
            known: list[str], hand_ins: set[tuple[str, str]],
            time_unknown: set[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Before autograde: each assignment's due date, each hand-in's extension and time into the gradebook.

    `assignments`: those graded this run; `known`: all the course's (what the settings may name).
    `hand_ins`: (student, assignment) folders in `submitted` collected this run; `time_unknown`:
    those an LMS marked late without a time (collect's `Collected.late`), which get a stand-in
    timestamp.txt of their due date plus c.LatePolicy.canvas_late_days. Returns notes per
    hand-in for reasons.csv. The due dates in c.LatePolicy.due replace the gradebook's; the
    extensions file is the list of extensions (a hand-in not in it has none).
    """
    policy, due, extensions = settings(config, course_root, known)
    due = {name: when for name, when in due.items() if name in assignments}
    notes: dict[tuple[str, str], list[str]] = {}
    if not gradebook.exists():  # nothing released yet: autograde will say so
        return notes
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for name, when in due.items():
            try:
                gb.find_assignment(name).duedate = when
            except MissingEntry:  # not released: autograde refuses its hand-ins anyway
                continue
        gb.db.commit()
        records, stored = {}, _stored_times(gb, assignments)
        for key in sorted(hand_ins):
            student, assignment = key
            if assignment not in assignments:
                continue
            if assignment not in records:
                try:
                    records[assignment] = gb.find_assignment(assignment)
                except MissingEntry:
                    records[assignment] = None
            record = records[assignment]
            if record is None:
                continue
            extension = extensions.get(key)
            if extension and record.duedate is None:  # nbgrader adds an extension to the due date: none here
                notes.setdefault(key, []).append(f"extension ({policy.extensions}, line {extension.line}) not used: "
                                                 f"{assignment} has no due date")
                extension = None
            extra = extension.extra if extension else None
            folder = submitted / student / assignment
            if key in time_unknown and not (folder / TIMESTAMP).exists():
                _stand_in_time(folder, record.duedate, extra, policy, key, notes)
            stamp = folder / TIMESTAMP
            # written by collect (checked) or just above
            timestamp = read_timestamp(stamp.read_bytes()) if stamp.is_file() and not stamp.is_symlink() else None
            # Written only where it changes something: nbgrader's autograde creates a new hand-in's
            # record itself, with the time in its timestamp.txt, and creating each one here (all of
            # its notebooks', cells' and grades' rows) took 20-35 ms a hand-in, one after another,
            # before any worker started (a cProfile of grade_class, 96 hand-ins).
            unchanged = stored[key] == (timestamp, extra) if key in stored else extra is None
            if not unchanged:
                gb.update_or_create_student(student)
                with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warnings
                    warnings.simplefilter("ignore", SAWarning)
                    submission = gb.update_or_create_submission(assignment, student)
                submission.extension, submission.timestamp = extra, timestamp
            if extension:
                notes.setdefault(key, []).append(f"extension of {extension.describe()} "
                                                 f"({policy.extensions}, line {extension.line})")
        gb.db.commit()
    return notes


def _stored_times(gb: Gradebook, assignments: list[str]) -> dict[tuple[str, str], tuple]:
    """(student, assignment) -> (timestamp, extension) of every hand-in the gradebook holds."""
    rows = (gb.db.query(SubmittedAssignment.student_id, Assignment.name, SubmittedAssignment.timestamp,
                        SubmittedAssignment.extension)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .filter(Assignment.name.in_(assignments)))
    return {(student, name): (timestamp, extension) for student, name, timestamp, extension in rows}


def _stand_in_time(folder: Path, due: dt.datetime | None, extension: dt.timedelta | None, policy: LatePolicy,
                   key: tuple[str, str], notes: dict) -> None:
    """timestamp.txt for a hand-in the LMS marked late without saying when: its due date plus
    canvas_late_days (none when there is no due date, or the setting is 0; noted either way)."""
    if due is None:
        notes.setdefault(key, []).append(f"marked late by the LMS (time unknown), but {key[1]} has no due date: "
                                         "not penalised")
        return
    if policy.canvas_late_days <= 0:
        notes.setdefault(key, []).append("marked late by the LMS (time unknown); c.LatePolicy.canvas_late_days = 0: "
                                         "not penalised")
        return
    when = due + (extension or dt.timedelta(0)) + dt.timedelta(days=policy.canvas_late_days)
    (folder / TIMESTAMP).write_text(format_utc(when) + "\n", encoding="utf-8")
    (folder / TIME_UNKNOWN).write_text(
        f"The LMS marked this hand-in late without giving a time: counted as {policy.canvas_late_days:g} "
        "day(s) after the due date (c.LatePolicy.canvas_late_days).\n", encoding="utf-8")
    notes.setdefault(key, []).append(f"marked late by the LMS (time unknown): counted as {policy.canvas_late_days:g} "
                                     "day(s) late (c.LatePolicy.canvas_late_days)")


def reapply(*, gradebook: Path, config: Config, hand_ins: set[tuple[str, str]]) -> dict[tuple[str, str], Late]:
    """After autograde: each hand-in's penalty from today's gradebook (due dates, extensions,
    hand grading) and policy, exactly as nbgrader's AssignLatePenalties sets it. Returns the
    lateness of every hand-in that has a time and a due date."""
    plugin = penalty_plugin(config)
    found = {}
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for student, assignment in sorted(hand_ins):
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            seconds = submission.total_seconds_late
            changed = False
            for notebook in submission.notebooks:
                penalty = None
                if seconds > 0:
                    penalty = plugin.late_submission_penalty(student, notebook.score, seconds)
                    if penalty is not None:  # as AssignLatePenalties._check_late_penalty
                        penalty = min(max(penalty, 0.0), notebook.score)
                if notebook.late_submission_penalty != penalty:
                    notebook.late_submission_penalty = penalty
                    changed = True
            if changed:  # a commit and a reload per hand-in only where a penalty moved
                gb.db.commit()
                gb.db.refresh(submission)
            found[student, assignment] = lateness_of(submission)
    return found


def lateness_of(submission) -> Late:
    return Late(student=submission.student.id, assignment=submission.assignment.name,
                submitted=submission.timestamp, due=submission.duedate, extension=submission.extension,
                seconds_late=submission.total_seconds_late,
                penalty=float(submission.late_submission_penalty or 0.0))


def read_lateness(gradebook: Path, assignments: list[str]) -> dict[tuple[str, str], Late]:
    """Every hand-in's lateness and penalty, as the gradebook holds them."""
    found = {}
    if not gradebook.exists():
        return found
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for assignment in assignments:
            try:
                submissions = gb.assignment_submissions(assignment)
            except MissingEntry:
                continue
            for submission in submissions:
                found[submission.student.id, assignment] = lateness_of(submission)
    return found


def feedback_line(late: Late, plugin: LateSubmissionPlugin, time_unknown: str = "") -> str:
    """What a student's feedback says about a late hand-in (plain text; the template escapes it)."""
    if late.seconds_late <= 0:
        return ""
    extended = f" (with an extension of {_span(late.extension)})" if late.extension else ""
    when = time_unknown.strip() or f"Handed in {shown(late.submitted)}."
    describe = getattr(plugin, "describe", None)
    rule = describe() if describe else f"nbgrader's {getattr(plugin, 'penalty_method', 'late')} policy"
    return (f"{when} Due {shown(late.due)}{extended}: {late.days} day(s) late, counted in started 24-hour "
            f"periods. Late policy: {rule}. Penalty: {late.penalty:g} point(s).")


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} day(s)" if hours % 24 == 0 else f"{hours:g} hour(s)"

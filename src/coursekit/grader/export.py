"""`coursekit export`: the gradebook as a file an LMS imports (Canvas, Moodle) or a tidy table.

Why not `build/grades.csv`: that is nbgrader's `nbgrader export`, one row per student and
assignment with nbgrader's totals, and those totals count a written answer not yet
hand-graded as 0 (a student with full autograded marks shows 12/22 until the grader is done)
and an assignment not handed in as 0.0, and they leave out every student the gradebook does
not hold (a refused hand-in). No LMS imports that file as it is, and importing those
numbers would post wrong grades. Here:

- a hand-in still waiting for hand-grading is left empty in the LMS file and listed in
  `<FILE stem>-pending.csv`, unless the instructor asks for the points so far
  (`include_pending`), which the summary then says;
- an assignment not handed in is left empty and listed in the same file; a real 0 stays 0;
- students come from the gradebook, plus a roster's students who handed in nothing; the
  roster also gives the LMS's ids;
- nbgrader's late penalty is subtracted as nbgrader's export does: max(0, points - penalty).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.grader.errors import ExportError
from coursekit.grader.gradebook import GradeSheet, StudentRecord, SubmissionScore, read_grade_sheet

FORMATS = ("canvas", "moodle", "csv")
GRADED, PENDING, MISSING = "graded", "pending hand-grading", "not handed in"
NOT_AUTOGRADED = "not autograded"  # handed in, but nbgrader's autograde failed (see build/reasons.csv)
STATUSES = (GRADED, PENDING, MISSING, NOT_AUTOGRADED)

# Canvas: Grades → Import takes the CSV its own Grades → Export writes. Canvas's guides ("How do
# I import grades in the Gradebook?", Instructure Community; the same columns in e.g. Ohio State's
# "Import CSV file for Carmen grades") name the student columns Student, ID, SIS User ID,
# SIS Login ID and Section, then one column per assignment; Canvas's export puts a
# "Points Possible" row (its first cell indented by four spaces) under the header. An
# assignment column whose name matches no Canvas assignment becomes a new assignment on import.
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "    Points Possible"

# Moodle: Grades → Import → CSV file (MoodleDocs "Grade import"). Any CSV with a header row:
# in the preview, "Map from" picks the column that identifies the user and "Map to" the user
# field it holds (username, useridnumber, useremail), and each further column is mapped to a
# grade item (or a new one). The column names follow Moodle's own plain-text export.
MOODLE_STUDENT_COLUMNS = ["Username", "ID number", "Email address"]

TIDY_COLUMNS = ["student", "assignment", "status", "autograded", "autograded_max", "written", "written_max",
                "pending", "late_penalty", "total", "max"]
PENDING_COLUMNS = ["student", "assignment", "status", "points_so_far", "pending_points", "max", "in_file"]
ROSTER_COLUMNS = ("student_id", "name", "sis_id", "email", "section", "lms_id")


@dataclass(frozen=True)
class RosterEntry:
    """One student of the class list: the nbgrader id, and what the LMS knows them by."""

    student_id: str
    name: str = ""
    sis_id: str = ""
    email: str = ""
    section: str = ""
    lms_id: str = ""  # the LMS's own user id (Canvas's ID column, Moodle's username)


@dataclass(frozen=True)
class Cell:
    """One student × assignment: its status and, when handed in, its points."""

    student: str
    assignment: str
    max_score: float
    score: SubmissionScore | None

    @property
    def status(self) -> str:
        if self.score is None:
            return MISSING
        if not self.score.autograded_ok:
            return NOT_AUTOGRADED
        return PENDING if self.score.pending > 0 else GRADED


@dataclass(frozen=True)
class Exported:
    """What was written, and the counts the summary line reports."""

    to: str
    path: Path
    pending_path: Path | None
    students: int
    assignments: list[str]
    graded: int
    pending: int
    missing: int
    include_pending: bool
    roster: bool
    not_autograded: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        empty = "left empty" if self.to != "csv" else "total left empty"
        held = "with the points so far (--include-pending: NOT final)" if self.include_pending else empty
        line = (f"{self.to}: wrote {self.path}: {self.students} students × {len(self.assignments)} assignments: "
                f"{self.graded} graded, {self.pending} waiting for hand-grading ({held}), "
                f"{self.missing} not handed in ({empty})")
        if self.not_autograded:
            line += f", {self.not_autograded} not autograded ({empty}; build/reasons.csv says why)"
        if self.pending_path is not None:
            line += f"; listed in {self.pending_path}"
        return line


def read_roster(path: Path) -> list[RosterEntry]:
    """A class list: a CSV with a `student_id` column (the nbgrader id), and optionally name,
    sis_id, email, section and lms_id. Other columns are ignored."""
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError(f"{path}: cannot read the roster: {error}") from error
    if "student_id" not in header:
        raise ExportError(f"{path}: the roster needs a student_id column (found: {', '.join(header) or 'nothing'}); "
                          f"optional columns: {', '.join(ROSTER_COLUMNS[1:])}")
    entries, seen = [], set()
    for number, row in enumerate(rows, start=2):
        student = (row.get("student_id") or "").strip()
        if not student:
            raise ExportError(f"{path}, line {number}: student_id is empty")
        if student in seen:
            raise ExportError(f"{path}, line {number}: student {student} is listed twice")
        seen.add(student)
        entries.append(RosterEntry(student_id=student, **{c: (row.get(c) or "").strip() for c in ROSTER_COLUMNS[1:]}))
    return entries


def grade_cells(sheet: GradeSheet, students: list[str]) -> list[Cell]:
    """Every student × every assignment, handed in or not."""
    scores = {(s.student, s.assignment): s for s in sheet.submissions}
    return [Cell(student=student, assignment=assignment, max_score=max_score, score=scores.get((student, assignment)))
            for student in students for assignment, max_score in sheet.max_scores.items()]


def export_grades(
    *, gradebook: Path, to: str, out: Path, assignments: list[str] | None = None, roster: Path | None = None,
    include_pending: bool = False,
) -> Exported:
    """Write the gradebook's grades to `out` in the format `to` (canvas, moodle or csv).

    For canvas and moodle a second file, `<out stem>-pending.csv`, lists every cell left empty
    (or, with `include_pending`, holding points that are not final) and why."""
    if to not in FORMATS:
        raise ExportError(f"unknown format {to!r} (known: {', '.join(FORMATS)})")
    if not Path(gradebook).exists():
        raise ExportError(f"{gradebook}: no gradebook; grade the class first (coursekit grade FOLDER)")
    sheet = read_grade_sheet(gradebook, assignments)
    missing_assignments = [a for a in assignments or [] if a not in sheet.max_scores]
    if missing_assignments:
        raise ExportError(f"{gradebook}: holds no grades of {', '.join(missing_assignments)}; grade it first")
    if not sheet.max_scores:
        raise ExportError(f"{gradebook}: holds no assignment; grade the class first (coursekit grade FOLDER)")
    entries = read_roster(roster) if roster is not None else []
    by_id = {entry.student_id: entry for entry in entries}
    known = {s.id: s for s in sheet.students}
    students = [e.student_id for e in entries] + sorted(s for s in known if s not in by_id)
    notes = []
    if roster is None:
        notes.append(_NO_ROSTER[to])
    else:
        outside = [s for s in known if s not in by_id]
        if outside:
            notes.append(f"{len(outside)} student(s) of the gradebook are not in {roster} and are exported with "
                         f"their nbgrader id only: {', '.join(sorted(outside)[:8])}"
                         + (f" and {len(outside) - 8} more" if len(outside) > 8 else ""))
    cells = grade_cells(sheet, students)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pending_path = None
    if to == "csv":
        _write_tidy(out, cells, include_pending)
    else:
        people = [_person(student, by_id.get(student), known.get(student)) for student in students]
        _write_lms(out, to, sheet, people, cells, include_pending)
        pending_path = out.with_name(f"{out.stem}-pending.csv")
        _write_pending(pending_path, cells, include_pending)
    counts = {status: sum(c.status == status for c in cells) for status in STATUSES}
    return Exported(to=to, path=out, pending_path=pending_path, students=len(students),
                    assignments=list(sheet.max_scores), graded=counts[GRADED], pending=counts[PENDING],
                    missing=counts[MISSING], include_pending=include_pending, roster=roster is not None, notes=notes,
                    not_autograded=counts[NOT_AUTOGRADED])


_NO_ROSTER = {
    "canvas": "no roster: the nbgrader student id is in SIS Login ID and ID is empty unless the gradebook holds an "
              "LMS user id; pass --roster with your class list (student_id, name, sis_id, email, section, lms_id) "
              "so Canvas can match every student",
    "moodle": "no roster: the nbgrader student id is in Username; pass --roster with your class list "
              "(student_id, name, sis_id, email, section, lms_id) for Moodle's ID numbers or emails",
    "csv": "no roster: students are the gradebook's, by their nbgrader id",
}


@dataclass(frozen=True)
class _Person:
    student: str
    name: str
    lms_id: str
    sis_id: str
    email: str
    section: str


def _person(student: str, entry: RosterEntry | None, record: StudentRecord | None) -> _Person:
    """What the LMS columns hold for one student: the roster first, then the gradebook."""
    entry = entry or RosterEntry(student_id=student)
    record = record or StudentRecord(id=student)
    gradebook_name = ", ".join(n for n in (record.last_name, record.first_name) if n)
    return _Person(student=student, name=entry.name or gradebook_name or student,
                   lms_id=entry.lms_id or record.lms_user_id, sis_id=entry.sis_id,
                   email=entry.email or record.email, section=entry.section)


def _points(value: float) -> str:
    """A number as people write points: 12, 12.5, 12.25 (never 12.0 or 12.499999)."""
    value = round(value, 2)
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0")


def _lms_value(cell: Cell, include_pending: bool) -> str:
    """The LMS cell: the total after the late penalty; empty when nothing was handed in, and
    when answers still wait for a grader (unless the points so far were asked for), and when
    nbgrader never autograded it (there are no points so far to give)."""
    if cell.status in (MISSING, NOT_AUTOGRADED) or (cell.status == PENDING and not include_pending):
        return ""
    return _points(cell.score.total)


def _write_lms(out: Path, to: str, sheet: GradeSheet, people: list[_Person], cells: list[Cell],
               include_pending: bool) -> None:
    values = {(c.student, c.assignment): _lms_value(c, include_pending) for c in cells}
    assignments = list(sheet.max_scores)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if to == "canvas":
            writer.writerow(CANVAS_STUDENT_COLUMNS + assignments)
            writer.writerow([CANVAS_POINTS_POSSIBLE, "", "", "", ""]
                            + [_points(sheet.max_scores[a]) for a in assignments])
            for p in people:
                writer.writerow([p.name, p.lms_id, p.sis_id, p.student, p.section]
                                + [values[(p.student, a)] for a in assignments])
        else:
            writer.writerow(MOODLE_STUDENT_COLUMNS + assignments)
            for p in people:
                writer.writerow([p.lms_id or p.student, p.sis_id, p.email]
                                + [values[(p.student, a)] for a in assignments])


def _write_pending(path: Path, cells: list[Cell], include_pending: bool) -> None:
    """Every cell of the LMS file that is empty or not final, and why (header only if none)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PENDING_COLUMNS)
        for cell in cells:
            if cell.status == GRADED:
                continue
            score = cell.score
            writer.writerow([
                cell.student, cell.assignment, cell.status,
                "" if score is None else _points(score.total), "" if score is None else _points(score.pending),
                _points(cell.max_score),
                "points so far" if cell.status == PENDING and include_pending else "empty",
            ])


def _write_tidy(out: Path, cells: list[Cell], include_pending: bool) -> None:
    """One row per student × assignment for people: the parts, the penalty, the status."""
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TIDY_COLUMNS)
        writer.writeheader()
        for cell in cells:
            row = dict.fromkeys(TIDY_COLUMNS, "")
            row.update(student=cell.student, assignment=cell.assignment, status=cell.status,
                       max=_points(cell.max_score))
            score = cell.score
            if score is not None:
                row.update(autograded=_points(score.autograded), autograded_max=_points(score.autograded_max),
                           written=_points(score.written), written_max=_points(score.written_max),
                           pending=_points(score.pending), late_penalty=_points(score.late_penalty),
                           total=_lms_value(cell, include_pending))
            writer.writerow(row)

"""Collect hand-ins into nbgrader's submitted/ folder: from a folder laid out
`<student>/<assignment>/*.ipynb`, or from an LMS zip. Every notebook is read first, so a
broken file is refused by name and cause instead of stopping nbgrader halfway through
the class; repeated cell ids are mended (and noted), never silently.

When a hand-in comes with its time, that is carried too (coursekit.grader.late): a
`timestamp.txt` in a hand-in's own folder (nbgrader's exchange writes one) is checked and
written, in UTC, beside the notebooks; a bad one is refused by name and the hand-in graded
without a time. An LMS file name's `late` marker (Canvas: `<student>_late_…`) gives no
time: the hand-in is listed in `Collected.late`, and the late policy decides what it costs."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit.grader.course import Course, Workspace, notebooks_in
from coursekit.grader.errors import CourseError
from coursekit.grader.late import TIMESTAMP, TIMESTAMP_MAX_BYTES, format_utc, read_timestamp
from coursekit.grader.limits import JSON_DEPTH, NUMBER_DIGITS

log = logging.getLogger(__name__)

# Student ids become folder names and gradebook keys: keep them boring.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# An LMS download names each file <student>_<…>_<original name>; Canvas, for instance,
# writes "smithjane_late_12345_678901_01-reading-the-source.ipynb". nbgrader's zip_collect
# leaves this pattern to the instructor (FileNameCollectorPlugin.named_regexp); this is ours,
# overridable with --zip-pattern, with the same named groups (and, optionally, `late`:
# matched, the hand-in is marked late without a time).
LMS_FILE_PATTERN = r"^(?P<student_id>[A-Za-z0-9.-]+)_(?:(?P<late>late)_)?(?:\d+_)*(?P<file_id>[^/]+\.ipynb)$"
ZIP_MAX_BYTES = 2 * 1024**3  # refuse archives that unpack to more than this (zip bombs)


@dataclass
class Rejected:
    path: Path
    reason: str
    student: str = ""  # where known (not for a folder that is no student, or a file an LMS zip could not place)
    assignment: str = ""


@dataclass
class Collected:
    accepted: dict[tuple[str, str], Path] = field(default_factory=dict)  # (student, id) -> folder
    rejected: list[Rejected] = field(default_factory=list)
    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # what collect had to mend
    layout: str = ""  # which layout the submissions were read as (LAYOUTS), for messages
    late: set[tuple[str, str]] = field(default_factory=set)  # marked late by the LMS, time unknown


# --- LMS zips ----------------------------------------------------------------------------


def _place(name: str, names: dict[str, str], regex: re.Pattern) -> tuple[str, str, str] | str:
    """Where one archive entry goes: (student, assignment, notebook name), or why nowhere."""
    parts = Path(name).parts
    if name.startswith("/") or ".." in parts or not name.endswith(".ipynb"):
        return "not a notebook in a safe place in the archive; skipped"
    if len(parts) >= 3 and parts[-2] in names.values():  # already <student>/<assignment>/x
        return parts[-3], parts[-2], parts[-1]
    match = regex.match(parts[-1])
    if not match:
        return "file name does not match the LMS pattern (see --zip-pattern)"
    student, file_id = match.group("student_id"), match.group("file_id")
    found = _notebook(file_id, names)
    if not found:
        return f"{file_id!r} is not the notebook of any assignment"
    return student, names[found], found + ".ipynb"


def _marked_late(name: str, regex: re.Pattern) -> bool:
    """Does an LMS file name carry the `late` marker (the pattern's optional `late` group)?"""
    match = regex.match(Path(name).name)
    return bool(match and match.groupdict().get("late"))


def _notebook_names(course: Course) -> dict[str, str]:
    """Each assignment notebook's stem -> its assignment id."""
    return {p.stem: a for a in course.assignments() for p in notebooks_in(course.solutions / a)}


def _notebook(file_name: str, names: dict[str, str]) -> str | None:
    """Which assignment notebook (stem) a file is; an LMS may append "-1", "-2" to a re-submission."""
    stem = file_name.removesuffix(".ipynb")
    return next((n for n in names if stem == n or re.fullmatch(re.escape(n) + r"-\d+", stem)), None)


def unpack_lms_zip(
    *, course: Course, archive: Path, target: Path, pattern: str = LMS_FILE_PATTERN,
    late: set[tuple[str, str]] | None = None,
) -> tuple[Path, list[Rejected]]:
    """Lay out an LMS zip as <student>/<assignment>/<notebook> under `target`.

    Entries already laid out that way are kept as they are; flat files are matched with
    `pattern` (named groups student_id and file_id) and sorted into folders by which
    assignment's notebook name their file_id starts with. `late`, if given, receives the
    (student, assignment) hand-ins whose unpacked file carried the LMS's `late` marker.
    """
    rejected: list[Rejected] = []
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise CourseError(f"{archive}: not a readable zip file ({error})") from None
    with bundle:
        infos = [i for i in bundle.infolist() if not i.is_dir()]
        if sum(i.file_size for i in infos) > ZIP_MAX_BYTES:
            raise CourseError(f"{archive}: unpacks to more than {ZIP_MAX_BYTES // 1024**3} GiB; refused")
        target = _fresh_folder(target.parent, target.name)
        names = _notebook_names(course)
        regex = re.compile(pattern)
        marked: dict[tuple[str, ...], bool] = {}  # where each entry went -> did the one that won say late
        for info in infos:
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # unix mode recorded, and not a file
                kind = _special(mode) or "not a regular file"
                rejected.append(Rejected(archive / info.filename, f"{kind.split(';')[0]} in the archive; not unpacked"))
                continue
            place = _place(info.filename, names, regex)
            if isinstance(place, str):
                rejected.append(Rejected(archive / info.filename, place))
                continue
            destination = target.joinpath(*place)
            destination.parent.mkdir(parents=True, exist_ok=True)  # inside the fresh target: no links
            destination.unlink(missing_ok=True)  # a later entry for the same place wins
            with bundle.open(info) as source, os.fdopen(os.open(destination, _WRITE_FLAGS, 0o644), "wb") as out:
                shutil.copyfileobj(source, out)
            marked[place] = _marked_late(info.filename, regex)
    if late is not None:
        late.update((student, assignment) for (student, assignment, _), is_late in marked.items() if is_late)
    return target, rejected


# --- folders -----------------------------------------------------------------------------


def mend_clashes(nb: dict) -> list[str]:
    """Make a hand-in with repeated cell ids or nbgrader grade ids gradable; say what changed.

    A student who copies or splits a cell in some editors hands in two cells with one id,
    which nbformat and nbgrader refuse (nbgrader's own DeduplicateIds leaves the earlier
    copy with empty metadata, and then stops on it as "an old version of the metadata
    format"). As nbgrader intends, the last cell with a grade id is the graded one; earlier
    copies become ordinary cells that still run in their place; repeated cell ids get a
    suffix.
    """
    notes = []
    seen: set[str] = set()
    for cell in nb["cells"]:
        cell_id = cell.get("id")
        if cell_id is None:
            continue
        if cell_id in seen:
            number = 2
            while f"{cell_id}-{number}" in seen:
                number += 1
            cell["id"] = f"{cell_id}-{number}"
            notes.append(f"cell id {cell_id!r} repeated; renamed {cell['id']!r}")
        seen.add(cell["id"])
    graded: set[str] = set()
    for cell in reversed(nb["cells"]):
        grade = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade is None:
            continue
        if grade in graded:
            del cell["metadata"]["nbgrader"]
            notes.append(f"grade id {grade!r} repeated; the last such cell is graded, earlier ones run as plain cells")
        graded.add(grade)
    return notes


class _Refused(Exception):
    """One file is refused; the message says why."""


# Reads of student-influenced paths: never follow a symbolic link, never block on a FIFO.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _special(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is ("" for those two)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link; not followed"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO); not opened"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device; not opened"
    if stat.S_ISSOCK(mode):
        return "a socket; not opened"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return ""
    return "not a regular file; not opened"


def _read_bytes(path: Path, max_bytes: int | None) -> bytes:
    """The file's bytes, read without following a link or blocking; _Refused otherwise."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise _Refused("vanished before it could be read") from None
    if _special(info.st_mode) or stat.S_ISDIR(info.st_mode):
        raise _Refused(_special(info.st_mode) or "a folder, not a notebook")
    if max_bytes is not None and info.st_size > max_bytes:
        raise _Refused(f"{info.st_size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit "
                       "(c.Sandbox.notebook_mb)")
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise _Refused("vanished before it could be read") from None
    except OSError as error:  # ELOOP: swapped for a link since the lstat
        raise _Refused(f"cannot be read ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Refused("not a regular file; not opened")
        data = handle.read(-1 if max_bytes is None else max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise _Refused(f"over the {max_bytes / 2**20:g} MiB limit (c.Sandbox.notebook_mb)")
    return data


def _json(data: bytes, max_depth: int, max_digits: int):
    """Parse with the caps: no number longer than `max_digits`, no nesting deeper than `max_depth`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Refused(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not text.strip():
        raise _Refused("empty file, not a notebook")

    def number(kind):
        def parse(literal: str):
            if len(literal) > max_digits:
                raise _Refused(f"a number {len(literal)} characters long, over the limit of {max_digits} "
                               "(c.Sandbox.number_digits)")
            return kind(literal)
        return parse

    try:
        raw = json.loads(text, parse_int=number(int), parse_float=number(float))
    except json.JSONDecodeError as error:
        raise _Refused(f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise _Refused(f"JSON nested too deeply to read (limit {max_depth}, c.Sandbox.json_depth)") from None
    except ValueError as error:  # e.g. Python's limit on converting long integers
        raise _Refused(f"not readable JSON ({error})") from None
    pending = [(raw, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > max_depth:
            raise _Refused(f"JSON nested more than {max_depth} levels deep (c.Sandbox.json_depth)")
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return raw, text


def _shape(raw) -> None:
    """Refuse JSON that is not shaped like a notebook where collect and nbgrader rely on it."""
    if isinstance(raw, dict) and raw.get("nbformat") not in (None, 4):
        raise _Refused(f"nbformat {raw.get('nbformat')!r}, this course needs 4")
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise _Refused("JSON but not a notebook (no 'cells' list)")
    if raw.get("nbformat") != 4:
        raise _Refused(f"nbformat {raw.get('nbformat')!r}, this course needs 4")
    if not isinstance(raw.get("metadata", {}), dict):
        raise _Refused("JSON but not a notebook (its metadata is not an object)")
    for index, cell in enumerate(raw["cells"]):
        where = f"cell {index}"
        if not isinstance(cell, dict):
            raise _Refused(f"{where} is a {type(cell).__name__}, not a cell")
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise _Refused(f"{where}: cell_type {str(cell.get('cell_type'))[:40]!r} is not code, markdown or raw")
        source = cell.get("source", "")
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(x, str) for x in source))):
            raise _Refused(f"{where}: source is not text")
        if "id" in cell and not isinstance(cell["id"], str):
            raise _Refused(f"{where}: id is not text")
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise _Refused(f"{where}: metadata is not an object")
        nbgrader = metadata.get("nbgrader", {})
        if not isinstance(nbgrader, dict):
            raise _Refused(f"{where}: metadata.nbgrader is a {type(nbgrader).__name__}, not an object")
        if "grade_id" in nbgrader and not isinstance(nbgrader["grade_id"], str):
            raise _Refused(f"{where}: metadata.nbgrader.grade_id is not text")
        if "points" in nbgrader and not isinstance(nbgrader["points"], int | float):
            raise _Refused(f"{where}: metadata.nbgrader.points is not a number")
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list) or not all(
                isinstance(o, dict) and isinstance(o.get("output_type"), str) for o in outputs):
            raise _Refused(f"{where}: outputs are not a list of outputs")


def _readable(path: Path, expected: set[str], max_bytes: int | None, max_depth: int = JSON_DEPTH,
              max_digits: int = NUMBER_DIGITS, name: str | None = None) -> tuple[bytes, dict, list[str]] | str:
    """One handed-in notebook: its bytes, its JSON and what had to be mended; or why it is refused.
    `name` is the notebook it stands for, when the file is named otherwise (an LMS download).

    Never raises: whatever a file does, it is refused with a reason, and the class goes on.
    """
    try:
        if (name or path.name) not in expected:
            try:
                kind = _special(os.lstat(path).st_mode)
            except OSError:
                kind = ""
            return f"unexpected file name (expected {', '.join(sorted(expected))})" + (f"; {kind}" if kind else "")
        data = _read_bytes(path, max_bytes)
        raw, text = _json(data, max_depth, max_digits)
        _shape(raw)
        try:
            with warnings.catch_warnings():  # nbformat warns (and mends) clashing cell ids: see mend_clashes
                warnings.simplefilter("ignore")
                nbformat.reads(text, as_version=4)
        except Exception as error:  # nbformat raises several unrelated types here
            raise _Refused(f"not a valid notebook ({str(error)[:300]})") from None
        # nbformat mends clashing cell ids quietly when it reads; nbgrader refuses them
        return data, raw, mend_clashes(raw)
    except _Refused as refused:
        return str(refused)
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    except Exception as error:  # the promise: one file never ends the run
        return f"cannot be read ({type(error).__name__}: {str(error)[:300]})"


def _fresh_folder(root: Path, *parts: str) -> Path:
    """`root/parts...` as real, empty folders: a symbolic link or file in the way (left by a
    previous run, or anyone) is removed, never followed."""
    root.mkdir(parents=True, exist_ok=True)
    current = root
    for number, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            mode = None
        last = number == len(parts) - 1
        if mode is not None and (last or not stat.S_ISDIR(mode)):
            if stat.S_ISDIR(mode):
                shutil.rmtree(current)  # removes links inside, never what they point at
            else:
                current.unlink()
            mode = None
        if mode is None:
            current.mkdir()
    return current


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that does not exist yet, never through a link."""
    with os.fdopen(os.open(path, _WRITE_FLAGS, 0o644), "wb") as out:
        out.write(data)


def _collect_one(folder: Path, owner: tuple[str, str], course: Course, workspace: Workspace,
                 max_bytes: int | None, result: Collected, max_depth: int = JSON_DEPTH,
                 max_digits: int = NUMBER_DIGITS) -> None:
    """One student's hand-in of one assignment, from its own folder."""
    try:
        handed_in = notebooks_in(folder)
    except OSError as error:
        result.rejected.append(Rejected(folder, f"cannot be read ({error.strerror or error})", *owner))
        return
    if not handed_in:
        result.rejected.append(Rejected(folder, "no notebook handed in", *owner))
        return
    _collect_files([(path, path.name) for path in handed_in], owner, course, workspace, max_bytes, result,
                   max_depth, max_digits)
    if owner in result.accepted:
        _collect_timestamp(folder / TIMESTAMP, owner, result)


def _collect_timestamp(path: Path, owner: tuple[str, str], result: Collected) -> None:
    """The hand-in's timestamp.txt, if it has one, checked and written in UTC beside its
    notebooks; a bad one is refused (named, with why) and the hand-in has no time."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        reason = f"cannot be read ({error.strerror or error})"
    else:
        try:
            when = read_timestamp(_read_bytes(path, TIMESTAMP_MAX_BYTES))
        except _Refused as refused:
            reason = str(refused)
            if "limit" in reason:
                reason = f"over {TIMESTAMP_MAX_BYTES} bytes; a timestamp is one line"
            elif reason == "a folder, not a notebook":
                reason = "a folder, not a file"
        except ValueError as error:
            reason = f"not a time nbgrader can use: {error}"
            if "unknown time zone" in reason:  # what nbgrader's exchange writes with a c.Exchange.timezone not UTC
                reason += ("; nbgrader's exchange writes abbreviations like this one unless "
                           "c.Exchange.timezone is UTC")
        else:
            _write_new(result.accepted[owner] / TIMESTAMP, (format_utc(when) + "\n").encode())
            return
    result.rejected.append(Rejected(path, reason, *owner))
    result.notes.setdefault(owner, []).append(f"{TIMESTAMP} refused ({reason}): graded with no hand-in time, "
                                              "so never counted late")


def _collect_files(files: list[tuple[Path, str]], owner: tuple[str, str], course: Course, workspace: Workspace,
                   max_bytes: int | None, result: Collected, max_depth: int = JSON_DEPTH,
                   max_digits: int = NUMBER_DIGITS) -> None:
    """One student's hand-in of one assignment: (file, the notebook it is) pairs; refused
    files noted, the rest copied under the notebook's own name."""
    expected = {p.name for p in notebooks_in(course.solutions / owner[1])}
    good = []
    for path, name in files:
        read = _readable(path, expected, max_bytes, max_depth, max_digits, name=name)
        if isinstance(read, str):
            result.rejected.append(Rejected(path, read, *owner))
        else:
            good.append((path, name, *read))
    if not good:
        return
    target = _fresh_folder(workspace.submitted, *owner)
    for path, name, data, raw, mended in good:
        if mended:
            # graded as mended; the hand-in itself stays as it was
            data = json.dumps(raw, ensure_ascii=False, indent=1).encode("utf-8")
            result.notes.setdefault(owner, []).append(f"{path.name}: " + "; ".join(dict.fromkeys(mended)))
        _write_new(target / name, data)  # the bytes checked, not the file again
    result.accepted[owner] = target


def _folders(parent: Path, result: Collected, owner: tuple[str, ...]) -> list[Path]:
    """The real folders in `parent`; links and special files are refused with a reason,
    other files ignored as before."""
    folders = []
    for path in sorted(parent.iterdir()):
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # vanished
        if stat.S_ISDIR(mode):
            folders.append(path)
        elif kind := _special(mode):
            # named by the student (and assignment) it stands for
            who = (*owner, path.name) if owner else ((path.name,) if STUDENT_ID.match(path.name) else ())
            result.rejected.append(Rejected(path, kind, *who))
    return folders


# --- layouts -----------------------------------------------------------------------------

LAYOUTS = """\
  per-student folders   FOLDER/<student>/<assignment>/<notebook>.ipynb  (nbgrader's own)
                        FOLDER/<student>/<notebook>.ipynb
  per-assignment        FOLDER/<assignment>/<student>/<notebook>.ipynb
  flat folder           FOLDER/<student>_<notebook>.ipynb
  LMS download          FOLDER/<student>_late_<ids>_<notebook>-1.ipynb  (Canvas; unzipped or the .zip itself)"""


def _kinds(parent: Path) -> tuple[list[Path], list[Path]]:
    """The real folders and the notebook files directly in `parent` (links not followed)."""
    folders, notebooks = [], []
    for path in sorted(parent.iterdir()):
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            folders.append(path)
        elif path.suffix == ".ipynb":
            notebooks.append(path)
    return folders, notebooks


def _one_student(submissions: Path, known: set[str], folders: list[Path]) -> str | None:
    """Why `submissions` is one student's folder (or one hand-in), if it is; else None."""
    if folders and all(f.name in known for f in folders) and all(_kinds(f)[1] for f in folders):
        names = ", ".join(f.name for f in folders[:3])
        return (f"{submissions}: this is one student's folder (it holds the assignment folders {names}), "
                "not a class. Point coursekit grade at the folder that holds one folder per student")
    return None


def _by_assignment(submissions: Path, known: set[str], folders: list[Path]) -> bool:
    """FOLDER/<assignment>/<student>/…: every folder an assignment, holding folders."""
    return bool(folders) and all(f.name in known for f in folders) and any(_kinds(f)[0] for f in folders)


def _resubmission(name: str) -> int:
    """An LMS's re-submission counter ("…-2.ipynb" is 2), 0 for none."""
    found = re.search(r"-(\d+)\.ipynb$", name)
    return int(found.group(1)) if found else 0


def _flat(notebooks: list[Path], course: Course, pattern: str, limits: tuple, result: Collected,
          workspace: Workspace) -> None:
    """FOLDER/<student>_…_<notebook>.ipynb: placed by the LMS pattern; of several files for one
    hand-in, the latest re-submission is graded and the others are noted as replaced."""
    names = _notebook_names(course)
    regex = re.compile(pattern)
    placed: dict[tuple[str, str], list[tuple[Path, str]]] = {}
    for path in notebooks:
        place = _place(path.name, names, regex)
        if isinstance(place, str):
            result.rejected.append(Rejected(path, place))
            continue
        student, assignment, name = place
        if not STUDENT_ID.match(student):
            result.rejected.append(Rejected(path, "the student id in the file name is not a valid student id"))
            continue
        placed.setdefault((student, assignment), []).append((path, name))
    for owner, files in sorted(placed.items()):
        files.sort(key=lambda item: _resubmission(item[0].name))
        latest: dict[str, tuple[Path, str]] = {}
        for path, name in files:
            if name in latest:
                result.notes.setdefault(owner, []).append(
                    f"{latest[name][0].name}: replaced by the later re-submission {path.name}")
            latest[name] = (path, name)
        max_bytes, max_depth, max_digits = limits
        _collect_files(list(latest.values()), owner, course, workspace, max_bytes, result, max_depth, max_digits)
        if owner in result.accepted and any(_marked_late(path.name, regex) for path, _ in latest.values()):
            result.late.add(owner)


def collect(
    *, course: Course, submissions: Path, workspace: Workspace, zip_pattern: str = LMS_FILE_PATTERN,
    max_notebook_bytes: int | None = None, max_json_depth: int = JSON_DEPTH, max_number_digits: int = NUMBER_DIGITS,
) -> Collected:
    """Copy a class's hand-ins into nbgrader's submitted/<student>/<assignment>/ folder.

    Reads every layout in LAYOUTS; refuses one student's folder (CourseError, saying what to
    point at). A folder in no known layout collects nothing: `Collected.layout` says what
    was found, and grade_class makes "nothing to grade" an error naming the layouts.
    """
    submissions = Path(submissions)
    result = Collected()
    limits = (max_notebook_bytes, max_json_depth, max_number_digits)
    marked_late: set[tuple[str, str]] = set()
    if submissions.is_file() and submissions.suffix == ".zip":
        submissions, result.rejected = unpack_lms_zip(
            course=course, archive=submissions, target=workspace.unzipped / submissions.stem, pattern=zip_pattern,
            late=marked_late)
        result.layout = "an LMS zip"
    if not submissions.is_dir():
        raise CourseError(f"{submissions}: submissions folder not found")
    known = set(course.assignments())
    folders, notebooks = _kinds(submissions)
    if (why := _one_student(submissions, known, folders)) is not None:
        raise CourseError(why)
    if notebooks and not folders:
        result.layout = result.layout or "a flat folder of notebooks"
        _flat(notebooks, course, zip_pattern, limits, result, workspace)
    elif _by_assignment(submissions, known, folders):
        result.layout = "per-assignment folders (<assignment>/<student>/)"
        for assignment_dir in _folders(submissions, result, ()):
            if assignment_dir.name not in known:
                result.rejected.append(Rejected(assignment_dir, "not an assignment of this course"))
                continue
            for student_dir in _folders(assignment_dir, result, ()):
                if not STUDENT_ID.match(student_dir.name):
                    result.rejected.append(Rejected(student_dir, "folder name is not a valid student id"))
                    continue
                _collect_one(student_dir, (student_dir.name, assignment_dir.name), course, workspace,
                             max_notebook_bytes, result, max_json_depth, max_number_digits)
    else:
        result.layout = result.layout or "per-student folders"
        for path in notebooks:
            result.rejected.append(Rejected(path, "a notebook beside the student folders, not inside one; "
                                                  "not graded (expected <student>/<assignment>/<notebook>.ipynb)"))
        _per_student(submissions, known, course, workspace, limits, result)
    result.late |= marked_late & set(result.accepted)
    log.info("collected %d hand-ins, refused %d files", len(result.accepted), len(result.rejected))
    return result


def _per_student(submissions: Path, known: set[str], course: Course, workspace: Workspace, limits: tuple,
                 result: Collected) -> None:
    """FOLDER/<student>/<assignment>/*.ipynb, or FOLDER/<student>/<notebook>.ipynb."""
    max_bytes, max_depth, max_digits = limits
    names = _notebook_names(course)
    for student_dir in _folders(submissions, result, ()):
        if not STUDENT_ID.match(student_dir.name):
            result.rejected.append(Rejected(student_dir, "folder name is not a valid student id"))
            continue
        try:
            assignment_dirs = _folders(student_dir, result, (student_dir.name,))
            loose = _kinds(student_dir)[1]
        except OSError as error:
            result.rejected.append(Rejected(student_dir, f"cannot be read ({error.strerror or error})",
                                            student_dir.name))
            continue
        for assignment_dir in assignment_dirs:
            if assignment_dir.name not in known:
                result.rejected.append(Rejected(assignment_dir, "not an assignment of this course", student_dir.name))
                continue
            _collect_one(assignment_dir, (student_dir.name, assignment_dir.name), course, workspace,
                         max_bytes, result, max_depth, max_digits)
        # <student>/<notebook>.ipynb: the notebook's name says which assignment it is
        by_assignment: dict[str, list[tuple[Path, str]]] = {}
        for path in loose:
            found = _notebook(path.name, names)
            if not found:
                result.rejected.append(Rejected(path, f"{path.name!r} is not the notebook of any assignment",
                                                student_dir.name))
            elif (student_dir.name, names[found]) in result.accepted:
                result.rejected.append(Rejected(path, "also handed in inside the assignment's folder, which is graded",
                                                student_dir.name, names[found]))
            else:
                by_assignment.setdefault(names[found], []).append((path, found + ".ipynb"))
        for assignment_id, files in sorted(by_assignment.items()):
            files.sort(key=lambda item: _resubmission(item[0].name))
            latest = {name: (path, name) for path, name in files}  # the latest re-submission wins
            _collect_files(list(latest.values()), (student_dir.name, assignment_id), course, workspace,
                           max_bytes, result, max_depth, max_digits)

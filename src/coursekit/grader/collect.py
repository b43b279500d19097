"""Collect hand-ins into nbgrader's submitted/ folder: from a folder laid out
`<student>/<assignment>/*.ipynb`, or from an LMS zip. Every notebook is read first, so a
broken file is refused by name and cause instead of stopping nbgrader halfway through
the class; repeated cell ids are mended (and noted), never silently."""

from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from coursekit import notebooks
from coursekit.grader.course import Course, Workspace, notebooks_in
from coursekit.grader.errors import CourseError

log = logging.getLogger(__name__)

# Student ids become folder names and gradebook keys: keep them boring.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# An LMS download names each file <student>_<…>_<original name>; Canvas, for instance,
# writes "smithjane_late_12345_678901_01-reading-the-source.ipynb". nbgrader's zip_collect
# leaves this pattern to the instructor (FileNameCollectorPlugin.named_regexp); this is ours,
# overridable with --zip-pattern, with the same named groups.
LMS_FILE_PATTERN = r"^(?P<student_id>[A-Za-z0-9.-]+)_(?:late_)?(?:\d+_)*(?P<file_id>[^/]+\.ipynb)$"
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
    stem = file_id.removesuffix(".ipynb")
    # an LMS may append "-1", "-2" to a re-submitted file
    found = [n for n in names if stem == n or re.fullmatch(re.escape(n) + r"-\d+", stem)]
    if not found:
        return f"{file_id!r} is not the notebook of any assignment"
    return student, names[found[0]], found[0] + ".ipynb"


def unpack_lms_zip(
    *, course: Course, archive: Path, target: Path, pattern: str = LMS_FILE_PATTERN
) -> tuple[Path, list[Rejected]]:
    """Lay out an LMS zip as <student>/<assignment>/<notebook> under `target`.

    Entries already laid out that way are kept as they are; flat files are matched with
    `pattern` (named groups student_id and file_id) and sorted into folders by which
    assignment's notebook name their file_id starts with.
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
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        names = {p.stem: a for a in course.assignments() for p in notebooks_in(course.solutions / a)}
        regex = re.compile(pattern)
        for info in infos:
            place = _place(info.filename, names, regex)
            if isinstance(place, str):
                rejected.append(Rejected(archive / info.filename, place))
                continue
            destination = target.joinpath(*place)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)
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


def _readable(path: Path, expected: set[str], max_bytes: int | None) -> tuple[dict, list[str]] | str:
    """One handed-in notebook as JSON, with what had to be mended; or why it is refused."""
    if path.name not in expected:
        return f"unexpected file name (expected {', '.join(sorted(expected))})"
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        return f"{size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit (c.Sandbox.notebook_mb)"
    try:
        notebooks.read(path)
    except notebooks.NotebookError as error:
        return str(error).removeprefix(f"{path}: ")
    # nbformat mends clashing cell ids quietly when it reads; nbgrader refuses them
    raw = json.loads(path.read_text(encoding="utf-8"))
    return raw, mend_clashes(raw)


def _collect_one(folder: Path, owner: tuple[str, str], course: Course, workspace: Workspace,
                 max_bytes: int | None, result: Collected) -> None:
    """One student's hand-in of one assignment: refused files noted, the rest copied."""
    expected = {p.name for p in notebooks_in(course.solutions / owner[1])}
    handed_in = notebooks_in(folder)
    good = []
    for path in handed_in:
        read = _readable(path, expected, max_bytes)
        if isinstance(read, str):
            result.rejected.append(Rejected(path, read, *owner))
        else:
            good.append((path, *read))
    if not good:
        if not handed_in:
            result.rejected.append(Rejected(folder, "no notebook handed in", *owner))
        return
    target = workspace.submitted / owner[0] / owner[1]
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path, raw, mended in good:
        if mended:
            # graded as mended; the hand-in itself stays as it was
            (target / path.name).write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
            result.notes.setdefault(owner, []).append(f"{path.name}: " + "; ".join(dict.fromkeys(mended)))
        else:
            shutil.copy2(path, target / path.name)
    result.accepted[owner] = target


def collect(
    *, course: Course, submissions: Path, workspace: Workspace, zip_pattern: str = LMS_FILE_PATTERN,
    max_notebook_bytes: int | None = None,
) -> Collected:
    """Copy `<student>/<assignment>/*.ipynb` (or an LMS zip) into nbgrader's submitted/ folder."""
    submissions = Path(submissions)
    result = Collected()
    if submissions.is_file() and submissions.suffix == ".zip":
        submissions, result.rejected = unpack_lms_zip(
            course=course, archive=submissions, target=workspace.unzipped / submissions.stem, pattern=zip_pattern)
    if not submissions.is_dir():
        raise CourseError(f"{submissions}: submissions folder not found")
    known = set(course.assignments())
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(student_dir.name):
            result.rejected.append(Rejected(student_dir, "folder name is not a valid student id"))
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name not in known:
                result.rejected.append(Rejected(assignment_dir, "not an assignment of this course", student_dir.name))
                continue
            _collect_one(assignment_dir, (student_dir.name, assignment_dir.name), course, workspace,
                         max_notebook_bytes, result)
    log.info("collected %d hand-ins, refused %d files", len(result.accepted), len(result.rejected))
    return result

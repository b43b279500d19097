"""Do exercises/, lessons/ and seeds/ hold no solution code, hidden tests or rubric text?"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, assignment_ids

from coursekit import notebooks

STUDENT_FOLDERS = ("exercises", "lessons", "seeds")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "Rubric", "Model answer")


def student_files():
    for folder in STUDENT_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                yield path


def readable_text(path) -> str:
    """What a student sees in a file: decoded cell sources for notebooks, else the text."""
    if path.suffix == ".ipynb":
        nb = notebooks.read(path)
        return "\n".join([c.source for c in nb.cells] + [str(nb.metadata)])
    return path.read_text(encoding="utf-8", errors="replace")


def student_text() -> str:
    return "\n".join(readable_text(p) for p in student_files())


def _regions(source: str, begin: str, end: str) -> list[str]:
    """The lines between nbgrader's delimiters, stripped, without the delimiters."""
    found, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            found.append(line.strip())
    return found


def secret_lines() -> list[tuple[str, str]]:
    """(where, line) for every distinctive solution, hidden-test and rubric line."""
    out = []
    for assignment_id in assignment_ids():
        for path in sorted((ROOT / "solutions" / assignment_id).glob("*.ipynb")):
            for cell in notebooks.read(path).cells:
                where = f"{path.name}:{notebooks.grade_id(cell) or cell.id}"
                for begin, end in (("BEGIN SOLUTION", "END SOLUTION"),
                                   ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
                                   ("BEGIN MARK SCHEME", "END MARK SCHEME")):
                    for line in _regions(cell.source, begin, end):
                        # Short or generic lines ("return out", "else:") prove nothing.
                        if len(line) >= 25 and not line.startswith(("#", "import ", "from ")):
                            out.append((where, line))
    return out


@pytest.mark.parametrize("marker", MARKERS)
def test_no_nbgrader_markers_reach_students(marker):
    """Is every solution, hidden-test and rubric marker absent from what students get?"""
    hits = [p for p in student_files() if marker in p.read_text(encoding="utf-8", errors="replace")]
    assert hits == []


def leaks(text: str) -> list[tuple[str, str]]:
    squashed = re.sub(r"\s+", " ", text)
    return [(where, line) for where, line in secret_lines() if re.sub(r"\s+", " ", line) in squashed]


def test_no_solution_or_hidden_test_line_reaches_students():
    """Is no distinctive line of a solution, hidden test or rubric copied into student files?"""
    assert len(secret_lines()) > 20, "the scan found too few secret lines to mean anything"
    assert leaks(student_text()) == []


def test_scan_would_catch_a_leak():
    """Would one hidden-test line pasted into a lesson be found (the scan is not vacuous)?"""
    where, line = secret_lines()[-1]
    assert (where, line) in leaks(student_text() + "\n    " + line + "\n")


def test_student_bundle_holds_only_student_material(tmp_path):
    """Does the zip handed to students leave out solutions, tests, docs and every secret line?"""
    import zipfile

    from coursekit.grader.bundle import STUDENT_BUNDLE, STUDENT_FILES, student_bundle
    from coursekit.grader.course import Course

    out = student_bundle(course=Course.at(ROOT), out=tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        tops = {name.split("/")[1] for name in names}
        assert tops <= {*STUDENT_BUNDLE, *STUDENT_FILES, "pyproject.toml", "environment.yml"}
        assert {"lessons", "exercises", "seeds", "src"} <= tops
        bundle.extractall(tmp_path / "unzipped")
    course_text, code_text = [], []
    for path in sorted((tmp_path / "unzipped").rglob("*")):
        if path.is_file():
            text = readable_text(path) if path.suffix == ".ipynb" else path.read_text(errors="replace")
            # The toolkit and the README name nbgrader's delimiters to explain them: not a leak.
            folder = path.relative_to(tmp_path / "unzipped").parts[1]
            (course_text if folder in STUDENT_FOLDERS else code_text).append(text)
    for marker in MARKERS:
        assert marker not in "\n".join(course_text)
    assert leaks("\n".join(course_text + code_text)) == []

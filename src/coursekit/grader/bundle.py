"""The student bundle: a zip of exactly what students may have.

Lessons, exercises, seeds and the student toolkit; never solutions/, tests/ (answer
keys, variants, sample class), docs/ (grading guides), the gradebook, or the grader
(`coursekit.grader`, whose tamper scan explains how to evade it). The bundle's
pyproject.toml declares no grader entry points, so installing it installs the toolkit.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from coursekit.grader.course import Course

STUDENT_BUNDLE = ("README.md", "LICENSE", "Makefile", "pyproject.toml", "environment.yml",
                  "lessons", "exercises", "seeds", "src")
# Inside src/: what only instructors run.
GRADER_PARTS = (Path("src/coursekit/grader"), Path("src/coursekit/cli.py"))
# pyproject.toml sections that name grader modules.
GRADER_SECTIONS = ("[project.scripts]", '[project.entry-points."jupyter_client.kernel_provisioners"]',
                   "[tool.setuptools.package-data]")  # the grader's page templates


def _is_grader(relative: Path) -> bool:
    return any(relative == part or part in relative.parents for part in GRADER_PARTS)


def _skipped(relative: Path) -> bool:
    return ({"__pycache__", ".ipynb_checkpoints"} & set(relative.parts) or relative.suffix == ".pyc"
            or (relative.parts[0] == "src" and ".egg-info" in str(relative)) or _is_grader(relative))


def student_pyproject(text: str) -> str:
    """pyproject.toml without the sections that name grader modules."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            dropping = line.strip() in GRADER_SECTIONS
        if not dropping:
            kept.append(line)
    return "".join(kept)


def student_bundle(*, course: Course, out: Path) -> Path:
    """Write the zip to `out`; return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for part in STUDENT_BUNDLE:
            source = course.root / part
            if not source.exists():
                continue
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                relative = path.relative_to(course.root)
                if _skipped(relative):
                    continue
                name = Path("kfor-in-numbers") / relative
                if relative == Path("pyproject.toml"):
                    bundle.writestr(str(name), student_pyproject(path.read_text(encoding="utf-8")))
                else:
                    bundle.write(path, name)
    return out

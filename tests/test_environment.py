"""Do pyproject.toml (pip) and environment.yml (conda, Binder) ask for the same things?"""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT
from packaging.requirements import Requirement

# conda-forge names that differ from PyPI names (none today; add here, not in the test)
CONDA_NAMES: dict[str, str] = {}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    out = {}
    for line in wanted:
        requirement = Requirement(line)
        out[_canonical(requirement.name)] = str(requirement.specifier)
    return out


def conda_requirements() -> dict[str, str]:
    out = {}
    in_deps = False
    for raw in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not raw.startswith(" "):
            in_deps = line.startswith("dependencies:")
            continue
        match = re.match(r"^  - ([A-Za-z0-9_.-]+)\s*(.*)$", line)
        if in_deps and match and not line.endswith(":"):
            name, spec = match.groups()
            out[_canonical(CONDA_NAMES.get(name, name))] = str(Requirement(f"x{spec.replace(' ', '')}").specifier)
    return out


def test_environment_yml_matches_pyproject():
    """Does every pip dependency appear in environment.yml with the same bounds, and no more?"""
    pip = pip_requirements()
    conda = conda_requirements()
    conda_only = {"python", "pip"}
    assert {k: v for k, v in conda.items() if k not in conda_only} == pip


def test_environment_yml_installs_the_course_package():
    """Does a conda user get coursekit itself too?"""
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+- -e \.$", text, re.M)


def test_python_version_agrees():
    """Do both files ask for the same Python?"""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert conda_requirements()["python"] == project["requires-python"]

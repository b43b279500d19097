"""The student edition is a Binder repository as it is: unpacked and pushed to a git host,
repo2docker (mybinder.org, or a BinderHub) builds it from its environment.yml and postBuild.

What repo2docker reads, checked here without Docker: which configuration it picks (a
Dockerfile or a binder/ folder would win over environment.yml), environment.yml as YAML
with a `dependencies` list, the Python version it can read from it (`python =X.Y` only), a
local `-e .` in its pip section (repo2docker then installs the environment after copying the
repository in), every package installable with pip here, and an executable postBuild that
switches nbgrader's instructor tools off exactly as the student Makefile's set-up does.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from coursekit.grader.bundle import student_bundle
from coursekit.grader.course import Course

TOP = "kfor-in-numbers/"
# repo2docker's own pattern for the Python version in environment.yml (buildpacks/conda)
REPO2DOCKER_PYTHON = re.compile(r"python\s*=+\s*([\d\.]*)")
# Files that make repo2docker choose another build pack, or look elsewhere for its configuration.
OVERRIDING = ("Dockerfile", "binder", ".binder", "requirements.txt", "Pipfile", "setup.py", "Project.toml",
              "install.R", "apt.txt", "start", "runtime.txt")


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> tuple[Path, zipfile.ZipFile]:
    """The student edition, unpacked as `unzip` would (file modes kept); and the zip."""
    out = tmp_path_factory.mktemp("binder")
    path = student_bundle(course=Course.at(ROOT), out=out / "bundle.zip")
    bundle = zipfile.ZipFile(path)
    for info in bundle.infolist():
        target = Path(bundle.extract(info, out))
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            target.chmod(stat.S_IMODE(mode))
    return out / "kfor-in-numbers", bundle


def _environment(folder: Path) -> dict:
    return yaml.safe_load((folder / "environment.yml").read_text(encoding="utf-8"))


def test_repo2docker_picks_environment_yml(edition):
    folder, _ = edition
    assert (folder / "environment.yml").is_file() and (folder / "README.md").is_file()
    assert [name for name in OVERRIDING if (folder / name).exists()] == []


def test_environment_yml_is_what_repo2docker_reads(edition):
    folder, _ = edition
    environment = _environment(folder)
    dependencies = environment["dependencies"]
    assert isinstance(dependencies, list) and environment["channels"] == ["conda-forge"]
    pythons = [REPO2DOCKER_PYTHON.match(d).group(1) for d in dependencies
               if isinstance(d, str) and REPO2DOCKER_PYTHON.match(d)]
    assert len(pythons) == 1, "repo2docker reads no Python version (it needs `python =X.Y`)"
    requires = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert SpecifierSet(requires).contains(pythons[0] + ".0"), (pythons[0], requires)
    pip = [d["pip"] for d in dependencies if isinstance(d, dict)]
    assert pip == [["-e ."]], "the toolkit is installed from the repository itself"


def test_every_package_is_installable_with_pip_here(edition):
    """The conda packages, as pip requirements, resolve here (against what is installed, no index)."""
    folder, _ = edition
    wanted = [d for d in _environment(folder)["dependencies"]
              if isinstance(d, str) and not d.startswith(("python", "pip"))]
    requirements = [str(Requirement(d.replace(" ", ""))) for d in wanted]
    assert {"nbgrader", "jupyterlab", "pandas", "matplotlib"} <= {Requirement(r).name for r in requirements}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet", *requirements],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_post_build_is_executable_and_switches_off_what_make_setup_does(edition, tmp_path):
    folder, bundle = edition
    post_build = folder / "postBuild"
    assert (bundle.getinfo(TOP + "postBuild").external_attr >> 16) & stat.S_IXUSR, "postBuild is not executable"
    assert subprocess.run(["bash", "-n", str(post_build)]).returncode == 0
    # A fake `jupyter` that records its arguments: postBuild runs it as repo2docker would.
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "calls"
    (fake / "jupyter").write_text(f'#!/bin/sh\necho "$*" >> {log}\n', encoding="utf-8")
    (fake / "jupyter").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(post_build)], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text(encoding="utf-8").splitlines()
    makefile = (folder / "Makefile").read_text(encoding="utf-8")
    lab = re.search(r"^INSTRUCTOR_LAB := (.+)$", makefile, re.M).group(1).split()
    server = re.search(r"^INSTRUCTOR_SERVER := (.+)$", makefile, re.M).group(1).split()
    assert calls == ([f"labextension disable --level=sys_prefix {e}" for e in lab]
                     + [f"server extension disable --sys-prefix {e}" for e in server])
    assert "validate" not in " ".join(calls) and "assignment_list" not in " ".join(calls)


def test_the_binder_repository_holds_nothing_instructor_only(edition):
    _, bundle = edition
    names = bundle.namelist()
    for instructor in ("solutions/", "tests/", "docs/", "tools/", "site/", "hub/", "src/coursekit/grader/",
                       "src/coursekit/judge/"):
        assert not [n for n in names if n.startswith(TOP + instructor)], instructor


def test_repo2docker_would_build_it_with_conda_then_post_build(edition):
    """repo2docker's own Dockerfile for the student edition (`--no-build`: no Docker needed): the conda
    build pack on the pinned Python, the environment installed after the repository is copied in
    (its `-e .` needs the files), then postBuild."""
    folder, _ = edition
    repo2docker = Path(sys.executable).parent / "repo2docker"
    assert repo2docker.exists(), "repo2docker is missing: install the test extra (pip install -e '.[test]')"
    done = subprocess.run([str(repo2docker), "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan",
                           str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    python = REPO2DOCKER_PYTHON.search(_environment(folder)["dependencies"][0]).group(1)
    assert f"Building conda environment for python={python}" in output
    lines = output.splitlines()
    copy = next(i for i, line in enumerate(lines) if re.match(r"COPY .* src/ \$\{REPO_DIR\}/", line))
    update = next(i for i, line in enumerate(lines) if 'env update' in line and '"environment.yml"' in line)
    post_build = lines.index("RUN ./postBuild")
    assert copy < update < post_build

"""Are nbgrader's JupyterLab and server extensions enabled in the project environment?

`make lab` relies on them: the Validate button and the Nbgrader menu (lab extension), and
the formgrader and validate endpoints behind them (server extensions).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# `jupyter server extension list` imports every extension: seconds, like the nbgrader tests
pytestmark = pytest.mark.slow
SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.validate_assignment")


def jupyter(*args: str) -> str:
    """Run `jupyter ...` of this environment as `make lab` would; stdout and stderr, colours removed."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, f"jupyter {' '.join(args)} exited with {done.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def labextensions() -> str:
    return jupyter("labextension", "list")


@pytest.fixture(scope="module")
def server_extensions() -> str:
    return jupyter("server", "extension", "list")


def test_jupyterlab_is_version_4(labextensions):
    """Is the JupyterLab that `make lab` starts a JupyterLab 4?"""
    assert re.search(r"JupyterLab v4\.\d+", labextensions), labextensions


def test_nbgrader_lab_extension_is_enabled(labextensions):
    """Does `jupyter labextension list` show nbgrader's lab extension enabled and OK?"""
    assert re.search(r"@jupyter/nbgrader v0\.9\.\S+ enabled\s+OK", labextensions), labextensions


def test_no_nbgrader_lab_plugin_is_disabled(labextensions):
    """Is none of its plugins (Validate, formgrader, create assignment...) switched off?"""
    _, _, disabled = labextensions.partition("Disabled extensions:")
    assert "nbgrader" not in disabled, labextensions


@pytest.mark.parametrize("name", SERVER_EXTENSIONS)
def test_nbgrader_server_extension_is_enabled(server_extensions, name):
    """Does `jupyter server extension list` show this nbgrader server extension enabled and valid?"""
    assert re.search(rf"^\s*{re.escape(name)}\s+enabled\s*$", server_extensions, re.MULTILINE), server_extensions
    assert re.search(rf"^\s*{re.escape(name)}\s+OK\s*$", server_extensions, re.MULTILINE), server_extensions


def test_a_fresh_clone_has_a_folder_for_the_gradebook(tmp_path):
    """On a fresh clone, does loading nbgrader_config.py make build/, where formgrader opens the gradebook?"""
    import runpy

    from conftest import copy_course
    from traitlets.config import Config

    course = copy_course(tmp_path / "course")
    assert not (course / "build").exists()
    runpy.run_path(str(course / "nbgrader_config.py"), init_globals={"get_config": Config})
    assert (course / "build").is_dir()

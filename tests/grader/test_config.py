"""One configuration: loaded once the way nbgrader loads it, and carried whole to every
worker and kernel. Is a user-level setting honoured? Does each family of limits set once
in nbgrader_config.py reach the code that enforces it? Does SafeExecute stay when the
sandbox is off?"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import nbformat
import pytest
from traitlets.config import Config

from coursekit.grader.autograde import worker_settings
from coursekit.grader.config import load_config
from coursekit.grader.course import Course, instructor_workspace
from coursekit.grader.errors import CourseError
from coursekit.grader.execution.safe_execute import INCIDENTS_KEY, SafeExecute
from coursekit.grader.isolation.policy import KernelSpec, Policy
from coursekit.grader.limits import Sandbox
from coursekit.grader.pipeline import Run, grade_class
from coursekit.grader.worker import WorkerSettings

SAFE_EXECUTE = "coursekit.grader.execution.safe_execute.SafeExecute"


def _set(course_root, *lines: str) -> None:
    with (course_root / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write("\n" + "\n".join(lines) + "\n")


def _worker(course: Course, *, layers=("limits",)) -> WorkerSettings:
    """What a worker receives, after the trip through pickle that a process pool makes."""
    settings = worker_settings(load_config(course), course=course, workspace=instructor_workspace(course),
                               feedback=False, layers=layers)
    return pickle.loads(pickle.dumps(settings))


def test_a_user_level_nbgrader_config_is_honoured(course_copy, tmp_path, monkeypatch):
    """Is ~/.jupyter/nbgrader_config.py read, as nbgrader reads it, with the course's own winning?"""
    user = tmp_path / "jupyter"
    user.mkdir()
    (user / "nbgrader_config.py").write_text("c.Sandbox.memory_mb = 1234\nc.Sandbox.cell_timeout = 7\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    _set(course_copy, "c.Sandbox.cell_timeout = 9")
    limits = Sandbox(config=load_config(Course.at(course_copy)))
    assert limits.memory_mb == 1234  # only the user's config says so
    assert limits.cell_timeout == 9  # both say so: the course folder wins, as in nbgrader


def test_time_and_output_limits_reach_safe_execute_in_a_worker(course_copy, tmp_path):
    """Set once in nbgrader_config.py, do c.Sandbox.cell_timeout and output_kb bind the
    SafeExecute a worker builds from its Config?"""
    _set(course_copy, "c.Sandbox.cell_timeout = 2", "c.Sandbox.notebook_timeout = 30", "c.Sandbox.output_kb = 16")
    settings = _worker(Course.at(course_copy))
    executor = SafeExecute(config=settings.config)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('x' * 100_000)"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(20)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    incidents = nb.metadata[INCIDENTS_KEY]["incidents"]
    assert "output beyond 16 KiB dropped" in incidents
    assert any("stopped at its 2 s time limit" in line for line in incidents), incidents


def test_kernel_limits_reach_the_kernel(course_copy, tmp_path):
    """Set once, do c.Sandbox's kernel limits travel in the worker's Config to the provisioner
    and become the rlimits of the kernel's process?"""
    _set(course_copy, "c.Sandbox.memory_mb = 1500", "c.Sandbox.open_files = 123", "c.Sandbox.processes = 77")
    settings = _worker(Course.at(course_copy))
    policy = Policy.from_json(settings.config.ForkProvisioner.policy)  # what ForkProvisioner is handed
    assert (policy.memory_mb, policy.open_files, policy.processes) == (1500, 123, 77)
    private, work = tmp_path / "private", tmp_path / "work"
    private.mkdir()
    work.mkdir()
    spec = KernelSpec(policy=policy, cwd=str(work), private=str(private), env={"PATH": "/usr/bin:/bin"})
    probe = ("import resource; print(json.dumps([resource.getrlimit(r)[0] for r in "
             "(resource.RLIMIT_AS, resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC)]))")
    done = subprocess.run([sys.executable, "-m", "coursekit.grader.isolation.sandbox", spec.to_json(), "--",
                           sys.executable, "-c", "import json; " + probe], timeout=60, capture_output=True, text=True)
    log = (private / "kernel.log").read_text()
    assert done.returncode == 0, (done.stderr, log)
    assert json.loads(log.strip().splitlines()[-1]) == [1500 * 2**20, 123, 77]


def test_the_notebook_size_limit_reaches_collect(course_copy, tmp_path):
    """Set once, does c.Sandbox.notebook_mb decide what grading refuses?"""
    _set(course_copy, "c.Sandbox.notebook_mb = 1")
    course = Course.at(course_copy)
    assignment_id = course.assignments()[0]
    handed_in = tmp_path / "class" / "ann" / assignment_id / course.release_notebook(assignment_id).name
    handed_in.parent.mkdir(parents=True)
    nb = nbformat.read(course.release_notebook(assignment_id), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("x" * 2 * 2**20))
    nbformat.write(nb, handed_in)
    with pytest.raises(CourseError) as raised:  # the only hand-in refused: nothing to grade
        grade_class(course=course, submissions=tmp_path / "class", assignments=[assignment_id],
                    run=Run(release=False, export=False))
    assert f"refused {handed_in}: 2.0 MiB, over the 1 MiB limit (c.Sandbox.notebook_mb)" in str(raised.value)


@pytest.mark.parametrize("select_in_config", [True, False])
def test_safe_execute_and_its_guard_stay_with_the_sandbox_off(course_copy, select_in_config):
    """With the sandbox off, do workers still run SafeExecute, guard on, even for a course
    whose nbgrader_config.py does not name it?"""
    if not select_in_config:
        config_file = course_copy / "nbgrader_config.py"
        text = config_file.read_text(encoding="utf-8")
        config_file.write_text(text.replace(f'"{SAFE_EXECUTE}"', '"nbgrader.preprocessors.Execute"'))
    _set(course_copy, "c.Sandbox.enabled = False")
    config = _worker(Course.at(course_copy), layers=None).config
    steps = [step if isinstance(step, str) else f"{step.__module__}.{step.__name__}"
             for step in config.Autograde.autograde_preprocessors]
    assert steps[0] == SAFE_EXECUTE and "nbgrader.preprocessors.Execute" not in steps
    assert config.ForkProvisioner.policy == ""  # no sandbox
    assert SafeExecute(config=config).guard and SafeExecute(config=config).tamper_scan


def test_the_config_pickles_whole():
    """Is the Config a worker gets plain data that survives pickling unchanged?"""
    config = Config({"Sandbox": {"memory_mb": 5}, "ForkProvisioner": {"warm": True}})
    assert pickle.loads(pickle.dumps(config)) == config

"""The sandbox's parts without grading a class: what the machine offers, what a kernel
may see, the settings, and the cold-start launcher on a plain command (as root, and inside
a user namespace as a non-root grader would have it)."""

from __future__ import annotations

import os
import re

import pytest
from conftest import ROOT  # noqa: E402

from coursekit.grader.isolation import policy, sandbox
from coursekit.grader.limits import LAYERS, Sandbox


def test_probe_finds_every_layer_on_this_machine():
    found = sandbox.probe()
    assert set(found) == set(LAYERS)
    if os.geteuid() == 0:  # CI runs as root: every layer must be there
        assert found == {layer: "" for layer in LAYERS}, found


def test_missing_layers_are_named_in_the_report():
    """Are layers turned off with c.Sandbox.layers named as missing, with the setting?"""
    found = sandbox.probe(Sandbox(layers=["limits", "user"]).layers)
    assert found["network"] == found["filesystem"] == "turned off by c.Sandbox.layers"
    line = sandbox.describe(found)
    assert line.startswith("sandbox: MISSING") and "network" in line and "filesystem" in line
    assert "limits (" not in line


def test_a_kernel_never_sees_the_course(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    paths = policy.readable_paths(course, extra=[str(course), str(course / "tests"), str(tmp_path),
                                                  str(course / "seeds")])
    assert str(course) not in paths and str(course / "tests") not in paths and str(tmp_path) not in paths
    assert str(course / "seeds") in paths


def test_policy_travels_as_json():
    rules = policy.Policy(memory_mb=100, readable=("/a",), seeds="/s", layers=("limits",), user_namespace=True)
    spec = policy.KernelSpec(policy=rules, cwd="/c", private="/p", env={"A": "1"})
    assert policy.KernelSpec.from_json(spec.to_json()) == spec


def test_kernel_environment_keeps_no_secrets():
    env = policy.kernel_environment({"PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "x", "JPY_PARENT_PID": "1",
                                      "HOME": "/root"}, policy.Policy(seeds="/s"))
    assert "AWS_SECRET_ACCESS_KEY" not in env and "JPY_PARENT_PID" not in env
    assert env["HOME"] == "/tmp" and env["COURSEKIT_SEEDS"] == "/s" and env["PATH"] == "/usr/bin"


PROBE = """
import os, socket, sys
print("uid", os.getuid())
print("root", sorted(os.listdir("/")))
print("pids", sorted(p for p in os.listdir("/proc") if p.isdigit()))
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    print("network open")
except OSError as error:
    print("network", error.errno)
try:
    open(sys.argv[1]).read()
    print("secret read")
except OSError as error:
    print("secret", type(error).__name__)
open("written.txt", "w").write("ok")
"""


@pytest.mark.parametrize("user_namespace", [False, True], ids=["as-root", "in-a-user-namespace"])
def test_the_launcher_isolates_a_command(tmp_path, user_namespace):
    """`python -m coursekit.sandbox SPEC -- COMMAND` (the cold-kernel path) on a plain
    command: no network, no view of the course, a process table of its own, a user of
    its own (as root), and its working folder writable."""
    import json
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root); without it the user-namespace path is the only one")
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    secret = course / "solutions" / "answer.txt"
    secret.write_text("42")
    work = course / "build" / "autograded" / "s" / "a"
    work.mkdir(parents=True)
    private = tmp_path / "private"
    private.mkdir()
    layers = tuple(layer for layer in LAYERS if not (user_namespace and layer == "user"))
    rules = policy.Policy(readable=tuple(policy.readable_paths(course)), seeds="", layers=layers,
                          user_namespace=user_namespace)
    env = policy.kernel_environment(dict(os.environ), rules)
    spec = policy.KernelSpec(policy=rules, cwd=str(work), private=str(private), env=env)
    done = subprocess.run([sys.executable, "-m", "coursekit.grader.isolation.sandbox", spec.to_json(), "--",
                           sys.executable, "-c", PROBE, str(secret)], timeout=60, capture_output=True, text=True)
    log = (private / "kernel.log").read_text()
    assert done.returncode == 0, (done.stderr, log)
    lines = dict(line.split(" ", 1) for line in log.splitlines() if " " in line)
    assert lines["network"] == "101", log  # ENETUNREACH: no interface is up
    assert lines["secret"] == "FileNotFoundError", log
    assert "course" not in json.dumps(lines["root"]) and "proc" in lines["root"]
    assert len(eval(lines["pids"])) <= 3, log  # its sandbox init and itself (and nothing of ours)
    if user_namespace:
        assert lines["uid"] == "0", log  # root inside its namespace only
    else:
        assert int(lines["uid"]) >= policy.UID_BASE, log
    assert (work / "written.txt").read_text() == "ok"


def _documented_defaults(text: str) -> dict[str, str]:
    return dict(re.findall(r"^#? ?c\.Sandbox\.(\w+) = (\S+)", text, re.M))


def test_documented_limits_are_the_real_defaults():
    limits = Sandbox()
    # c.Sandbox.layers and c.Sandbox.user_namespace are for tests and debugging, documented in docs/security.md
    real = {name: str(getattr(limits, name)) for name in limits.trait_names()
            if limits.trait_metadata(name, "config") and name not in ("layers", "user_namespace")}
    for where in (ROOT / "nbgrader_config.py", ROOT / "docs" / "security.md"):
        documented = _documented_defaults(where.read_text(encoding="utf-8"))
        assert documented == real, f"{where.name}: c.Sandbox defaults differ from coursekit.grader.limits.Sandbox"


@pytest.mark.slow
def test_cold_kernels_are_sandboxed_too(tmp_path):
    """`coursekit grade --no-warm-kernels` starts each kernel with `python -m coursekit.sandbox`:
    same protections, same grades."""
    import shutil

    from builders import adversarial_class
    from conftest import copy_course

    from coursekit.grader import sampleclass
    from coursekit.grader.course import Course
    from coursekit.grader.gradebook import read_assignment_scores
    from coursekit.grader.pipeline import grade

    course = Course.at(copy_course(tmp_path / "course"))
    folder = tmp_path / "class"
    for student in ("ada", "chloe"):
        shutil.copytree(ROOT / "tests" / "fixtures" / "submissions" / student / "01-reading-the-source",
                        folder / student / "01-reading-the-source")
    (folder / "adv-read-solutions").mkdir()
    for relative, data in adversarial_class(course=course, fixtures=ROOT / "tests" / "fixtures").items():
        if relative.parts[0] == "adv-read-solutions":
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)
    result = grade(course=course, submissions=folder, assignments=["01-reading-the-source"], warm_kernels=False)
    assert result.protections.startswith("sandbox: all protections on")
    assert not result.failed
    scores = {s.student: s.autograded for s in read_assignment_scores(course.gradebook, ["01-reading-the-source"])}
    expected = sampleclass.expected_scores(ROOT / "tests" / "fixtures" / "answers")
    assert scores == {"ada": expected[("ada", "01-reading-the-source")],
                      "chloe": expected[("chloe", "01-reading-the-source")],
                      "adv-read-solutions": 9.0}

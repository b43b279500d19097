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
os.symlink(sys.argv[1], "planted-link")
print("wrote", open("written.txt").read())
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
    (work / "given.txt").write_text("from nbgrader")
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
    # it wrote in its working folder, a scratch copy: nothing of it is left in the real one
    assert lines["wrote"] == "ok", log
    assert sorted(p.name for p in work.iterdir()) == ["given.txt"], list(work.iterdir())
    assert (work / "given.txt").read_text() == "from nbgrader"


def _launch(tmp_path, code: str, *args: str, layers=tuple(LAYERS), readable=()):
    """Run `python -c code args` through the cold-kernel launcher in a fresh course's
    autograded folder; returns (that folder, the kernel's log)."""
    import subprocess
    import sys

    course = tmp_path / "course"
    work = course / "build" / "autograded" / "s" / "a"
    work.mkdir(parents=True)
    (work / "given.txt").write_text("from nbgrader")
    private = tmp_path / "private"
    private.mkdir()
    rules = policy.Policy(readable=tuple(policy.readable_paths(course)) + tuple(readable), seeds="", layers=layers)
    env = policy.kernel_environment(dict(os.environ), rules)
    spec = policy.KernelSpec(policy=rules, cwd=str(work), private=str(private), env=env)
    done = subprocess.run([sys.executable, "-m", "coursekit.grader.isolation.sandbox", spec.to_json(), "--",
                           sys.executable, "-c", code, *args], timeout=60, capture_output=True, text=True)
    log = (private / "kernel.log").read_text()
    assert done.returncode == 0, (done.stderr, log)
    return work, log


PLANT = """
import os, sys
os.symlink(sys.argv[1], "a.ipynb")
os.mkfifo("pipe")
open("made.txt", "w").write("x")
print("planted", sorted(os.listdir(".")))
"""


def test_what_the_kernel_plants_in_its_folder_never_reaches_the_real_one(tmp_path):
    """The scratch folder: links, pipes and files the kernel makes in its working folder
    are gone when it ends. Control: the same kernel without the filesystem layer (working
    in the real folder, the layout before the scratch folder; without the user layer too,
    as its own user could not reach this Python under /root) leaves all three there."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root")
    gradebook = tmp_path / "gradebook.db"
    gradebook.write_text("grades")
    work, log = _launch(tmp_path / "on", PLANT, str(gradebook))
    assert "'a.ipynb'" in log and "'given.txt'" in log, log  # it saw nbgrader's file and planted
    assert sorted(p.name for p in work.iterdir()) == ["given.txt"]
    control, log = _launch(tmp_path / "off", PLANT, str(gradebook),
                           layers=tuple(layer for layer in LAYERS if layer not in ("filesystem", "user")))
    assert {"a.ipynb", "pipe", "made.txt"} <= {p.name for p in control.iterdir()}, log
    assert (control / "a.ipynb").is_symlink()


def test_the_scratch_copy_skips_links_pipes_and_devices(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    (source / "sub").mkdir(parents=True)
    target.mkdir()
    (source / "a.ipynb").write_text("{}")
    (source / "sub" / "data.csv").write_text("1")
    (source / "link").symlink_to("/etc/hostname")
    os.mkfifo(source / "pipe")
    (source / "zero").symlink_to("/dev/zero")
    skipped = sandbox.copy_regular_tree(str(source), str(target))
    assert sorted(skipped) == ["link", "pipe", "zero"]
    assert (target / "a.ipynb").read_text() == "{}" and (target / "sub" / "data.csv").read_text() == "1"
    assert sandbox.open_regular(str(source / "pipe")) is None  # returns at once, never blocks


READ_COURSES = """
import sys
for path in sys.argv[1:]:
    try:
        print("read", path, open(path).read())
    except OSError as error:
        print("refused", path, type(error).__name__)
"""


@pytest.mark.parametrize("where", ["/opt", "/usr/local/share", "/etc", "/srv"])
def test_a_course_in_a_system_folder_is_unreadable_from_a_kernel(tmp_path, where):
    """Minimal mounts: a copy of a course (its solutions and gradebook) under /opt,
    /usr/local/share, /etc or /srv is not in the kernel's view. Control: were that tree
    mounted whole (as /opt, /usr and /etc were), the same kernel reads both."""
    import uuid

    if os.geteuid() != 0:
        pytest.fail("this test needs root")
    course = os.path.join(where, f"coursekit-test-{uuid.uuid4().hex[:8]}")
    secrets = [os.path.join(course, "solutions", "01", "01.ipynb"), os.path.join(course, "build", "gradebook.db")]
    try:
        for path in secrets:
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as handle:
                handle.write("SECRET")
        _, log = _launch(tmp_path / "on", READ_COURSES, *secrets)
        assert "SECRET" not in log and log.count("refused") == 2, log
        _, log = _launch(tmp_path / "off", READ_COURSES, *secrets, readable=(where,))
        assert log.count("SECRET") == 2, log
    finally:
        import shutil

        shutil.rmtree(course, ignore_errors=True)


def test_python_in_a_system_prefix_mounts_only_its_own_files():
    """A Python installed under /usr or /usr/local brings its library and executables,
    never the whole prefix (which may hold a course)."""
    found = policy._installation("/usr/local")
    assert "/usr/local" not in found and all(p.startswith("/usr/local/") for p in found)
    assert not any(p.startswith(("/usr/local/share", "/usr/local/etc")) for p in found)
    assert policy._installation("/root/.pyenv/versions/3.11.7") == ["/root/.pyenv/versions/3.11.7"]
    assert not {"/usr", "/opt", "/etc", "/usr/share", "/usr/local", "/srv", "/home"} & set(policy.system_paths())


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


def _descendants(pid: int) -> set[int]:
    """Every living process below `pid` (by /proc's parent links)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if stat[0] not in ("Z", "X"):
                parents[int(entry)] = int(stat[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.parametrize("user_namespace", [False, True], ids=["as-root", "in-a-user-namespace"])
def test_a_sandbox_whose_starter_is_killed_ends_down_to_the_kernel(tmp_path, user_namespace):
    """The process that starts a sandbox (a kernel zygote's fork, or the cold-kernel launcher
    here) is killed, as the zygote kills the kernels of a worker that ended: does every
    process of the sandbox end with it, down to the kernel, rather than run on as an orphan?
    (Switching to the sandbox's own user clears Linux's parent-death signal; it must be set
    again after the switch.)"""
    import signal
    import subprocess
    import sys
    import time

    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    work = tmp_path / "course" / "build" / "autograded" / "s" / "a"
    work.mkdir(parents=True)
    private = tmp_path / "private"
    private.mkdir()
    layers = tuple(layer for layer in LAYERS if not (user_namespace and layer == "user"))
    rules = policy.Policy(readable=tuple(policy.readable_paths(tmp_path / "course")), seeds="", layers=layers,
                          user_namespace=user_namespace)
    spec = policy.KernelSpec(policy=rules, cwd=str(work), private=str(private),
                             env=policy.kernel_environment(dict(os.environ), rules))
    starter = subprocess.Popen([sys.executable, "-m", "coursekit.grader.isolation.sandbox", spec.to_json(), "--",
                                sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"])
    inside: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        log = private / "kernel.log"
        while time.monotonic() < deadline and not (log.exists() and "up" in log.read_text()):
            time.sleep(0.05)
        inside = _descendants(starter.pid)
        assert len(inside) == 2, inside  # the namespace's first process and the "kernel"
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and inside & _descendants(1):
            time.sleep(0.05)
        left = {p for p in inside if p in _descendants(1)}
        assert not left, f"still running after their starter was killed: {left}"
    finally:
        starter.kill()
        for pid in inside:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

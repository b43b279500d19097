"""Set up what `make hub` (and tests/browser/test_hub_roundtrip.py) runs JupyterHub on.

Run as root, from the course's .venv:  python hub/prepare.py [--hub-dir DIR] [--course DIR]

  * JupyterHub's proxy, configurable-http-proxy, with npm into TOOLS/node_modules;
  * the student environment, TOOLS/student-venv: the student edition (`coursekit bundle`,
    no grader, no solutions) installed as students install it, with jupyterhub for its
    single-user server, seeds installed with the toolkit (share/coursekit/seeds), the
    student nbgrader_config.py as the environment's config (course id, Validate; the
    exchange from $COURSEKIT_EXCHANGE) and nbgrader's instructor extensions switched off;
  * one system user per student (useradd, home HUB/home/<name>, mode 0700): nbgrader's
    exchange names every hand-in after the Unix user that submits it and checks the owner,
    so students must be distinct users; the instructor's server runs as the hub's own user,
    the owner of the course;
  * nbgrader's exchange, HUB/exchange (1777: anyone writes, sticky), and HUB/state (0700:
    the hub's database, cookie secret and passwords);
  * the course closed to students: solutions/, tests/, .git, docs/, wip/, benchmarks/ and
    everything in build/ but the hub's folders lose their permissions for others (build/
    keeps o+x, the way to HUB); lessons, exercises, seeds and the toolkit stay readable.
    `--check` lists what a student can still read of those, as that student, and fails if anything.

TOOLS is always the course's build/hub (the proxy and the student environment are shared by
every hub on the machine); HUB defaults to it too. Prints the passwords' file.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "build" / "hub"
STUDENT_VENV = TOOLS / "student-venv"
PROXY = TOOLS / "node_modules" / ".bin" / "configurable-http-proxy"
PROXY_PACKAGE = "configurable-http-proxy@5"  # tested with 5.3
INSTRUCTOR = "instructor"
STUDENTS = ("ada", "bea", "cai")
# nbgrader's instructor tools, switched off in the students' environment (as student/Makefile does)
INSTRUCTOR_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                  "@jupyter/nbgrader:course-list")
INSTRUCTOR_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
# No toast asking to fetch Jupyter's news from the internet in the students' JupyterLab.
LAB_OVERRIDES = '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}\n'
# Closed to others: answer keys, the sample class and its answers, the git history (which
# holds solutions/), grading guides and patches.
CLOSED = ("solutions", "tests", ".git", "docs", "wip", "benchmarks")


def students() -> list[str]:
    named = os.environ.get("COURSEKIT_HUB_STUDENTS", "")
    return [s.strip() for s in named.split(",") if s.strip()] or list(STUDENTS)


def _run(*command: str, **kwargs) -> None:
    subprocess.run(command, check=True, **kwargs)


def base_python() -> str:
    """A Python >= 3.11 that students can run: the venv links to it, and a student is not root
    (pyenv's Pythons under /root, for one, are not theirs to run). $COURSEKIT_HUB_PYTHON first."""
    candidates = [os.environ.get("COURSEKIT_HUB_PYTHON"), "/usr/bin/python3", "/usr/local/bin/python3",
                  getattr(sys, "_base_executable", sys.executable)]
    check = "import sys, ensurepip; sys.exit(sys.version_info < (3, 11))"
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run(["runuser", "-u", "nobody", "--", python, "-c", check],
                                                     capture_output=True, cwd="/").returncode == 0:
            return python
    sys.exit("prepare: no Python >= 3.11 with venv that other users may run; set COURSEKIT_HUB_PYTHON")


def student_environment(course: Path) -> Path:
    """TOOLS/student-venv from the student edition; rebuilt when the edition changes."""
    zip_path = TOOLS / "kfor-in-numbers-student.zip"
    stamp = STUDENT_VENV / ".installed"
    _run(sys.executable, "-m", "coursekit.cli", "--course", str(REPO), "bundle", "--out", str(zip_path),
         stdout=subprocess.DEVNULL)
    with zipfile.ZipFile(zip_path) as bundle:  # what it holds (the zip's own bytes carry the time it was made)
        digest = hashlib.sha256(repr(sorted((i.filename, i.CRC) for i in bundle.infolist())).encode()).hexdigest()
    hub_version = subprocess.run([sys.executable, "-c", "import jupyterhub; print(jupyterhub.__version__)"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    python = base_python()
    if stamp.is_file() and stamp.read_text() == f"{digest} {hub_version} {python}":
        return STUDENT_VENV
    print(f"prepare: installing the student edition into {STUDENT_VENV} (a minute or two, once) …", flush=True)
    edition = TOOLS / "student-edition"
    shutil.rmtree(edition, ignore_errors=True)
    shutil.rmtree(STUDENT_VENV, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as bundle:
        bundle.extractall(edition)
    source = edition / "kfor-in-numbers"
    _run(python, "-m", "venv", str(STUDENT_VENV))
    pip = [str(STUDENT_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # not editable: the toolkit and its seeds are copied into the environment, nothing points into the course
    _run(*pip, str(source), f"jupyterhub=={hub_version}")
    jupyter = str(STUDENT_VENV / "bin" / "jupyter")
    for extension in INSTRUCTOR_LAB:  # disabled, and locked: no student turns them on in the lab's settings
        _run(jupyter, "labextension", "disable", "--level=sys_prefix", extension,
             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _run(jupyter, "labextension", "lock", "--level=sys_prefix", extension,
             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for extension in INSTRUCTOR_SERVER:
        _run(jupyter, "server", "extension", "disable", "--sys-prefix", extension,
             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = STUDENT_VENV / "etc" / "jupyter" / "nbgrader_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "nbgrader_config.py", config)  # the student edition's own (course id, exchange)
    overrides = STUDENT_VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(LAB_OVERRIDES, encoding="utf-8")
    stamp.write_text(f"{digest} {hub_version} {python}")
    return STUDENT_VENV


def ensure_proxy() -> Path:
    """JupyterHub's proxy, configurable-http-proxy (Node.js), from npm into TOOLS/node_modules."""
    if not PROXY.exists():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("prepare: npm not found: JupyterHub's proxy is a Node.js program "
                     "(apt-get install nodejs npm, or node 20 from nodejs.org)")
        print("prepare: installing configurable-http-proxy with npm …", flush=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        _run(npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(TOOLS), PROXY_PACKAGE)
    return PROXY


def system_user(name: str, home: Path) -> None:
    """A Unix user for a student (useradd), its home HUB/home/<name> (0700, its own)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run("useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group",
             "--comment", "kfor-in-numbers student (make hub)", name)
    entry = pwd.getpwnam(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o700)


def closed_paths(course: Path, hub: Path) -> list[Path]:
    """What students must not read: the answer keys, the sample class, the history and
    guides (CLOSED), and everything grading writes in build/ (but the hub's folders)."""
    keep = {hub.resolve(), TOOLS.resolve()}
    found = [course / name for name in CLOSED if (course / name).exists()]
    build = course / "build"
    if build.is_dir():
        found += [entry for entry in sorted(build.iterdir())
                  if not any(entry.resolve() == k or k.is_relative_to(entry.resolve()) for k in keep)]
    return found


def close_course(course: Path, hub: Path) -> list[Path]:
    """Take others' permissions from closed_paths; build/ keeps only o+x (the way to the hub).
    Not the toolkit, the seeds or .venv: coursekit grade's sandboxed kernels run as users of
    their own and read those (coursekit.grader.isolation.policy.readable_paths)."""
    (course / "build").mkdir(exist_ok=True)
    gradebook = course / "build" / "gradebook.db"
    if not gradebook.exists():  # made now, closed: SQLite gives its journal the database's mode
        from nbgrader.api import Gradebook

        Gradebook(f"sqlite:///{gradebook}", "kfor-in-numbers").close()
    closed = closed_paths(course, hub)
    for entry in closed:
        mode = os.lstat(entry).st_mode
        if not stat.S_ISLNK(mode):
            os.chmod(entry, stat.S_IMODE(mode) & ~0o007)
    build = course / "build"
    os.chmod(build, (stat.S_IMODE(os.stat(build).st_mode) & ~0o007) | 0o001)
    return closed


def exposed(course: Path, hub: Path, user: str) -> list[str]:
    """What `user` (a student) can read of closed_paths, checked as that user."""
    script = ("import os, sys\n"
              "for top in sys.argv[1:]:\n"
              "    if os.path.isfile(top) and os.access(top, os.R_OK): print(top)\n"
              "    for base, dirs, files in os.walk(top):\n"
              "        print(base + '/')\n"
              "        for name in files:\n"
              "            if os.access(os.path.join(base, name), os.R_OK): print(os.path.join(base, name))\n")
    python = str(STUDENT_VENV / "bin" / "python")
    paths = [str(p) for p in closed_paths(course, hub)]
    found = subprocess.run(["runuser", "-u", user, "--", python, "-c", script, *paths],
                           capture_output=True, text=True, check=True, cwd="/")
    return found.stdout.split()


@contextlib.contextmanager
def _tools_lock():
    """One preparation of TOOLS (the proxy, the student environment) at a time: a second
    `make hub` (or test) started meanwhile waits, then finds them made, instead of removing
    and re-creating the environment under the first one's feet."""
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / ".prepare.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare(course: Path, hub: Path) -> dict[str, str]:
    if os.geteuid() != 0:
        sys.exit("prepare: run as root: students are system users (useradd) so that nbgrader's exchange "
                 "tells their hand-ins apart (docs/deploy.md)")
    with _tools_lock():
        ensure_proxy()
        student_environment(course)
    for folder, mode in ((hub, 0o711), (hub / "home", 0o711), (hub / "state", 0o700)):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, mode)
    exchange = hub / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o777 | stat.S_ISVTX)  # nbgrader: everyone writes their own hand-ins, sticky
    for name in students():
        system_user(name, hub / "home" / name)
    instructor_home = hub / "home" / INSTRUCTOR  # the instructor's server runs as the hub's user (root)
    instructor_home.mkdir(exist_ok=True)
    os.chmod(instructor_home, 0o700)
    news = instructor_home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)  # the instructor's lab: no question about fetching news
    (news / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}\n', encoding="utf-8")
    passwords = hub / "state" / "passwords"
    if not passwords.exists():
        passwords.write_text(f"COURSEKIT_HUB_PASSWORD={secrets.token_urlsafe(9)}\n"
                             f"COURSEKIT_HUB_ADMIN_PASSWORD={secrets.token_urlsafe(32)}\n", encoding="utf-8")
        os.chmod(passwords, 0o600)
    close_course(course, hub)
    return dict(line.split("=", 1) for line in passwords.read_text(encoding="utf-8").split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=REPO)
    parser.add_argument("--hub-dir", type=Path, default=None, help="default: COURSE/build/hub")
    parser.add_argument("--check", action="store_true", help="also list what a student can read in the course")
    parser.add_argument("--check-only", action="store_true", help="only list it (prepare nothing)")
    args = parser.parse_args()
    course = args.course.resolve()
    hub = (args.hub_dir or course / "build" / "hub").resolve()
    if not args.check_only:
        prepare(course, hub)
        print(f"prepare: students {', '.join(students())} (system users), instructor {INSTRUCTOR}; "
              f"exchange {hub / 'exchange'}; passwords in {hub / 'state' / 'passwords'}")
    if args.check or args.check_only:
        found = exposed(course, hub, students()[0])
        for path in found:
            print(f"prepare: readable by {students()[0]}: {path}")
        if found:
            return 1
        print(f"prepare: {students()[0]} can read nothing in {course} outside {hub}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

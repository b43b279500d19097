"""A real JupyterLab on a throwaway copy of the course, and a real Chromium driving it.

One server per test session, shared through the xdist group "browser" so that every
browser test runs on one worker. It serves a copy of the course under pytest's tmp dir
with fresh Jupyter config, data and runtime folders, so neither the repository nor the
user's ~/.jupyter is touched. Each test gets a new page in a workspace of its own and
leaves no kernel running. A missing Playwright or Chromium is a failure, never a skip.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, copy_course

SCREENSHOTS = ROOT / "build" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# Debian's chromium, headless, with nothing that phones home or updates itself.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]
# The exercise the Validate tests use, and the solved copy of it the fixture writes.
EXERCISE = "01-reading-the-source"
SOLVED_EXERCISE = f"exercises/{EXERCISE}/{EXERCISE}-solved.ipynb"
# JupyterLab asks whether to fetch Jupyter's news feed: a toast over every screenshot and
# a request to the internet. The throwaway config folder answers "never".
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
}
SERVER_START_TIMEOUT = 120  # s; the first start on a busy 2-core machine takes ~10 s
GRADING_TIMEOUT = 600  # s; the sample class grades in ~1.5 min on 2 cores


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in a real Chromium with Playwright (needs the chromium package)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The formgrader test waits for the sample class to be graded in the background; run it
    # after the student tests, so that the grading overlaps them instead of delaying them.
    items.sort(key=lambda item: "graded_lab" in getattr(item, "fixturenames", ()))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    setattr(item, f"browser_report_{report.when}", report)  # read by lab_page to keep a screenshot of a failure
    return report


# --- the server -------------------------------------------------------------------------


@dataclass
class Lab:
    """A running `jupyter lab` on a throwaway course folder."""

    course: Path
    port: int
    token: str
    log: Path
    process: subprocess.Popen
    grading: subprocess.Popen | None
    grading_log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, *, workspace: str, path: str = "") -> str:
        """The address a student opens: one JupyterLab workspace, optionally with a file open in it."""
        tree = f"/tree/{urllib.parse.quote(path)}" if path else ""
        return f"{self.base_url}/lab/workspaces/{workspace}{tree}?token={self.token}"

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            self.base_url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode("utf-8")
        return json.loads(text) if text.strip() else None

    def saved_notebook(self, path: str) -> dict:
        """The notebook as the server has it on disk (what File > Save wrote)."""
        return self.api("GET", f"/api/contents/{urllib.parse.quote(path)}?content=1&type=notebook")["content"]

    def shut_down_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_grades(self) -> None:
        """Wait for the background `coursekit grade` of the sample class; fail with its output if it failed."""
        if self.grading is None:
            pytest.fail("the sample class was not graded: no selected test asked for `graded_lab`", pytrace=False)
        try:
            status = self.grading.wait(timeout=GRADING_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`coursekit grade` of the sample class took over {GRADING_TIMEOUT} s", pytrace=False)
        if status != 0:
            tail = "\n".join(self.grading_log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
            pytest.fail(f"`coursekit grade` of the sample class exited with {status}:\n{tail}", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _jupyter_env(home: Path) -> dict[str, str]:
    """The environment of the server and the grader: this venv first on PATH (nbgrader calls
    `alembic` through it) and Jupyter folders of their own, so no user setting leaks in."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    for name, folder in (
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
    ):
        (home / folder).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / folder)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _write_lab_settings(config_dir: Path) -> None:
    for relative, settings in LAB_USER_SETTINGS.items():
        target = config_dir / "lab" / "user-settings" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings), encoding="utf-8")


def _write_solved_exercise(course: Path) -> Path:
    """A student's finished copy of the exercise: the instructor's code answers, and the
    written answers of the sample class's model student (Validate fails a blank written answer)."""
    from coursekit import notebooks
    from coursekit.grader.answers import fill_answers, solution_answers

    release = notebooks.read(course / "exercises" / EXERCISE / f"{EXERCISE}.ipynb")
    answers = solution_answers(notebooks.read(course / "solutions" / EXERCISE / f"{EXERCISE}.ipynb"))
    model_student = json.loads(
        (course / "tests" / "fixtures" / "answers" / EXERCISE / "ada.json").read_text(encoding="utf-8")
    )
    for cell in release.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution"):
            answers[meta["grade_id"]] = model_student[meta["grade_id"]]
    target = course / SOLVED_EXERCISE
    target.write_text(notebooks.dumps(fill_answers(release, answers)), encoding="utf-8")
    return target


def _answers(lab: Lab) -> bool:
    """Wait until the server answers (True); False if it lost the race for its port."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            if "already in use" in lab.log_tail():
                return False
            pytest.fail(
                f"jupyter lab exited with status {lab.process.returncode} before answering:\n{lab.log_tail()}",
                pytrace=False,
            )
        try:
            lab.api("GET", "/api/status")
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    _stop(lab.process)
    pytest.fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT} s:\n{lab.log_tail()}", pytrace=False)


def _start_lab(*, course: Path, env: dict[str, str], log: Path, **grading) -> Lab:
    """`jupyter lab` on `course`, on a free loopback port with a random token, once it answers."""
    for _ in range(3):  # another process may take the free port before the server binds it
        port, token = _free_port(), secrets.token_urlsafe(24)
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root; jupyter refuses it otherwise
        with log.open("w", encoding="utf-8") as out:
            # cwd = the course: nbgrader's formgrader reads nbgrader_config.py from the working directory.
            process = subprocess.Popen(
                command, cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Lab(course=course, port=port, token=token, log=log, process=process, **grading)
        if _answers(server):
            return server
    pytest.fail(f"jupyter lab found no free port in three tries:\n{server.log_tail()}", pytrace=False)


def _stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """Stop a process this fixture started in a session of its own, and whatever it left running."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    if hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)  # stray children (kernels) of that one process group
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """`jupyter lab` on a throwaway copy of the course, on a free loopback port, with a random token."""
    base = tmp_path_factory.mktemp("lab")
    course = copy_course(base / "course")
    _write_solved_exercise(course)
    env = _jupyter_env(base / "jupyter")
    _write_lab_settings(Path(env["JUPYTER_CONFIG_DIR"]))

    # Formgrader needs the sample class in the gradebook: grade it in the background while
    # the student tests run (they never read the gradebook); `graded_lab` waits for it.
    grading, grading_log = None, base / "grading.log"
    if any("graded_lab" in getattr(item, "fixturenames", ()) for item in request.session.items):
        with grading_log.open("w", encoding="utf-8") as out:
            grading = subprocess.Popen(
                [sys.executable, "-m", "coursekit.cli", "--course", str(course),
                 "grade", str(course / "tests" / "fixtures" / "submissions")],
                cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    try:
        server = _start_lab(course=course, env=env, log=base / "jupyterlab.log",
                            grading=grading, grading_log=grading_log)
    except BaseException:
        if grading is not None:
            _stop(grading)
        raise
    try:
        yield server
    finally:
        try:
            server.shut_down_kernels()
        except (urllib.error.URLError, OSError):
            pass
        _stop(server.process)
        if grading is not None:
            _stop(grading)


@pytest.fixture(scope="session")
def graded_lab(lab: Lab) -> Lab:
    """The same server, once the sample class's submissions are in the gradebook."""
    lab.wait_for_grades()
    return lab


@pytest.fixture(scope="session")
def exercise_copies(lab: Lab) -> dict[str, str]:
    """Paths in the served course: the blank release of EXERCISE, and the solved copy beside it."""
    return {"blank": f"exercises/{EXERCISE}/{EXERCISE}.ipynb", "solved": SOLVED_EXERCISE}


@pytest.fixture(scope="session")
def sample_class_scores(lab: Lab) -> dict[str, dict[str, float]]:
    """assignment -> student -> the autograded score tests/fixtures/answers/*/expected.csv promises."""
    scores: dict[str, dict[str, float]] = {}
    for table in sorted((lab.course / "tests" / "fixtures" / "answers").glob("*/expected.csv")):
        with table.open(encoding="utf-8") as rows:
            scores[table.parent.name] = {
                row["student_id"]: float(row["autograded_score"]) for row in csv.DictReader(rows)
            }
    return scores


# --- the browser ------------------------------------------------------------------------


def _chromium_executable() -> str:
    wanted = os.environ.get("CHROMIUM")
    found = wanted or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        pytest.fail(
            "Chromium not found: the browser tests drive Debian's chromium. Install it "
            "(`apt-get install chromium`; .ci/run does) or set CHROMIUM=/path/to/chromium.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium for the session, with a fresh profile and a 1280x800 window."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None:
        pytest.fail(
            "Playwright for Python is not installed: the browser tests need it. Install the "
            "test extra (`pip install -e '.[test]'`, which asks for playwright>=1.40); no browser "
            "download is needed, the tests use the system's chromium.",
            pytrace=False,
        )
    executable = _chromium_executable()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="UTC",
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class LabPage:
    """One browser tab on the lab, with the few gestures a student or instructor makes."""

    page: object  # playwright.sync_api.Page
    lab: Lab
    workspace: str

    @property
    def notebook(self):
        return self.page.locator(".jp-NotebookPanel").first

    def open(self, path: str = "") -> None:
        """Open JupyterLab (and `path` in it); for a notebook, wait until its kernel is idle."""
        self.page.goto(self.lab.url(workspace=self.workspace, path=path))
        self.page.locator("#jp-main-dock-panel").wait_for()
        self.page.locator(".lm-MenuBar-itemLabel").first.wait_for()
        if path.endswith(".ipynb"):
            self.notebook.locator(".jp-Cell").first.wait_for()
            # The indicator says "idle" before a kernel exists ("No Kernel"); wait for both.
            self.page.wait_for_function(
                """panel => { const name = panel.querySelector('.jp-Toolbar-kernelName');
                              const state = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                              return name && state && state.dataset.status === 'idle'
                                     && name.textContent.trim() !== '' && !/No Kernel/.test(name.textContent); }""",
                arg=self.notebook.element_handle(), timeout=120_000,
            )

    def menu(self, menu: str, command: str) -> None:
        """Click a menu of the menu bar, then one of its items (by JupyterLab command id)."""
        self.page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(rf"^{re.escape(menu)}$")).click()
        self.page.locator(f".lm-Menu li[data-command='{command}']").click()

    def prompts(self) -> list[str]:
        return self.notebook.locator(".jp-CodeCell .jp-InputPrompt").evaluate_all(
            "nodes => nodes.map(node => node.textContent.trim())"
        )

    def run_all_cells(self, *, timeout: float = 180_000) -> None:
        """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle."""
        self.menu("Run", "runmenu:run-all")
        panel = self.notebook.element_handle()
        self.page.wait_for_function(  # started: a cell is queued, or all already ran
            """panel => { const p = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                             .map(n => n.textContent.trim());
                          return p.includes('[*]:') || /\\d/.test(p[p.length - 1] || ''); }""",
            arg=panel, timeout=timeout,
        )
        self.page.wait_for_function(  # finished (an error stops Run All and clears the queue)
            """panel => { const p = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                             .map(n => n.textContent.trim());
                          const state = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                          return !p.includes('[*]:') && state && state.dataset.status === 'idle'; }""",
            arg=panel, timeout=timeout,
        )

    def save(self) -> None:
        """File > Save Notebook, and wait until the tab no longer shows unsaved changes."""
        self.menu("File", "docmanager:save")
        self.page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)").wait_for()

    def problems_in_saved(self, path: str) -> list[str]:
        """Code cells of the saved notebook that did not run, or that show an error output."""
        found = []
        for index, cell in enumerate(self.lab.saved_notebook(path)["cells"]):
            if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
                continue
            first_line = "".join(cell["source"]).strip().splitlines()[0][:70]
            if cell.get("execution_count") is None:
                found.append(f"cell {index} never ran: {first_line!r}")
            for output in cell.get("outputs", []):
                if output["output_type"] == "error":
                    found.append(f"cell {index} shows {output['ename']}: {output['evalue']} ({first_line!r})")
        return found

    def validate(self):
        """Click Validate in the notebook toolbar; return nbgrader's 'Validation Results' dialog."""
        self.notebook.locator(".jp-Toolbar .validate-button").click()
        dialog = self.page.locator(".jp-Dialog").filter(has_text="Validation Results")
        dialog.wait_for(timeout=180_000)
        return dialog

    def scroll_into_view(self, locator, *, block: str = "start") -> None:
        """Scroll `locator` into view, again until it stays put: off-screen cells are drawn
        lazily (content-visibility), so their real heights move it while it scrolls."""
        where = None
        for _ in range(10):
            locator.evaluate("(node, block) => node.scrollIntoView({block, inline: 'nearest'})", block)
            self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            box = locator.bounding_box()
            if box == where:
                return
            where = box

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.mouse.move(VIEWPORT["width"] - 5, VIEWPORT["height"] // 2)  # no hover tooltip in the picture
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def lab_page(chromium, lab: Lab, request: pytest.FixtureRequest) -> Iterator[LabPage]:
    """A new tab in a JupyterLab workspace of this test's own; its kernels are shut down after it."""
    page = chromium.new_page()
    page.set_default_timeout(60_000)
    workspace = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-").lower()[:80]
    try:
        yield LabPage(page=page, lab=lab, workspace=workspace)
    finally:
        report = getattr(request.node, "browser_report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"FAILED-{workspace}.png"))
        page.close()
        lab.shut_down_kernels()

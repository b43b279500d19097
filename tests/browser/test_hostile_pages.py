"""No script from a student runs for anyone: a hostile class is graded through the real
pipeline (`coursekit grade`), then Chromium opens every feedback page (over http) and every
formgrader view of the submissions (on a running JupyterLab, with the instructor's
session). Each payload would set document.title, call a listener on the loopback and write
a marker file into the course through Jupyter's contents API: none may happen, and the
solutions and the gradebook must be unchanged. The control: the same hostile notebook
rendered by stock nbgrader (no sanitizer, no policy) does run its payload in the same
browser, against the same listener. The honest student's feedback keeps its chart and scores.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import adversarial_cases, adversarial_class
from conftest import ROOT, copy_course
from htmlcheck import payloads

from browser.conftest import Lab, _jupyter_env, _start_lab, _stop
from coursekit.grader.course import Course

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

FIXTURES = ROOT / "tests" / "fixtures"
HONEST = "ada"
HONEST_ASSIGNMENTS = ["01-reading-the-source", "03-charting-troop-numbers"]
GRADING_TIMEOUT = 600  # s


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(handler) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class HostileClass:
    lab: Lab
    listener: http.server.ThreadingHTTPServer
    pages: http.server.ThreadingHTTPServer  # serves build/feedback
    students: list[str]

    @property
    def listener_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.server_address[1]}"

    def feedback_url(self, student: str, assignment: str) -> str:
        page = next((self.lab.course / "build" / "feedback" / student / assignment).glob("*.html"))
        return f"http://127.0.0.1:{self.pages.server_address[1]}/{student}/{assignment}/{page.name}"

    def submission_ids(self) -> dict[tuple[str, str], str]:
        with sqlite3.connect(self.lab.course / "build" / "gradebook.db") as db:
            rows = db.execute(
                "SELECT s.student_id, a.name, n.id FROM submitted_notebook n"
                " JOIN submitted_assignment s ON n.assignment_id = s.id JOIN assignment a ON s.assignment_id = a.id"
            ).fetchall()
        return {(student, assignment): notebook for student, assignment, notebook in rows}


def _fingerprint(course: Path) -> dict[str, str]:
    """A hash of every file under solutions/, the gradebook and the course's config."""
    files = [p for p in sorted((course / "solutions").rglob("*")) if p.is_file()]
    files += [course / "build" / "gradebook.db", course / "nbgrader_config.py"]
    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileClass]:
    base = tmp_path_factory.mktemp("hostile")
    course = copy_course(base / "course")
    listener = _serve(_Recorder)
    url = f"http://127.0.0.1:{listener.server_address[1]}"
    cases = [c for c in adversarial_cases(FIXTURES) if c["student"].startswith("adv-script-")]
    assert len(cases) >= 4
    folder = base / "class"
    for relative, data in adversarial_class(course=Course.at(course), fixtures=FIXTURES).items():
        if relative.parts[0] in {c["student"] for c in cases}:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data.replace(b"__LISTENER__", url.encode()))
    for assignment in HONEST_ASSIGNMENTS:
        shutil.copytree(FIXTURES / "submissions" / HONEST / assignment, folder / HONEST / assignment)

    env = _jupyter_env(base / "jupyter")
    log = base / "grading.log"
    with log.open("w", encoding="utf-8") as out:
        status = subprocess.run(
            [sys.executable, "-m", "coursekit.cli", "--course", str(course), "grade", str(folder)],
            cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            timeout=GRADING_TIMEOUT, check=False,
        ).returncode
    if status != 0:
        pytest.fail(f"`coursekit grade` of the hostile class exited with {status}:\n{log.read_text()[-3000:]}",
                    pytrace=False)
    scores = {(r["student"], r["assignment"]): r["score"]
              for r in _csv_rows(course / "build" / "reasons.csv")}
    for case in cases:
        assert float(scores[(case["student"], case["assignment"])]) == case["expected_score"], case["student"]

    pages = _serve(functools.partial(_Quiet, directory=str(course / "build" / "feedback")))
    server = _start_lab(course=course, env=env, log=base / "jupyterlab.log", grading=None, grading_log=log)
    try:
        yield HostileClass(lab=server, listener=listener, pages=pages, students=[c["student"] for c in cases])
    finally:
        _stop(server.process)
        pages.shutdown()
        listener.shutdown()


def _csv_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def _log_in(chromium, lab: Lab) -> None:
    """Log in as the instructor (Jupyter's login form): formgrader's pages and the contents
    API then have the instructor's session cookie, as when formgrader is opened in JupyterLab."""
    # Cookies are kept per host, not per port: another test's JupyterLab on 127.0.0.1 leaves its
    # own session cookie here too. Jupyter names it after host and port: look for this server's.
    mine = "username-" + re.sub(r"[^A-Za-z0-9]", "-", urllib.parse.urlsplit(lab.base_url).netloc)
    if any(c["name"] == mine for c in chromium.cookies(lab.base_url)):
        return  # already logged in
    page = chromium.new_page()
    page.goto(f"{lab.base_url}/login")
    page.fill("input[name=password]", lab.token)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert any(c["name"] == mine for c in chromium.cookies(lab.base_url)), "login failed"
    page.close()


def _open(chromium, url: str):
    """A new tab on `url`, loaded and given a moment for anything that would run late."""
    page = chromium.new_page()
    page.set_default_timeout(60_000)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1500)
    return page, messages


def test_hostile_feedback_and_formgrader_pages_run_no_payload(hostile, chromium):
    """Does any payload run when each hostile feedback page and each formgrader view is
    opened, with the instructor's session for the latter? Are the solutions and gradebook as they were?"""
    course = hostile.lab.course
    before = _fingerprint(course)
    ran = []
    for student in hostile.students:
        html = next((course / "build" / "feedback" / student / "01-reading-the-source").glob("*.html")).read_text()
        assert payloads(html) == [], f"{student}: feedback page carries {payloads(html)}"
        page, _ = _open(chromium, hostile.feedback_url(student, "01-reading-the-source"))
        if page.title() == "pwned":
            ran.append(f"{student}: feedback page")
        page.close()

    ids = hostile.submission_ids()
    _log_in(chromium, hostile.lab)
    for student in hostile.students:
        url = f"{hostile.lab.base_url}/formgrader/submissions/{ids[(student, '01-reading-the-source')]}/"
        page, _ = _open(chromium, url)
        assert page.locator(".cell").count() > 5, f"{student}: formgrader did not show the submission"
        if page.title() == "pwned":
            ran.append(f"{student}: formgrader view")
        page.close()

    assert ran == [], f"payloads ran: {ran}"
    assert hostile.listener.hits == [], f"the listener was called: {hostile.listener.hits}"
    assert not (course / "pwned.txt").exists(), "a payload wrote into the course through the contents API"
    assert _fingerprint(course) == before, "the solutions or the gradebook changed"


def test_the_honest_students_feedback_keeps_its_chart_and_scores_and_formgrader_works(hostile, chromium):
    """The policy blocks no honest need: the chart (a PNG data: URI) draws, the scores show,
    and formgrader's own scripts still fill in the scores of a submission."""
    page, _ = _open(chromium, hostile.feedback_url(HONEST, "03-charting-troop-numbers"))
    drawn = page.locator("img[src^='data:image/png']").evaluate_all(
        "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
    assert drawn >= 1, "the chart is not drawn in the honest feedback"
    assert page.locator("h4", has_text="Score: 12").count() >= 1, page.locator("h4").all_inner_texts()
    page.close()

    notebook_id = hostile.submission_ids()[(HONEST, "01-reading-the-source")]
    _log_in(chromium, hostile.lab)
    url = f"{hostile.lab.base_url}/formgrader/submissions/{notebook_id}/"
    page, messages = _open(chromium, url)
    # formgrade.js asks the formgrader API for the grades and shows each auto score as the
    # placeholder of its score box: nbgrader's scripts and API calls work under the policy
    page.wait_for_function(
        "() => [...document.querySelectorAll('input.score')].filter(i => i.placeholder !== '').length >= 3",
        timeout=90_000)  # a wait, not a time limit: formgrader is slow to answer on a loaded machine
    refused = [m for m in messages if "Content Security Policy" in m and "mathjax" not in m.lower()
               and "x-mathjax-config" not in m]
    assert refused == [], f"the policy blocked formgrader's own scripts: {refused}"
    page.close()


def test_control_the_stock_page_runs_the_payload(hostile, chromium):
    """The same hostile notebook rendered by stock nbgrader (its feedback template, no
    sanitizer, no policy) runs its payload in this browser: opened over http it changes the
    title and calls the listener, so the test above can fail. Served from the Jupyter
    server's own origin with the instructor's session (formgrader serves any file of a
    submission's autograded folder, with no policy), it also writes the marker file through
    the contents API: the marker check above can fail too. (The server's /files/ handler
    would not do as the origin: it serves HTML sandboxed.)"""
    import nbformat
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    from coursekit.grader import sanitize

    student = "adv-script-html-output"
    course = hostile.lab.course
    notebook = nbformat.read(
        next((course / "build" / "autograded" / student / "01-reading-the-source").glob("*.ipynb")), as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)  # plain cells: the page needs no gradebook
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(sanitize.NBGRADER_TEMPLATES)]
    config.HTMLExporter.extra_template_paths = [str(sanitize.BOOTSTRAP_CSS)]
    html, _ = HTMLExporter(config=config).from_notebook_node(
        notebook, resources={"nbgrader": {"notebook": "n", "score": 12, "max_score": 12, "late_penalty": 0}})
    assert payloads(html)
    target = course / "build" / "feedback" / "control" / "01-reading-the-source" / "control.html"
    target.parent.mkdir(parents=True)
    target.write_text(html, encoding="utf-8")

    page, _ = _open(chromium, hostile.feedback_url("control", "01-reading-the-source"))
    assert page.title() == "pwned"
    page.close()
    assert any(hit.startswith("/ran") for hit in hostile.listener.hits), hostile.listener.hits

    hostile.listener.hits.clear()

    # The same stock page from the server's origin, with the instructor's session: the payload
    # reaches the contents API and writes the marker into the course.
    autograded = course / "build" / "autograded" / student / "01-reading-the-source"
    (autograded / "control.html").write_text(html, encoding="utf-8")
    notebook_id = hostile.submission_ids()[(student, "01-reading-the-source")]
    _log_in(chromium, hostile.lab)
    page, _ = _open(chromium, f"{hostile.lab.base_url}/formgrader/submissions/{notebook_id}/control.html")
    try:
        page.wait_for_function("() => document.title === 'pwned'", timeout=90_000)  # a wait (loaded machines)
        for _ in range(50):
            if (course / "pwned.txt").exists():
                break
            page.wait_for_timeout(200)
        assert (course / "pwned.txt").exists(), "the stock page did not write the marker: the check has no control"
    finally:
        page.close()
        (course / "pwned.txt").unlink(missing_ok=True)
        (autograded / "control.html").unlink(missing_ok=True)

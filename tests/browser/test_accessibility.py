"""Accessibility, checked by axe-core (axe-playwright-python injects it) in Debian's Chromium:
the course website's pages, a lesson run in JupyterLab, and a student's feedback page.

The rule: no serious or critical violation of the WCAG 2.1 A and AA rules and axe's best
practices, and headings in order (axe's `heading-order`, a moderate rule, is held to zero
too). Everything axe finds, of any impact, is written to build/accessibility/ for a person
to read. In JupyterLab only the notebook (the course's content) is held to the rule:
JupyterLab's own interface is not the course's to fix, and what axe finds there is written
down in build/accessibility/jupyterlab-ui.json, not asserted. What axe found there (JupyterLab
4, on lesson 3): code editors with no accessible name (`aria-input-field-name`, serious) that
scroll without keyboard focus (`scrollable-region-focusable`, serious), the notebook's
windowed list missing the children its role requires (`aria-required-children`, critical),
the collapse-heading buttons with no name (`button-name`, critical), toolbar buttons with an
ARIA attribute their role does not allow (`aria-allowed-attr`, critical). So in JupyterLab
the check covers what the course wrote: the rendered text cells and every output.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import threading
from collections.abc import Iterator

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

REPORTS = ROOT / "build" / "accessibility"
SCREENSHOTS = ROOT / "build" / "screenshots"  # as tests/browser/conftest.py's
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}
BLOCKING = {"serious", "critical"}
ALWAYS_BLOCKING = {"heading-order", "image-alt", "html-has-lang", "html-lang-valid"}
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))
SITE_PAGES = ["index.html", "launch.html", "student-edition.html", "data.html",
              *(f"lessons/{p.stem}.html" for p in LESSONS)]


def _axe():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail("axe-playwright-python is not installed: install the test extra (pip install -e '.[test]')",
                    pytrace=False)
    return Axe()


def check(page, name: str, *, context: str | dict | None = None) -> list[dict]:
    """Run axe on the page (or only inside `context`); write every violation found to
    build/accessibility/<name>.json; return the ones that block."""
    results = _axe().run(page, context=context, options=AXE_OPTIONS).response
    found = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"]),
         "first": v["nodes"][0]["target"] if v["nodes"] else None}
        for v in results["violations"]
    ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps({"url": page.url, "context": context, "violations": found},
                                                     indent=1), encoding="utf-8")
    return [v for v in found if v["impact"] in BLOCKING or v["id"] in ALWAYS_BLOCKING]


# --- the website -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site_url(tmp_path_factory) -> Iterator[str]:
    """The website, built afresh (every lesson runs), served on a free loopback port."""
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    base = tmp_path_factory.mktemp("a11y-site")
    site = builder.build(out=base / "site", work=base / "work", student_repo=builder.STUDENT_REPO, branch="main",
                         binderhub=builder.BINDERHUB, jupyterhub=builder.JUPYTERHUB)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_website_has_no_serious_accessibility_violation(chromium, site_url):
    """Every page of the site: its lessons (with their charts), the launch page, the student pages."""
    page = chromium.new_page()
    elsewhere = []  # the site loads nothing from another host (docs/website.md)
    page.on("request", lambda request: None if request.url.startswith((site_url, "data:"))
            else elsewhere.append(request.url))
    try:
        blocking, checked = {}, 0
        for name in SITE_PAGES:
            page.goto(f"{site_url}/{name}", wait_until="load")
            assert page.locator("html").get_attribute("lang") == "en", name
            found = check(page, "site-" + name.replace("/", "-").removesuffix(".html"))
            checked += 1
            if found:
                blocking[name] = found
        charts = page.locator("main img")  # the last page: lesson 4, its chart
        assert charts.count() >= 1 and all(a.strip() for a in charts.evaluate_all("n => n.map(i => i.alt)"))
        # The README's picture of the site: lesson 3, at its honest chart (section 6).
        page.goto(f"{site_url}/lessons/03-charting-troop-numbers.html", wait_until="load")
        page.locator("main img[src*='_images/']").nth(3).evaluate("node => node.scrollIntoView({block: 'center'})")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "site-lesson-03.png"))
    finally:
        page.close()
    assert checked == len(SITE_PAGES)
    assert elsewhere == []
    assert blocking == {}, json.dumps(blocking, indent=1)


# --- JupyterLab and the feedback page -------------------------------------------------------


def test_a_lesson_run_in_jupyterlab_has_no_serious_violation_in_its_content(lab_page):
    """Lesson 3 after Run All: its text, code, outputs and charts (the notebook), not JupyterLab's UI."""
    lesson = "lessons/03-charting-troop-numbers.ipynb"
    lab_page.open(lesson)
    lab_page.run_all_cells()
    notebook = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
    # the course's own content in the notebook: its rendered text cells and the outputs of its code
    content = {"include": [[f"{notebook} .jp-MarkdownOutput"], [f"{notebook} .jp-OutputArea-output"]]}
    images = lab_page.page.locator(f"{notebook} .jp-OutputArea-output img")
    images.first.wait_for()
    alts = images.evaluate_all("nodes => nodes.map(n => n.getAttribute('alt') || '')")
    assert len(alts) == 5 and all(a.strip() for a in alts), alts  # lesson 3 draws five charts
    whole = check(lab_page.page, "jupyterlab-ui")  # JupyterLab's own interface: recorded, not asserted
    print(f"JupyterLab's interface (recorded only): {json.dumps(whole)}")
    assert check(lab_page.page, "jupyterlab-lesson-03", context=content) == []


def test_a_feedback_page_has_no_serious_violation(chromium, graded_lab):
    """A student's feedback for module 3 (the page with the student's chart)."""
    feedback = sorted((graded_lab.course / "build" / "feedback" / "ada" / "03-charting-troop-numbers").glob("*.html"))
    assert feedback, "no feedback page for ada, module 3"
    page = chromium.new_page()
    try:
        page.goto(feedback[0].as_uri(), wait_until="load")
        assert page.locator("img").count() >= 1
        assert check(page, "feedback-ada-03") == []
    finally:
        page.close()

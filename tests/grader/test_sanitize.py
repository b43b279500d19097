"""No script from a student runs for anyone: are the feedback page and formgrader's view of a
hostile notebook free of every payload, with a Content-Security-Policy, while an honest
notebook keeps its text, tables, images and scores? Each hostile notebook is also rendered
the stock way (nbgrader's templates without coursekit.grader.sanitize): the control, where
the payload is there to run."""

from __future__ import annotations

import base64
import hashlib
import re

import nbformat
import pytest
from conftest import ROOT
from htmlcheck import payloads
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from coursekit.grader import sanitize
from coursekit.grader.config import load_config
from coursekit.grader.course import Course

PAYLOAD = "document.title='pwned'"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _html(html: str, **more) -> nbformat.NotebookNode:
    return new_output("display_data", data={"text/html": html, "text/plain": "<HTML>", **more})


# name -> a notebook with one attack in it
HOSTILE = {
    "script in a text/html output": [new_code_cell("x", outputs=[_html(f"<script>{PAYLOAD}</script>")])],
    "img onerror in a text/html output": [new_code_cell("x", outputs=[_html(f'<img src="x" onerror="{PAYLOAD}">')])],
    "img onerror in a markdown cell": [new_markdown_cell(f'My answer. <img src="x" onerror="{PAYLOAD}">')],
    "script in a markdown cell": [new_markdown_cell(f"My answer.\n\n<script>{PAYLOAD}</script>\n")],
    "javascript: link in a markdown cell": [new_markdown_cell(f"[the source](javascript:{PAYLOAD})")],
    "javascript: link in a text/html output": [
        new_code_cell("x", outputs=[_html(f'<a href="javascript:{PAYLOAD}">x</a>')])],
    "svg onload in a text/html output": [new_code_cell("x", outputs=[_html(f'<svg onload="{PAYLOAD}"></svg>')])],
    "application/javascript output": [new_code_cell("x", outputs=[
        new_output("display_data", data={"application/javascript": PAYLOAD, "text/plain": "<Javascript>"})])],
    "iframe in a text/html output": [new_code_cell("x", outputs=[
        _html(f"<iframe srcdoc='<script>{PAYLOAD}</script>'></iframe>")])],
    "object and embed in a text/html output": [new_code_cell("x", outputs=[
        _html(f'<object data="javascript:{PAYLOAD}"></object><embed src="javascript:{PAYLOAD}">')])],
    "style loading a URL in a text/html output": [new_code_cell("x", outputs=[
        _html("<style>body { background: url(http://127.0.0.1:9/pwned) }</style>")])],
    "text/markdown output with html": [new_code_cell("x", outputs=[
        new_output("display_data", data={"text/markdown": f'<img src=x onerror="{PAYLOAD}">', "text/plain": "md"})])],
    "image metadata breaking out of the img tag": [new_code_cell("x", outputs=[new_output(
        "display_data", data={"image/png": PNG}, metadata={"image/png": {"width": f'1 onerror="{PAYLOAD}"'}})])],
}


def _course_config() -> Config:
    return load_config(Course.at(ROOT))


def _stock_config() -> Config:
    """nbgrader's own settings, as FormgradeExtension and GenerateFeedback make them."""
    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [str(sanitize.NBGRADER_TEMPLATES)]
    return config


def _formgrade_config(course: Config) -> Config:
    """FormgradeExtension's order: its own template first, then nbgrader_config.py over it."""
    config = _stock_config()
    config.merge(course)
    return config


def render(cells, *, page: str, config: Config) -> str:
    nb = new_notebook(cells=cells)
    nb.metadata["language_info"] = {"name": "python"}
    if page == "feedback":
        feedback_config = Config(config)
        if feedback_config.HTMLExporter.get("template_name") == "formgrade":
            del feedback_config.HTMLExporter["template_name"]  # the stock set-up: GenerateFeedback picks 'feedback'
            del feedback_config.HTMLExporter["extra_template_basedirs"]
        converter = GenerateFeedback(coursedir=CourseDirectory(config=feedback_config), config=feedback_config)
        exporter = HTMLExporter(parent=converter, config=converter.config)
        resources = {"nbgrader": {"notebook": "nb", "score": 1, "max_score": 2, "late_penalty": 0}}
    else:
        exporter = HTMLExporter(config=config)  # as FormgradeExtension makes it
        resources = {"assignment_id": "a", "notebook_id": "nb", "submission_id": "s1", "index": 0, "total": 1,
                     "base_url": "", "student": "st", "last_name": None, "first_name": None, "notebook_path": "p"}
    return exporter.from_notebook_node(nb, resources=resources)[0]


@pytest.mark.parametrize("page", ["feedback", "formgrade"])
@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_no_payload_reaches_the_page_and_the_stock_page_carries_it(attack, page):
    """Is every attack gone from the page the course renders, while the same notebook
    rendered the stock way carries it (so the check can fail)?"""
    stock = render(HOSTILE[attack], page=page, config=_stock_config())
    assert payloads(stock), f"control: the stock {page} page of {attack!r} shows no payload; the test cannot fail"
    ours = render(HOSTILE[attack], page=page, config=_formgrade_config(_course_config()))
    assert payloads(ours) == [], f"{attack}: the course's {page} page still has {payloads(ours)}"


def _policy(html: str) -> str:
    found = re.findall(r'<meta content="([^"]*)" http-equiv="Content-Security-Policy"\s*/?>', html)
    assert len(found) == 1, "no Content-Security-Policy meta tag (or more than one)"
    return found[0]


def test_the_feedback_page_forbids_every_script_first_thing_in_its_head():
    html = render([new_markdown_cell("hello")], page="feedback", config=_formgrade_config(_course_config()))
    head = html[html.index("<head>"):]
    assert head.split("\n")[1].startswith('<meta content="default-src \'none\'; script-src \'none\';')
    policy = _policy(html)
    assert "script-src 'none'" in policy and "img-src data:" in policy and "connect-src 'none'" in policy
    stock = render([new_markdown_cell("hello")], page="feedback", config=_stock_config())
    assert "Content-Security-Policy" not in stock  # control


def test_the_formgrade_page_allows_only_nbgraders_own_scripts():
    """After the policy, every inline script and handler of the page is nbgrader's, and
    allowed by its hash; the student's notebook comes after the policy."""
    html = render([new_markdown_cell("STUDENT-TEXT")], page="formgrade", config=_formgrade_config(_course_config()))
    policy = _policy(html)
    after = html[html.index("Content-Security-Policy"):]
    assert "STUDENT-TEXT" in after and "STUDENT-TEXT" not in html[: html.index("Content-Security-Policy")]
    inline = re.findall(r"<script(?: type=\"text/javascript\")?>(.*?)</script>", after, flags=re.S)
    handlers = re.findall(r'\bon[a-z]+="([^"]*)"', after)
    assert inline and handlers
    for code in inline + handlers:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        if "MathJax" in code:
            continue  # MathJax's configuration: blocked on purpose (see docs/security.md)
        assert f"'sha256-{digest}'" in policy, f"nbgrader's inline script is not allowed: {code[:80]!r}"
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "'unsafe-eval'" not in policy


def test_an_honest_notebook_keeps_its_text_tables_images_and_errors():
    table = ('<table border="1" class="dataframe"><thead><tr style="text-align: right;"><th></th><th>troops</th>'
             "</tr></thead><tbody><tr><th>1999</th><td>50000</td></tr></tbody></table>")
    cells = [
        new_markdown_cell("## Heading\n\nSome *emphasis*, `x < 3`, a [link](https://www.nato.int/) and $x^2$."),
        new_code_cell("df", outputs=[new_output("execute_result", data={"text/html": table, "text/plain": "df"},
                                                execution_count=1)]),
        new_code_cell("plot()", outputs=[
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
        new_code_cell("1/0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                 traceback=["ZeroDivisionError: <b>division</b> by zero"])]),
        new_code_cell("print('hi')", outputs=[new_output("stream", name="stdout", text="hi <there>\n")]),
    ]
    html = render(cells, page="feedback", config=_formgrade_config(_course_config()))
    assert "<h2" in html and "<em>emphasis</em>" in html and "<code>x &lt; 3</code>" in html
    assert 'href="https://www.nato.int/"' in html and "$x^2$" in html
    assert table.replace("text-align: right;", "text-align:right") in html.replace("\n", "")
    assert f'src="data:image/png;base64,{PNG}"' in html
    assert "ZeroDivisionError: &lt;b&gt;division&lt;/b&gt; by zero" in html
    assert "hi &lt;there&gt;" in html


def test_inline_images_as_data_uris_are_kept_but_data_links_are_not():
    assert sanitize.clean(f'<img src="data:image/png;base64,{PNG}">') == f'<img src="data:image/png;base64,{PNG}">'
    assert "data:" not in sanitize.clean('<a href="data:text/html,<script>x</script>">x</a>')
    assert "data:" not in sanitize.clean('<img src="data:image/svg+xml;base64,PHN2Zz4=">')


def test_only_plain_text_images_latex_and_cleaned_html_leave_the_preprocessor():
    """Widget views, JavaScript, SVG, JSON and unknown types are dropped from every output
    (nbgrader's templates render some of them only in some versions: none get through)."""
    output = new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2, "version_minor": 0},
        "application/javascript": PAYLOAD, "image/svg+xml": "<svg/>", "application/json": {"a": 1},
        "text/x-unknown": "?", "text/plain": "kept", "image/png": PNG, "text/latex": "$x$",
    }, metadata={"isolated": True})
    cell, _ = sanitize.SanitizeStudentHTML().preprocess_cell(new_code_cell("x", outputs=[output]), {}, 0)
    assert sorted(cell.outputs[0]["data"]) == ["image/png", "text/latex", "text/plain"]
    assert cell.outputs[0]["metadata"] == {}


def test_an_images_alt_text_is_kept_as_text_and_nothing_else_of_its_metadata():
    """The chart a test shows keeps its description (feedback's <img alt>), escaped in the
    attribute; width, height and other metadata the template copies are dropped."""
    hostile = f'a chart" onerror="{PAYLOAD}'
    output = new_output("display_data", data={"image/png": PNG}, metadata={
        "image/png": {"alt": hostile, "width": f'1 onerror="{PAYLOAD}"'}, "isolated": True})
    cell, _ = sanitize.SanitizeStudentHTML().preprocess_cell(new_code_cell("x", outputs=[output]), {}, 0)
    assert cell.outputs[0]["metadata"] == {"image/png": {"alt": hostile}}
    nb = new_notebook(cells=[cell])
    nb.metadata["language_info"] = {"name": "python"}
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    assert 'alt="a chart&#34; onerror=&#34;' in html or 'alt="a chart&quot; onerror=&quot;' in html, html[-3000:]
    assert payloads(html) == []


def test_the_feedback_page_declares_its_language():
    """nbgrader's own page opens with a bare <html>; the course's declares English (WCAG 3.1.1)."""
    ours = render([new_markdown_cell("hello")], page="feedback", config=_formgrade_config(_course_config()))
    assert re.search(r"<html lang=\"en\">", ours)
    stock = render([new_markdown_cell("hello")], page="feedback", config=_stock_config())
    assert "<html>" in stock and 'lang="' not in stock.split("<head>")[0]  # control

"""Does a student who opens a lesson in JupyterLab and runs it see it work?"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

LESSON_1 = "lessons/01-reading-the-source.ipynb"
LESSON_3 = "lessons/03-charting-troop-numbers.ipynb"
# a chart: a PNG drawn at a real size, not a broken-image icon
RENDERED_CHARTS = """panel => [...panel.querySelectorAll('.jp-OutputArea-output img')]
    .filter(img => img.complete && img.naturalWidth > 200 && img.naturalHeight > 100).length"""


def test_lesson_1_runs_to_the_end_without_an_error(lab_page):
    """Does every cell of lesson 1 finish without an error output after Run > Run All Cells?"""
    lab_page.open(LESSON_1)
    lab_page.run_all_cells()

    prompts = lab_page.prompts()
    assert prompts, "no code cell on the page"
    assert all(prompt[1:-2].isdigit() for prompt in prompts if prompt != "[ ]:"), prompts
    lab_page.save()
    assert lab_page.problems_in_saved(LESSON_1) == []

    # the picture: a cell with its output, halfway through the lesson
    with_output = lab_page.notebook.locator(".jp-CodeCell").filter(has=lab_page.page.locator(".jp-OutputArea-output"))
    assert with_output.count() > 0, "no code cell of lesson 1 shows an output"
    lab_page.scroll_into_view(with_output.nth(with_output.count() // 2))
    lab_page.screenshot("lesson-01-run-all")


def test_lesson_3_draws_the_troop_chart(lab_page):
    """Does the module 3 lesson, run in the browser, show its troop-number charts as images?"""
    lab_page.open(LESSON_3)
    lab_page.run_all_cells()
    lab_page.save()
    assert lab_page.problems_in_saved(LESSON_3) == []

    panel = lab_page.notebook.element_handle()
    lab_page.page.wait_for_function(f"panel => ({RENDERED_CHARTS})(panel) > 0", arg=panel)
    charts = lab_page.notebook.locator(".jp-OutputArea-output img")
    assert lab_page.page.evaluate(RENDERED_CHARTS, panel) == charts.count(), "an image output did not render"

    # the picture: the lesson's last chart, whole, under the code that drew it
    lab_page.scroll_into_view(charts.last, block="center")
    lab_page.screenshot("lesson-03-chart")

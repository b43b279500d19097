"""Does nbgrader's Validate button tell a student the truth about an exercise notebook?"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def graded_cells(lab, path: str) -> list[dict]:
    """The cells nbgrader scores: autograded test cells and written answers."""
    cells = lab.saved_notebook(path)["cells"]
    return [cell for cell in cells if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]


def test_validate_passes_a_solved_exercise(lab_page, exercise_copies):
    """Does a student whose every answer is right see Validate report success?"""
    lab_page.open(exercise_copies["solved"])
    dialog = lab_page.validate()

    assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()
    lab_page.screenshot("validate-solved")
    dialog.get_by_role("button", name="Ok").click()


def test_validate_lists_every_failure_of_a_blank_exercise(lab_page, exercise_copies):
    """Does a student who validates the blank notebook see each unanswered question listed as failed?"""
    lab_page.open(exercise_copies["blank"])
    dialog = lab_page.validate()

    assert dialog.locator(".validation-failed").count() == 1, dialog.inner_text()
    text = dialog.inner_text()
    expected = graded_cells(lab_page.lab, exercise_copies["blank"])
    assert text.count("The following cell failed:") == len(expected), text[:3000]
    tests = [cell for cell in expected if cell["cell_type"] == "code"]
    assert text.count("NotImplementedError") >= len(tests), "each test cell should show the blank answer's error"
    # the picture: the first failure's error, then the next failure of the dialog's list
    first_error = dialog.locator(".jp-RenderedText pre", has_text="NotImplementedError").first
    lab_page.scroll_into_view(first_error, block="start")
    lab_page.screenshot("validate-blank")
    dialog.get_by_role("button", name="Ok").click()

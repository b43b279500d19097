"""Does an instructor find the assignments and the class's grades in nbgrader's formgrader?"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def submission_counts(frame) -> dict[str, str]:
    """Manage Assignments: assignment name -> the '# Submissions' it shows."""
    return dict(frame.locator("tbody tr").evaluate_all(
        """rows => rows.filter(row => row.querySelector('.name'))
                       .map(row => [row.querySelector('.name').textContent.trim(),
                                    row.querySelector('.num-submissions').textContent.trim()])"""
    ))


def submission_scores(frame) -> dict[str, str]:
    """Manage Submissions: student id -> the score it shows ('12 / 22')."""
    return dict(frame.locator("tbody tr").evaluate_all(
        """rows => rows.filter(row => row.querySelector('.student-id'))
                       .map(row => [row.querySelector('.student-id').textContent.trim(),
                                    row.querySelector('.score').textContent.trim()])"""
    ))


def test_formgrader_shows_the_assignments_and_the_sample_class_scores(graded_lab, lab_page, sample_class_scores):
    """Opening Nbgrader > Formgrader, does an instructor see every assignment with the sample
    class's submissions, and each student's autograded score as the gradebook holds it?"""
    course = graded_lab.course
    assignments = sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir())
    students = sorted(p.name for p in (course / "tests" / "fixtures" / "submissions").iterdir() if p.is_dir())
    assert sorted(sample_class_scores) == assignments

    lab_page.open()
    lab_page.menu("Nbgrader", "nbgrader:open-formgrader")
    # fold the file browser away, as an instructor grading would: formgrader gets the width
    lab_page.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    frame = lab_page.page.frame_locator("#jp-main-dock-panel iframe")

    frame.locator(".num-submissions a").first.wait_for()
    frame.locator("td", has_text="Loading, please wait").wait_for(state="detached")
    assert submission_counts(frame) == {name: str(len(students)) for name in assignments}
    lab_page.scroll_into_view(frame.locator("table").last, block="end")
    lab_page.screenshot("formgrader-assignments")

    for index, assignment in enumerate(assignments):
        frame.locator("tr", has=frame.locator(".name", has_text=assignment)).locator(".num-submissions a").click()
        frame.locator("h1", has_text="Manage Submissions").wait_for()
        frame.locator(".student-id", has_text=students[-1]).wait_for()
        shown = submission_scores(frame)
        assert sorted(shown) == students, f"{assignment}: formgrader lists {sorted(shown)}"
        for student, expected in sample_class_scores[assignment].items():
            score, _, out_of = shown[student].partition(" / ")
            assert float(score) == expected, (
                f"{assignment}, {student}: formgrader shows {shown[student]}, the sample class expects {expected:g}"
            )
            assert float(out_of) > 0, shown[student]
        if index == 0:
            lab_page.screenshot("formgrader-submissions")
        frame.locator(".breadcrumb a", has_text="Assignments").click()
        frame.locator(".num-submissions a").first.wait_for()

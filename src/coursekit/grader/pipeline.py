"""The grading pipeline: the one path from a folder of hand-ins to grades.

    collect -> release -> due dates, extensions, times -> autograde (workers) -> late penalties -> export -> reasons

`grade_class` runs it in any workspace; `coursekit grade` calls it on build/, `demo` on build/demo/,
the release gate (coursekit.grader.gate) and the benchmark on throwaway workspaces.
The course's configuration is loaded here, once, and handed down.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config

from coursekit.grader import autograde, gradebook, late
from coursekit.grader.build import generate_release
from coursekit.grader.collect import LAYOUTS, LMS_FILE_PATTERN, Collected, Rejected, collect
from coursekit.grader.commands import run_nbgrader
from coursekit.grader.config import load_config
from coursekit.grader.course import Course, Workspace, instructor_workspace
from coursekit.grader.errors import CourseError
from coursekit.grader.gradebook import AssignmentScore
from coursekit.grader.isolation import sandbox
from coursekit.grader.limits import Sandbox
from coursekit.grader.reasons import Reason, submission_reasons, write_reasons, write_rejections
from coursekit.grader.worker import Outcome

log = logging.getLogger(__name__)

SANDBOX_OFF = "sandbox: OFF (--no-sandbox or c.Sandbox.enabled = False): student code runs with your rights"


@dataclass
class GradeReport:
    scores: list[AssignmentScore]
    rejected: list[Rejected]
    failed: list[Outcome]  # tasks nbgrader could not finish
    graded: int
    skipped: int
    grades_csv: Path | None
    feedback_dir: Path
    reasons: list[Reason] = field(default_factory=list)  # one per hand-in, then one per refused file
    protections: str = ""  # which sandbox layers grading had (sandbox.describe)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # (student, assignment) -> task time
    lateness: dict[tuple[str, str], late.Late] = field(default_factory=dict)  # hand-ins with a due date


class Reporter:
    """Hooks a front end (the CLI's progress bar) can fill; the default says nothing."""

    def started(self, *, total: int, skipped: int, workers: str) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


# Protections that are not kernel layers but that the status line must not claim unless
# the configuration grading runs with has them (docs/security.md).
GRADER_PROTECTIONS = {
    "judge": "test cells run in a judge process, outside the student's kernel",
    "pages": "feedback and formgrader pages sanitized, with a Content-Security-Policy",
}
SANITIZER = "coursekit.grader.sanitize.SanitizeStudentHTML"
SAFE_EXECUTE = "coursekit.grader.execution.safe_execute.SafeExecute"


def grader_protections(config: Config) -> dict[str, str]:
    """judge / pages -> "" when grading with this configuration has it, else why not."""
    def names(section, key: str) -> list[str]:
        return [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in section.get(key, [])]

    judge = config.SafeExecute.get("judge", True)
    # nbgrader carries on with its stock settings when nbgrader_config.py fails to import:
    # then SafeExecute is not among the preprocessors, and nothing here may be claimed.
    executes = SAFE_EXECUTE in names(config.Autograde, "autograde_preprocessors")
    preprocessors = names(config.HTMLExporter, "preprocessors")
    return {
        "judge": "" if judge and executes else
                 "c.SafeExecute.judge = False: a student's code can forge its verdicts" if executes else
                 f"{SAFE_EXECUTE} is not in c.Autograde.autograde_preprocessors (does nbgrader_config.py load?)",
        "pages": "" if SANITIZER in preprocessors else
                 f"nbgrader_config.py does not set {SANITIZER}: a student's scripts run in these pages",
    }


def isolation(config: Config, *, sandbox_on: bool) -> tuple[tuple[str, ...] | None, str]:
    """The sandbox layers kernels get (None: no sandbox), and one line saying which
    protections grading has: the kernel's layers (probed on this machine), the judge and the
    page sanitizer (read from the configuration). "all protections on" only when all are."""
    limits = Sandbox(config=config)
    others = grader_protections(config)
    absent = "; ".join(f"{k} ({GRADER_PROTECTIONS[k]}): {v}" for k, v in others.items() if v)
    if not (sandbox_on and limits.enabled):
        return None, SANDBOX_OFF + (f"; MISSING {absent}" if absent else "")
    found = sandbox.probe(limits.layers)
    layers = tuple(layer for layer, missing in found.items() if not missing)
    line = sandbox.describe(found)
    if not absent:
        if line.startswith("sandbox: all protections on ("):
            line = line[:-1] + ", " + ", ".join(GRADER_PROTECTIONS) + ")"
        return layers, line
    if line.startswith("sandbox: all protections on"):
        return layers, f"sandbox: MISSING {absent}"
    return layers, f"{line}; {absent}"


@dataclass(frozen=True)
class Run:
    """How to run the autograde step (the CLI's flags)."""

    workers: int | None = None
    dask_address: str | None = None
    force: bool = False
    warm_kernels: bool = True
    sandbox: bool = True
    feedback: bool = True
    export: bool = True
    release: bool = True  # generate the release first (the gate has, to fill it in)


def _autograde(course: Course, workspace: Workspace, config: Config, wanted: list[str], run: Run,
               layers: tuple[str, ...] | None, reporter: Reporter,
               only: set[tuple[str, str]], zygotes: autograde.MachineZygotes | None = None,
               ) -> tuple[list[Outcome], int]:
    gradebook.prepare(workspace.gradebook)
    state = autograde.State(workspace.state_db)
    try:
        tasks, skipped = autograde.plan(workspace=workspace, assignments=wanted, state=state, force=run.force,
                                        only=only)
        if config.Autograde.get("create_student", True):
            # here, not by nbgrader in each worker: two workers creating one new student at
            # once fail one of the student's hand-ins (gradebook.add_students). Where the
            # instructor turned create_student off, an unknown student stays nbgrader's error.
            gradebook.add_students(workspace.gradebook, {task.student for task in tasks})
        where = f"Dask cluster {run.dask_address}" if run.dask_address else f"{run.workers or os.cpu_count()} workers"
        reporter.started(total=len(tasks), skipped=skipped, workers=where)
        settings = autograde.worker_settings(config, course=course, workspace=workspace, feedback=run.feedback,
                                             warm_kernels=run.warm_kernels, layers=layers)
        outcomes = autograde.run(tasks, settings=settings, state=state, workers=run.workers,
                                 dask_address=run.dask_address, on_done=reporter.finished, zygotes=zygotes)
    finally:
        state.close()
    return outcomes, skipped


def other_students(gradebook_path: Path, students: set[str]) -> list[str]:
    """Students the gradebook already holds that are not among `students` (this run's)."""
    return [s for s in gradebook.students(gradebook_path) if s not in students]


def _warn_about_other_students(workspace: Workspace, submissions: Path, students: set[str]) -> None:
    others = other_students(workspace.gradebook, students)
    if not others:
        return
    named = ", ".join(others[:8]) + (f" and {len(others) - 8} more" if len(others) > 8 else "")
    log.warning(
        "%s already holds %d student(s) not in %s (%s), from an earlier run: this run's table, "
        "grades.csv and reasons.csv leave them out, but formgrader, `nbgrader export` and the "
        "report include them. To grade this folder alone, run `make clean` (removes %s: "
        "gradebook, grades, feedback) and grade again.",
        workspace.gradebook, len(others), submissions, named, workspace.root,
    )


def nothing_to_grade(submissions: Path, collected: Collected, wanted: list[str]) -> str:
    """The error for a run that found no hand-in: what was found, what was refused, what is read."""
    if collected.accepted:  # hand-ins, but none of the assignments asked for
        found = sorted({assignment for _, assignment in collected.accepted})
        return (f"{submissions}: nothing to grade: it holds hand-ins of {', '.join(found)}, "
                f"none of {', '.join(wanted)} (the assignments asked for)")
    refused = "".join(f"\n  refused {r.path}: {r.reason}" for r in collected.rejected[:5])
    if len(collected.rejected) > 5:
        refused += f"\n  … and {len(collected.rejected) - 5} more (all in rejected.csv)"
    return (f"{submissions}: nothing to grade: read as {collected.layout or 'an empty folder'}, "
            f"and no hand-in of this course's notebooks was found.{refused}\n"
            f"The layouts coursekit grade reads:\n{LAYOUTS}")


def grade_class(
    *, course: Course, submissions: Path, workspace: Workspace | None = None, assignments: list[str] | None = None,
    run: Run = Run(), zip_pattern: str = LMS_FILE_PATTERN, reporter: Reporter | None = None,
) -> GradeReport:
    """Collect, autograde in parallel, write feedback, export grades and reasons.

    Only the hand-ins collected from `submissions` in this run are graded and reported (the
    table, reasons.csv, grades.csv): hand-ins of earlier runs from other folders stay in
    build/submitted and the gradebook, untouched. Re-running on the same folder grades only
    submissions that are new or changed since they were last graded completely
    (`run.force` regrades all), so an interrupted run resumes.
    """
    reporter = reporter or Reporter()
    if not run.dask_address:
        autograde.start_early()
    workspace = workspace or instructor_workspace(course)
    wanted = course.wanted(assignments)
    config = load_config(course)
    with contextlib.ExitStack() as cleanup:
        return _grade_class(course=course, submissions=submissions, workspace=workspace, wanted=wanted,
                            run=run, zip_pattern=zip_pattern, reporter=reporter, config=config, cleanup=cleanup)


def _grade_class(*, course: Course, submissions: Path, workspace: Workspace, wanted: list[str], run: Run,
                 zip_pattern: str, reporter: Reporter, config: Config, cleanup: contextlib.ExitStack) -> GradeReport:
    layers, protections = isolation(config, sandbox_on=run.sandbox)
    limits = Sandbox(config=config)
    late.settings(config, course.root, course.assignments())  # a bad due date or extensions file: stop now
    collected: Collected = collect(course=course, submissions=submissions, workspace=workspace,
                                   zip_pattern=zip_pattern, max_notebook_bytes=limits.notebook_mb * 2**20,
                                   max_json_depth=limits.json_depth, max_number_digits=limits.number_digits)
    if not any(assignment in wanted for _, assignment in collected.accepted):
        write_rejections(collected.rejected, workspace.rejected_csv)
        raise CourseError(nothing_to_grade(submissions, collected, wanted))
    # one pair of zygotes for every worker on this machine, importing while the gradebook is
    # prepared (started once there is something to grade: a run that stops above pays nothing)
    workspace.logs.mkdir(parents=True, exist_ok=True)
    zygotes = autograde.MachineZygotes(kernels=run.warm_kernels,
                                       judges=bool(config.SafeExecute.get("warm_judges", True)),
                                       log_dir=workspace.logs)
    cleanup.callback(zygotes.stop)
    this_run = set(collected.accepted)  # grade FOLDER, not whatever earlier runs left in submitted/
    _warn_about_other_students(workspace, submissions, {student for student, _ in this_run})
    for assignment_id in wanted if run.release else ():
        # records the source cells (and hidden tests) in the gradebook, which autograde
        # restores into every submission before running it
        generate_release(course, workspace, assignment_id)
    # due dates, extensions and hand-in times into the gradebook, where nbgrader's
    # AssignLatePenalties (c.AssignLatePenalties.plugin_class) reads them during autograde
    late_notes = late.prepare(gradebook=workspace.gradebook, config=config, course_root=course.root,
                              submitted=workspace.submitted, assignments=wanted, known=course.assignments(),
                              hand_ins=this_run,
                              time_unknown=collected.late)
    for key, notes in late_notes.items():
        collected.notes.setdefault(key, []).extend(notes)
    outcomes, skipped = _autograde(course, workspace, config, wanted, run, layers, reporter, this_run, zygotes)
    cleanup.close()  # the zygotes: nothing forks from them after this
    failed = [o for o in outcomes if not o.success]
    # the same penalties for hand-ins not regraded (unchanged), with today's dates and hand grading
    lateness = late.reapply(gradebook=workspace.gradebook, config=config,
                            hand_ins={key for key in this_run if key[1] in wanted})
    for key, found in lateness.items():
        if found.seconds_late > 0:
            collected.notes.setdefault(key, []).append(
                f"late: {found.days} day(s) after {late.shown(found.due)}, penalty {found.penalty:g} pts")
    grades_csv = None
    if run.export:
        grades_csv = workspace.grades_csv
        grades_csv.unlink(missing_ok=True)
        run_nbgrader(course, workspace, "export", f"--to={grades_csv}", log=workspace.logs / "export.log")
        _keep_rows(grades_csv, this_run)
    write_rejections(collected.rejected, workspace.rejected_csv)
    scores = gradebook.read_assignment_scores(workspace.gradebook, wanted)  # read once: ~0.5 s for 96 hand-ins
    reasons = submission_reasons(workspace=workspace, collected=collected, failed=failed, assignments=wanted,
                                 scores=scores)
    write_reasons(reasons, workspace.reasons_csv)
    log.info("graded %d hand-ins (%d failed, %d unchanged)", len(outcomes), len(failed), skipped)
    return GradeReport(
        scores=[s for s in scores if (s.student, s.assignment) in this_run], rejected=collected.rejected,
        failed=failed, graded=len(outcomes), skipped=skipped, grades_csv=grades_csv,
        feedback_dir=workspace.feedback, reasons=reasons, protections=protections,
        seconds={(o.task.student, o.task.assignment): o.seconds for o in outcomes},
        lateness={key: found for key, found in lateness.items() if found.due is not None},
    )


def _keep_rows(grades_csv: Path, keys: set[tuple[str, str]]) -> None:
    """nbgrader exports the whole gradebook; keep the rows of this run's hand-ins."""
    with grades_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    fields = list(rows[0])
    with grades_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(r for r in rows if (r.get("student_id"), r.get("assignment")) in keys)


def grade(
    *, course: Course, submissions: Path, assignments: list[str] | None = None, workers: int | None = None,
    dask_address: str | None = None, force: bool = False, reporter: Reporter | None = None,
    warm_kernels: bool = True, zip_pattern: str = LMS_FILE_PATTERN, sandbox: bool = True,
) -> GradeReport:
    """`coursekit grade`: `grade_class` on the instructor's workspace (build/), with feedback."""
    run = Run(workers=workers, dask_address=dask_address, force=force, warm_kernels=warm_kernels, sandbox=sandbox)
    return grade_class(course=course, submissions=submissions, assignments=assignments, run=run,
                       zip_pattern=zip_pattern, reporter=reporter)

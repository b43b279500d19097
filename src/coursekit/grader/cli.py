"""The command line: one screen of argparse over the grader's keyword-only API.

Exit codes:
  0   done (grade, demo: every hand-in graded);
  1   an error the user can fix (one line on stderr naming the file and the cause: every
      CoursekitError, and the toolkit's SeedError), or the release gate failed;
  2   a usage error (argparse);
  3   graded, but some hand-ins were refused or not graded (grade, demo): they are listed
      above the summary, in rejected.csv and in reasons.csv; the rest were graded and exported;
  130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from coursekit import notebooks, seeds
from coursekit.errors import CoursekitError
from coursekit.grader import build, bundle, exchange, export, gate, report, sampleclass, terminal
from coursekit.grader.collect import LAYOUTS, LMS_FILE_PATTERN
from coursekit.grader.config import load_config
from coursekit.grader.course import Course, demo_workspace, instructor_workspace
from coursekit.grader.pipeline import Run, grade, grade_class

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _course(args: argparse.Namespace) -> Course:
    return Course.at(args.course)


def _tidy(args: argparse.Namespace) -> int:
    for path in args.paths:
        print(f"{'tidied' if notebooks.tidy(path) else 'clean '} {path}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    course = _course(args)
    print(f"{len(seeds.verify(course.seeds))} seed files intact in {course.seeds}")
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    differences = build.build(course=_course(args), check=args.check, assignments=args.assignment)
    for line in differences:
        print(line)
    if args.check and differences:
        print("coursekit: error: exercises/ is out of date; run `coursekit build`", file=sys.stderr)
        return EXIT_ERROR
    print("exercises/ is in sync with solutions/" if not differences else "exercises/ regenerated")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    reports = gate.check(course=_course(args), fixtures=args.fixtures, assignments=args.assignment)
    for result in reports:
        print(f"{'ok  ' if result.passed else 'FAIL'} {result.assignment}: {result.checked} submissions graded")
        for failure in result.failures:
            print(f"     {failure}")
    if not all(r.passed for r in reports):
        print("coursekit: error: the release gate failed; see the lines above", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _course_id(course: Course) -> str:
    return load_config(course).CourseDirectory.get("course_id", "") or "kfor-in-numbers"


def _from_exchange(course: Course, args: argparse.Namespace) -> exchange.ExchangeCollected:
    """Copy the exchange's latest hand-ins into build/exchange/collected/ and say what was taken."""
    root = exchange.exchange_root(course, args.exchange_root)
    collected = exchange.collect_from_exchange(course=course, root=root, course_id=_course_id(course),
                                               assignments=course.wanted(args.assignment))
    print(f"exchange: {len(collected.handins)} hand-in(s) from {collected.inbound} "
          f"(the latest of each student; {collected.replaced} earlier left there) -> {collected.folder}")
    for refused in collected.rejected:
        print(f"exchange: refused {refused.path}: {refused.reason}", file=sys.stderr)
    return collected


def _grade(args: argparse.Namespace) -> int:
    course = _course(args)
    if args.exchange == (args.submissions is not None):
        print("coursekit grade: error: give a SUBMISSIONS folder or --exchange (one of them)", file=sys.stderr)
        return EXIT_USAGE
    collected = _from_exchange(course, args) if args.exchange else None
    if collected is not None:  # students on this machine read nothing grading writes in build/
        exchange.close_build(course.root, keep=exchange.exchange_root(course, args.exchange_root))
    if collected is not None and not collected.handins:
        print(f"coursekit: error: {collected.inbound}: no hand-in of {', '.join(course.wanted(args.assignment))} "
              "to grade", file=sys.stderr)
        return EXIT_ERROR
    with terminal.ProgressReporter() as progress:
        result = grade(
            course=course, submissions=collected.folder if collected else args.submissions,
            assignments=args.assignment,
            workers=args.workers, dask_address=args.dask, force=args.force, reporter=progress,
            warm_kernels=args.warm_kernels, zip_pattern=args.zip_pattern, sandbox=args.sandbox,
        )
    terminal.print_grades(result)
    if collected is not None:
        ready = exchange.place_receipts(collected=collected.folder, workspace=instructor_workspace(course))
        exchange.close_build(course.root, keep=exchange.exchange_root(course, args.exchange_root))
        print(f"exchange: feedback ready to release for {len(ready)} hand-in(s): `coursekit release-feedback`")
    refused = result.rejected or (collected.rejected if collected else [])
    return EXIT_PARTIAL if refused or result.failed else EXIT_OK


def _release_feedback(args: argparse.Namespace) -> int:
    course = _course(args)
    root = exchange.exchange_root(course, args.exchange_root)
    released = exchange.release_feedback(course=course, root=root, assignments=course.wanted(args.assignment))
    for student, assignment in released:
        print(f"released feedback: {student} {assignment}")
    print(f"exchange: feedback of {len(released)} hand-in(s) released to {root}; students fetch it in the "
          "Assignments panel (Fetch Feedback)")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    course = _course(args)
    written = report.write_report(workspace=instructor_workspace(course),
                                  assignments=args.assignment or course.assignments())
    terminal.print_report(written)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    course = _course(args)
    written = export.export_grades(
        gradebook=instructor_workspace(course).gradebook, to=args.to, out=args.file,
        assignments=[course.assignment(a) for a in args.assignment] if args.assignment else None,
        roster=args.roster, include_pending=args.include_pending,
    )
    print(written.summary())
    for note in written.notes:
        print(f"note: {note}")
    return EXIT_OK


def _bundle(args: argparse.Namespace) -> int:
    course = _course(args)
    out = bundle.student_bundle(course=course, out=args.out or course.build_dir / "kfor-in-numbers-student.zip")
    print(f"student bundle: {out}")
    return EXIT_OK


def _sample_class(args: argparse.Namespace) -> int:
    course = _course(args)
    if args.synthetic:
        made = sampleclass.synthetic_class(course=course, fixtures=course.fixtures, students=args.synthetic,
                                           seed=args.seed)
        for relative, text in made.items():
            (args.out / relative).parent.mkdir(parents=True, exist_ok=True)
            (args.out / relative).write_text(text, encoding="utf-8")
        print(f"wrote {len(made)} synthetic submissions under {args.out}")
        return EXIT_OK
    written = sampleclass.write_sample_class(course=course, answers_dir=args.answers, out_dir=args.out)
    print(f"wrote {len(written)} submissions under {args.out}")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    course = _course(args)
    assignments = course.wanted(args.assignment)
    print("1/3 building the student versions from solutions/ …")
    for line in build.build(course=course, check=False, assignments=args.assignment):
        print("    " + line)
    submissions = course.fixtures / "submissions"
    # its own workspace, made afresh: a later `coursekit grade` in build/ never sees the sample class
    workspace = demo_workspace(course)
    shutil.rmtree(workspace.root, ignore_errors=True)
    print(f"2/3 autograding the sample class in {submissions.relative_to(course.root)} with nbgrader "
          f"into {workspace.root.relative_to(course.root)}/ …")
    with terminal.ProgressReporter() as progress:
        result = grade_class(course=course, submissions=submissions, workspace=workspace,
                             assignments=assignments, run=Run(force=True), reporter=progress)
    print("3/3 grades and the class report")
    terminal.print_grades(result)
    written = report.write_report(workspace=workspace, assignments=assignments)
    terminal.print_item_table(written)
    print(f"report: {written.html} (charts: {written.distribution.name}, {written.items.name})")
    return EXIT_PARTIAL if result.rejected or result.failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The commands and their flags; each command's function forwards to the API."""
    parser = argparse.ArgumentParser(
        prog="coursekit", description="Build, check and grade the course 'Reading the Source'."
    )
    parser.add_argument("--course", type=Path, default=None, help="course folder (default: here)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    def exchange_root(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--exchange-root", type=Path, default=None, metavar="FOLDER",
                         help=f"nbgrader's exchange (default: ${exchange.EXCHANGE_ENV}, else build/hub/exchange)")

    def only_assignment(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--assignment", action="append", help="only this assignment (repeatable)")

    sub = command("build", _build, "regenerate exercises/ from solutions/ with nbgrader")
    sub.add_argument("--check", action="store_true", help="write nothing; fail if exercises/ differs")
    only_assignment(sub)

    sub = command("check", _check, "release gate: solutions full marks, blanks zero, variants judged")
    only_assignment(sub)
    sub.add_argument("--fixtures", type=Path, default=None, help="default: tests/fixtures")

    sub = command("grade", _grade, "collect, autograde, feedback and export a folder of submissions")
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.epilog = f"SUBMISSIONS may be laid out in any of these ways:\n{LAYOUTS}"
    sub.add_argument("submissions", type=Path, nargs="?", default=None,
                     help="the class's hand-ins: a folder (layouts below) or an LMS zip")
    sub.add_argument("--exchange", action="store_true",
                     help="instead: the latest hand-in of each student in nbgrader's exchange (a JupyterHub's "
                          "Submit), copied to build/exchange/collected/ and graded from there")
    exchange_root(sub)
    sub.add_argument("--zip-pattern", default=LMS_FILE_PATTERN,
                     help="regex with groups student_id and file_id for the files of an LMS zip")
    only_assignment(sub)
    sub.add_argument("--workers", type=int, default=None, help="parallel kernels (default: all cores)")
    sub.add_argument("--dask", metavar="ADDRESS", default=None, help="run on this Dask scheduler")
    sub.add_argument("--force", action="store_true", help="regrade submissions graded before")
    sub.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                     help="run student code without the sandbox (only for trusted notebooks; see docs/security.md)")
    sub.add_argument("--no-warm-kernels", dest="warm_kernels", action="store_false",
                     help="start every kernel from scratch instead of forking a pre-imported one")

    sub = command("release-feedback", _release_feedback,
                  "nbgrader release_feedback for the hand-ins `grade --exchange` graded")
    only_assignment(sub)
    exchange_root(sub)

    only_assignment(command("report", _report, "grade distribution and item analysis (PNG, CSV, HTML)"))

    sub = command("export", _export, "grades for an LMS (Canvas, Moodle) or a tidy CSV, from build/gradebook.db")
    sub.add_argument("--to", choices=export.FORMATS, required=True,
                     help="canvas or moodle: their grade-import CSV; csv: one row per student and assignment")
    sub.add_argument("file", type=Path, metavar="FILE", help="the CSV to write (e.g. build/canvas.csv)")
    only_assignment(sub)
    sub.add_argument("--roster", type=Path, default=None, metavar="CSV",
                     help="class list: student_id, optional name, sis_id, email, section, lms_id; adds students "
                          "who handed in nothing and gives the LMS ids")
    sub.add_argument("--include-pending", action="store_true",
                     help="export the points so far of hand-ins still waiting for hand-grading (not final)")

    sub = command("bundle", _bundle, "zip what students receive: lessons, exercises, seeds, toolkit")
    sub.add_argument("--out", type=Path, default=None, help="default: build/kfor-in-numbers-student.zip")

    only_assignment(command("demo", _demo, "build, then grade the bundled sample class in build/demo/ "
                                           "and print the grades"))

    sub = command("sample-class", _sample_class, "write the sample class's submissions from answers")
    sub.add_argument("--answers", type=Path, default=Path("tests/fixtures/answers"))
    sub.add_argument("--out", type=Path, default=Path("tests/fixtures/submissions"))
    sub.add_argument("--synthetic", type=int, metavar="N", default=0,
                     help="instead: N generated students (right, partly right, blank, erroring)")
    sub.add_argument("--seed", type=int, default=2023, help="seed of the generated class")

    sub = command("tidy", _tidy, "put notebooks in the committed normal form")
    sub.add_argument("paths", nargs="+", type=Path, metavar="NOTEBOOK")

    command("verify-seeds", _verify, "check the course data against seeds/SHA256SUMS")
    return parser


def _log_warnings() -> None:
    """coursekit's own warnings on stderr, one line each; its info goes nowhere here."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("coursekit: %(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logging.getLogger("coursekit").addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_warnings()
    try:
        return args.run(args)
    # SeedError is the student toolkit's own (coursekit.seeds): not a CoursekitError, same exit
    except (CoursekitError, seeds.SeedError) as error:
        print(f"coursekit: error: {error}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_ERROR)
    except KeyboardInterrupt:
        print("coursekit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

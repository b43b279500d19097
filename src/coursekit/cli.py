"""The command line: one screen of argparse over the keyword-only API in the modules.

Every failure the user can cause (missing course folder, altered seed, broken notebook)
ends as one line naming the file and the cause, and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coursekit import grading, notebooks, seeds


def _course(args: argparse.Namespace) -> grading.Course:
    return grading.Course.at(args.course)


def _tidy(args: argparse.Namespace) -> int:
    for path in args.paths:
        print(f"{'tidied' if notebooks.tidy(path) else 'clean '} {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    course = _course(args)
    print(f"{len(seeds.verify(course.root / 'seeds'))} seed files intact in {course.root / 'seeds'}")
    return 0


def _build(args: argparse.Namespace) -> int:
    differences = grading.build(course=_course(args), check=args.check, assignments=args.assignment)
    for line in differences:
        print(line)
    if args.check and differences:
        print("coursekit: error: exercises/ is out of date; run `coursekit build`", file=sys.stderr)
        return 1
    print("exercises/ is in sync with solutions/" if not differences else "exercises/ regenerated")
    return 0


def _check(args: argparse.Namespace) -> int:
    from coursekit import gate

    reports = gate.check(course=_course(args), fixtures=args.fixtures, assignments=args.assignment)
    for report in reports:
        verdict = "ok  " if report.passed else "FAIL"
        print(f"{verdict} {report.assignment}: {report.checked} submissions graded")
        for failure in report.failures:
            print(f"     {failure}")
    if not all(r.passed for r in reports):
        print("coursekit: error: the release gate failed; see the lines above", file=sys.stderr)
        return 1
    return 0


def _grade(args: argparse.Namespace) -> int:
    from coursekit import report

    course = _course(args)
    with report.ProgressReporter() as progress:
        result = grading.grade(
            course=course, submissions=args.submissions, assignments=args.assignment,
            workers=args.workers, dask_address=args.dask, force=args.force, reporter=progress,
            warm_kernels=args.warm_kernels, zip_pattern=args.zip_pattern, sandbox=args.sandbox,
        )
    report.print_grades(result)
    return 1 if result.rejected or result.failed else 0


def _report(args: argparse.Namespace) -> int:
    from coursekit import report

    course = _course(args)
    written = report.write_report(
        gradebook=course.gradebook, autograded_dir=course.build_dir / "autograded",
        assignments=args.assignment or course.assignments(), out_dir=course.build_dir / "report",
    )
    print(written["table"].to_string(index=False, max_colwidth=60))
    for key in ("html", "distribution", "items", "items_csv", "grades_csv"):
        print(f"{key:>12}: {written[key]}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    course = _course(args)
    out = grading.student_bundle(course=course, out=args.out or course.build_dir / "kfor-in-numbers-student.zip")
    print(f"student bundle: {out}")
    return 0


def _sample_class(args: argparse.Namespace) -> int:
    from coursekit import sampleclass

    course = _course(args)
    if args.synthetic:
        made = sampleclass.synthetic_class(
            course=course, fixtures=course.root / "tests" / "fixtures",
            students=args.synthetic, seed=args.seed,
        )
        for relative, text in made.items():
            (args.out / relative).parent.mkdir(parents=True, exist_ok=True)
            (args.out / relative).write_text(text, encoding="utf-8")
        print(f"wrote {len(made)} synthetic submissions under {args.out}")
        return 0
    written = sampleclass.write_sample_class(
        course=course, answers_dir=args.answers, out_dir=args.out
    )
    print(f"wrote {len(written)} submissions under {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from coursekit import report

    course = _course(args)
    print("1/3 building the student versions from solutions/ …")
    for line in grading.build(course=course, check=False):
        print("    " + line)
    submissions = course.root / "tests" / "fixtures" / "submissions"
    print(f"2/3 autograding the sample class in {submissions.relative_to(course.root)} with nbgrader …")
    with report.ProgressReporter() as progress:
        result = grading.grade(course=course, submissions=submissions, force=True, reporter=progress)
    print("3/3 grades and the class report")
    report.print_grades(result)
    written = report.write_report(
        gradebook=course.gradebook, autograded_dir=course.build_dir / "autograded",
        assignments=course.assignments(), out_dir=course.build_dir / "report",
    )
    print(written["table"].to_string(index=False, max_colwidth=60))
    print(f"report: {written['html']} (charts: {written['distribution'].name}, {written['items'].name})")
    return 1 if result.rejected or result.failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coursekit", description="Build, check and grade the course 'Reading the Source'."
    )
    parser.add_argument("--course", type=Path, default=None, help="course folder (default: here)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    build = command("build", _build, "regenerate exercises/ from solutions/ with nbgrader")
    build.add_argument("--check", action="store_true", help="write nothing; fail if exercises/ differs")
    build.add_argument("--assignment", action="append", help="only this assignment (repeatable)")

    check = command("check", _check, "release gate: solutions full marks, blanks zero, variants judged")
    check.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    check.add_argument("--fixtures", type=Path, default=None, help="default: tests/fixtures")

    grade = command("grade", _grade, "collect, autograde, feedback and export a folder of submissions")
    grade.add_argument("submissions", type=Path,
                       help="folder laid out <student>/<assignment>/*.ipynb, or an LMS zip")
    grade.add_argument("--zip-pattern", default=grading.LMS_FILE_PATTERN,
                       help="regex with groups student_id and file_id for the files of an LMS zip")
    grade.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    grade.add_argument("--workers", type=int, default=None, help="parallel kernels (default: all cores)")
    grade.add_argument("--dask", metavar="ADDRESS", default=None, help="run on this Dask scheduler")
    grade.add_argument("--force", action="store_true", help="regrade submissions graded before")
    grade.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                       help="run student code without the sandbox (only for trusted notebooks; see docs/security.md)")
    grade.add_argument("--no-warm-kernels", dest="warm_kernels", action="store_false",
                       help="start every kernel from scratch instead of forking a pre-imported one")

    rep = command("report", _report, "grade distribution and item analysis (PNG, CSV, HTML)")
    rep.add_argument("--assignment", action="append", help="only this assignment (repeatable)")

    bundle = command("bundle", _bundle, "zip what students receive: lessons, exercises, seeds, toolkit")
    bundle.add_argument("--out", type=Path, default=None, help="default: build/kfor-in-numbers-student.zip")

    command("demo", _demo, "build, then grade the bundled sample class and print the grades")

    sample = command("sample-class", _sample_class, "write the sample class's submissions from answers")
    sample.add_argument("--answers", type=Path, default=Path("tests/fixtures/answers"))
    sample.add_argument("--out", type=Path, default=Path("tests/fixtures/submissions"))
    sample.add_argument("--synthetic", type=int, metavar="N", default=0,
                        help="instead: N generated students (right, partly right, blank, erroring)")
    sample.add_argument("--seed", type=int, default=2023, help="seed of the generated class")

    tidy = command("tidy", _tidy, "put notebooks in the committed normal form")
    tidy.add_argument("paths", nargs="+", type=Path, metavar="NOTEBOOK")

    command("verify-seeds", _verify, "check the course data against seeds/SHA256SUMS")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (seeds.SeedError, notebooks.NotebookError, grading.CourseError) as error:
        print(f"coursekit: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("coursekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

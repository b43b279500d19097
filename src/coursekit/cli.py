"""The command line: one screen of argparse over the keyword-only API in the modules.

Every failure the user can cause (missing course folder, altered seed, broken notebook)
ends as one line naming the file and the cause, and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coursekit import notebooks, seeds


def _tidy(args: argparse.Namespace) -> int:
    for path in args.paths:
        changed = notebooks.tidy(path)
        print(f"{'tidied' if changed else 'clean '} {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    folder = seeds.find_seeds_dir(args.course / "seeds" if args.course else None)
    checked = seeds.verify(folder)
    print(f"{len(checked)} seed files intact in {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coursekit", description="Build, check and grade the course 'Reading the Source'."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tidy = commands.add_parser("tidy", help="put notebooks in the committed normal form")
    tidy.add_argument("paths", nargs="+", type=Path, metavar="NOTEBOOK")
    tidy.set_defaults(run=_tidy)

    verify = commands.add_parser("verify-seeds", help="check the course data against SHA256SUMS")
    verify.add_argument("--course", type=Path, default=None, help="course folder (default: here)")
    verify.set_defaults(run=_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (seeds.SeedError, notebooks.NotebookError) as error:
        print(f"coursekit: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m coursekit.cli` and the `coursekit` command: the grader's command line,
which lives in coursekit.grader.cli (this module is not part of the student bundle)."""

import sys

from coursekit.grader.cli import main

if __name__ == "__main__":
    sys.exit(main())

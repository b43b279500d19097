"""The one base class of every error coursekit raises for a user to fix.

The command line (coursekit.grader.cli) turns each into one line on stderr and the
subclass's `exit_code`; see the table in docs/design.md.
"""

from __future__ import annotations


class CoursekitError(Exception):
    """Something the user can fix: a missing folder, a broken notebook, a failed step."""

    exit_code = 1

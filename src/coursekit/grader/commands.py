"""nbgrader's own commands, run as programs in a workspace.

nbgrader is run as a program here, not imported, because it calls `alembic` through PATH
and keeps global state between commands; the interpreter's bin/ goes first on PATH.
Success is nbgrader's exit status; its log is kept, never parsed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from coursekit.grader.course import Course, Workspace
from coursekit.grader.errors import NbgraderFailed

logger = logging.getLogger(__name__)


def run_nbgrader(course: Course, workspace: Workspace, *args: str, log: Path) -> None:
    """Run one nbgrader command in `workspace`; its whole output goes to the file `log`."""
    workspace.root.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    command = [sys.executable, "-m", "nbgrader", *args, *workspace.overrides(course)]
    logger.info("nbgrader %s (log: %s)", args[0], log)
    with log.open("a", encoding="utf-8") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        done = subprocess.run(command, cwd=course.root, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise NbgraderFailed(f"{log}: nbgrader {args[0]} failed (exit status {done.returncode}; "
                             "the log says why)")

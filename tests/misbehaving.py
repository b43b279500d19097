"""A preprocessor that makes a grading worker freeze or die on one student's hand-in.

Student code cannot do this (it runs in a sandboxed kernel, not in the worker); these stand
in for what has been seen or could happen to a worker itself: a frozen process (a Dask
worker once stopped for ten minutes, cause unknown) and one killed from outside (the OOM
killer). Imported by name in the worker processes, so it lives in a module of its own."""

from __future__ import annotations

import os
import signal
import time

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode


class Misbehave(Preprocessor):
    """On `student`'s hand-in ("*": every one): freeze (sleep for an hour) or die (SIGKILL),
    as `how` says."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled
    student = Unicode("").tag(config=True)
    how = Unicode("freeze").tag(config=True)

    def preprocess(self, nb, resources):
        if self.student in ("*", resources.get("nbgrader", {}).get("student")):
            if self.how == "freeze":
                time.sleep(3600)
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return nb, resources


class DiesWhenUnpickled:
    """Put in a worker's settings, it kills the worker as the task reaches it, before the
    worker can start the hand-in (as a broken environment would)."""

    def __reduce__(self):
        return (_die, ())


def _die():
    os.kill(os.getpid(), signal.SIGKILL)

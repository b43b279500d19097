"""The course's configuration, loaded once, the way nbgrader loads it.

nbgrader's own commands read `nbgrader_config.py` from every Jupyter config path (the
user's `~/.jupyter`, the environment's, the system's) and then from the course folder,
which wins. `load_config` asks nbgrader's application to do exactly that, so a setting
an instructor keeps in a user-level config is honoured by `coursekit grade` as it is by
`nbgrader autograde`. The result is a traitlets Config: plain data that pickles, handed
to every grading worker as it is.
"""

from __future__ import annotations

import logging

from jupyter_core.application import JupyterApp
from nbgrader.apps.baseapp import NbGrader
from traitlets.config import Config

from coursekit.grader.course import Course

log = logging.getLogger(__name__)


def load_config(course: Course) -> Config:
    """nbgrader's configuration for `course`: every Jupyter config path, the course's
    nbgrader_config.py last (highest priority)."""
    app = NbGrader(log_level=logging.ERROR)  # nbgrader warns when no user-level config exists
    app.load_cwd_config = False  # the course folder, not wherever the command was started
    app.load_config_file()  # nbgrader_config.py on every Jupyter config path (~/.jupyter first)
    # ... then the course folder's own, as NbGrader.initialize does
    super(JupyterApp, app).load_config_file("nbgrader_config.py", path=str(course.root))
    log.debug("configuration loaded from %s", app.loaded_config_files)
    config = Config()
    config.merge(app.config)
    return config

"""A local JupyterHub for the course: `make hub` (docs/deploy.md). For trying a class on one
machine and for tests/browser/test_hub_roundtrip.py, not for a real class on the internet.

  * Log in: SharedPasswordAuthenticator (JupyterHub >= 5.3), the test-friendly one that
    ships with JupyterHub: students share one password, the instructor (the hub's admin)
    has a long one of its own. `make hub` prints both (HUB/state/passwords, made by
    hub/prepare.py). Anyone with the students' password can log in as any student: fine on
    one machine, never for a real class (use your university's login, docs/deploy.md).
  * Students are system users (hub/prepare.py creates them with useradd): nbgrader's
    exchange names each hand-in after the Unix user that submits it, and the hub starts
    each student's server as that user (LocalProcessSpawner), in its own home HUB/home/<name>,
    from the student edition's environment (build/hub/student-venv: no grader, no
    solutions), with the exchange in $COURSEKIT_EXCHANGE for the student nbgrader_config.py.
  * The instructor's server runs as the hub's own user (the course's owner), on the
    course folder, with formgrader, the exchange in $COURSEKIT_EXCHANGE (read by the
    course's nbgrader_config.py), and the Content-Security-Policy that lets JupyterLab
    show formgrader in its iframe (JupyterHub >= 4.1 forbids frames by default).

Environment (all optional): COURSEKIT_HUB_COURSE (the course, default: this repository),
COURSEKIT_HUB_DIR (default COURSE/build/hub), COURSEKIT_HUB_PORT (8000; the proxy's API
and the hub take the next two), COURSEKIT_HUB_STUDENTS (ada,bea,cai),
COURSEKIT_HUB_PASSWORD and COURSEKIT_HUB_ADMIN_PASSWORD (default: HUB/state/passwords).
"""

import json
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hub"))
import prepare  # noqa: E402  (hub/prepare.py: the names and folders it set up)

COURSE = Path(os.environ.get("COURSEKIT_HUB_COURSE") or REPO).resolve()
HUB = Path(os.environ.get("COURSEKIT_HUB_DIR") or COURSE / "build" / "hub").resolve()
STATE = HUB / "state"
EXCHANGE = HUB / "exchange"
PORT = int(os.environ.get("COURSEKIT_HUB_PORT", "8000"))
INSTRUCTOR = prepare.INSTRUCTOR
STUDENTS = prepare.students()


def _passwords() -> dict[str, str]:
    saved = STATE / "passwords"
    found = dict(line.split("=", 1) for line in saved.read_text().split()) if saved.exists() else {}
    found.update({k: v for k, v in os.environ.items() if k.startswith("COURSEKIT_HUB_") and "PASSWORD" in k})
    return found


PASSWORDS = _passwords()

c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 1}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(prepare.PROXY)]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = PASSWORDS.get("COURSEKIT_HUB_PASSWORD")
c.SharedPasswordAuthenticator.admin_password = PASSWORDS.get("COURSEKIT_HUB_ADMIN_PASSWORD")
c.Authenticator.admin_users = {INSTRUCTOR}
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}

# JupyterLab for everyone; a slow first start on a busy machine is not a failure.
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


class CourseSpawner(LocalProcessSpawner):
    """Students: their own Unix user, home and environment. The instructor: the hub's user, the course."""

    def home(self) -> Path:
        return HUB / "home" / self.user.name

    def make_preexec_fn(self, name):
        if name == INSTRUCTOR:
            return None
        home = str(self.home())
        become = set_user_setuid(name, chdir=False)

        def preexec():
            become()
            os.chdir(home)

        return preexec

    def user_env(self, env):
        env["USER"] = self.user.name if self.user.name != INSTRUCTOR else os.environ.get("USER", "root")
        env["HOME"] = str(self.home())
        env["SHELL"] = "/bin/bash"
        return env


def _instructor_config() -> Path:
    """A Jupyter config folder for the instructor's server: formgrader's iframe allowed from
    the server's own pages (nbgrader#1870; JupyterHub >= 4.1 sends frame-ancestors 'none')."""
    folder = STATE / "instructor-config"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}}}
    (folder / "jupyter_server_config.json").write_text(json.dumps(settings, indent=1))
    return folder


def pre_spawn_hook(spawner):
    env = {"COURSEKIT_EXCHANGE": str(EXCHANGE), "PYTHONDONTWRITEBYTECODE": "1"}
    if spawner.user.name == INSTRUCTOR:
        bin_dir = Path(sys.executable).parent  # the course's .venv: nbgrader calls alembic through PATH
        spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
        spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
        spawner.notebook_dir = str(COURSE)
        spawner.popen_kwargs = {"cwd": str(COURSE)}  # formgrader reads nbgrader_config.py from here
        env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                   JUPYTER_CONFIG_PATH=str(_instructor_config()))
    else:
        bin_dir = prepare.STUDENT_VENV / "bin"
        spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
        spawner.args = []
        spawner.notebook_dir = str(HUB / "home" / spawner.user.name)  # their own files, never the course
        env.update(PATH=f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", VIRTUAL_ENV=str(prepare.STUDENT_VENV))
    spawner.environment = env


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.pre_spawn_hook = pre_spawn_hook
# Only what the hub needs: nothing of the instructor's environment leaks into a student's server.
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]

"""Warm judges: one zygote per grading process forks a fresh judge for each notebook.

A judge started cold (`python -I -m coursekit.judge.worker`) spends about a second of CPU
importing pandas and matplotlib before it can run a test; with two grading workers on two
cores that CPU is not hidden behind anything. The zygote imports them once, then forks a
judge per request. The child is a new process that has never run a test or seen a reply
from a kernel: forked before any of that, it is as clean as a cold start (its imports are
the same modules, unmodified), and copy-on-write makes it nearly free.

Why our own and not multiprocessing's forkserver: a judge speaks the line protocol of
`coursekit.judge.worker` over its stdin/stdout, and `JudgeProcess` needs a file-like
channel, a pid it can kill and a way to wait for it -- a socket and a pidfd give all
three; a `multiprocessing.Process` would add pickling and a second channel for nothing.
The kernel zygote (`coursekit.grader.isolation.kernels`) is the same pattern; this module
does not import the grader (the judge never does).

Protocol: the client connects to the zygote's unix socket (in a private 0700 folder). The
zygote forks; the child makes the connection its stdin and stdout and runs
`worker.main()`, exactly as a cold judge does; the zygote closes its copy. Children are
reaped by the zygote (SIGCHLD ignored), so the client waits on a pidfd, never `waitpid`.
"""

from __future__ import annotations

import atexit
import importlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile

from coursekit.deferred_imports import defer_iri_grammar
from coursekit.judge import process
from coursekit.owners import Owners, ZygoteClient, peer_pid

# What a judge needs before its first test: the libraries, the judge's own modules, the
# course's toolkit and what the course's test and setup cells import (a judge forked
# without them imported each one per notebook: about 0.1 s of CPU for IPython's pretty
# printer alone, which formats every test's result).
PRELOAD = ("numpy", "pandas", "matplotlib.pyplot", "matplotlib.axes", "matplotlib.colors", "matplotlib.dates",
           "matplotlib.markers", "pandas.plotting._matplotlib.converter", "matplotlib.category",
           "IPython.lib.pretty", "difflib", "numbers", "collections",
           "coursekit.charts", "coursekit.seeds", "coursekit.claims", "coursekit.notebooks",
           "coursekit.judge.worker", "coursekit.judge.rebuild", "coursekit.judge.axes", "coursekit.judge.codec",
           "coursekit.judge.png")


def serve(socket_path: str) -> None:  # pragma: no cover - runs in the zygote process
    """The zygote: import, listen, fork a judge per connection."""
    os.environ.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    process._limit_memory()  # inherited by every judge, as a cold judge gets it
    defer_iri_grammar()  # nbformat's jsonschema (coursekit.notebooks) without its 1.8 s IRI grammar
    import matplotlib

    matplotlib.use("Agg")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module missing only costs speed
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # judges are reaped by the system
    parent = os.getppid()
    # who asked for each judge: a judge whose grading worker ended is ended too (one zygote
    # may serve every worker of the machine: coursekit.owners)
    owners = Owners(group=False, reaped_by_system=True)  # SIGCHLD is ignored below
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(64)
    server.settimeout(0.5)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        if owners.due():
            owners.sweep()
        try:
            connection, _ = server.accept()
        except TimeoutError:
            # A pool's worker process ends with os._exit, so its atexit `stop` never runs:
            # the zygote notices whoever started it is gone and ends (as the kernel zygote does).
            if os.getppid() != parent:
                break
            continue
        except OSError:
            break
        connection.settimeout(None)
        asker = peer_pid(connection)
        pid = os.fork()
        if pid == 0:
            server.close()
            owners.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.dup2(connection.fileno(), 0)
            os.dup2(connection.fileno(), 1)
            connection.close()
            from coursekit.judge.worker import main

            try:
                main()
            finally:
                os._exit(0)
        owners.add(pid, asker)
        connection.close()
    server.close()
    try:
        os.unlink(socket_path)
        os.rmdir(os.path.dirname(socket_path))
    except OSError:
        pass


class JudgeZygote(ZygoteClient):
    """The judge zygote a grading process forks its judges from: its own, started on first
    use (`shared()`), or the machine's (`attach`), which `coursekit grade` starts once for all
    its workers (coursekit.grader.autograde.MachineZygotes)."""

    KIND = "judge zygote"

    def __init__(self, *, python: str | None = None, env: dict | None = None, cwd: str | None = None,
                 wait: bool = True) -> None:
        self.folder = tempfile.mkdtemp(prefix="coursekit-judges-")
        self.socket_path = os.path.join(self.folder, "judges.sock")
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the zygote's and its judges' stderr
        environment = dict(os.environ if env is None else env)
        environment.pop("PYTHONPATH", None)
        self.process: subprocess.Popen | None = subprocess.Popen(
            [python or sys.executable, "-I", "-c", f"from {__name__} import serve; serve({self.socket_path!r})"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            cwd=cwd or os.getcwd(), env=environment,
        )
        self._ready = False
        atexit.register(self.stop)
        if wait:
            self.wait_ready()

    @classmethod
    def shared(cls) -> JudgeZygote:
        return super().shared()

    def _attach_to(self, socket_path: str) -> None:
        super()._attach_to(socket_path)
        self.folder, self.stderr = "", None

    def connect(self) -> socket.socket:
        """A connection to a freshly forked judge (it speaks worker.main's protocol)."""
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(self.socket_path)
        except OSError:
            client.close()
            raise
        return client

    def stop(self) -> None:
        if self.process is None:  # attached: the machine's zygote is not ours to stop
            return
        if self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for closing in (self.process.stdout, self.stderr):
            try:
                closing.close()
            except (OSError, ValueError):
                pass
        try:
            os.unlink(self.socket_path)
        except OSError:
            pass
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


class ForkedJudge:
    """The little of `subprocess.Popen` that `JudgeProcess` uses, for a judge forked by the
    zygote: `stdin`/`stdout` are the two ends of its socket; the pid is the one its `ready`
    message gives (until then, closing the socket ends it: it is waiting to read)."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.stdin = connection.makefile("wb")
        self.stdout = connection.makefile("rb")
        self.pid: int | None = None
        self._pidfd: int | None = None
        self.returncode: int | None = None

    def adopt(self, pid: int) -> None:
        """The judge said its pid (in `ready`): from now on it can be waited on and killed."""
        if self.pid is None and type(pid) is int and pid > 1:
            try:
                self._pidfd = os.pidfd_open(pid)
                self.pid = pid
            except OSError:  # already gone
                self.returncode = -1

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd is not None:
            readable, _, _ = select.select([self._pidfd], [], [], 0)
            if readable:
                self.returncode = 0
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None and self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # a judge not yet ready reads EOF and ends
        except OSError:
            pass

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._pidfd is not None:
            readable, _, _ = select.select([self._pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
        self.poll()
        return self.returncode if self.returncode is not None else 0

    def close(self) -> None:
        for closing in (self.stdin, self.stdout, self.connection):
            try:
                closing.close()
            except (OSError, ValueError):
                pass

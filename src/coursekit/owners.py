"""Zygotes one machine shares: which process asked for each child, the end of children whose
asker is gone, and the client side both zygotes have in common.

A zygote (the kernel zygote, `coursekit.grader.isolation.kernels`, and the judge zygote,
`coursekit.judge.zygote`) forks a child for whoever connects to its socket. When one zygote
serves every grading worker of a machine, a worker that ends in the middle of a notebook (killed,
crashed, ended by its watchdog) must not leave its kernel or judge running: nothing else would
stop a student's loop. The zygote reads the connecting process from the socket itself
(SO_PEERCRED, set by the kernel: the asker cannot name another process) and, a few times a
second, ends the children of askers that have exited.

Processes are held by pidfd (Linux 5.3+), so a pid the system has reused is never signalled.
Standard library only: `os.pidfd_open` and `signal.pidfd_send_signal` do it; no package offers
more for this.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

CHECK_EVERY = 0.25  # seconds between looks at the askers


def peer_pid(connection: socket.socket) -> int:
    """The pid of the process at the other end of a Unix socket (0 if it cannot be read)."""
    try:
        raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return 0
    pid, _uid, _gid = struct.unpack("3i", raw)
    return pid


class Owners:
    """Children by asker; `sweep()` ends the children whose asker has exited."""

    def __init__(self, *, group: bool, reaped_by_system: bool = False) -> None:
        self.group = group  # signal the child's process group too
        # children the system reaps (SIGCHLD ignored): forgotten as soon as they end, as no
        # `forget` after a wait will come (else each would keep its pidfd open for the run)
        self.reaped_by_system = reaped_by_system
        self._askers: dict[int, int] = {}  # asker pid -> pidfd
        self._children: dict[int, tuple[int, int]] = {}  # child pid -> (asker pid, child pidfd)
        self._last = time.monotonic()

    def add(self, child: int, asker: int) -> None:
        if asker <= 0 or asker == os.getpid():
            return
        try:
            child_fd = os.pidfd_open(child)
        except OSError:  # ended already
            return
        if asker not in self._askers:
            try:
                self._askers[asker] = os.pidfd_open(asker)
            except OSError:  # the asker ended already: so must its child
                self._askers[asker] = -1
        self._children[child] = (asker, child_fd)

    def forget(self, child: int) -> None:
        """The child ended and was reaped (its pid may be reused from now on); a child that
        ended by itself stays known until then."""
        entry = self._children.pop(child, None)
        if entry is not None:
            os.close(entry[1])

    def close(self) -> None:
        """In a forked child: let go of the pidfds, so that it holds no handle on its siblings."""
        for fd in [fd for _, fd in self._children.values()] + list(self._askers.values()):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._children.clear()
        self._askers.clear()

    def due(self) -> bool:
        return time.monotonic() - self._last >= CHECK_EVERY

    def sweep(self) -> list[int]:
        """End every child whose asker has exited; the children ended."""
        self._last = time.monotonic()
        gone = {asker for asker, fd in self._askers.items() if fd < 0 or _exited(fd)}
        ended = []
        for child, (asker, child_fd) in list(self._children.items()):
            if self.reaped_by_system and _exited(child_fd):
                self.forget(child)
            elif asker in gone and not _exited(child_fd):
                try:
                    signal.pidfd_send_signal(child_fd, signal.SIGKILL)
                except OSError:
                    pass
                if self.group:  # and what it started: a kernel leads its own group (setsid)
                    try:
                        os.killpg(child, signal.SIGKILL)
                    except OSError:  # not yet its own group, or empty
                        pass
                self.forget(child)
                ended.append(child)
        for asker in gone:
            fd = self._askers.pop(asker)
            if fd >= 0:
                os.close(fd)
        return ended


def _exited(pidfd: int) -> bool:
    readable, _, _ = select.select([pidfd], [], [], 0)
    return bool(readable)


class ZygoteClient:
    """What a grading process holds of a zygote, kernel's or judge's: its own, started on first
    use (`shared()`), or the machine's (`attach`), listening at a socket another process
    started. A subclass starts its own zygote in `__init__(**kwargs)` (`process`, `socket_path`,
    `_ready` set; `wait=False` returns before the imports are done) and names it in `KIND`."""

    KIND = "zygote"
    process: subprocess.Popen | None
    socket_path: str
    _ready: bool
    _shared: ZygoteClient | None = None
    _machine: str = ""  # socket path of the machine's zygote, if this process is to use it
    _lock = threading.Lock()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._shared, cls._machine, cls._lock = None, "", threading.Lock()  # one of each per kind

    def wait_ready(self) -> None:
        """Wait for the zygote's imports (a second or two); RuntimeError if it did not start."""
        if self._ready or self.process is None:
            return
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            self.stop()
            raise RuntimeError(f"the {self.KIND} did not start (said {ready!r})")
        self._ready = True

    def stop(self) -> None:  # pragma: no cover - each subclass has its own
        raise NotImplementedError

    @classmethod
    def attach(cls, socket_path: str) -> None:
        """Fork this process's children from the zygote listening at `socket_path` (the
        machine's), as long as it answers; "" goes back to a zygote of this process's own."""
        with cls._lock:
            if socket_path != cls._machine:
                cls._machine = socket_path
                if cls._shared is not None and cls._shared.process is None:
                    cls._shared = None

    @classmethod
    def forget_machine(cls) -> None:
        """The machine's zygote did not answer: use one of this process's own from now on."""
        with cls._lock:
            cls._machine = ""
            if cls._shared is not None and cls._shared.process is None:
                cls._shared = None

    @classmethod
    def shared(cls, **kwargs):
        """This process's zygote: the machine's if attached and its socket is there, else its
        own, started on first use (a process resource, like a pool)."""
        with cls._lock:
            if cls._machine and os.path.exists(cls._machine):
                if cls._shared is None or cls._shared.socket_path != cls._machine:
                    attached = cls.__new__(cls)
                    attached._attach_to(cls._machine)
                    cls._shared = attached
                return cls._shared
            if cls._shared is None or cls._shared.process is None or cls._shared.process.poll() is not None:
                cls._shared = cls(**kwargs)
            return cls._shared

    def _attach_to(self, socket_path: str) -> None:
        """Make this (uninitialised) object a handle on the machine's zygote at `socket_path`."""
        self.socket_path, self.process, self._ready = socket_path, None, True

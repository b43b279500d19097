"""The parent's handle on one judge process: start it, feed it cells, answer its calls.

Trust boundary. The judge process (`coursekit.judge.worker`) is trusted and never runs
student code; the parent relays each of its calls to the student's kernel through a
`KernelBridge` and passes the kernel's reply back *unparsed* (only the judge decodes
it). The judge is started as `python -I -m coursekit.judge.worker` -- isolated mode, so
neither PYTHONPATH nor the current folder can put a student's module in its way -- in the
grader's own working folder (or `cwd`: the course, where the setup cells find the seeds;
never the submission's folder), with the Agg backend and an address-space limit.

Time: a cell has a wall-clock budget shared by the judge's own work and the calls it makes
(each call gets what is left). A judge that overruns its budget by `JUDGE_GRACE` seconds
is killed; the cell gets an error, and later cells a clear message (`broken`).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

JUDGE_GRACE = 15.0  # seconds beyond a cell's budget before the judge itself is stopped
START_TIMEOUT = 60.0
MEMORY_LIMIT = 4 * 1024**3


@dataclass
class JudgeStats:
    start_seconds: float = 0.0  # from spawning the judge to seeing it ready
    start_wait_seconds: float = 0.0  # of which the parent spent waiting (the rest overlapped other work)
    cells: int = 0
    cell_seconds: list[float] = field(default_factory=list)
    warm: bool = False  # forked by the zygote (coursekit.judge.zygote), not started cold


def _limit_memory() -> None:  # pragma: no cover - runs in the child before exec
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


class JudgeProcess:
    """One running judge. Use as a context manager, or call `close()`."""

    def __init__(self, functions: list[str], *, python: str | None = None, env: dict | None = None,
                 cwd: str | os.PathLike | None = None, wait: bool = True, warm: bool = False):
        """`warm`: fork the judge from this process's zygote (`coursekit.judge.zygote`, which
        has pandas and matplotlib imported) instead of starting a new interpreter; if the
        zygote cannot be reached the judge is started cold. `python` and `env` apply to a
        cold start only (the zygote has the grading process's own)."""
        started = time.monotonic()
        self.stats = JudgeStats()
        self.broken: str | None = None
        folder = os.fspath(cwd) if cwd is not None else os.getcwd()
        self._process = self._fork() if warm and python is None and env is None else None
        init = {"op": "init", "functions": list(functions), "cwd": folder}
        if self._process is not None:
            # a forked judge inherits the zygote's stderr: it moves to a file of its own
            handle, self._stderr_path = tempfile.mkstemp(prefix="coursekit-judge-", suffix=".stderr")
            self._stderr = os.fdopen(handle, "w+b")
            init["stderr"] = self._stderr_path
        else:
            self._stderr, self._stderr_path = tempfile.TemporaryFile(), None
        if self._process is None:
            environment = dict(os.environ if env is None else env)
            environment.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
            environment.pop("PYTHONPATH", None)
            self._process = subprocess.Popen(
                [python or sys.executable, "-I", "-m", "coursekit.judge.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=folder,
                env=environment, preexec_fn=_limit_memory if os.name == "posix" else None,
            )
        self._lines: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._send(init)
        self._started = started
        self.pid: int | None = None
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait for the judge to be up (started with `wait=False`, it warms up meanwhile)."""
        if self.pid is not None:
            return
        waiting = time.monotonic()
        message = self._receive(waiting + START_TIMEOUT)
        self.stats.start_wait_seconds = time.monotonic() - waiting
        if message is None or message.get("op") != "ready":
            self.close()
            raise RuntimeError(f"the judge did not start: {self.stderr_tail()}")
        self.pid = message.get("pid")
        if hasattr(self._process, "adopt"):
            self._process.adopt(self.pid)
        self.stats.start_seconds = time.monotonic() - self._started

    def _fork(self):
        from coursekit.judge.zygote import ForkedJudge, JudgeZygote

        try:
            zygote = JudgeZygote.shared()
            try:
                connection = zygote.connect()
            except OSError:
                if zygote.process is not None:
                    raise
                JudgeZygote.forget_machine()  # the machine's zygote did not answer: our own
                connection = JudgeZygote.shared().connect()
            process = ForkedJudge(connection)
        except (OSError, RuntimeError):
            return None  # no zygote: a cold start instead
        self.stats.warm = True
        return process

    # --- plumbing -------------------------------------------------------------------------------

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _send(self, message: dict) -> None:
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self._process.stdin.write(data)
        self._process.stdin.flush()

    def _receive(self, deadline: float) -> dict | None:
        try:
            line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            return None
        return json.loads(line)

    def stderr_tail(self, size: int = 2000) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            end = self._stderr.tell()
            self._stderr.seek(max(0, end - size))
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    # --- cells ----------------------------------------------------------------------------------

    def run_cell(self, source: str, name: str, bridge, timeout: float) -> list[dict]:
        """Run one instructor cell in the judge; its calls go to the kernel through `bridge`.
        Returns the cell's nbformat outputs (dicts)."""
        if self.broken is not None:
            return [_error("JudgeError", self.broken)]
        try:
            self.wait_ready()
        except RuntimeError as error:
            self.broken = str(error)[:500]
            return [_error("JudgeError", self.broken)]
        started = time.monotonic()
        deadline = started + timeout
        try:
            self._send({"op": "run", "source": source, "name": name})
            while True:
                message = self._receive(deadline + JUDGE_GRACE)
                if message is None:
                    self.broken = (f"the grader's judge stopped answering in {name} "
                                   f"({'killed after its time limit' if self._process.poll() is None else 'exited'})")
                    self._kill()
                    return [_error("JudgeError", self.broken)]
                if message.get("op") == "call":
                    reply = bridge.call(str(message.get("function")), message.get("args", []),
                                        message.get("kwargs", {}), deadline - time.monotonic(),
                                        png=message.get("png") is True, figures=message.get("figures") is True)
                    self._send({"op": "reply", **reply})
                elif message.get("op") == "done":
                    outputs = message.get("outputs")
                    return outputs if isinstance(outputs, list) else [_error("JudgeError", "no outputs")]
        except (BrokenPipeError, OSError, ValueError) as error:
            self.broken = f"the grader's judge failed in {name} ({type(error).__name__})"
            self._kill()
            return [_error("JudgeError", self.broken)]
        finally:
            release = getattr(bridge, "release", None)
            if release is not None:
                release()  # the kernel goes back to running cells
            self.stats.cells += 1
            self.stats.cell_seconds.append(time.monotonic() - started)

    # --- shutting down --------------------------------------------------------------------------

    def _kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def close(self) -> None:
        # The judge keeps nothing worth a graceful exit (its interpreter shutdown, with
        # pandas and matplotlib loaded, costs a few hundred ms): it is killed.
        self._kill()
        if hasattr(self._process, "adopt"):
            self._process.close()
        for stream in (self._process.stdout, self._process.stdin):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        self._stderr.close()
        if self._stderr_path is not None:
            try:
                os.unlink(self._stderr_path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}

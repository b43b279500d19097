"""The parent's side of one proxied call: send it into the student's kernel, bring back the reply.

Trust boundary. The parent (the grader) talks to two processes: the judge (trusted) and
the student's kernel (untrusted). For a call the judge asks for, the bridge sends the
judge-encoded arguments to the kernel as one `kernel_side.CALL_REQUEST` message (or, when
the kernel did not take `kernel_side.install`, an execute_request of `kernel_side.SNIPPET`
with `store_history=False`), and reads the kernel's messages for that request only. It keeps:

- the last `display_data` carrying `kernel_side.MIME` whose value is a string (the
  encoded outcome, at most `codec.MAX_JSON` characters) -- passed to the judge
  *unparsed*: only the judge decodes it;
- the text of `stream` messages (what the student's function printed), capped.

Everything else the kernel sends for that request (execute_result, errors, other
displays -- e.g. from hooks the student registered) is ignored: it cannot become part of a
verdict. Each call has a time limit; past it the kernel is interrupted and the call
fails with a TimeoutError message (a call's limit is what is left of its test cell's budget,
and at most `call_timeout` when one is given). A kernel that died, or that ignored the interrupt, is
marked dead and every later call fails at once with a message saying so.
"""

from __future__ import annotations

import inspect
import json
import queue
import time
from dataclasses import dataclass, field

from coursekit.judge import codec, kernel_side

STREAM_CAP = 10_000  # characters of the student's printing kept per call
INTERRUPT_GRACE = 5.0  # seconds a kernel has to stop after an interrupt


@dataclass
class CallStats:
    calls: int = 0
    seconds: float = 0.0
    timeouts: int = 0
    stderr: int = 0  # calls during which the student's code wrote to stderr (warnings)
    times: list[float] = field(default_factory=list)


def _sync_sockets(kernel_client) -> dict:
    """Blocking views of an async kernel client's iopub and shell sockets.

    nbclient (so nbgrader's Execute) uses jupyter_client's async client: reading its
    messages one by one through coroutines (run to completion on the thread's event loop
    for each message) cost the grading process a noticeable part of each call's ~6 messages.
    A zmq "shadow" socket is the same socket seen synchronously: while a call runs, nothing
    else reads these sockets (nbclient waits for the test cell), so the bridge reads them
    directly. Empty for a blocking client (it is synchronous already) or when the sockets
    cannot be shadowed (then the coroutines are used).
    """
    if not inspect.iscoroutinefunction(getattr(kernel_client, "get_iopub_msg", None)):
        return {}
    try:
        import zmq

        return {name: zmq.Socket.shadow(getattr(kernel_client, f"{name}_channel").socket.underlying)
                for name in ("iopub", "shell")}
    except Exception:  # noqa: BLE001 - a client without reachable sockets: the slower path
        return {}


def wait(result):
    """The value of a kernel client's or manager's call, synchronous or async.

    nbclient (and so nbgrader's Execute) drives the kernel with jupyter_client's async
    client and manager, whose `get_iopub_msg`, `is_alive` and `interrupt_kernel` are
    coroutines; they are run on the thread's own event loop, as nbclient does.
    """
    if not inspect.isawaitable(result):
        return result
    from jupyter_core.utils import run_sync

    async def awaited():
        return await result

    return run_sync(awaited)()


class KernelBridge:
    """Performs calls in one student kernel, one at a time."""

    def __init__(self, kernel_client, kernel_manager=None, *, call_timeout: float | None = None,
                 stream_cap: int = STREAM_CAP, interrupt_grace: float = INTERRUPT_GRACE):
        self.kc = kernel_client
        self.call_timeout = call_timeout
        self.km = kernel_manager
        self.stream_cap = stream_cap
        self.interrupt_grace = interrupt_grace
        self.dead: str | None = None
        self.stats = CallStats()
        self._sync = _sync_sockets(kernel_client)
        self._direct: bool | None = None  # calls as kernel_side's own message type (None: not tried yet)

    def call(self, function: str, args: list, kwargs: dict, timeout: float, *, png: bool = True,
             figures: bool = False) -> dict:
        """Perform one call; returns the reply for the judge:

        `{"payload": "<JSON text from the kernel>", "stdout": "..."}`, or
        `{"error": {"type": "TimeoutError" | "ResultRejected", "message": ...}, "stdout": ...}`.
        """
        if self.dead is not None:
            return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": ""}
        if self.call_timeout is not None:
            timeout = min(timeout, self.call_timeout)
        if timeout <= 0:
            return {"error": {"type": "TimeoutError",
                              "message": "no time left in this test cell's time limit to call " + function},
                    "stdout": ""}
        started = time.monotonic()
        request = json.dumps({"function": function, "args": args, "kwargs": kwargs, "png": bool(png),
                              "figures": bool(figures)},
                             ensure_ascii=False, separators=(",", ":"))
        try:
            msg_id = self._execute(request)
        except Exception as error:  # the channels are gone
            self.dead = f"the student's kernel cannot be reached ({type(error).__name__})"
            return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": ""}
        reply = self._collect(msg_id, function, started + timeout, timeout)
        elapsed = time.monotonic() - started
        self.stats.calls += 1
        self.stats.seconds += elapsed
        self.stats.times.append(elapsed)
        return reply

    # --- pieces -------------------------------------------------------------------------------

    def _get(self, channel: str, timeout: float) -> dict:
        """The next message on `channel` ("iopub" or "shell"); queue.Empty after `timeout`."""
        sync = self._sync.get(channel) if self._sync else None
        if sync is None:
            getter = self.kc.get_iopub_msg if channel == "iopub" else self.kc.get_shell_msg
            return wait(getter(timeout=timeout))
        if not sync.poll(int(timeout * 1000)):
            raise queue.Empty
        _, msg = self.kc.session.recv(sync, mode=0)
        if msg is None:
            raise queue.Empty
        return msg

    def _install(self, deadline: float) -> bool:
        """Ask the kernel to take calls as a message of their own (`kernel_side.install`):
        an execute_request runs IPython's whole cell machinery (transformers, compile,
        events, history, output flushes), about 4 ms of a short call's 7. True if the
        kernel said yes; otherwise every call goes as an execute_request."""
        content = {"code": kernel_side.INSTALL, "silent": True, "store_history": False,
                   "user_expressions": {"installed": kernel_side.INSTALLED}, "allow_stdin": False,
                   "stop_on_error": False}
        msg = self.kc.session.msg("execute_request", content)
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        while time.monotonic() < deadline:
            try:
                reply = self._get("shell", max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if (reply.get("parent_header") or {}).get("msg_id") != msg_id:
                continue
            found = ((reply.get("content") or {}).get("user_expressions") or {}).get("installed") or {}
            return found.get("status") == "ok" and (found.get("data") or {}).get("text/plain") == "True"
        return False

    def _execute(self, request: str) -> str:
        if self._direct is None:
            self._direct = self._install(time.monotonic() + 10)
        if self._direct:
            msg = self.kc.session.msg(kernel_side.CALL_REQUEST, {"request": request})
            self.kc.shell_channel.send(msg)
            return msg["header"]["msg_id"]
        return self._execute_request(request)

    def _execute_request(self, request: str) -> str:
        """Send the call: a short fixed snippet as the code, the request (arguments can be a
        whole table) in the execute_request's metadata, where kernel_side reads it. As a string
        literal in the code, a 44 KB table cost the kernel about 17 ms more per call to
        tokenize and compile."""
        content = {"code": kernel_side.SNIPPET, "silent": False, "store_history": False,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}
        msg = self.kc.session.msg("execute_request", content, metadata={kernel_side.REQUEST_KEY: request})
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def _alive(self) -> bool:
        if self.km is None:
            return True
        try:
            return bool(wait(self.km.is_alive()))
        except Exception:
            return False

    def _collect(self, msg_id: str, function: str, deadline: float, timeout: float) -> dict:
        payload: str | None = None
        printed: list[str] = []
        size = 0
        interrupted = False
        wrote_stderr = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                if interrupted:
                    self.dead = (f"the student's kernel did not stop {self.interrupt_grace:g} s after being "
                                 f"interrupted in {function}(); later calls are not made")
                    return {"error": {"type": "TimeoutError", "message": self.dead}, "stdout": "".join(printed)}
                interrupted = True
                self.stats.timeouts += 1
                self._interrupt()
                deadline = time.monotonic() + self.interrupt_grace
                continue
            try:
                msg = self._get("iopub", min(1.0, max(0.01, deadline - now)))
            except queue.Empty:
                if not self._alive():
                    self.dead = f"the student's kernel died during a call to {function}(); later calls are not made"
                    return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": "".join(printed)}
                continue
            except Exception as error:
                self.dead = f"the student's kernel cannot be reached ({type(error).__name__})"
                return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": "".join(printed)}
            if (msg.get("parent_header") or {}).get("msg_id") != msg_id:
                continue
            kind, content = msg.get("msg_type"), msg.get("content") or {}
            if kind == "stream" and content.get("name") == "stderr" and not wrote_stderr:
                wrote_stderr = True
                self.stats.stderr += 1
            if kind == "stream" and isinstance(content.get("text"), str) and size < self.stream_cap:
                text = content["text"][: self.stream_cap - size]
                size += len(text)
                printed.append(text)
                if size >= self.stream_cap:
                    printed.append("\n[grader: more printed output dropped]\n")
            elif kind == "display_data":
                value = (content.get("data") or {}).get(kernel_side.MIME)
                if isinstance(value, str) and len(value) <= codec.MAX_JSON:
                    payload = value
                elif value is not None:
                    payload = None
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        self._drain_shell(msg_id)
        stdout = "".join(printed)
        if interrupted:
            return {"error": {"type": "TimeoutError",
                              "message": f"{function}() did not return within {timeout:g} s; it was stopped"},
                    "stdout": stdout}
        if payload is None:
            return {"error": {"type": "ResultRejected",
                              "message": f"the student's kernel sent no result for {function}()"}, "stdout": stdout}
        return {"payload": payload, "stdout": stdout}

    def _interrupt(self) -> None:
        if self.km is None:
            return
        try:
            wait(self.km.interrupt_kernel())
        except Exception:
            pass

    def _drain_shell(self, msg_id: str) -> None:
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            try:
                msg = self._get("shell", max(0.01, end - time.monotonic()))
            except queue.Empty:
                return
            except Exception:
                return
            if (msg.get("parent_header") or {}).get("msg_id") == msg_id:
                return

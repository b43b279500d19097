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

import asyncio
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


async def _value(result):
    """`await` it if it is awaitable: one coroutine serves sync and async clients."""
    return await result if inspect.isawaitable(result) else result


def _drive(coroutine):
    """Run a coroutine that never suspends (a blocking kernel client's calls) without an
    event loop: asyncio is only needed where something is awaited."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the kernel bridge suspended on a blocking kernel client")


def _owning_loop(kernel_client):
    """The event loop an async kernel client's iopub socket is bound to, if that loop is
    running on another thread; else None.

    pyzmq's asyncio socket registers a reader for its file descriptor on the first loop
    that uses it (and on every later one) and keeps it until the socket closes. jupyter_core's
    `run_sync`, called on a thread whose loop is already running (Playwright's sync API does
    that to the main thread), runs coroutines on a background "runner" loop that never stops:
    from then on that thread handles the socket's events. A zmq socket is not thread-safe, so
    every read must then happen on that loop's thread: reading it from this thread at the same
    time aborted a test worker ("Fatal Python error: Aborted" in pyzmq's `_handle_events`).
    """
    socket = getattr(getattr(kernel_client, "iopub_channel", None), "socket", None)
    loop = getattr(socket, "_current_loop", None)
    if loop is None or not loop.is_running():
        return None
    try:
        if asyncio.get_running_loop() is loop:
            return None
    except RuntimeError:
        pass
    return loop


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
        self._shadows: dict = {}  # synchronous views of an async client's sockets (see `_get`)
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
        reply = self._run(self._round_trip(request, function, started + timeout, timeout))
        elapsed = time.monotonic() - started
        self.stats.calls += 1
        self.stats.seconds += elapsed
        self.stats.times.append(elapsed)
        return reply

    # --- pieces -------------------------------------------------------------------------------

    def _run(self, coroutine):
        """Run one call's coroutine where the kernel client's sockets live.

        A blocking client's coroutine never suspends: it is driven without a loop. An async
        client's runs as one coroutine per call (not one per message: a loop turn per
        message cost ~6 of them per call) on the loop its sockets are bound to -- the loop
        of a runner thread if jupyter_core's run_sync put them there, else this thread's,
        as nbclient's own calls do.
        """
        if not inspect.iscoroutinefunction(getattr(self.kc, "get_iopub_msg", None)):
            return _drive(coroutine)
        loop = _owning_loop(self.kc)
        if loop is not None:
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result()
        return wait(coroutine)

    async def _round_trip(self, request: str, function: str, deadline: float, timeout: float) -> dict:
        try:
            msg_id = await self._execute(request)
        except Exception as error:  # the channels are gone
            self.dead = f"the student's kernel cannot be reached ({type(error).__name__})"
            return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": ""}
        return await self._collect(msg_id, function, deadline, timeout)

    async def _get(self, channel: str, timeout: float) -> dict:
        """The next message on `channel` ("iopub" or "shell"); queue.Empty after `timeout`.

        For an async client, a message already waiting is taken at once through a
        synchronous view of the same socket (a zmq "shadow"): safe because this coroutine
        runs on the thread whose loop handles the socket (see `_run`), and ~1 ms a call
        faster than a poll future per message. Only when none is waiting does it await the
        client's own `get_*_msg`."""
        getter = self.kc.get_iopub_msg if channel == "iopub" else self.kc.get_shell_msg
        if not inspect.iscoroutinefunction(getter):
            return getter(timeout=timeout)
        shadow = self._shadow(channel)
        if shadow is not None:
            import zmq

            _, msg = self.kc.session.recv(shadow, mode=zmq.NOBLOCK)
            if msg is not None:
                return msg
        return await getter(timeout=timeout)

    def _shadow(self, channel: str):
        if channel not in self._shadows:
            try:
                import zmq

                socket = getattr(self.kc, f"{channel}_channel").socket
                self._shadows[channel] = zmq.Socket.shadow(socket.underlying)
            except Exception:  # noqa: BLE001 - a client without a reachable socket: awaited reads only
                self._shadows[channel] = None
        return self._shadows[channel]

    async def _install(self, deadline: float) -> bool:
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
                reply = await self._get("shell", max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if (reply.get("parent_header") or {}).get("msg_id") != msg_id:
                continue
            found = ((reply.get("content") or {}).get("user_expressions") or {}).get("installed") or {}
            return found.get("status") == "ok" and (found.get("data") or {}).get("text/plain") == "True"
        return False

    async def _execute(self, request: str) -> str:
        if self._direct is None:
            self._direct = await self._install(time.monotonic() + 10)
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

    async def _alive(self) -> bool:
        if self.km is None:
            return True
        try:
            return bool(await _value(self.km.is_alive()))
        except Exception:
            return False

    async def _collect(self, msg_id: str, function: str, deadline: float, timeout: float) -> dict:
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
                await self._interrupt()
                deadline = time.monotonic() + self.interrupt_grace
                continue
            try:
                msg = await self._get("iopub", min(1.0, max(0.01, deadline - now)))
            except queue.Empty:
                if not await self._alive():
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
        await self._drain_shell(msg_id)
        stdout = "".join(printed)
        if interrupted:
            return {"error": {"type": "TimeoutError",
                              "message": f"{function}() did not return within {timeout:g} s; it was stopped"},
                    "stdout": stdout}
        if payload is None:
            return {"error": {"type": "ResultRejected",
                              "message": f"the student's kernel sent no result for {function}()"}, "stdout": stdout}
        return {"payload": payload, "stdout": stdout}

    async def _interrupt(self) -> None:
        if self.km is None:
            return
        try:
            await _value(self.km.interrupt_kernel())
        except Exception:
            pass

    async def _drain_shell(self, msg_id: str) -> None:
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            try:
                msg = await self._get("shell", max(0.01, end - time.monotonic()))
            except queue.Empty:
                return
            except Exception:
                return
            if (msg.get("parent_header") or {}).get("msg_id") == msg_id:
                return

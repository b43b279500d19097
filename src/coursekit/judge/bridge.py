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

The channel. Once the kernel has taken `kernel_side.install`, a test cell's calls go over
a Unix socket instead of one ipykernel message each: at the cell's first call the bridge
listens on a socket in the kernel's own ipc folder (a private folder when the kernel is not
on ipc), asks the kernel with one `kernel_side.SERVE_REQUEST` message to connect to it, and
accepts only a connection that first sends the request's random token; each call is then
one frame each way, and `release()` (at the end of every judged cell, before the kernel runs
anything else) ends it. The reply frame is JSON with the same two things kept above -- the
encoded outcome, passed on unparsed, and the printed text, capped again here -- read with a
size cap. Time limits, interrupts and a dying kernel are handled as for messages; an
interrupt that reaches the kernel after its function has answered is dropped there (see
`kernel_side._serve`). If the channel cannot be opened, or the kernel closes it, calls go
as messages again.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import os
import queue
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field

from coursekit.judge import codec, kernel_side

STREAM_CAP = kernel_side.STREAM_CAP  # characters of the student's printing kept per call (the kernel caps it too)
INTERRUPT_GRACE = 5.0  # seconds a kernel has to stop after an interrupt
CONNECT_TIMEOUT = 5.0  # seconds a kernel has to connect to a test cell's channel
# bytes of one reply frame: an outcome of codec.MAX_JSON characters (4 bytes each at most in
# UTF-8, 6 as JSON escapes) and the printed text
FRAME_CAP = 6 * codec.MAX_JSON + 6 * 2 * kernel_side.STREAM_CAP + 4096


@dataclass
class CallStats:
    calls: int = 0
    seconds: float = 0.0
    timeouts: int = 0
    stderr: int = 0  # calls during which the student's code wrote to stderr (warnings)
    times: list[float] = field(default_factory=list)
    channel: int = 0  # calls made over the channel (the rest went as messages)


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


class _Unreadable(Exception):
    """A frame over the cap: the kernel's side of the channel is not kernel_side's."""


class _Channel:
    """The parent's end of one test cell's channel (kernel_side._serve is the other)."""

    def __init__(self, sock: socket.socket, serve_msg_id: str):
        self.sock = sock
        self.serve_msg_id = serve_msg_id
        self.buffer = bytearray()

    def send(self, data: bytes, timeout: float) -> None:
        self.sock.settimeout(max(0.001, timeout))
        self.sock.sendall(kernel_side.FRAME_HEADER.pack(len(data)) + data)

    def receive(self, timeout: float) -> bytes | None:
        """The next frame, or None if none is complete within `timeout`; EOFError when the
        kernel's end is closed, _Unreadable for a frame over FRAME_CAP."""
        header = kernel_side.FRAME_HEADER
        end = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= header.size:
                (size,) = header.unpack_from(self.buffer)
                if size > FRAME_CAP:
                    raise _Unreadable(f"a frame of {size} bytes")
                if len(self.buffer) >= header.size + size:
                    frame = bytes(self.buffer[header.size:header.size + size])
                    del self.buffer[:header.size + size]
                    return frame
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                return None
            if not chunk:
                raise EOFError
            self.buffer += chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class KernelBridge:
    """Performs calls in one student kernel, one at a time."""

    def __init__(self, kernel_client, kernel_manager=None, *, call_timeout: float | None = None,
                 stream_cap: int = STREAM_CAP, interrupt_grace: float = INTERRUPT_GRACE, channel: bool = True):
        """`channel`: send a test cell's calls over a socket of their own (see the module's
        docstring) once the kernel has taken kernel_side's install; False: as messages."""
        self.kc = kernel_client
        self.call_timeout = call_timeout
        self.km = kernel_manager
        self.stream_cap = stream_cap
        self.interrupt_grace = interrupt_grace
        self.dead: str | None = None
        self.stats = CallStats()
        self._shadows: dict = {}  # synchronous views of an async client's sockets (see `_get`)
        self._direct: bool | None = None  # calls as kernel_side's own message type (None: not tried yet)
        self._channel: _Channel | None = None  # this test cell's channel, once opened
        self._channel_ok = channel  # False once a channel could not be opened or was closed by the kernel
        self._folder: str | None = None  # a private folder for the channel's socket (kernels not on ipc)

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
        channel = self._open_channel() if self._channel_ok else None
        if channel is not None:
            self.stats.channel += 1
            reply = self._channel_call(channel, request, function, started + timeout, timeout)
        else:
            reply = self._run(self._round_trip(request, function, started + timeout, timeout))
        elapsed = time.monotonic() - started
        self.stats.calls += 1
        self.stats.seconds += elapsed
        self.stats.times.append(elapsed)
        return reply

    def release(self) -> None:
        """End this test cell's channel, if one is open: the kernel goes back to running
        cells. Called after every judged cell."""
        channel, self._channel = self._channel, None
        if channel is None:
            return
        try:
            channel.send(b"", timeout=1.0)
        except OSError:
            pass
        channel.close()
        # The kernel answers the serve request as it leaves the handler; that reply is not
        # waited for (2 ms a cell): whatever the kernel is asked next is queued behind it, and
        # every reader of its messages (nbclient, this bridge) skips replies to others' requests.

    def close(self) -> None:
        self.release()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # --- the channel ----------------------------------------------------------------------------

    def _socket_folder(self) -> str:
        """The kernel's ipc folder (the sandbox lets its kernel reach only that), else a
        private one."""
        ip = getattr(self.kc, "ip", "")
        if getattr(self.kc, "transport", "") == "ipc" and isinstance(ip, str) and ip:
            return os.path.dirname(os.path.abspath(ip))
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="coursekit-channel-")
        return self._folder

    def _open_channel(self) -> _Channel | None:
        if self._channel is not None:
            return self._channel
        if self._direct is None:
            self._direct = self._run(self._install(time.monotonic() + 10))
        if not self._direct:
            self._channel_ok = False
            return None
        path = os.path.join(self._socket_folder(), f"judge-{secrets.token_hex(8)}")
        token = secrets.token_hex(16).encode("ascii")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            os.chmod(path, 0o666)  # the kernel's own user connects; the folder is private to it
            listener.listen(4)
            msg = self.kc.session.msg(kernel_side.SERVE_REQUEST, {"path": path, "token": token.decode()})
            self._run(self._send_shell(msg))
            channel = self._accept(listener, token, msg["header"]["msg_id"])
        except OSError:
            channel = None
        finally:
            listener.close()
            try:
                os.unlink(path)
            except OSError:
                pass
        if channel is None:
            self._channel_ok = False  # calls go as messages from now on
        self._channel = channel
        return channel

    def _accept(self, listener: socket.socket, token: bytes, serve_msg_id: str) -> _Channel | None:
        """The connection that sends `token` first, within CONNECT_TIMEOUT."""
        end = time.monotonic() + CONNECT_TIMEOUT
        while (left := end - time.monotonic()) > 0:
            listener.settimeout(left)
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                return None
            channel = _Channel(connection, serve_msg_id)
            try:
                hello = channel.receive(max(0.01, end - time.monotonic()))
            except (EOFError, _Unreadable, OSError):
                hello = None
            if hello is not None and hmac.compare_digest(hello, token):
                return channel
            channel.close()
        return None

    async def _send_shell(self, msg) -> None:
        self.kc.shell_channel.send(msg)

    def _channel_call(self, channel: _Channel, request: str, function: str, deadline: float,
                      timeout: float) -> dict:
        try:
            channel.send(request.encode("utf-8"), max(1.0, deadline - time.monotonic()))
        except OSError:
            return self._channel_lost(function)
        interrupted = False
        grace_end = next_interrupt = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                if not interrupted:
                    interrupted = True
                    self.stats.timeouts += 1
                    self._run(self._interrupt())
                    grace_end, next_interrupt = now + self.interrupt_grace, now + 1.0
                elif now >= grace_end:
                    self.dead = (f"the student's kernel did not stop {self.interrupt_grace:g} s after being "
                                 f"interrupted in {function}(); later calls are not made")
                    self._drop_channel()
                    return {"error": {"type": "TimeoutError", "message": self.dead}, "stdout": ""}
                elif now >= next_interrupt:
                    # an interrupt that reached the kernel before the function started was dropped there
                    self._run(self._interrupt())
                    next_interrupt = now + 1.0
                wait_for = max(0.001, min(grace_end, next_interrupt) - now)
            else:
                wait_for = min(1.0, deadline - now)
            try:
                frame = channel.receive(wait_for)
            except (EOFError, OSError):
                return self._channel_lost(function)
            except _Unreadable:
                self._drop_channel()
                self._channel_ok = False
                return {"error": {"type": "ResultRejected",
                                  "message": f"the student's kernel sent an unreadable reply for {function}()"},
                        "stdout": ""}
            if frame is not None:
                break
            if not self._run(self._alive()):
                self.dead = f"the student's kernel died during a call to {function}(); later calls are not made"
                self._drop_channel()
                return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": ""}
        return self._channel_reply(frame, function, timeout, interrupted)

    def _channel_reply(self, frame: bytes, function: str, timeout: float, interrupted: bool) -> dict:
        try:
            reply = json.loads(frame)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            return {"error": {"type": "ResultRejected",
                              "message": f"the student's kernel sent an unreadable reply for {function}()"},
                    "stdout": ""}
        out = reply.get("out") if isinstance(reply.get("out"), str) else ""
        stdout = out[: self.stream_cap]
        if len(out) >= self.stream_cap or (reply.get("more") is True and out):
            stdout += "\n[grader: more printed output dropped]\n"
        if reply.get("stderr") is True:
            self.stats.stderr += 1
        if interrupted:
            return {"error": {"type": "TimeoutError",
                              "message": f"{function}() did not return within {timeout:g} s; it was stopped"},
                    "stdout": stdout}
        payload = reply.get("payload")
        if not isinstance(payload, str) or len(payload) > codec.MAX_JSON:
            return {"error": {"type": "ResultRejected",
                              "message": f"the student's kernel sent no result for {function}()"}, "stdout": stdout}
        return {"payload": payload, "stdout": stdout}

    def _drop_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    def _channel_lost(self, function: str) -> dict:
        self._drop_channel()
        # a kernel that died closed its end a moment before it is seen to be gone
        end = time.monotonic() + 1.0
        while (alive := self._run(self._alive())) and time.monotonic() < end:
            time.sleep(0.02)
        if not alive:
            self.dead = f"the student's kernel died during a call to {function}(); later calls are not made"
            return {"error": {"type": "ResultRejected", "message": self.dead}, "stdout": ""}
        self._channel_ok = False  # the kernel closed it: calls go as messages from now on
        return {"error": {"type": "ResultRejected",
                          "message": f"the student's kernel closed the grader's channel during {function}()"},
                "stdout": ""}

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

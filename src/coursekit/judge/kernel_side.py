"""The code that performs one proxied call inside the student's kernel.

Trust boundary. This module runs in the student's kernel, which is untrusted: student
code may have replaced it, the codec, `json`, or anything else there. That can only
change what the kernel reports for the student's own function -- the same power as
returning some value -- because the judge decodes the report as data with caps and
never runs anything because of it. Nothing here is secret; no test code is ever sent.

Before its first call the parent asks the kernel to `install()` handlers for two message
types of its own. `SERVE_REQUEST` (content `{"path": <unix socket>, "token": <str>}`) makes
the kernel connect to a socket the parent listens on and take a test cell's calls over it,
one frame each, until the parent ends the cell (`_serve`): no IPython cell machinery, no
ipykernel message per call. `CALL_REQUEST` (content `{"request": <request JSON>}`) is one
call as one message (`_handle`), used when the channel cannot be opened. If the kernel does
not confirm the handlers, every call is an execute_request instead, whose code is one fixed
snippet (`SNIPPET`):

    __import__("coursekit.judge.kernel_side", fromlist=["perform"]).perform()

with the request in the execute_request's metadata under `REQUEST_KEY` (the request:
`{"function": name, "args": [...], "kwargs": {...}, "png": bool, "figures": bool}`; `png`
asks for a picture of a returned chart, `figures` says whether the test has a pyplot figure
open in the judge), with `store_history=False`, so it never enters `In`/`_ih`. `perform`
decodes the arguments, calls the function found under that name in the user namespace, encodes the
outcome and publishes it as one `display_data` message with the MIME type `MIME`, whose
value is a JSON string:

    {"v": 1, "ok": <encoded value>}                 the function returned
    {"v": 1, "raise": {"type": ..., "message": ...}}   it raised (first builtin class in its MRO)
    {"v": 1, "reject": "<why>"}                      the value could not be sent (caps)
    plus "mutated": {"<arg position or name>": <encoded value>} for arguments it changed

Pyplot's figures are mirrored, so that a chart function sees what it would see if the test
ran in the kernel. The test's figures live in the judge; before each call the kernel is
brought to the same state: no figure open in the judge -> every kernel figure is closed; a
figure open there -> at least one open here (a blank stand-in when there is none). A returned
chart whose figure was already open before the call is marked `"on_open_figure": true`, and
the judge rebuilds it into its own current figure: a function that draws on whatever Axes is
current (`plt.gca()`) is caught by a test that opens a figure first, as it is in the kernel.
Returned figures stay open (the stock path keeps them too) until the judge closes its own; when a
judged cell ends over the channel, the kernel closes its figures as the judge has (`_close_figures`).
"""

from __future__ import annotations

import copy
import json
import signal
import socket
import struct

MIME = "application/x-coursekit-judge"
PROTOCOL = 1


REQUEST_KEY = "coursekit_judge_call"  # the execute_request's metadata key holding the request
SNIPPET = '__import__("coursekit.judge.kernel_side", fromlist=["perform"]).perform()'


CALL_REQUEST, CALL_REPLY = "coursekit_call_request", "coursekit_call_reply"
SERVE_REQUEST, SERVE_REPLY = "coursekit_serve_request", "coursekit_serve_reply"
STREAM_CAP = 10_000  # characters of a call's printing sent back over the channel (the bridge caps again)
INSTALL = '__import__("coursekit.judge.kernel_side", fromlist=["install"]).install()'
INSTALLED = '__import__("coursekit.judge.kernel_side", fromlist=["installed"]).installed()'


def install() -> None:
    """Take calls as messages of their own type (`CALL_REQUEST`, content `{"request": ...}`),
    handled by `_handle` without IPython's cell machinery; ipykernel still sends busy and
    idle, flushes the streams and turns an interrupt into KeyboardInterrupt in the handler."""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is not None and isinstance(getattr(kernel, "shell_handlers", None), dict):
        kernel.shell_handlers[CALL_REQUEST] = _handle
        kernel.shell_handlers[SERVE_REQUEST] = _serve
        import sys
        for stream in (sys.stdout, sys.stderr):
            _skip_empty_flushes(stream)


def _skip_empty_flushes(stream) -> None:
    """Make `stream.flush()` (an ipykernel OutStream) return at once when nothing is buffered.

    ipykernel hands every flush to its IOPub thread and waits for it, even an empty one, and
    each proxied call flushed stdout and stderr twice (~0.6 ms a call, measured). Skipping an
    empty flush reorders nothing: text still buffered is flushed as before, and every IOPub
    message (stream, display, status) leaves through that one thread in the order it was
    handed over. Streams that are not ipykernel's, or that echo elsewhere, are left alone."""
    original = getattr(stream, "flush", None)
    lock, echo = getattr(stream, "_buffer_lock", None), getattr(stream, "echo", "absent")
    if original is None or lock is None or echo is not None or not isinstance(getattr(stream, "_buffers", None), dict):
        return

    def flush():
        with lock:
            empty = not any(buffer.tell() for buffer in stream._buffers.values())
        if not empty:
            original()

    stream.flush = flush


def installed() -> bool:
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    handlers = getattr(kernel, "shell_handlers", {})
    return handlers.get(CALL_REQUEST) is _handle and handlers.get(SERVE_REQUEST) is _serve


def _handle(stream, idents, msg) -> None:
    from IPython import get_ipython

    kernel = get_ipython().kernel
    try:
        request = (msg.get("content") or {}).get("request")
        perform(request if isinstance(request, str) else "")
    except KeyboardInterrupt:
        pass  # the parent interrupted a call past its time limit: it reports the timeout
    finally:
        kernel.session.send(stream, CALL_REPLY, {"status": "ok"}, msg, ident=idents)


# --- the channel: a test cell's calls over one socket -----------------------------------------
#
# Why a socket of our own and not ipykernel's messages: a call as a shell message makes four
# messages (busy, result, idle, reply), each signed, serialised and passed between three
# threads in the kernel (ipykernel 7's shell-channel thread, the main thread, the IOPub
# thread) and read back in the parent; that hand-over, not the work, was most of a short
# call's 5-8 ms in a grading worker (measured: 2.2 ms from sending to the kernel's "busy",
# 0.8 ms of work, 0.7 ms to "idle", 2.3 ms until the parent had it). Over the channel a call is
# one frame each way. What the kernel can say over it is what it could say before: one
# reply per call, read by the parent with caps and passed to the judge unparsed.

FRAME_HEADER = struct.Struct(">I")  # each frame: its length, then that many bytes (UTF-8 JSON)


class _Frames:
    """Frames from a blocking socket. Bytes already received stay in the buffer if an
    exception (an interrupt) ends a read early, so no frame is ever cut in two."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()

    def next(self) -> bytes | None:
        """The next frame; None at the end of the stream."""
        while True:
            if len(self.buffer) >= FRAME_HEADER.size:
                (size,) = FRAME_HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= FRAME_HEADER.size + size:
                    frame = bytes(self.buffer[FRAME_HEADER.size:FRAME_HEADER.size + size])
                    del self.buffer[:FRAME_HEADER.size + size]
                    return frame
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buffer += chunk


class _Capture:
    """What one call over the channel printed to sys.stdout and sys.stderr: the text, capped,
    and whether anything went to stderr (the bridge counts warnings)."""

    def __init__(self, cap: int = STREAM_CAP):
        self.parts: list[str] = []
        self.size = 0
        self.cap = cap
        self.more = False
        self.stderr = False


class _CaptureStream:
    encoding = "utf-8"

    def __init__(self, capture: _Capture, is_stderr: bool):
        self.capture, self.is_stderr = capture, is_stderr

    def write(self, text) -> int:
        text, capture = str(text), self.capture
        written = len(text)
        if self.is_stderr and text:
            capture.stderr = True
        room = capture.cap - capture.size
        if len(text) > room:
            capture.more = True
            text = text[:max(room, 0)]
        if text:
            capture.parts.append(text)
            capture.size += len(text)
        return written

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _serve(stream, idents, msg) -> None:
    """Take a test cell's calls over the parent's socket until it sends an empty frame (or
    closes it), then answer the serve request."""
    import sys

    from IPython import get_ipython

    kernel = get_ipython().kernel
    content = msg.get("content") or {}
    status = "ok"
    armed = [False]

    def on_interrupt(signum, frame):
        # The parent interrupts a call past its time limit. Only while the student's
        # function runs does that stop anything; an interrupt that comes after the call has
        # answered (it was on its way) is meant for no one and is dropped here.
        if armed[0]:
            raise KeyboardInterrupt

    def arm(on: bool) -> None:
        armed[0] = on

    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = signal.getsignal(signal.SIGINT)
    try:
        # before the token is sent: once it is, the parent may send a call and, with no time
        # left, interrupt at once; ipykernel's own handler would end the channel there
        signal.signal(signal.SIGINT, on_interrupt)
        channel.connect(str(content.get("path")))
        _send_frame(channel, str(content.get("token")).encode("utf-8"))
        frames = _Frames(channel)
        while True:
            request = frames.next()
            if request == b"":  # the parent's end of the cell (`release`): its judge has closed its figures
                _close_figures()
                break
            if request is None:  # the parent dropped the channel mid-cell: the cell goes on as messages
                break
            capture = _Capture()
            streams = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _CaptureStream(capture, False), _CaptureStream(capture, True)
            try:
                payload = outcome(request.decode("utf-8", "replace"), arm)
                reply = {"payload": _text(payload)}
            except KeyboardInterrupt:
                reply = {"interrupted": True}
            finally:
                sys.stdout, sys.stderr = streams
            reply.update(out="".join(capture.parts), more=capture.more, stderr=capture.stderr)
            _skip_inline_flush()
            _send_frame(channel, json.dumps(reply, ensure_ascii=False).encode("utf-8"))
    except Exception as error:  # noqa: BLE001 - the parent sees the channel close and reports it
        status = f"error: {type(error).__name__}"
    finally:
        signal.signal(signal.SIGINT, previous)
        channel.close()
        kernel.session.send(stream, SERVE_REPLY, {"status": status}, msg, ident=idents)


def _send_frame(sock, data: bytes) -> None:
    sock.sendall(FRAME_HEADER.pack(len(data)) + data)


def _request_from_parent() -> str:
    """The request in the metadata of the execute_request being run."""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    parent = kernel.get_parent("shell") if kernel is not None else None
    request = ((parent or {}).get("metadata") or {}).get(REQUEST_KEY)
    if not isinstance(request, str):
        raise ValueError("no request in the message")
    return request


def _publish(payload: dict) -> None:
    from IPython.display import publish_display_data

    publish_display_data({MIME: _text(payload)}, metadata={})


def _axes_encoder(png: bool, already_open: set[int]):
    from coursekit import charts
    from coursekit.judge import axes

    def encode(value, encoder):
        data = axes.encode_axes(value, encoder, png=png)
        if data is not None:
            data["on_open_figure"] = id(charts._root_figure(value)) in already_open
        return data

    return encode


def _mirror_figures(judge_has_figures: bool) -> set[int]:
    """Bring the kernel's pyplot to the judge's state (see the module's docstring); returns
    the ids of the figures open when the student's function is called."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:  # the student's code never imported pyplot: nothing to mirror
        return set()
    try:
        if not judge_has_figures:
            plt.close("all")
        elif not plt.get_fignums():
            plt.figure()  # stands for the figure the test opened in the judge
        numbers = plt.get_fignums()
        if not numbers:
            return set()
        current = plt.gcf()  # plt.figure(n) below makes n current: the student's current figure is put back
        found = {id(plt.figure(number)) for number in numbers}
        plt.figure(current.number)
        return found
    except Exception:  # pyplot replaced or broken by student code: the call goes on unmirrored
        return set()


def _close_figures() -> None:
    """Close the kernel's pyplot figures at the end of a judged cell, as the judge closes its
    own: the mirroring above, applied when the cell ends rather than at the next call.
    Without it the last call's charts stayed open, and pyplot's post-execute hook in IPython
    (`_draw_all_if_interactive`) drew every one of them again after each later student cell
    (the student cells' time per notebook went from 0.18 and 0.15 s to 0.11 s with this, in
    `benchmarks/profile_worker.py --students 12`, docs/performance.md), and in 03 the next
    student cell's output showed one of them beside its own chart. A stock run leaves none
    open: its test cells close what they read, and the inline backend closes the rest when the
    test cell ends."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        plt.close("all")
    except Exception:  # noqa: BLE001 - pyplot replaced or broken by student code: left as it is
        pass


def perform(request: str | None = None) -> None:
    """Perform the call described by `request` (JSON; by default the one in the running
    execute_request's metadata) and publish its outcome."""
    try:
        request = request if request is not None else _request_from_parent()
    except Exception as error:
        payload = {"v": PROTOCOL, "reject": f"the call could not be read in the kernel: {type(error).__name__}"}
    else:
        payload = outcome(request)
    _skip_inline_flush()
    _publish(payload)


def outcome(request: str, arm=None) -> dict:
    """The outcome of the call described by `request` (JSON), as the payload to send.
    `arm(True)` is called just before the student's function runs and `arm(False)` after
    (the channel's interrupt handler raises only in between)."""
    from coursekit.judge import codec

    try:
        spec = json.loads(request)
        name = spec["function"]
        args = codec.decode(spec.get("args", []))
        kwargs = codec.decode(spec.get("kwargs", {"$": "dict", "t": "dict", "k": [], "v": []}))
    except Exception as error:
        return {"v": PROTOCOL, "reject": f"the call could not be read in the kernel: {type(error).__name__}"}
    from IPython import get_ipython

    shell = get_ipython()
    function = shell.user_ns.get(name) if shell is not None else None
    if function is None:
        return {"v": PROTOCOL, "raise": {"type": "NameError", "message": f"name '{name}' is not defined"}}
    if not callable(function):
        return {"v": PROTOCOL, "raise": {"type": "TypeError",
                                         "message": f"'{type(function).__name__}' object is not callable"}}
    snapshot = _snapshot(args, kwargs)
    already_open = _mirror_figures(spec.get("figures") is True)
    try:
        if arm is not None:
            arm(True)
        try:
            result = function(*args, **kwargs)
        finally:
            if arm is not None:
                arm(False)
    except KeyboardInterrupt:
        raise  # the parent interrupted a call past its time limit: it reports the timeout
    except BaseException as error:  # noqa: BLE001 - the student's error travels to the judge
        payload = {"v": PROTOCOL, "raise": codec.encode_exception(error)}
    else:
        try:
            encoder = _axes_encoder(spec.get("png") is True, already_open)
            payload = {"v": PROTOCOL, "ok": codec.encode(result, axes_encoder=encoder)}
        except (codec.EncodeError, MemoryError, RecursionError) as error:
            payload = {"v": PROTOCOL, "reject": f"the returned value cannot be sent to the grader: {error}"}
        except Exception as error:  # a hostile value whose methods raise while being read
            payload = {"v": PROTOCOL, "reject": f"the returned value could not be read ({type(error).__name__})"}
    payload["mutated"] = _mutated(snapshot, args, kwargs)
    return payload


def _text(payload: dict) -> str:
    from coursekit.judge import codec

    try:
        return codec.dumps(payload)
    except codec.EncodeError as error:
        return json.dumps({"v": PROTOCOL, "reject": str(error)})


def _skip_inline_flush() -> None:
    """Keep the inline backend from rendering the call's figures when this execute_request
    ends. Its post_execute hook draws every figure touched during a cell as a PNG (0.2-0.5 s
    a chart) and sends it, which the bridge ignores: the chart travels as data, and the
    judge asks for one PNG per test cell itself. Clearing the backend's "drawn" mark
    (matplotlib_inline's own flag; there is no public switch) skips that render; the figure
    stays open, as the mirroring above wants.
    """
    import sys

    backend = sys.modules.get("matplotlib_inline.backend_inline")
    show = getattr(backend, "show", None)
    try:
        if show is not None and getattr(show, "_draw_called", False):
            show._draw_called = False
            show._to_draw = []
    except Exception:  # noqa: BLE001 - a changed backend: it renders, as before
        pass


_MUTABLE = ("list", "dict", "set", "DataFrame", "Series", "ndarray")


def _mutable(args: list, kwargs: dict) -> dict:
    found = {str(i): v for i, v in enumerate(args)}
    found.update(kwargs)
    return {k: v for k, v in found.items() if type(v).__name__ in _MUTABLE}


def _snapshot(args: list, kwargs: dict) -> dict:
    """A private copy of every mutable argument, to tell afterwards whether the call changed
    it. A copy and a comparison, not an encoding: a table argument is encoded only if it
    changed."""
    snapshot = {}
    for key, value in _mutable(args, kwargs).items():
        try:
            snapshot[key] = value.copy(deep=True) if type(value).__name__ in ("DataFrame", "Series") \
                else copy.deepcopy(value)
        except Exception:
            pass
    return snapshot


def _same(before, now) -> bool:
    """Is `now` (an argument after the call) what `before` (its copy) was? Unsure is "no"."""
    kind = type(now).__name__
    try:
        if type(before) is not type(now):
            return False
        if kind in ("DataFrame", "Series"):
            return bool(before.equals(now)) and list(before.index) == list(now.index) and \
                (kind == "Series" or list(before.columns) == list(now.columns))
        if kind == "ndarray":
            import numpy as np

            return before.dtype == now.dtype and bool(np.array_equal(before, now, equal_nan=before.dtype.kind in "fc"))
        return bool(before == now)
    except Exception:
        return False


def _mutated(snapshot: dict, args: list, kwargs: dict) -> dict:
    """Arguments the function changed, encoded (the judge applies them to its own copies)."""
    from coursekit.judge import codec

    changed = {}
    for key, value in _mutable(args, kwargs).items():
        if key not in snapshot or _same(snapshot[key], value):
            continue
        try:
            changed[key] = codec.encode(value)
        except Exception:
            continue
    return changed

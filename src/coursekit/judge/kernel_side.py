"""The code that performs one proxied call inside the student's kernel.

Trust boundary. This module runs in the student's kernel, which is untrusted: student
code may have replaced it, the codec, `json`, or anything else there. That can only
change what the kernel reports for the student's own function -- the same power as
returning some value -- because the judge decodes the report as data with caps and
never runs anything because of it. Nothing here is secret; no test code is ever sent.

Before its first call the parent asks the kernel to `install()` a handler for a message
type of its own (`CALL_REQUEST`, content `{"request": <request JSON>}`); each call is then
one such message, handled by `_handle` without IPython's cell machinery. If the kernel does
not confirm the handler, every call is an execute_request instead, whose code is one fixed
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
Returned figures stay open (the stock path keeps them too) until the judge closes its own.
"""

from __future__ import annotations

import copy
import json

MIME = "application/x-coursekit-judge"
PROTOCOL = 1


REQUEST_KEY = "coursekit_judge_call"  # the execute_request's metadata key holding the request
SNIPPET = '__import__("coursekit.judge.kernel_side", fromlist=["perform"]).perform()'


CALL_REQUEST, CALL_REPLY = "coursekit_call_request", "coursekit_call_reply"
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
    return getattr(kernel, "shell_handlers", {}).get(CALL_REQUEST) is _handle


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

    from coursekit.judge import codec

    try:
        text = codec.dumps(payload)
    except codec.EncodeError as error:
        text = json.dumps({"v": PROTOCOL, "reject": str(error)})
    publish_display_data({MIME: text}, metadata={})


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


def perform(request: str | None = None) -> None:
    """Perform the call described by `request` (JSON; by default the one in the running
    execute_request's metadata) and publish its outcome."""
    from coursekit.judge import codec

    try:
        spec = json.loads(request if request is not None else _request_from_parent())
        name = spec["function"]
        args = codec.decode(spec.get("args", []))
        kwargs = codec.decode(spec.get("kwargs", {"$": "dict", "t": "dict", "k": [], "v": []}))
    except Exception as error:
        _publish({"v": PROTOCOL, "reject": f"the call could not be read in the kernel: {type(error).__name__}"})
        return
    from IPython import get_ipython

    shell = get_ipython()
    function = shell.user_ns.get(name) if shell is not None else None
    if function is None:
        _publish({"v": PROTOCOL, "raise": {"type": "NameError", "message": f"name '{name}' is not defined"}})
        return
    if not callable(function):
        _publish({"v": PROTOCOL, "raise": {"type": "TypeError",
                                          "message": f"'{type(function).__name__}' object is not callable"}})
        return
    snapshot = _snapshot(args, kwargs)
    already_open = _mirror_figures(spec.get("figures") is True)
    try:
        result = function(*args, **kwargs)
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
    _skip_inline_flush()
    _publish(payload)


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

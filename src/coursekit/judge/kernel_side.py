"""The code that performs one proxied call inside the student's kernel.

Trust boundary. This module runs in the student's kernel, which is untrusted: student
code may have replaced it, the codec, `json`, or anything else there. That can only
change what the kernel reports for the student's own function -- the same power as
returning some value -- because the judge decodes the report as data with caps and
never runs anything because of it. Nothing here is secret; no test code is ever sent.

The parent sends, for each call, the small stable snippet from `snippet()`:

    __import__("coursekit.judge.kernel_side", fromlist=["perform"]).perform('<request JSON>')

(the request: `{"function": name, "args": [...], "kwargs": {...}, "png": bool}`; `png`
asks for a picture of a returned chart) with `store_history=False`, so it never enters `In`/`_ih`. `perform` decodes the
arguments, calls the function found under that name in the user namespace, encodes the
outcome and publishes it as one `display_data` message with the MIME type `MIME`, whose
value is a JSON string:

    {"v": 1, "ok": <encoded value>}                 the function returned
    {"v": 1, "raise": {"type": ..., "message": ...}}   it raised (first builtin class in its MRO)
    {"v": 1, "reject": "<why>"}                      the value could not be sent (caps)
    plus "mutated": {"<arg position or name>": <encoded value>} for arguments it changed

The figure of a returned Axes is closed in the kernel after encoding (the judge works on
its rebuilt copy), so repeated chart calls do not pile figures up in the kernel.
"""

from __future__ import annotations

import json

MIME = "application/x-coursekit-judge"
PROTOCOL = 1


def snippet(request: str) -> str:
    return f'__import__("coursekit.judge.kernel_side", fromlist=["perform"]).perform({request!r})'


def _publish(payload: dict) -> None:
    from IPython.display import publish_display_data

    from coursekit.judge import codec

    try:
        text = codec.dumps(payload)
    except codec.EncodeError as error:
        text = json.dumps({"v": PROTOCOL, "reject": str(error)})
    publish_display_data({MIME: text}, metadata={})


def _axes_encoder(png: bool):
    from coursekit.judge import axes

    return lambda value, encoder: axes.encode_axes(value, encoder, png=png)


def perform(request: str) -> None:
    """Perform the call described by `request` (JSON) and publish its outcome."""
    from coursekit.judge import codec

    try:
        spec = json.loads(request)
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
    try:
        result = function(*args, **kwargs)
    except KeyboardInterrupt:
        raise  # the parent interrupted a call past its time limit: it reports the timeout
    except BaseException as error:  # noqa: BLE001 - the student's error travels to the judge
        payload = {"v": PROTOCOL, "raise": codec.encode_exception(error)}
    else:
        try:
            payload = {"v": PROTOCOL, "ok": codec.encode(result, axes_encoder=_axes_encoder(spec.get("png") is True))}
        except (codec.EncodeError, MemoryError, RecursionError) as error:
            payload = {"v": PROTOCOL, "reject": f"the returned value cannot be sent to the grader: {error}"}
        except Exception as error:  # a hostile value whose methods raise while being read
            payload = {"v": PROTOCOL, "reject": f"the returned value could not be read ({type(error).__name__})"}
        _close_figure(result)
    payload["mutated"] = _mutated(snapshot, args, kwargs)
    _publish(payload)


_MUTABLE = ("list", "dict", "set", "DataFrame", "Series", "ndarray")


def _mutable(args: list, kwargs: dict) -> dict:
    found = {str(i): v for i, v in enumerate(args)}
    found.update(kwargs)
    return {k: v for k, v in found.items() if type(v).__name__ in _MUTABLE}


def _snapshot(args: list, kwargs: dict) -> dict:
    from coursekit.judge import codec

    snapshot = {}
    for key, value in _mutable(args, kwargs).items():
        try:
            snapshot[key] = codec.encode(value)
        except Exception:
            pass
    return snapshot


def _mutated(snapshot: dict, args: list, kwargs: dict) -> dict:
    """Arguments whose encoding changed during the call (the function modified them)."""
    from coursekit.judge import codec

    changed = {}
    for key, value in _mutable(args, kwargs).items():
        if key not in snapshot:
            continue
        try:
            now = codec.encode(value)
        except Exception:
            continue
        if now != snapshot[key]:
            changed[key] = now
    return changed


def _close_figure(result) -> None:
    import sys

    module = sys.modules.get("matplotlib.axes")
    if module is None or not isinstance(result, module.Axes):
        return
    try:
        import matplotlib.pyplot as plt

        from coursekit import charts

        plt.close(charts._root_figure(result))
    except Exception:
        pass

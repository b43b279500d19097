"""The judge process: runs the instructor's setup and test cells; never runs student code.

Started by `coursekit.judge.process` as `python -I -m coursekit.judge.worker` in the
grader's folder (never the submission's), with the Agg backend. It is trusted: it
runs only the instructor's cells, taken from the instructor's source notebook, with the
process's own builtins, which no student code has touched. Student code stays in the
student's kernel; here every graded function is a `Proxy`, and what comes back from the
kernel is decoded by `coursekit.judge.codec` as data (no pickle, no eval, capped).

Protocol: JSON lines. The real stdout is kept for the protocol and file descriptor 1 is
pointed at stderr, so nothing printed by a library can corrupt it.

    parent -> judge  {"op": "init", "functions": [names]}             -> {"op": "ready"}
                     {"op": "run", "source": "...", "name": "..."}     -> {"op": "done", "outputs": [...]}
                     {"op": "quit"}
    judge -> parent  {"op": "call", "function": f, "args": [...], "kwargs": {...}}   (while running)
    parent -> judge  {"op": "reply", "payload": "<kernel JSON>" | "error": {...}, "stdout": "..."}

Outputs are nbformat outputs: stdout text (what the cell printed, warnings included, and
what the student's function printed during calls, capped), `display_data` (the kernel's
PNG of a chart, through `coursekit.charts.show`), the `execute_result` of the cell's last
expression (its partial credit), or an `error` with the exception's name and message
only -- never a traceback with the test's source.
"""

from __future__ import annotations

import ast
import base64
import builtins
import json
import os
import re
import sys
from typing import Any

OUTPUT_CAP = 100_000  # characters of stream output kept per cell
MAX_LINE = 64_000_000


class Channel:
    """The JSON-lines pipe to the parent."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    def send(self, message: dict) -> None:
        self.writer.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
        self.writer.flush()

    def receive(self) -> dict:
        line = self.reader.readline(MAX_LINE)
        if not line:
            raise EOFError
        return json.loads(line)


class Capture:
    """A cell's outputs in order; stream text merged and capped."""

    def __init__(self):
        self.outputs: list[dict] = []
        self.size = 0
        self.capped = False

    def write(self, text: str) -> int:
        if not isinstance(text, str) or not text:
            return 0
        if self.size + len(text) > OUTPUT_CAP:
            if not self.capped:
                self.capped = True
                self._stream(text[: max(0, OUTPUT_CAP - self.size)] + "\n[grader: output beyond the cap dropped]\n")
            return len(text)
        self.size += len(text)
        self._stream(text)
        return len(text)

    def _stream(self, text: str) -> None:
        if self.outputs and self.outputs[-1]["output_type"] == "stream":
            self.outputs[-1]["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": "stdout", "text": text})

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def display_png(self, blob: bytes, alt: str | None) -> None:
        # the output `charts.show` makes in a kernel: with `alt`, the alt text in the PNG's
        # metadata (nbconvert's <img alt=...>), as an HTML <img alt> (JupyterLab) and as text
        from coursekit.charts import picture_output

        data, metadata = picture_output(base64.b64encode(blob).decode("ascii"), alt)
        self.outputs.append({"output_type": "display_data", "metadata": metadata, "data": data})


class Judge:
    def __init__(self, channel: Channel):
        self.channel = channel
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.capture: Capture | None = None
        self.pictures_left = 1

    # --- proxied calls ------------------------------------------------------------------------

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        from coursekit.judge import codec

        try:
            encoded_args = [codec.encode(a) for a in args]
            encoded_kwargs = codec.encode(dict(kwargs))
        except codec.EncodeError as error:
            raise codec.ResultRejected(f"the arguments of {name}() are too big to send: {error}") from None
        for value in [*encoded_args, *encoded_kwargs["v"]]:
            if isinstance(value, dict) and value.get("$") == "unsupported":
                raise codec.ResultRejected(f"{name}() was called with a {value['type']}, which cannot be sent")
        # A PNG costs the kernel about 0.1 s per chart: asked for the first chart of each cell
        # (the one a test shows with charts.show); later ones are drawn from the rebuilt copy.
        self.channel.send({"op": "call", "function": name, "args": encoded_args, "kwargs": encoded_kwargs,
                           "png": self.pictures_left > 0, "figures": _figures_open()})
        reply = self.channel.receive()
        if reply.get("stdout") and self.capture is not None:
            self.capture.write(str(reply["stdout"]))
        error = reply.get("error")
        if error is not None:
            kind = {"TimeoutError": TimeoutError}.get(error.get("type"), codec.ResultRejected)
            raise kind(str(error.get("message", ""))[: codec.MAX_MESSAGE])
        try:
            outcome = codec.loads(reply.get("payload"))
            if type(outcome) is not dict:
                raise codec.DecodeError("not an object")
            if "mutated" in outcome:
                self._write_back(outcome["mutated"], args, kwargs)
            if "raise" in outcome:
                exception = codec.decode_exception(outcome["raise"])
            elif "reject" in outcome:
                exception = codec.ResultRejected(str(outcome["reject"])[: codec.MAX_MESSAGE])
            elif "ok" in outcome:
                value = codec.decode(outcome["ok"], axes_decoder=_rebuild)
                if type(outcome["ok"]) is dict and outcome["ok"].get("png") is not None:
                    self.pictures_left -= 1
                return value
            else:
                raise codec.DecodeError("no outcome")
        except codec.DecodeError as error:
            raise codec.ResultRejected(f"what {name}() returned could not be read by the grader: {error}") from None
        raise exception

    def _write_back(self, mutated: Any, args: tuple, kwargs: dict) -> None:
        """Apply in place the changes the student's function made to its arguments."""
        from coursekit.judge import codec

        if type(mutated) is not dict:
            raise codec.DecodeError("bad mutated arguments")
        for key, data in list(mutated.items())[:64]:
            original = args[int(key)] if key.isdigit() and int(key) < len(args) else kwargs.get(key)
            if original is None:
                continue
            new = codec.decode(data)
            _update_in_place(original, new)

    # --- cells --------------------------------------------------------------------------------

    def run(self, source: str, name: str) -> list[dict]:
        capture = Capture()
        self.capture = capture
        self.pictures_left = 1
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = capture
        try:
            value = _execute(_strip_magics(source), self.namespace, name)
            if value is not None:
                capture.outputs.append({"output_type": "execute_result", "execution_count": None, "metadata": {},
                                        "data": {"text/plain": _plain(value)}})
        except BaseException as error:  # noqa: BLE001 - every failure of a test is its verdict
            capture.outputs.append(_error(error))
        finally:
            sys.stdout, sys.stderr = saved
            self.capture = None
            _close_figures()
        return capture.outputs

    def install(self, names: list[str]) -> None:
        for name in names:
            if isinstance(name, str) and name.isidentifier():
                self.namespace[name] = Proxy(self, name)
        self.namespace["display"] = self._display

    def _display(self, *values, **kwargs) -> None:
        for value in values:
            if self.capture is not None:
                self.capture.outputs.append({"output_type": "display_data", "metadata": {},
                                             "data": {"text/plain": _plain(value)}})

    def show(self, chart, *, alt: str | None = None) -> None:
        """`coursekit.charts.show` in the judge: the kernel's PNG of the student's figure."""
        from matplotlib.figure import Figure, SubFigure

        from coursekit import charts

        if self.capture is None:
            return
        try:
            figure = charts._root_figure(chart if isinstance(chart, (Figure, SubFigure)) else charts._axes_of(chart))
        except Exception:
            return
        blob = getattr(figure, "_coursekit_png", None)
        if blob is None:
            try:
                blob = charts.png_bytes(chart)
            except Exception:
                return
        self.capture.display_png(blob, alt)


class Proxy:
    """Stands for a graded function: calling it calls the student's function in their kernel."""

    def __init__(self, judge: Judge, name: str):
        self._judge, self.__name__ = judge, name

    def __call__(self, *args, **kwargs):
        return self._judge.call(self.__name__, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__} (the student's, run in their kernel)>"


def _rebuild(data):
    """The chart the kernel sent, rebuilt here; drawn into the judge's current figure when the
    student's function drew on a figure that was already open (see kernel_side)."""
    from coursekit.judge import rebuild

    into = None
    if type(data) is dict and data.get("on_open_figure") is True and _figures_open():
        into = sys.modules["matplotlib.pyplot"].gcf()
    return rebuild.rebuild(data, into=into)


def _figures_open() -> bool:
    """Does the test have a pyplot figure open here?"""
    plt = sys.modules.get("matplotlib.pyplot")
    return bool(plt is not None and plt.get_fignums())


def _update_in_place(original: Any, new: Any) -> None:
    import numpy as np
    import pandas as pd

    if type(original) is list and type(new) is list:
        original[:] = new
    elif type(original) is dict and isinstance(new, dict):
        original.clear()
        original.update(new)
    elif type(original) is set and isinstance(new, set):
        original.clear()
        original.update(new)
    elif type(original) in (pd.DataFrame, pd.Series) and type(new) is type(original):
        original._update_inplace(new)
    elif type(original) is np.ndarray and type(new) is np.ndarray and new.shape == original.shape:
        original[...] = new


def _strip_magics(source: str) -> str:
    """IPython line magics (`%matplotlib inline`) and shell escapes do nothing in the judge."""
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("pass  # " + line if re.match(r"\s*[%!]", line) else line for line in source.splitlines())


def _execute(source: str, namespace: dict, name: str) -> Any:
    tree = ast.parse(source, filename=f"<{name}>")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, f"<{name}>", "exec"), namespace)  # noqa: S102 - the instructor's cell
    if last is not None:
        return eval(compile(last, f"<{name}>", "eval"), namespace)  # noqa: S307 - the instructor's cell
    return None


def _plain(value: Any) -> str:
    if type(value) in (int, float, bool, str):
        return repr(value)
    try:
        from IPython.lib.pretty import pretty

        return pretty(value, max_width=79)[:OUTPUT_CAP]
    except Exception:
        try:
            return repr(value)[:OUTPUT_CAP]
        except Exception:
            return f"<{type(value).__name__}>"


def _error(error: BaseException) -> dict:
    ename = type(error).__name__
    try:
        evalue = str(error)[:4000]
    except Exception:
        evalue = "<message not readable>"
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"{ename}: {evalue}" if evalue else ename]}


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def main() -> None:
    os.environ["MPLBACKEND"] = "Agg"
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray write to fd 1 (a C library, a print) can never reach the protocol
    sys.stdout = sys.stderr
    channel = Channel(sys.stdin.buffer, protocol_out)
    judge = Judge(channel)
    import matplotlib

    matplotlib.use("Agg")
    from coursekit import charts

    charts.show = judge.show
    while True:
        try:
            message = channel.receive()
        except EOFError:
            return
        op = message.get("op")
        if op == "init":
            folder = message.get("cwd")
            if isinstance(folder, str) and folder and folder != os.getcwd():
                os.chdir(folder)  # a judge forked by the zygote starts in the zygote's folder
            errors = message.get("stderr")
            if isinstance(errors, str) and errors:  # a forked judge's own stderr file
                handle = os.open(errors, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
                os.dup2(handle, 2)
                os.dup2(handle, 1)
                os.close(handle)
            judge.install(message.get("functions", []))
            channel.send({"op": "ready", "pid": os.getpid()})
        elif op == "run":
            outputs = judge.run(str(message.get("source", "")), str(message.get("name", "cell")))
            channel.send({"op": "done", "outputs": outputs})
        elif op == "quit":
            return


if __name__ == "__main__":
    main()

"""The judge process and its protocol, with a stand-in for the student's kernel.

`FakeKernel` plays the bridge: it performs each call in this process with a Python
function, or answers with whatever hostile reply a test wants, so every path of the
judge can be checked without starting a kernel (tests/test_judge_e2e.py uses a real one).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from coursekit.judge import codec, process

MARKER = "HIDDEN-TEST-MARKER-7f3a"


class FakeKernel:
    def __init__(self, functions=None, replies=None):
        self.functions = functions or {}
        self.replies = list(replies or [])
        self.requests = []

    def call(self, function, args, kwargs, timeout, *, png=True, figures=False):
        self.requests.append({"function": function, "args": args, "kwargs": kwargs})
        if self.replies:
            reply = self.replies.pop(0)
            return reply(function, args, kwargs) if callable(reply) else reply
        values = codec.decode(args)
        keywords = codec.decode(kwargs)
        try:
            result = self.functions[function](*values, **keywords)
        except Exception as error:
            outcome = {"v": 1, "raise": codec.encode_exception(error)}
        else:
            outcome = {"v": 1, "ok": codec.encode(result)}
        return {"payload": json.dumps(outcome), "stdout": ""}


@pytest.fixture(scope="module", params=["cold", "warm"])
def judge(request):
    """Every protocol test runs against a judge started cold and one forked by the zygote."""
    with process.JudgeProcess(["double", "parse", "rows", "sneaky"], warm=request.param == "warm") as running:
        assert running.stats.warm is (request.param == "warm")
        yield running


def run(judge, source, kernel, timeout=30.0):
    return judge.run_cell(source, "test_cell", kernel, timeout)


def test_a_passing_test_gives_its_partial_credit_and_printed_output(judge):
    kernel = FakeKernel({"double": lambda x: 2 * x})
    outputs = run(judge, "print('checking')\nassert double(21) == 42\nround(1.5 * (double(1) == 2), 2)", kernel)
    assert outputs == [
        {"output_type": "stream", "name": "stdout", "text": "checking\n"},
        {"output_type": "execute_result", "execution_count": None, "metadata": {}, "data": {"text/plain": "1.5"}},
    ]
    assert [r["function"] for r in kernel.requests] == ["double", "double"]


def test_a_failing_test_shows_its_message_but_never_the_hidden_source(judge):
    source = f"# {MARKER}\n_secret = '{MARKER}'\nassert double(2) == 5, 'double(2) should be 5'\n"
    outputs = run(judge, source, FakeKernel({"double": lambda x: 2 * x}))
    assert outputs == [{"output_type": "error", "ename": "AssertionError", "evalue": "double(2) should be 5",
                        "traceback": ["AssertionError: double(2) should be 5"]}]
    assert MARKER not in json.dumps(outputs)


def test_test_code_never_reaches_the_kernel_only_the_call(judge):
    kernel = FakeKernel({"double": lambda x: 2 * x})
    run(judge, f"# {MARKER}\n_text = 'made-up input'\nassert double(_text)", kernel)
    assert MARKER not in json.dumps(kernel.requests)
    assert kernel.requests == [{"function": "double", "args": ["made-up input"],
                                "kwargs": {"$": "dict", "t": "dict", "k": [], "v": []}}]


def test_the_students_exceptions_are_raised_in_the_judge_as_builtin_types(judge):
    def parse(token):
        class NotANumber(ValueError):
            pass

        raise NotANumber(f"not a number: {token!r}")

    source = """
try:
    parse("abc")
except ValueError as error:
    print("rejected:", error)
else:
    raise AssertionError("parse must raise ValueError")
"""
    outputs = run(judge, source, FakeKernel({"parse": parse}))
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "rejected: not a number: 'abc'\n"}]


def test_what_the_student_printed_during_a_call_is_kept_as_plain_text(judge):
    reply = {"payload": json.dumps({"v": 1, "ok": 3}), "stdout": "debug: 3\n"}
    outputs = run(judge, "print('before')\nx = double(1)\nprint('after', x)", FakeKernel(replies=[reply]))
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "before\ndebug: 3\nafter 3\n"}]


def test_values_come_back_as_data_with_their_types(judge):
    import pandas as pd

    rows = pd.DataFrame({"when": ["currently"], "troops": [3735], "approximate": [False]})
    source = """
import pandas as pd
import numbers
got = rows("text")
assert type(got) is pd.DataFrame and list(got.columns) == ["when", "troops", "approximate"]
assert pd.api.types.is_integer_dtype(got["troops"]) and pd.api.types.is_bool_dtype(got["approximate"])
n = got["troops"].iloc[0]
assert isinstance(n, numbers.Integral) and not isinstance(n, bool) and n == 3735
"""
    assert run(judge, source, FakeKernel({"rows": lambda text: rows})) == []


def test_changes_a_function_makes_to_its_arguments_are_seen_by_the_test(judge):
    import pandas as pd

    def mutate(function, args, kwargs):
        frame = codec.decode(args[0])
        frame["date"] = pd.to_datetime(["2020-01-01"])
        outcome = {"v": 1, "ok": None, "mutated": {"0": codec.encode(frame)}}
        return {"payload": json.dumps(outcome), "stdout": ""}

    source = """
import pandas as pd
claims = pd.DataFrame({"troops": [1]})
before = claims.copy()
rows(claims)
pd.testing.assert_frame_equal(claims, before, obj="claims (the function must not change its input)")
"""
    outputs = run(judge, source, FakeKernel(replies=[mutate]))
    assert outputs[0]["ename"] == "AssertionError" and "must not change its input" in outputs[0]["evalue"]


FORGED = [
    {"payload": "not json"},
    {"payload": "[" * 200_000 + "]" * 200_000},
    {"payload": json.dumps({"v": 1, "ok": {"$": "int", "v": "9" * 100_000}})},
    {"payload": json.dumps({"v": 1, "ok": {"$": "pickle", "v": "gASVAAAAAAAAAAB9lC4="}})},
    {"payload": json.dumps({"v": 1})},
    {"payload": json.dumps({"v": 1, "raise": {"type": "SystemExit", "message": "bye"}})},
    {"payload": json.dumps({"v": 1, "raise": {"type": "AssertionError", "message": "fake"}})},
    {"payload": json.dumps({"v": 1, "ok": {"$": "unsupported", "type": "AlwaysEqual"}})},
    {"payload": json.dumps({"v": 1, "ok": 42, "mutated": {"0": {"$": "df", "columns": 1}}})},
    {"payload": json.dumps({"v": 1, "reject": "too big"})},
    {"payload": None},
    {"error": {"type": "ResultRejected", "message": "the student's kernel died"}},
]


@pytest.mark.parametrize("reply", FORGED, ids=range(len(FORGED)))
def test_forged_or_hostile_replies_fail_the_test_and_the_judge_carries_on(judge, reply):
    source = """
_earned = 0
try:
    _earned = 3 if double(21) == 42 else 0
except Exception as error:
    print("failed:", type(error).__name__)
_earned
"""
    outputs = run(judge, source, FakeKernel(replies=[dict(reply, stdout="")]))
    assert outputs[-1]["output_type"] == "execute_result" and outputs[-1]["data"]["text/plain"] == "0"
    # the same judge still grades the next cell
    ok = run(judge, "assert double(1) == 2\n'fine'", FakeKernel({"double": lambda x: 2 * x}))
    assert ok[-1]["data"]["text/plain"] == "'fine'"


def test_a_call_past_its_time_limit_fails_with_a_timeout_error(judge):
    reply = {"error": {"type": "TimeoutError", "message": "double() did not return within 5 s; it was stopped"},
             "stdout": ""}
    outputs = run(judge, "double(1)", FakeKernel(replies=[reply]))
    assert outputs == [{"output_type": "error", "ename": "TimeoutError",
                        "evalue": "double() did not return within 5 s; it was stopped",
                        "traceback": ["TimeoutError: double() did not return within 5 s; it was stopped"]}]


def test_test_code_that_exits_or_breaks_stdout_cannot_stop_the_judge(judge):
    assert run(judge, "raise SystemExit(0)", FakeKernel())[0]["ename"] == "SystemExit"
    outputs = run(judge, "import os, sys\nos.write(1, b'junk on fd 1\\n')\nprint('x' * 300_000)", FakeKernel())
    assert len(outputs[0]["text"]) < 110_000 and "dropped" in outputs[0]["text"]
    assert run(judge, "1 + 1", FakeKernel()) == [
        {"output_type": "execute_result", "execution_count": None, "metadata": {}, "data": {"text/plain": "2"}}]


def test_setup_cells_with_magics_run_and_define_globals(judge):
    assert run(judge, "%matplotlib inline\nPUBLISHED = '2023-09-29'", FakeKernel()) == []
    assert run(judge, "PUBLISHED", FakeKernel())[0]["data"]["text/plain"] == "'2023-09-29'"


def test_a_judge_that_overruns_its_cell_budget_is_stopped(monkeypatch):
    monkeypatch.setattr(process, "JUDGE_GRACE", 1.0)
    with process.JudgeProcess([]) as judge:
        started = time.monotonic()
        outputs = judge.run_cell("while True: pass", "test_loop", FakeKernel(), 1.0)
        assert time.monotonic() - started < 20
        assert outputs[0]["ename"] == "JudgeError" and judge.broken
        assert judge.run_cell("1", "next", FakeKernel(), 1.0)[0]["ename"] == "JudgeError"


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_the_judge_ignores_modules_in_its_folder_and_pythonpath(tmp_path, monkeypatch, warm):
    (tmp_path / "json.py").write_text("raise SystemExit('a student json module ran')\n")
    (tmp_path / "csv.py").write_text("raise SystemExit('a student csv module ran')\n")
    (tmp_path / "coursekit").mkdir()
    (tmp_path / "coursekit" / "__init__.py").write_text("raise SystemExit('a student coursekit ran')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with process.JudgeProcess(["double"], cwd=tmp_path, warm=warm) as judge:
        source = "import json, csv, coursekit, os\nprint(coursekit.__file__, csv.__file__, os.getcwd())"
        outputs = judge.run_cell(source, "t", FakeKernel(), 30)
        printed = outputs[0]["text"].split()
        assert str(tmp_path) not in printed[:2] and printed[2] == str(tmp_path)  # its folder, not its modules
        assert judge.stats.warm is warm


def test_warm_judges_are_separate_processes_that_start_clean():
    """Two judges forked by the zygote: different processes, and what one test cell left
    behind (a global, a patched module, an open figure) is not in the next."""
    dirty = "import math, matplotlib.pyplot as plt\nmath.pi = 3\nLEFT = 1\nplt.figure()\nimport os\nos.getpid()"
    clean = "import math, matplotlib.pyplot as plt\nprint(math.pi, 'LEFT' in globals(), len(plt.get_fignums()))"
    with process.JudgeProcess([], warm=True) as first:
        first_pid = first.run_cell(dirty, "t", FakeKernel(), 30)[0]["data"]["text/plain"]
    with process.JudgeProcess([], warm=True) as second:
        outputs = second.run_cell(clean, "t", FakeKernel(), 30)
        assert second.stats.warm and str(second.pid) != first_pid
    assert outputs[0]["text"] == f"{3.141592653589793} False 0\n"


def test_a_killed_warm_judge_is_gone_and_the_next_one_starts():
    from coursekit.judge import zygote

    with process.JudgeProcess([], warm=True) as judge:
        judge.wait_ready()
        pid = judge.pid
    time.sleep(0.2)
    assert not (Path("/proc") / str(pid)).exists()  # killed and reaped by the zygote
    assert zygote.JudgeZygote.shared().process.poll() is None
    with process.JudgeProcess([], warm=True) as judge:
        assert judge.run_cell("1 + 1", "t", FakeKernel(), 30)[0]["data"]["text/plain"] == "2"


def test_a_chart_comes_back_as_a_real_axes_and_charts_show_displays_the_kernels_png(judge):
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.judge import axes

    sent = []

    def draw(function, args, kwargs, png=True):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 2, 3], [3, 1, 2], marker="o", label="drawn in the kernel")
        ax.set_title("A chart")
        data = codec.encode(ax, axes_encoder=lambda v, e: axes.encode_axes(v, e, png=png))
        plt.close(fig)
        sent.append(data.get("png"))
        return {"payload": json.dumps({"v": 1, "ok": data}), "stdout": ""}

    class Kernel(FakeKernel):
        def call(self, function, args, kwargs, timeout, *, png=True, figures=False):
            return draw(function, args, kwargs, png)

    source = """
from matplotlib.axes import Axes
from coursekit import charts
ax = plot_chart()
assert isinstance(ax, Axes) and ax.get_title() == "A chart"
assert [l.get_label() for l in ax.get_lines()] == ["drawn in the kernel"]
charts.show(ax, alt="the student's chart")
second = plot_chart()
charts.show(second)
"""
    with process.JudgeProcess(["plot_chart"]) as running:
        outputs = running.run_cell(source, "test_chart", Kernel(), 60)
    assert [o["output_type"] for o in outputs] == ["display_data", "display_data"]
    assert sent[0] is not None and sent[1] is None  # a picture was asked for the first chart only
    assert outputs[0]["data"]["image/png"] == sent[0]  # the kernel's own picture of the student's figure
    assert outputs[0]["data"]["text/plain"] == "the student's chart"
    assert outputs[0]["metadata"] == {"image/png": {"alt": "the student's chart"}}  # <img alt> in the feedback
    # the HTML form charts.show gives in a kernel (JupyterLab shows a bare PNG with no alt)
    html = outputs[0]["data"]["text/html"]
    assert html == f'<img alt="the student&#x27;s chart" src="data:image/png;base64,{sent[0]}">'
    assert set(outputs[1]["data"]) == {"image/png", "text/plain"} and outputs[1]["metadata"] == {}
    assert base64.b64decode(outputs[1]["data"]["image/png"]).startswith(b"\x89PNG")  # drawn in the judge


def test_the_zygote_ends_when_the_process_that_started_it_ends_without_cleaning_up(tmp_path):
    """A grading pool's worker ends with os._exit (no atexit): its judge zygote must not
    outlive it (it kept `coursekit grade`'s process tree alive)."""
    import subprocess
    import sys

    script = ("import os\nfrom coursekit.judge.zygote import JudgeZygote\nz = JudgeZygote.shared()\n"
              "print(z.process.pid, z.folder, flush=True)\nos._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    pid, folder = out.stdout.split()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        if "zombie" in Path(f"/proc/{pid}/status").read_text().lower():
            break
        time.sleep(0.1)
    alive = Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    assert not alive, "the judge zygote outlived the process that started it"
    assert not Path(folder).exists(), "the zygote left its socket folder behind"

"""End to end with a real kernel: test cells judged outside it; forgeries that work inside fail.

Each case grades the same notebook twice: with the judge (`judge_test_cells`) and, as the
control, the stock way (every cell, test cells included, executed in the student's
kernel, as nbgrader's Execute does). Scores are nbgrader's own (`utils.determine_grade`).
The hidden tests of the instructor's notebook carry a marker string, to prove that test
code never reaches the kernel under the judge.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from nbgrader import utils

from coursekit.grader import gate
from coursekit.judge.grade import is_answer, is_test, judge_test_cells, run_in_kernel

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ROOT / "tests" / "fixtures" / "variants"
MARKER = "JUDGE-E2E-" + "HIDDEN-TEST-MARKER"
FULL = {"test_paragraphs": 3.0, "test_dateline": 3.0, "test_quote_balance": 2.0, "test_name_variants": 4.0}


def source_notebook(assignment: str):
    """The instructor's notebook, with the marker in every hidden test."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        if is_test(cell) and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = cell.source.replace("### BEGIN HIDDEN TESTS", f"### BEGIN HIDDEN TESTS\n# {MARKER}\n"
                                              f"_marker = '{MARKER}'", 1)
    return nb


def submission(source, answers: dict[str, str] | None = None, student_cells: tuple[str, ...] = ()):
    """The notebook as graded: answers replaced, student cells added after the setup cell."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        grade_id = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if is_answer(cell) and answers and grade_id in answers:
            cell.source = answers[grade_id]
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    for offset, code in enumerate(student_cells, start=1):
        nb.cells.insert(setup + offset, nbformat.v4.new_code_cell(code))
    return nb


def variant(assignment: str, function: str, name: str) -> str:
    found = [v for v in gate.load_variants(VARIANTS / assignment)[function] if v.path.stem == name]
    return found[0].source


class Recorder:
    """Everything sent to the kernel, as text, to search it for the marker: every message on
    its shell channel (code, metadata and all) and every frame on the judge's channel (the
    calls of a test cell). Use as a context manager: the channel's send is put back after."""

    def __init__(self, kc):
        from coursekit.judge import bridge

        self.sent: list[str] = []
        self.frames = 0
        self._send = kc.shell_channel.send
        kc.shell_channel.send = self.send
        self._channel, self._frame_send = bridge._Channel, bridge._Channel.send
        recorder = self

        def send_frame(channel, data, timeout):
            recorder.sent.append(data.decode("utf-8", "replace"))
            recorder.frames += 1
            return recorder._frame_send(channel, data, timeout)

        bridge._Channel.send = send_frame

    def send(self, msg, *args, **kwargs):
        self.sent.append(json.dumps({k: msg.get(k) for k in ("content", "metadata")}, default=str))
        return self._send(msg, *args, **kwargs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._channel.send = self._frame_send


@contextlib.contextmanager
def kernel():
    """A fresh kernel, ready, and its blocking client; stopped and its sockets removed after."""
    # ZeroMQ over ipc sockets in a private folder: no TCP port to race other kernels for
    sockets = tempfile.mkdtemp(prefix="judge-e2e-")
    km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
    km.start_kernel(cwd=str(ROOT))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)


def grade(nb, source, *, judged: bool, timeout: float = 60, call_timeout: float | None = None,
          channel: bool = True):
    """Run `nb` in a fresh kernel; returns (scores, notebook, kernel evidence)."""
    with kernel() as (km, kc), Recorder(kc) as recorder:
        if judged:
            judge_test_cells(nb, source_nb=source, kernel_client=kc, kernel_manager=km, timeout=timeout,
                             call_timeout=call_timeout, channel=channel)
        else:
            for cell in nb.cells:
                if cell.cell_type == "code" and cell.source.strip():
                    run_in_kernel(kc, cell, timeout=timeout, kernel_manager=km)
        evidence = {"sent": recorder.sent, "frames": recorder.frames,
                    "kernel": _kernel_memory(kc, km) if km.is_alive() else ""}
    scores = {c.metadata.nbgrader["grade_id"]: utils.determine_grade(c)[0] for c in nb.cells if is_test(c)}
    return scores, nb, evidence


def _kernel_memory(kc, km) -> str:
    """The kernel's input history and every cell source it cached, as one text."""
    probe = nbformat.v4.new_code_cell(
        "import linecache as _lc\n"
        "print('\\n'.join(In) + '\\n'.join(_ih) + '\\n'.join(''.join(v[2]) for v in _lc.cache.values()"
        " if len(v) > 2 and isinstance(v[2], list)))")
    run_in_kernel(kc, probe, timeout=60, kernel_manager=km)
    return json.dumps(probe.outputs)


def outputs_text(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])


A = "01-reading-the-source"


@pytest.fixture(scope="module")
def source():
    return source_notebook(A)


# --- honest answers ---------------------------------------------------------------------------


def test_right_answers_get_full_points_like_the_stock_run(source):
    judged, nb, evidence = grade(submission(source), source, judged=True)
    control, _, _ = grade(submission(source), source, judged=False)
    assert judged == control == FULL
    assert MARKER not in "".join(evidence["sent"]) + evidence["kernel"] + outputs_text(nb)


def test_wrong_answers_lose_the_same_points_as_in_the_stock_run(source):
    answers = {
        "paragraphs": variant(A, "paragraphs", "wrong_keeps_empty_strings"),
        "dateline": variant(A, "dateline", "wrong_last_dateline"),
        "quote_balance": variant(A, "quote_balance", "wrong_counts_as_float"),
        "name_variants": variant(A, "name_variants", "wrong_keeps_possessive"),
    }
    judged, _, _ = grade(submission(source, answers), source, judged=True)
    control, _, _ = grade(submission(source, answers), source, judged=False)
    assert judged == control
    assert all(judged[t] < FULL[t] for t in FULL), judged


@pytest.mark.parametrize("assignment", ["03-charting-troop-numbers", "04-tracing-claims"])
def test_a_judged_notebook_shows_the_outputs_of_the_stock_run(assignment):
    """Cell by cell, the same kinds of output as when every cell runs in the kernel: the
    judge's picture of a chart is the bundle `charts.show` makes there (with its HTML <img
    alt>), and no chart of a test's calls turns up in a later student cell (the kernel once
    kept them open, and pyplot showed them with that cell's own figure)."""
    source = source_notebook(assignment)
    kinds = {}
    for judged in (True, False):
        _, nb, _ = grade(submission(source), source, judged=judged)
        kinds[judged] = [(c.metadata.get("nbgrader", {}).get("grade_id"),
                          [sorted(o.get("data", {})) or o["output_type"] for o in c.outputs])
                         for c in nb.cells if c.cell_type == "code"]
    assert kinds[True] == kinds[False]
    assert any(["image/png", "text/html", "text/plain"] in outputs for _, outputs in kinds[True])


# --- forgeries ---------------------------------------------------------------------------------

# (a) A hook that makes every cell emit an execute_result before anything else runs:
# nbgrader takes a test cell's first execute_result as its score, before the error after it.
FORGED_RESULT = """
ip = get_ipython()
def _forge(info):
    ip.displayhook("full marks")
ip.events.register("pre_run_cell", _forge)
"""

# (c) Builtins patched in the kernel: the hidden tests' last line `round(...)` becomes a
# text nbgrader cannot read as a number, which it scores as full points.
PATCHED_BUILTINS = """
import builtins
_real_isinstance = builtins.isinstance
builtins.round = lambda *args, **kwargs: "full marks"
builtins.isinstance = lambda obj, cls: _real_isinstance(obj, cls)
builtins.AssertionError = type("AssertionError", (Exception,), {})
"""

# (d) Reading the hidden tests: the input of every cell after it runs, and the caller's source.
LEAK_HOOK = """
def _leak(result):
    print("LEAKED CELL:", result.info.raw_cell)
get_ipython().events.register("post_run_cell", _leak)
"""
LEAKING_ANSWER = '''
import inspect, linecache

def paragraphs(text: str) -> list[str]:
    import re
    for frame in inspect.stack()[1:3]:
        print("CALLER SOURCE:", "".join(linecache.getlines(frame.filename)), "".join(frame.code_context or []))
    print("HISTORY:", "\\n".join(get_ipython().user_ns.get("In", [])))
    return [block.strip() for block in re.split(r"\\n\\s*\\n", text) if block.strip()]
'''


def test_a_forged_execute_result_scores_in_the_kernel_but_not_under_the_judge(source):
    answers = {"dateline": variant(A, "dateline", "wrong_hard_coded")}
    control, nb, _ = grade(submission(source, answers, (FORGED_RESULT,)), source, judged=False)
    assert control["test_dateline"] == FULL["test_dateline"]  # the forgery works in the kernel
    first = next(c for c in nb.cells if is_test(c) and "dateline" in c.metadata.nbgrader["grade_id"])
    assert [o.output_type for o in first.outputs][:1] == ["execute_result"]
    assert any(o.output_type == "error" for o in first.outputs)
    judged, _, _ = grade(submission(source, answers, (FORGED_RESULT,)), source, judged=True)
    assert judged["test_dateline"] == 0
    assert {k: v for k, v in judged.items() if k != "test_dateline"} == {
        k: v for k, v in FULL.items() if k != "test_dateline"}


def test_a_test_cell_edited_in_the_hand_in_is_run_as_the_instructor_wrote_it(source):
    answers = {"dateline": variant(A, "dateline", "wrong_hard_coded")}
    nb = submission(source, answers)
    for cell in nb.cells:
        if is_test(cell) and cell.metadata.nbgrader["grade_id"] == "test_dateline":
            cell.source = "'the test was here'"
    control, _, _ = grade(copy.deepcopy(nb), source, judged=False)
    assert control["test_dateline"] == FULL["test_dateline"]
    judged, _, _ = grade(nb, source, judged=True)
    assert judged["test_dateline"] == 0


def test_patched_builtins_score_in_the_kernel_but_not_under_the_judge(source):
    answers = {"paragraphs": variant(A, "paragraphs", "wrong_keeps_empty_strings"),
               "name_variants": variant(A, "name_variants", "wrong_keeps_possessive")}
    honest, _, _ = grade(submission(source, answers), source, judged=False)
    control, _, _ = grade(submission(source, answers, (PATCHED_BUILTINS,)), source, judged=False)
    forged = [t for t in ("test_paragraphs", "test_name_variants") if control[t] == FULL[t] > honest[t]]
    assert forged, (honest, control)  # the patch turned a partial score into full points in the kernel
    judged, _, _ = grade(submission(source, answers, (PATCHED_BUILTINS,)), source, judged=True)
    assert judged == honest


def test_hidden_tests_never_reach_the_kernel_under_the_judge(source):
    answers = {"paragraphs": LEAKING_ANSWER}
    control, nb, evidence = grade(submission(source, answers, (LEAK_HOOK,)), source, judged=False)
    assert MARKER in outputs_text(nb) and MARKER in evidence["kernel"]  # the leak works in the kernel
    judged, nb, evidence = grade(submission(source, answers, (LEAK_HOOK,)), source, judged=True)
    assert judged == FULL == control
    assert "CALLER SOURCE" in outputs_text(nb)  # the student's printing is kept, as plain text...
    assert MARKER not in outputs_text(nb)  # ...but holds no hidden test
    assert MARKER not in evidence["kernel"]  # nor In, _ih or linecache in the kernel
    assert evidence["frames"] > 20  # the calls went over the judge's channel, and were recorded
    assert MARKER not in "".join(evidence["sent"])  # no code or call sent to the kernel carried it
    assert not any("BEGIN HIDDEN TESTS" in code for code in evidence["sent"])


# (b) An object that equals everything, returned by the student's function. The course's
# module 1 tests check exact types (`type(p) is str`), so there it fails even in the kernel;
# nearest_report's tests (module 4) compare fields with ==, so it is shown there.
ALWAYS_EQUAL = '''
class _Yes:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__

class _Row(pd.Series):
    def __getitem__(self, key):
        return _Yes()

def nearest_report(date: str, reports: pd.DataFrame) -> pd.Series:
    return _Row(dict.fromkeys(reports.columns, 0))  # the whole row, every value "equal" to anything
'''


def test_an_always_equal_value_scores_in_the_kernel_but_not_under_the_judge():
    assignment = "04-tracing-claims"
    source = source_notebook(assignment)
    control, _, _ = grade(submission(source, {"nearest_report": ALWAYS_EQUAL}), source, judged=False)
    assert control["test_nearest_report"] == 3.0
    judged, nb, _ = grade(submission(source, {"nearest_report": ALWAYS_EQUAL}), source, judged=True)
    assert judged["test_nearest_report"] == 0
    cell = next(c for c in nb.cells if is_test(c) and c.metadata.nbgrader["grade_id"] == "test_nearest_report")
    assert "not a _Row" in cell.outputs[-1]["evalue"]  # the test's own message names what came back


# --- a kernel that loops, dies, or answers for itself ---------------------------------------------

LOOPS_ON_EMPTY_TEXT = '''
def paragraphs(text: str) -> list[str]:
    import re
    while text == "":
        pass
    return [block.strip() for block in re.split(r"\\n\\s*\\n", text) if block.strip()]
'''

DIES_ON_EMPTY_TEXT = '''
def dateline(text: str) -> str | None:
    import os, re
    if text == "":
        os._exit(1)
    for paragraph in re.split(r"\\n\\s*\\n", text):
        match = re.match(r"([A-Z]+(?: [A-Z]+)*) [-–—] ", paragraph.strip())
        if match:
            return match.group(1)
    return None
'''


@pytest.mark.parametrize("channel", [True, False], ids=["over-the-channel", "as-messages"])
def test_a_call_that_loops_is_stopped_and_the_next_tests_still_run(source, channel):
    judged, nb, _ = grade(submission(source, {"paragraphs": LOOPS_ON_EMPTY_TEXT}), source, judged=True,
                          timeout=60, call_timeout=3, channel=channel)
    cell = next(c for c in nb.cells if is_test(c) and c.metadata.nbgrader["grade_id"] == "test_paragraphs")
    text = outputs_text(nb)
    assert "raised TimeoutError: paragraphs() did not return within 3 s; it was stopped" in text
    # only the rule whose check looped is lost: 5 of 6 rules, 2.5 of 3 points
    assert judged["test_paragraphs"] == 2.5
    others = [k for k in FULL if k != "test_paragraphs"]
    assert {k: judged[k] for k in others} == {k: FULL[k] for k in others}
    assert cell.outputs[-1]["output_type"] == "execute_result"


@pytest.mark.parametrize("channel", [True, False], ids=["over-the-channel", "as-messages"])
def test_a_kernel_that_dies_fails_the_remaining_calls_with_a_clear_message(source, channel):
    judged, nb, _ = grade(submission(source, {"dateline": DIES_ON_EMPTY_TEXT}), source, judged=True, timeout=20,
                          channel=channel)
    assert judged["test_paragraphs"] == FULL["test_paragraphs"]
    assert judged["test_dateline"] < FULL["test_dateline"]
    assert judged["test_quote_balance"] == judged["test_name_variants"] == 0
    later = next(c for c in nb.cells if is_test(c) and c.metadata.nbgrader["grade_id"] == "test_quote_balance")
    assert "kernel died" in later.outputs[-1]["evalue"]
    assert "kernel died" in " ".join(nb.metadata["coursekit"]["judge"]["incidents"])


# Student code that replaces the kernel side of the judge: garbage for every call, except
# a well-formed claim that quote_balance returned the right answer -- which is no more than
# what returning that value would do.
REPLACED_KERNEL_SIDE = '''
import sys, types, json
from IPython.display import publish_display_data
_fake = types.ModuleType("coursekit.judge.kernel_side")
def _perform(request=None):
    if request is None:  # the request travels in the execute_request's metadata
        request = get_ipython().kernel.get_parent("shell")["metadata"]["coursekit_judge_call"]
    name = json.loads(request)["function"]
    if name == "quote_balance":
        reply = json.dumps({"v": 1, "ok": {"$": "dict", "t": "dict", "k": ["open", "close"], "v": [6, 5]}})
    elif name == "dateline":
        reply = "[" * 100000 + "]" * 100000
    else:
        reply = json.dumps({"v": 1, "ok": {"$": "pickle", "v": "Y29zCnN5c3RlbQ=="}})
    publish_display_data({"application/x-coursekit-judge": reply})
_fake.perform = _perform
sys.modules["coursekit.judge.kernel_side"] = _fake
sys.modules["coursekit.judge.codec"] = types.ModuleType("broken")
'''


def test_a_replaced_kernel_side_can_only_speak_for_the_students_own_functions(source):
    judged, nb, _ = grade(submission(source, student_cells=(REPLACED_KERNEL_SIDE,)), source, judged=True)
    assert judged["test_paragraphs"] == judged["test_dateline"] == judged["test_name_variants"] == 0
    assert "could not be read by the grader" in outputs_text(nb)
    # every call returned {"open": 6, "close": 5}: the article's visible test passes, the others do not
    assert judged["test_quote_balance"] == 0
    cell = next(c for c in nb.cells if is_test(c) and c.metadata.nbgrader["grade_id"] == "test_quote_balance")
    assert "“Yes,” she said." in cell.outputs[-1]["evalue"]


# --- the same scores as the stock run, on the other assignments' variants -------------------------


def _rounds(assignment: str):
    """Answer sets: three of wrong variants (the k-th of each function) and one of right ones."""
    found = gate.load_variants(VARIANTS / assignment)
    for k in range(3):
        yield f"wrong-{k}", {f: [v for v in vs if not v.right][k % len([v for v in vs if not v.right])].source
                             for f, vs in found.items() if any(not v.right for v in vs)}
    yield "right", {f: next(v for v in vs if v.right).source for f, vs in found.items() if any(v.right for v in vs)}


PARITY = [(a, name, answers) for a in ("02-extracting-claims", "03-charting-troop-numbers")
          for name, answers in _rounds(a)]


@pytest.mark.parametrize(("assignment", "name", "answers"), PARITY, ids=[f"{a[:2]}-{n}" for a, n, _ in PARITY])
def test_the_judge_gives_the_stock_scores_on_known_variants(assignment, name, answers):
    source = source_notebook(assignment)
    judged, _, _ = grade(submission(source, answers), source, judged=True)
    control, _, _ = grade(submission(source, answers), source, judged=False)
    assert judged == control
    if name == "right":
        assert all(points > 0 for points in judged.values())


def test_a_chart_drawn_on_the_current_axes_loses_the_same_points_as_in_the_stock_run():
    """pyplot's figures live in the judge and the kernel: the judge mirrors "a figure is open"
    into the kernel and draws a chart made on an already-open figure into its own, so the
    test's "it must draw on a new figure" check catches plt.gca() as in the kernel (with the
    figure closed after each call instead, this variant got full marks)."""
    assignment = "04-tracing-claims"
    source = source_notebook(assignment)
    answers = {"plot_sources": variant(assignment, "plot_sources", "wrong_draws_on_current_axes")}
    judged, nb, _ = grade(submission(source, answers), source, judged=True)
    control, _, _ = grade(submission(source, answers), source, judged=False)
    assert judged["test_plot_sources"] == control["test_plot_sources"] < 3.0
    cell = next(c for c in nb.cells if is_test(c) and c.metadata.nbgrader["grade_id"] == "test_plot_sources")
    printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    assert "✗ new figure" in printed, printed


# --- inside nbclient, as the grading preprocessor will call it -------------------------------------


def _judge_through_nbclient(source):
    """Grade a submission with a wrong answer as the grading preprocessor does: nbclient's
    async kernel client and manager, the judge on the sync side of nbclient's calls."""
    from jupyter_client import AsyncKernelManager
    from nbclient import NotebookClient

    answers = {"dateline": variant(A, "dateline", "wrong_hard_coded")}
    nb = submission(source, answers)
    sockets = tempfile.mkdtemp(prefix="judge-e2e-")
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
    client = NotebookClient(nb, km=km, timeout=60, resources={"metadata": {"path": str(ROOT)}})
    try:
        with client.setup_kernel():
            client.reset_execution_trackers()
            with Recorder(client.kc) as recorder:
                readers = _reading_threads(client.kc)
                report = judge_test_cells(nb, source_nb=source, kernel_client=client.kc, kernel_manager=client.km,
                                          execute_cell=client.execute_cell, timeout=60)
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    recorder.readers = readers
    return nb, report, recorder


def _reading_threads(kc) -> set[str]:
    """The names of the threads that decode a message read from the kernel (every read of
    its sockets, by nbclient or the judge's bridge, ends in `session.deserialize`)."""
    import threading

    names: set[str] = set()
    deserialize = kc.session.deserialize

    def recorded(*args, **kwargs):
        names.add(threading.current_thread().name)
        return deserialize(*args, **kwargs)

    kc.session.deserialize = recorded
    return names


def _check_judged_through_nbclient(nb, report, recorder):
    scores = {c.metadata.nbgrader["grade_id"]: utils.determine_grade(c)[0] for c in nb.cells if is_test(c)}
    assert scores == {**FULL, "test_dateline": 0}
    assert report.calls > 30 and not report.incidents
    assert MARKER not in "".join(recorder.sent) and MARKER not in outputs_text(nb)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert setup.execution_count == 1  # run by nbclient, in the kernel


def test_the_judge_runs_inside_nbclient_with_its_async_kernel_client(source):
    """nbgrader's Execute is an nbclient NotebookClient: its kernel client and manager are
    async. The judge takes them as they are, and nbclient runs the student's cells."""
    _check_judged_through_nbclient(*_judge_through_nbclient(source))


def test_the_judge_reads_the_kernel_on_the_thread_that_owns_its_sockets(source):
    """With an event loop already running on the calling thread (Playwright's sync API
    leaves one on the main thread of a test worker), jupyter_core's run_sync runs nbclient's
    coroutines on a background runner loop, and pyzmq binds the kernel client's sockets to
    it. The bridge then reads the kernel on that loop's thread too: it once read the same
    sockets from this thread, which hung or aborted the whole process ("Fatal Python error:
    Aborted" in pyzmq's _handle_events) -- hence a thread with a time limit here."""
    import asyncio
    import threading

    outcome: dict = {}

    async def under_a_running_loop():
        outcome["graded"] = _judge_through_nbclient(source)  # synchronous calls, loop running

    def run():
        try:
            asyncio.run(under_a_running_loop())
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(180)
    assert not thread.is_alive(), "the judge hung reading a kernel whose sockets another thread's loop owns"
    assert "error" not in outcome, outcome.get("error")
    nb, report, recorder = outcome["graded"]
    assert recorder.readers and all(name.endswith(" - runner") for name in recorder.readers), recorder.readers
    _check_judged_through_nbclient(nb, report, recorder)


@pytest.mark.parametrize("channel", [True, False], ids=["over-the-channel", "as-messages"])
def test_what_a_students_function_prints_during_a_call_reaches_the_judge(channel):
    """Over the channel, the kernel captures what a call prints and sends it with the result.
    As messages, kernel_side's install makes empty stream flushes return at once (each was a
    round trip to ipykernel's IOPub thread, four per call); a flush with text still sends it
    before the call's result and idle status. Either way the judge gets every printed line,
    in order."""
    from coursekit.judge import codec
    from coursekit.judge.bridge import KernelBridge

    with kernel() as (km, kc):
        run_in_kernel(kc, nbformat.v4.new_code_cell(
            "import sys\n"
            "def chatty(n):\n"
            "    for i in range(n):\n"
            "        print('line', i)\n"
            "    print('warned', file=sys.stderr)\n"
            "    return n\n"), kernel_manager=km)
        bridge = KernelBridge(kc, km, channel=channel)
        replies = [bridge.call("chatty", [codec.encode(n)], codec.encode({}), timeout=30, png=False)
                   for n in (0, 1, 3, 0)]
        bridge.release()
        assert bridge._direct, "the kernel took calls as kernel_side messages"
        assert bridge.stats.channel == (4 if channel else 0)
        for n, reply in zip((0, 1, 3, 0), replies, strict=True):
            assert codec.decode(codec.loads(reply["payload"])["ok"]) == n, reply
            assert reply["stdout"] == "".join(f"line {i}\n" for i in range(n)) + "warned\n", reply
        assert bridge.stats.stderr == 4
        probe = nbformat.v4.new_code_cell("print(type(sys.stdout.flush).__name__, sys.stdout.flush.__qualname__)")
        run_in_kernel(kc, probe, kernel_manager=km)
        assert "_skip_empty_flushes" in probe.outputs[0]["text"], "kernel_side.install did not wrap the flush"



# --- the channel: a test cell's calls over a socket of their own ---------------------------------

CHANNEL_FUNCTIONS = '''
import gc, socket, struct

def double(n):
    return 2 * n

def spin(n):
    while True:
        pass

def _channel():
    for thing in gc.get_objects():
        if isinstance(thing, socket.socket) and thing.family == socket.AF_UNIX:
            try:
                if "judge-" in str(thing.getpeername()):
                    return thing
            except OSError:
                pass

def forge_a_huge_frame(n):
    _channel().sendall(struct.pack(">I", 2 ** 31) + b"x" * 100)
    return n

def close_the_channel(n):
    _channel().close()
    return n
'''


@contextlib.contextmanager
def channel_bridge():
    """A kernel with CHANNEL_FUNCTIONS defined and a bridge to it."""
    from coursekit.judge.bridge import KernelBridge

    with kernel() as (km, kc):
        run_in_kernel(kc, nbformat.v4.new_code_cell(CHANNEL_FUNCTIONS), kernel_manager=km)
        bridge = KernelBridge(kc, km)
        yield bridge, km, kc
        bridge.close()


def _call(bridge, function, n, timeout=20.0):
    from coursekit.judge import codec

    reply = bridge.call(function, [codec.encode(n)], codec.encode({}), timeout=timeout, png=False)
    if "payload" in reply:
        return codec.decode(codec.loads(reply["payload"])["ok"])
    return reply["error"]


def test_an_interrupt_that_comes_after_a_call_has_answered_is_dropped():
    """The parent interrupts a call past its time limit; if the answer was already on its
    way, the interrupt reaches a kernel waiting for the next call. Over the channel it is
    dropped there, not raised in the next call's function."""
    with channel_bridge() as (bridge, km, kc):
        assert _call(bridge, "double", 1) == 2
        km.interrupt_kernel()  # as a late interrupt would
        assert [_call(bridge, "double", n) for n in (2, 3)] == [4, 6]
        assert bridge.stats.channel == 3 and bridge.stats.timeouts == 0 and bridge.dead is None


def test_an_interrupt_that_comes_before_the_function_starts_is_sent_again():
    """With almost no time left the interrupt can reach the kernel before it has read the
    call, and is dropped there (above); the bridge interrupts again each second of the
    grace, so a function that loops is still stopped and the kernel is not given up."""
    with channel_bridge() as (bridge, km, kc):
        error = _call(bridge, "spin", 0, timeout=1e-4)
        assert error["type"] == "TimeoutError" and "it was stopped" in error["message"], error
        assert bridge.dead is None
        assert _call(bridge, "double", 5) == 10


def test_a_forged_frame_on_the_channel_fails_that_call_and_later_calls_go_as_messages():
    """Student code can find the channel's socket in its own process and write to it. A
    frame over the cap fails the call with a clear message (no wait for 2 GB); the channel
    is given up and later calls go as one message each."""
    with channel_bridge() as (bridge, km, kc):
        error = _call(bridge, "forge_a_huge_frame", 1)
        assert error == {"type": "ResultRejected",
                         "message": "the student's kernel sent an unreadable reply for forge_a_huge_frame()"}
        assert [_call(bridge, "double", n) for n in (2, 3)] == [4, 6]
        assert bridge.stats.channel == 1 and bridge.dead is None


def test_a_channel_closed_by_student_code_fails_that_call_and_later_calls_go_as_messages():
    with channel_bridge() as (bridge, km, kc):
        assert _call(bridge, "double", 1) == 2
        error = _call(bridge, "close_the_channel", 1)
        assert error == {"type": "ResultRejected",
                         "message": "the student's kernel closed the grader's channel during close_the_channel()"}
        assert [_call(bridge, "double", n) for n in (2, 3)] == [4, 6]
        assert bridge.stats.channel == 2 and bridge.dead is None
        bridge.release()
        probe = nbformat.v4.new_code_cell("print(double(21))")
        run_in_kernel(kc, probe, kernel_manager=km)  # the kernel runs cells again
        assert probe.outputs[0]["text"] == "42\n"


def test_a_judged_cell_that_ends_leaves_no_figure_open_in_the_kernel():
    """The judge closes its figures when a test cell ends; over the channel the kernel closes
    its own then too. Left open, the last call's charts were drawn again by ipykernel's
    post-execute hook after every later student cell (wasted work a stock run does not do:
    its test cells close what they read)."""
    from coursekit.judge import codec
    from coursekit.judge.bridge import KernelBridge

    with kernel() as (km, kc):
        run_in_kernel(kc, nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "def chart(n):\n"
            "    fig, ax = plt.subplots()\n"
            "    ax.plot(range(n))\n"
            "    return ax\n"), kernel_manager=km)
        bridge = KernelBridge(kc, km)
        for n in (2, 3):
            reply = bridge.call("chart", [codec.encode(n)], codec.encode({}), timeout=30, png=False,
                                figures=False)
            assert codec.loads(reply["payload"])["ok"]["$"] == "axes", reply
        assert bridge.stats.channel == 2
        bridge.release()
        probe = nbformat.v4.new_code_cell("print(len(plt.get_fignums()))")
        run_in_kernel(kc, probe, kernel_manager=km)
        assert probe.outputs[0]["text"] == "0\n", probe.outputs
        bridge.close()

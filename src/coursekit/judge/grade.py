"""Grade one notebook with the judge: student cells in the kernel, test cells in the judge.

This is the piece a SafeExecute-style preprocessor calls instead of sending test cells to
the student's kernel. Walking the notebook in order:

- a test cell (nbgrader `grade=True`, not `solution`) is looked up by grade_id in the
  instructor's *source* notebook and that source -- visible and hidden tests -- runs in the
  judge; before it, the source notebook's non-answer, non-test code cells that precede it
  (the locked setup cells) run in the judge too, once each. The judge's outputs replace
  the cell's outputs. The test's source is never sent to the kernel;
- every other code cell runs in the kernel, by `execute_cell(cell, index)` when given
  (the preprocessor's own `preprocess_cell`), else by `run_in_kernel` here.

The names the judge proxies are the source notebook's answer cells' grade_ids (the course
contract: an answer cell's grade_id is its function's name) and the functions they define.

Trust boundary: the submission decides only which cells run in the kernel and what its
functions return. Which test code runs, and what counts as its verdict, comes from the
source notebook and the judge.
"""

from __future__ import annotations

import ast
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode, from_dict

from coursekit.judge.bridge import KernelBridge, wait
from coursekit.judge.process import JudgeProcess

METADATA_KEY = "coursekit"


def _nbgrader(cell) -> dict:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return meta if isinstance(meta, dict) else {}


def is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return cell.get("cell_type") == "code" and meta.get("grade") is True and not meta.get("solution")


def is_answer(cell) -> bool:
    return bool(_nbgrader(cell).get("solution"))


def graded_functions(source_nb) -> list[str]:
    """The function names the judge proxies: answer cells' grade_ids and their top-level defs."""
    names: list[str] = []
    for cell in source_nb.cells:
        if cell.get("cell_type") != "code" or not is_answer(cell):
            continue
        grade_id = _nbgrader(cell).get("grade_id")
        if isinstance(grade_id, str) and grade_id.isidentifier():
            names.append(grade_id)
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        names += [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return list(dict.fromkeys(names))


@dataclass
class JudgeReport:
    """What happened, for the notebook's metadata and the grading report."""

    judged: dict[str, list[dict]] = field(default_factory=dict)  # test grade_id -> outputs
    incidents: list[str] = field(default_factory=list)
    start_seconds: float = 0.0
    start_wait_seconds: float = 0.0
    setup_seconds: float = 0.0
    test_seconds: float = 0.0
    calls: int = 0
    channel_calls: int = 0  # of which over the channel (the rest as kernel messages)
    call_seconds: float = 0.0
    warm: bool = False  # the judge was forked by the zygote

    def as_metadata(self) -> dict:
        return {"judged": sorted(self.judged), "incidents": self.incidents, "warm": self.warm,
                "seconds": {"start": round(self.start_seconds, 3),
                            "start_waited": round(self.start_wait_seconds, 3), "setup": round(self.setup_seconds, 3),
                            "tests": round(self.test_seconds, 3), "calls": round(self.call_seconds, 3)},
                "calls": self.calls, "channel_calls": self.channel_calls}


class JudgeSession:
    """A judge for one notebook: setup cells from the source notebook, test cells on demand."""

    def __init__(self, source_nb, kernel_client, kernel_manager=None, *, timeout: float = 60.0,
                 call_timeout: float | None = None, cwd=None, warm: bool = False, channel: bool = True):
        self.source_cells = [c for c in source_nb.cells if c.get("cell_type") == "code"]
        self.timeout = timeout
        self.report = JudgeReport()
        self.bridge = KernelBridge(kernel_client, kernel_manager, call_timeout=call_timeout, channel=channel)
        # Started now, waited for at the first test cell: it warms up while the kernel runs
        # the student's first cells.
        self.judge = JudgeProcess(graded_functions(source_nb), cwd=cwd, wait=False, warm=warm)
        self._next_setup = 0

    def _setup_until(self, position: int) -> None:
        while self._next_setup < position:
            cell = self.source_cells[self._next_setup]
            self._next_setup += 1
            if is_test(cell) or is_answer(cell) or not cell.source.strip():
                continue
            started = time.monotonic()
            outputs = self.judge.run_cell(cell.source, _name(cell, "setup"), self.bridge, self.timeout)
            self.report.setup_seconds += time.monotonic() - started
            for output in outputs:
                if output.get("output_type") == "error":
                    self.report.incidents.append(f"judge: setup cell {_name(cell, 'setup')} raised "
                                                 f"{output.get('ename')}: {str(output.get('evalue'))[:120]}")

    def run_test_cell(self, cell) -> list[NotebookNode]:
        """Judge one test cell of the submission; returns (and sets) its outputs."""
        grade_id = _nbgrader(cell).get("grade_id")
        position = next((i for i, c in enumerate(self.source_cells)
                         if is_test(c) and _nbgrader(c).get("grade_id") == grade_id), None)
        if position is None:
            outputs = [_error("JudgeError", f"test cell {grade_id!r} is not in the instructor's notebook")]
            self.report.incidents.append(f"judge: unknown test cell {str(grade_id)[:60]!r}")
        else:
            try:
                self.judge.wait_ready()  # so that its start-up is not counted as setup time
            except RuntimeError as error:
                self.judge.broken = str(error)[:500]
            self._setup_until(position)
            started = time.monotonic()
            source = self.source_cells[position].source
            outputs = self.judge.run_cell(source, str(grade_id), self.bridge, self.timeout)
            self.report.test_seconds += time.monotonic() - started
            self._next_setup = max(self._next_setup, position + 1)
        nodes = [from_dict(o) for o in outputs if isinstance(o, dict)]
        cell.outputs = nodes
        cell.execution_count = None
        self.report.judged[str(grade_id)] = outputs
        if self.bridge.dead and not any("kernel" in i for i in self.report.incidents):
            self.report.incidents.append(f"judge: {self.bridge.dead}")
        return nodes

    def close(self) -> JudgeReport:
        self.report.start_seconds = self.judge.stats.start_seconds
        self.report.warm = self.judge.stats.warm
        self.report.start_wait_seconds = self.judge.stats.start_wait_seconds
        self.report.calls = self.bridge.stats.calls
        self.report.channel_calls = self.bridge.stats.channel
        self.report.call_seconds = self.bridge.stats.seconds
        if self.bridge.stats.timeouts:
            self.report.incidents.append(f"judge: {self.bridge.stats.timeouts} call(s) stopped at their time limit")
        if self.judge.broken:
            self.report.incidents.append(f"judge: {self.judge.broken}")
        self.judge.close()
        self.bridge.close()
        return self.report

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def judge_test_cells(nb, *, source_nb, kernel_client, kernel_manager=None, timeout: float = 60.0,
                     call_timeout: float | None = None, execute_cell: Callable[[Any, int], Any] | None = None,
                     cwd=None, warm: bool = False, channel: bool = True) -> JudgeReport:
    """Execute `nb`: its test cells in the judge, every other code cell in the kernel.

    `timeout` is each cell's wall-clock budget (a test cell's calls share it; each call gets
    at most `call_timeout`); `execute_cell(cell, index)` runs a non-test cell (default:
    `run_in_kernel`); `cwd` is the judge's folder (default: the grader's); `channel=False`
    sends every call as a kernel message. Writes outputs into `nb` and a summary under
    `nb.metadata["coursekit"]["judge"]`.
    """
    session = JudgeSession(source_nb, kernel_client, kernel_manager, timeout=timeout, call_timeout=call_timeout,
                           cwd=cwd, warm=warm, channel=channel)
    try:
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code" or not cell.source.strip():
                continue
            if is_test(cell):
                session.run_test_cell(cell)
            elif execute_cell is not None:
                execute_cell(cell, index)
            else:
                run_in_kernel(kernel_client, cell, timeout=timeout, kernel_manager=kernel_manager)
    finally:
        report = session.close()
    nb.metadata.setdefault(METADATA_KEY, {})["judge"] = report.as_metadata()
    return report


def run_in_kernel(kernel_client, cell, *, timeout: float = 60.0, kernel_manager=None) -> list[NotebookNode]:
    """Execute one cell in the kernel the plain way (as nbclient would); sets its outputs."""
    msg_id = kernel_client.execute(cell.source, store_history=True, allow_stdin=False, stop_on_error=False)
    outputs: list[dict] = []
    deadline = time.monotonic() + timeout
    interrupted = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if interrupted or kernel_manager is None:
                outputs.append(_error("CellTimeoutError", f"cell did not finish within {timeout:g} s"))
                break
            wait(kernel_manager.interrupt_kernel())
            interrupted, deadline = True, time.monotonic() + 5
            continue
        try:
            msg = wait(kernel_client.get_iopub_msg(timeout=min(1.0, remaining)))
        except queue.Empty:
            if kernel_manager is not None and not wait(kernel_manager.is_alive()):
                outputs.append(_error("DeadKernelError", "the kernel died"))
                break
            continue
        if (msg.get("parent_header") or {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content.get("execution_state") == "idle":
            break
        if kind == "execute_input":
            cell.execution_count = content.get("execution_count")
        elif kind == "stream":
            if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == content["name"]:
                outputs[-1]["text"] += content["text"]
            else:
                outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in ("display_data", "execute_result"):
            output = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                output["execution_count"] = content.get("execution_count")
            outputs.append(output)
        elif kind == "error":
            outputs.append({"output_type": "error", "ename": content.get("ename", ""),
                            "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])})
        elif kind == "clear_output":
            outputs.clear()
    cell.outputs = [from_dict(o) for o in outputs]
    return cell.outputs


def _name(cell, default: str) -> str:
    grade_id = _nbgrader(cell).get("grade_id")
    return str(grade_id) if grade_id else default


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}

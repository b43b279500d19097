"""nbgrader's Execute preprocessor, made safe for untrusted notebooks.

Stock nbgrader (0.9) runs a notebook with one per-cell timeout and nothing else. Here, for
each notebook:

- a **wall-clock budget** for the whole notebook: every cell's timeout is the smaller of
  the per-cell timeout and what is left of the budget; once it is spent, the remaining
  cells are not run and their tests fail with a message saying so;
- an **output cap**: stream and display output beyond `output_kb` is dropped with one note;
  errors and results, which decide scores, are always kept but cut when large (to what is
  left of the budget, at least `KEPT_BYTES`: an error keeps its ename and the start of its
  evalue, a result the start of its text), so a flood can neither fill the autograded
  notebook nor the gradebook;
- a **dead kernel** (os._exit, a segfault, the memory or CPU limit) no longer discards the
  submission: the cells before it keep their results and points, the cell that killed it
  and every later one get an error saying what happened;
- **warnings on stderr** in a test cell are not failures: nbgrader scores any stderr
  output as an error, so a correct answer that emits a DeprecationWarning would get zero;
  they are kept in the feedback as ordinary output;
- a **guard** against patching Python to pass tests: before each test cell, the builtins,
  math, operator, NumPy's and pandas' testing helpers, their classes' methods, IPython's
  code transformers and the trace hooks are put back as they were when the kernel started,
  and student globals that shadow the builtins the tests use are moved aside for the test;
- a static **tamper scan** (coursekit.grader.execution.tamper) of the student's cells, reported, never scored;
- the **judge** (`coursekit.judge`, docs/judge.md; `judge = True`, the default, when nbgrader
  grades against a gradebook): every test cell runs in a separate judge process, started
  when the kernel is ready, where the student's functions are proxies into the kernel; the
  judge's outputs are the cell's outputs, so nothing in the kernel can forge a verdict and
  no test code is ever sent to the kernel. The test and setup cells the judge runs are the
  gradebook's (the instructor's), never the hand-in's. The guard is then not installed:
  it protected test cells run in the kernel, and none are.

It extends nbclient's loop rather than copying it: state is set up before nbconvert's
`preprocess`, the guard is installed in nbclient's `on_notebook_start` hook, each cell goes
through `async_execute_cell` (see there why not a hook) and outputs through `output`.

What happened is recorded in the notebook's metadata (`coursekit.incidents`), which the
grading report reads to give each submission a one-line reason.
"""

from __future__ import annotations

import ast
import json
import secrets
import signal
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute
from traitlets import Bool

from coursekit.grader import cells
from coursekit.grader.execution import guard as guard_program
from coursekit.grader.execution import ready, tamper
from coursekit.grader.execution.tamper_rules import TEST_BUILTINS
from coursekit.grader.limits import Sandbox
from coursekit.grader.text import clip
from coursekit.judge.grade import JudgeSession
from coursekit.judge.zygote import JudgeZygote

INCIDENTS_KEY = "coursekit"


class SafeExecute(ready.PromptStart, Execute):
    """nbgrader's Execute with a notebook time budget, an output cap, crash recovery,
    stderr-tolerant tests and a guard against patched helpers (see the module docstring)."""

    # The limits (cell and notebook time, output) are c.Sandbox's, declared once in
    # coursekit.grader.limits and read here; c.Execute.timeout is for nbgrader's Validate.
    guard = Bool(True, help="Restore patched builtins and testing helpers before each test cell.").tag(config=True)
    tamper_scan = Bool(True, help="Scan student cells for attempts to subvert the tests.").tag(config=True)
    judge = Bool(True, help="Run test cells in a separate judge process (docs/judge.md), not in the "
                            "student's kernel; their source is the gradebook's.").tag(config=True)
    warm_judges = Bool(True, help="Fork each judge from a zygote that has pandas and matplotlib imported "
                                  "(coursekit.judge.zygote) instead of starting a new interpreter.").tag(config=True)
    judge_channel = Bool(True, help="Send a test cell's calls to the student's kernel over a Unix socket of "
                                    "their own (docs/judge.md, 'The channel') instead of as one kernel message "
                                    "each.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources=None, km=None):
        """nbconvert's preprocess (kernel, loop over cells), with this notebook's budget
        started first and what happened recorded in its metadata last."""
        self.limits = Sandbox(parent=self)
        self.notebook_timeout, self.output_kb = self.limits.notebook_timeout, self.limits.output_kb
        self.incidents: list[str] = []  # limits hit, crashes, tampering: flagged to the instructor
        self.errors: list[str] = []  # errors raised in the student's own cells: part of the reason
        self._output_bytes = 0
        self._capped = False
        self._stopped: str | None = None  # why the remaining cells are not run
        self._judge_source = self._instructor_notebook(nb, resources) if self.judge else None
        self._session: JudgeSession | None = None
        source = self._judge_source.cells if self._judge_source is not None else []
        self._tests = {cells.grade_id(c) for c in source if cells.is_test(c)}  # by the gradebook's record
        self._guard_on = self.guard and self._judge_source is None
        self._deadline = time.monotonic() + self.notebook_timeout
        self.timeout_func = self._cell_timeout
        if self.tamper_scan:
            line = tamper.summary(tamper.scan_notebook(nb))
            if line:
                self.incidents.append(line)
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            if self._session is not None:
                report = self._session.close()
                self.incidents += report.incidents
                nb.metadata.setdefault(INCIDENTS_KEY, {})["judge"] = report.as_metadata()
        if self._capped:
            self.incidents.append(f"output beyond {self.output_kb} KiB dropped")
        nb.metadata.setdefault(INCIDENTS_KEY, {}).update(incidents=self.incidents, errors=self.errors)
        return nb, resources

    async def on_notebook_start(self, notebook: NotebookNode) -> None:
        """nbclient's hook, run once the kernel client is ready: install the guard."""
        self._token = secrets.token_hex(8)
        if self._judge_source is not None:
            # started now, waited for at the first test cell: it warms up while the student's cells run
            self._session = JudgeSession(self._judge_source, self.kc, self.km, timeout=self.limits.cell_timeout,
                                         warm=self.warm_judges, channel=self.judge_channel)
        if not self._guard_on:
            return
        code = guard_program.kernel_code(self._token, TEST_BUILTINS)
        reply = await self.async_wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
        if (reply or {}).get("content", {}).get("status") != "ok":
            self.incidents.append("grader guard could not be installed")
            self._guard_on = False

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        """nbclient's execute_cell, made safe. Not a hook: nbclient has none that can skip
        a cell once the budget is spent, or carry on past a dead kernel (DeadKernelError
        and CellTimeoutError leave `execute_cell` before `on_cell_error` runs), and the
        guard must run in the kernel between `on_cell_start` and the cell itself."""
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        name = _name(cell, cell_index)
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stopped = (f"notebook time limit ({self.notebook_timeout} s) reached before {name}; "
                             "later cells not run")
            self.incidents.append(self._stopped)
        if self._stopped is not None:
            _fail(cell, "NotRun", "not run: " + self._stopped.split(";")[0])
            return cell
        test = cells.is_test(cell)
        limit = self._cell_timeout(cell)
        try:
            moved = await self._guard_call("before") if (test and self._guard_on) else []
            if moved:
                self.incidents.append(f"{name}: student globals {', '.join(moved)} shadow builtins; "
                                      "set aside for the test")
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            if test and self._guard_on:
                await self._guard_call("after")
        except DeadKernelError:
            self._stopped = f"kernel died in {name} ({self._death_cause()}); later cells not run"
            self.incidents.append(self._stopped)
            _fail(cell, "DeadKernelError", self._stopped)
            return cell
        except CellTimeoutError:
            # the kernel ignored the interrupt at the time limit and is still busy
            self._stopped = (f"{name} ignored the interrupt at its {limit} s time limit; kernel stopped, "
                             "later cells not run")
            self.incidents.append(self._stopped)
            _fail(cell, "CellTimeoutError", self._stopped)
            return cell
        self._record(cell, name, test, limit)
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbconvert's loop calls the sync name

    def preprocess_cell(self, cell, resources, index):
        """nbconvert's per-cell step; a test cell goes to the judge (outside nbclient's event
        loop: the judge's bridge drives the kernel client on this thread's loop, as nbclient does)."""
        # a test cell by the gradebook's record, whatever the hand-in's metadata says
        if self._session is None or cell.cell_type != "code" or cells.grade_id(cell) not in self._tests:
            return super().preprocess_cell(cell, resources, index)
        self._judge_cell(cell, index)
        return cell, resources

    def _judge_cell(self, cell, index: int) -> None:
        """Run one test cell in the judge, within the notebook's budget and the cell's limit."""
        name = _name(cell, index)
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stopped = (f"notebook time limit ({self.notebook_timeout} s) reached before {name}; "
                             "later cells not run")
            self.incidents.append(self._stopped)
        if self._stopped is not None:
            cell.outputs = []
            _fail(cell, "NotRun", "not run: " + self._stopped.split(";")[0])
            return
        limit = self._cell_timeout(cell)
        timeouts, stderr = self._session.bridge.stats.timeouts, self._session.bridge.stats.stderr
        self._session.timeout = limit
        self._session.run_test_cell(cell)
        cell.outputs = self._capped_outputs(cell.outputs)
        if self._session.bridge.stats.stderr > stderr:  # the judge shows it as plain output
            self.incidents.append(f"{name} wrote to stderr (warnings): shown in the feedback, not scored as an error")
        if self._session.bridge.stats.timeouts > timeouts:
            self.incidents.append(f"{name} stopped at its {limit} s time limit")
        dead = self._session.bridge.dead
        if dead and "did not stop" in dead:
            self._stopped = (f"{name} ignored the interrupt at its {limit} s time limit; kernel stopped, "
                             "later cells not run")
            self.incidents.append(self._stopped)
        elif dead:
            self._stopped = f"kernel died in {name} ({self._death_cause()}); later cells not run"
            self.incidents.append(self._stopped)

    def _capped_outputs(self, outputs: list) -> list:
        """The output cap, applied to a judged cell's streams and displays as `output` applies it
        to the kernel's."""
        kept = []
        for output in outputs:
            kind = output.get("output_type")
            if kind in ("stream", "display_data"):
                size = len(output.get("text", "")) if kind == "stream" else len(json.dumps(output.get("data", {})))
                if self._output_bytes + size > self.output_kb * 1024:
                    if not self._capped:
                        self._capped = True
                        kept.append(NotebookNode(output_type="stream", name="stdout",
                                                 text=f"\n[grader: output beyond {self.output_kb} KiB dropped]\n"))
                    continue
                self._output_bytes += size
            kept.append(output)
        return kept

    def _instructor_notebook(self, nb: NotebookNode, resources) -> NotebookNode | None:
        """The notebook the judge runs: the gradebook's code cells (the instructor's text: tests
        with their hidden parts, setup cells, the model answers' function names), in the order
        of the sanitized hand-in (nbgrader's OverwriteCells has put back any deleted test cell).
        None when there is no gradebook record (Validate, a plain nbconvert run)."""
        info = (resources or {}).get("nbgrader") or {}
        if not all(info.get(key) for key in ("db_url", "notebook", "assignment")):
            return None
        try:
            with Gradebook(info["db_url"]) as gradebook:
                record = gradebook.find_notebook(info["notebook"], info["assignment"])
                sources = {c.name: (c.cell_type, c.source or "", c.locked) for c in record.source_cells}
                graded = {c.name for c in record.grade_cells}
                answers = {c.name for c in record.solution_cells}
        except MissingEntry:
            self.incidents.append("judge off: the notebook is not in the gradebook; test cells ran in the kernel")
            return None
        judged = []
        for cell in nb.cells:
            grade_id = cells.grade_id(cell)
            if grade_id not in sources or grade_id in {c.metadata.nbgrader.grade_id for c in judged}:
                continue
            cell_type, source, locked = sources[grade_id]
            if cell_type != "code":
                continue
            judged.append(NotebookNode(cell_type="code", source=source, outputs=[], execution_count=None,
                                       metadata=NotebookNode(nbgrader=NotebookNode(
                                           grade_id=grade_id, grade=grade_id in graded,
                                           solution=grade_id in answers, locked=locked))))
        return NotebookNode(cells=judged, metadata=NotebookNode(), nbformat=4, nbformat_minor=5)

    def _record(self, cell, name: str, test: bool, limit: int) -> None:
        """What this cell's outputs say: a time limit hit, errors in student cells, warnings."""
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            self.incidents.append(f"{name} stopped at its {limit} s time limit")
        if not test:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" and output.get("ename") != "CellTimeoutError":
                    message = (output.get("evalue") or "").strip().splitlines()
                    self.errors.append(f"{name} raised {output.get('ename')}"
                                       + (f": {clip(message[0], 160)}" if message else ""))
        if test and _stderr_to_stdout(cell):
            self.incidents.append(f"{name} wrote to stderr (warnings): shown in the feedback, not scored as an error")

    # --- pieces ----------------------------------------------------------------------------

    def _cell_timeout(self, cell) -> int:
        left = int(self._deadline - time.monotonic())
        return max(1, min(self.limits.cell_timeout or left, left))

    async def _guard_call(self, step: str) -> list[str]:
        """Run one step of the guard in the kernel, silently (no output, no history);
        return the names it set aside."""
        module = f"__import__('sys').modules['_coursekit_{self._token}']"
        msg_id = self.kc.execute(f"{module}.{step}()", silent=True, store_history=False,
                                 user_expressions={"moved": f"{module}.moved"}, allow_stdin=False)
        reply = await self.async_wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            self.incidents.append(f"grader guard could not run ({content.get('ename', 'no reply')})")
            return []
        found = content.get("user_expressions", {}).get("moved", {})
        try:
            return list(ast.literal_eval(found.get("data", {}).get("text/plain", "[]")))
        except (ValueError, SyntaxError):
            return []

    def _death_cause(self) -> str:
        code = None
        try:
            process = self.km.provisioner.process
            code = process.wait(timeout=2) if process.poll() is None else process.poll()
        except Exception:
            pass
        if code is None:
            return "no exit status"
        if code < 0:
            code = 128 - code
        if code > 128:
            try:
                name = signal.Signals(code - 128).name
            except ValueError:
                name = str(code - 128)
            hint = {"SIGXCPU": ", CPU-time limit", "SIGKILL": ", killed (memory or CPU-time limit?)",
                    "SIGSEGV": ", segmentation fault"}.get(name, "")
            return f"signal {name}{hint}"
        return f"exit code {code}"

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's output handler with the cap. Not a hook: nbclient's hooks see a cell
        only after all its output has been kept in memory."""
        msg_type = msg["msg_type"]
        if msg_type in ("stream", "display_data", "update_display_data"):
            content = msg["content"]
            size = len(content.get("text", "")) if msg_type == "stream" else len(json.dumps(content.get("data", {})))
            if self._output_bytes + size > self.output_kb * 1024:
                if not self._capped:
                    self._capped = True
                    outs.append(NotebookNode(output_type="stream", name="stdout",
                                             text=f"\n[grader: output beyond {self.output_kb} KiB dropped]\n"))
                return None
            self._output_bytes += size
        elif msg_type in ("error", "execute_result"):
            content = msg["content"]
            if msg_type == "error":
                content["traceback"] = content.get("traceback", [])[-30:]  # deep recursion: keep the end
            # Never dropped (they decide scores), but cut when large: to what is left of the
            # budget, and to at least KEPT_BYTES once it is spent (ename and a result's start stay).
            room = max(self.output_kb * 1024 - self._output_bytes, KEPT_BYTES)
            if _cap_result(content, msg_type, room):
                self._capped = True
            self._output_bytes += _size(content, msg_type)
        return super().output(outs, msg, display_id, cell_index)


KEPT_BYTES = 2048  # what an error or result keeps at least, however much output came before


def _size(content: dict, msg_type: str) -> int:
    if msg_type == "error":
        return sum(len(str(content.get(k, ""))) for k in ("ename", "evalue")) + sum(
            len(str(line)) for line in content.get("traceback", []))
    return len(json.dumps(content.get("data", {}), default=str))


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[grader: {len(text) - limit} characters cut]"


def _cap_result(content: dict, msg_type: str, room: int) -> bool:
    """Cut an error or execute_result larger than `room` characters; True if it was cut.

    An error keeps its ename and the start of its evalue (it still scores as an error);
    a result keeps the start of its text/plain only, so one that was small is never touched.
    """
    if _size(content, msg_type) <= room:
        return False
    if msg_type == "error":
        content["ename"] = _cut(str(content.get("ename", "")), 200)
        content["evalue"] = _cut(str(content.get("evalue", "")), room // 2)
        kept, used = [], 0
        for line in reversed([str(line) for line in content.get("traceback", [])]):
            line = _cut(line, room // 4)
            if used + len(line) > room // 2:
                break
            kept.insert(0, line)
            used += len(line)
        content["traceback"] = kept or [f"{content['ename']}: {content['evalue']}"[: room // 2]]
    else:
        text = content.get("data", {}).get("text/plain", "")
        content["data"] = {"text/plain": _cut(text if isinstance(text, str) else "".join(map(str, text)), room // 2)}
        content["metadata"] = {}
    return True


def _name(cell, index: int) -> str:
    grade_id = cells.grade_id(cell)
    return f"cell {grade_id}" if grade_id else f"cell {index}"


def _fail(cell, ename: str, evalue: str) -> None:
    cell.outputs = [*cell.get("outputs", []), NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])]


def _stderr_to_stdout(cell) -> bool:
    """Warnings a correct answer prints are shown, not scored as failures."""
    moved = False
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            output["name"] = "stdout"
            moved = True
    return moved


# --- the judge zygote of a whole machine (the grader reaches the judge only through here) ---


def start_judge_zygote() -> JudgeZygote:
    """A judge zygote for every local worker of a run, importing from now on: `wait_ready()`
    it before handing its `socket_path` to the workers (coursekit.grader.autograde)."""
    return JudgeZygote(wait=False)


def use_judge_zygote(socket_path: str) -> None:
    """Fork this process's judges from the zygote at `socket_path` ("": one of its own)."""
    JudgeZygote.attach(socket_path)

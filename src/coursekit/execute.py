"""nbgrader's Execute preprocessor, made safe for untrusted notebooks.

Stock nbgrader (0.9) runs a notebook with one per-cell timeout and nothing else. Here, for
each notebook:

- a **wall-clock budget** for the whole notebook: every cell's timeout is the smaller of
  the per-cell timeout and what is left of the budget; once it is spent, the remaining
  cells are not run and their tests fail with a message saying so;
- an **output cap**: stream and display output beyond `output_kb` is dropped with one note
  (errors and results, which decide scores, are always kept), so a flood can neither fill
  the grader's memory nor the gradebook;
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
- a static **tamper scan** (coursekit.tamper) of the student's cells, reported, never scored.

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
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from coursekit import notebooks

INCIDENTS_KEY = "coursekit"

# Builtins the course's tests call; a student global of the same name is moved aside while
# a test cell runs (and put back after it).
TEST_BUILTINS = (
    "isinstance", "type", "len", "round", "abs", "set", "sorted", "sum", "min", "max", "float", "int", "str",
    "bool", "list", "dict", "tuple", "print", "range", "all", "any", "repr", "hasattr", "getattr", "id",
    "AssertionError", "Exception", "callable", "zip", "map", "iter", "next",
)

# Runs once, silently, before any student code: snapshots what tests rely on, and defines
# the restore step under a name drawn at random for this kernel.
_GUARD_INSTALL = """
def __coursekit_guard(token, test_names):
    import builtins, math, operator, sys
    import numpy, numpy.testing, pandas, pandas.testing
    set_, get_, del_, items_, vars_, callable_, list_, type_ = (
        setattr, getattr, delattr, dict.items, vars, callable, list, type)
    import pandas.api.types
    modules = {m.__name__: m for m in (builtins, math, operator, numpy, numpy.testing, pandas, pandas.testing,
                                       pandas.api.types)}
    saved = {name: dict(vars_(m)) for name, m in modules.items()}
    classes = [numpy.ndarray, pandas.DataFrame, pandas.Series, pandas.Index, pandas.Timestamp, pandas.Timedelta,
               pandas.core.generic.NDFrame]
    try:
        shell = get_ipython()
        classes += [c for c in type_(shell).__mro__ if c.__module__.startswith(("IPython", "ipykernel"))]
        shell_keys = set(vars_(shell))
        lists = {"ast_transformers": list_(shell.ast_transformers),
                 "input_transformers_cleanup": list_(shell.input_transformers_cleanup),
                 "input_transformers_post": list_(shell.input_transformers_post)}
    except NameError:
        shell = None
    saved_classes = {c: dict(vars_(c)) for c in classes}
    hooks = (sys.displayhook, sys.excepthook)

    def overrides(cls, key):
        return key.startswith("__") or any(key in vars_(base) for base in cls.__mro__[1:])

    def restore(shadowed):
        sys.settrace(None)
        sys.setprofile(None)
        sys.displayhook, sys.excepthook = hooks
        for name, module in items_(modules):
            sys.modules[name] = module
            now = vars_(module)
            for key, value in items_(saved[name]):
                if now.get(key, restore) is not value:
                    now[key] = value
        for cls, attrs in items_(saved_classes):
            now = vars_(cls)
            for key, value in items_(attrs):
                if now.get(key, restore) is not value:
                    try:
                        set_(cls, key, value)
                    except (TypeError, AttributeError):
                        pass
            for key in [k for k in now if k not in attrs and overrides(cls, k)]:
                try:
                    del_(cls, key)
                except (TypeError, AttributeError):
                    pass
        moved = []
        if shell is not None:
            instance = vars_(shell)
            for key in [k for k in instance if k not in shell_keys and callable_(instance[k])]:
                del instance[key]
            for key, value in items_(lists):
                get_(shell, key)[:] = value
            user = shell.user_ns
            for name in test_names:
                if name in user and name not in shadowed:
                    shadowed[name] = user.pop(name)
                    moved.append(name)
        return moved

    store = {}
    guard = type_(sys)("_coursekit_" + token)
    guard.moved = []

    def before():
        guard.moved = restore(store)

    def after():
        if shell is not None:
            shell.user_ns.update(store)
        store.clear()
        guard.moved = []

    guard.before, guard.after = before, after
    sys.modules[guard.__name__] = guard


__coursekit_guard(TOKEN, NAMES)
del __coursekit_guard
"""


class SafeExecute(Execute):
    """nbgrader's Execute with a notebook time budget, an output cap, crash recovery,
    stderr-tolerant tests and a guard against patched helpers (see the module docstring)."""

    notebook_timeout = Integer(300, help="Wall-clock seconds for the whole notebook.").tag(config=True)
    output_kb = Integer(1024, help="Stream and display output kept per notebook, KiB.").tag(config=True)
    guard = Bool(True, help="Restore patched builtins and testing helpers before each test cell.").tag(config=True)
    tamper_scan = Bool(True, help="Scan student cells for attempts to subvert the tests.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources=None, km=None):
        # As nbconvert's ExecutePreprocessor.preprocess, with the loop over cells made safe.
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._incidents: list[str] = []  # limits hit, crashes, tampering: flagged to the instructor
        self._errors: list[str] = []  # errors raised in the student's own cells: part of the reason
        self._output_bytes = 0
        self._capped = False
        self._deadline = time.monotonic() + self.notebook_timeout
        self.timeout_func = self._cell_timeout
        if self.tamper_scan:
            from coursekit import tamper

            line = tamper.summary(tamper.scan_notebook(nb))
            if line:
                self._incidents.append(line)
        self._token = secrets.token_hex(8)
        stopped: str | None = None
        with self.setup_kernel():
            assert self.kc
            info_msg = self.wait_for_reply(self.kc.kernel_info())
            assert info_msg
            self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
            if self.guard:
                code = _GUARD_INSTALL.replace("TOKEN", repr(self._token)).replace("NAMES", repr(TEST_BUILTINS))
                reply = self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
                if (reply or {}).get("content", {}).get("status") != "ok":
                    self._incidents.append("grader guard could not be installed")
                    self.guard = False
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if stopped is None and time.monotonic() >= self._deadline:
                    stopped = (f"notebook time limit ({self.notebook_timeout} s) reached before {_name(cell, index)}; "
                               "later cells not run")
                    self._incidents.append(stopped)
                if stopped is not None:
                    _fail(cell, "NotRun", "not run: " + stopped.split(";")[0])
                    continue
                test = _is_test(cell)
                limit = self._cell_timeout(cell)
                try:
                    moved = self._guard_call("before") if (test and self.guard) else []
                    if moved:
                        self._incidents.append(f"{_name(cell, index)}: student globals {', '.join(moved)} shadow "
                                               "builtins; set aside for the test")
                    self.preprocess_cell(cell, resources, index)
                    if test and self.guard:
                        self._guard_call("after")
                except DeadKernelError:
                    stopped = f"kernel died in {_name(cell, index)} ({self._death_cause()}); later cells not run"
                    self._incidents.append(stopped)
                    _fail(cell, "DeadKernelError", stopped)
                    continue
                except CellTimeoutError:
                    # the kernel ignored the interrupt at the time limit and is still busy
                    stopped = (f"{_name(cell, index)} ignored the interrupt at its {limit} s time limit; "
                               "kernel stopped, later cells not run")
                    self._incidents.append(stopped)
                    _fail(cell, "CellTimeoutError", stopped)
                    continue
                if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                    self._incidents.append(f"{_name(cell, index)} stopped at its {limit} s time limit")
                if not test:
                    for output in cell.get("outputs", []):
                        if output.get("output_type") == "error" and output.get("ename") != "CellTimeoutError":
                            message = (output.get("evalue") or "").strip().splitlines()
                            self._errors.append(f"{_name(cell, index)} raised {output.get('ename')}"
                                                + (f": {message[0][:120]}" if message else ""))
                if test and _stderr_to_stdout(cell):
                    self._incidents.append(f"{_name(cell, index)} wrote to stderr (warnings): shown in the feedback, "
                                           "not scored as an error")
        self.set_widgets_metadata()
        if self._capped:
            self._incidents.append(f"output beyond {self.output_kb} KiB dropped")
        self.nb.metadata.setdefault(INCIDENTS_KEY, {}).update(incidents=self._incidents, errors=self._errors)
        return self.nb, self.resources

    # --- pieces ----------------------------------------------------------------------------

    def _cell_timeout(self, cell) -> int:
        left = int(self._deadline - time.monotonic())
        return max(1, min(self.timeout or left, left))

    def _guard_call(self, step: str) -> list[str]:
        """Run one step of the guard in the kernel, silently (no output, no history);
        return the names it set aside."""
        module = f"__import__('sys').modules['_coursekit_{self._token}']"
        msg_id = self.kc.execute(f"{module}.{step}()", silent=True, store_history=False,
                                 user_expressions={"moved": f"{module}.moved"}, allow_stdin=False)
        reply = self.wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            self._incidents.append(f"grader guard could not run ({content.get('ename', 'no reply')})")
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
        elif msg_type == "error":
            content = msg["content"]
            content["traceback"] = content.get("traceback", [])[-30:]  # deep recursion: keep the end
        return super().output(outs, msg, display_id, cell_index)


def _is_test(cell) -> bool:
    return utils.is_grade(cell) and not utils.is_solution(cell)


def _name(cell, index: int) -> str:
    grade_id = notebooks.grade_id(cell)
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

"""Does the static tamper scan catch code that subverts the tests, and leave ordinary answers alone?"""

from __future__ import annotations

import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit.grader.execution.tamper import Finding, scan_notebook, scan_source, summary


def answer_cell(source: str | list[str], grade_id: str = "answer") -> nbformat.NotebookNode:
    meta = {"grade_id": grade_id, "solution": True, "grade": False, "locked": False, "schema_version": 3}
    return new_code_cell(source, metadata={"nbgrader": meta})


def test_cell(source: str, grade_id: str = "test_x") -> nbformat.NotebookNode:
    meta = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": grade_id, "schema_version": 3}
    return new_code_cell(source, metadata={"nbgrader": meta})


test_cell.__test__ = False  # a helper, not a test


def locked_cell(source: str, grade_id: str = "setup") -> nbformat.NotebookNode:
    meta = {"grade": False, "solution": False, "locked": True, "grade_id": grade_id, "schema_version": 3}
    return new_code_cell(source, metadata={"nbgrader": meta})


def whats(source: str) -> list[str]:
    return [f.what for f in scan_source(textwrap.dedent(source))]


ATTACKS = {
    # 1. assignments into protected modules, aliases resolved
    "builtins_attr": ("import builtins\nbuiltins.isinstance = lambda *a: True", "assigns builtins.isinstance"),
    "builtins_alias": ("import builtins as b\nb.len = lambda x: 3", "assigns builtins.len"),
    "dunder_builtins": ("__builtins__.abs = lambda x: 0", "assigns builtins.abs"),
    "dunder_builtins_item": ("__builtins__['round'] = lambda *a: 1", "assigns builtins['round']"),
    "np_testing": ("np.testing.assert_allclose = lambda *a, **k: None", "assigns numpy.testing.assert_allclose"),
    "np_allclose": ("np.allclose = lambda *a, **k: True", "assigns numpy.allclose"),
    "np_ndarray_eq": ("np.ndarray.__eq__ = lambda s, o: True", "assigns numpy.ndarray.__eq__"),
    "npt_alias": ("import numpy.testing as npt\nnpt.assert_allclose = print", "assigns numpy.testing.assert_allclose"),
    "from_numpy_testing": ("from numpy import testing\ntesting.assert_equal = print", "assigns numpy.testing"),
    "pdt_alias": (
        "from pandas import testing as pdt\npdt.assert_frame_equal = lambda *a, **k: None",
        "assigns pandas.testing.assert_frame_equal",
    ),
    "pandas_class": ("pd.DataFrame.equals = lambda self, other: True", "assigns pandas.DataFrame.equals"),
    "augmented": ("import math\nmath.pi += 1", "assigns math.pi"),
    "annotated": ("import operator\noperator.eq: object = lambda a, b: True", "assigns operator.eq"),
    "delete": ("import unittest\ndel unittest.TestCase.assertEqual", "deletes unittest.TestCase.assertEqual"),
    "sys_modules_write": ("import sys\nsys.modules['numpy'] = object()", "assigns sys.modules['numpy']"),
    "sys_attr": ("import sys\nsys.excepthook = print", "assigns sys.excepthook"),
    "pytest_attr": ("import pytest\npytest.approx = lambda x, **k: x", "assigns pytest.approx"),
    "coursekit_attr": ("import coursekit.seeds\ncoursekit.seeds.read_article = str", "assigns coursekit.seeds"),
    "assigned_alias": ("t = np.testing\nt.assert_array_equal = print", "assigns numpy.testing.assert_array_equal"),
    "dunder_import_chain": ("__import__('numpy').isclose = lambda *a: True", "assigns numpy.isclose"),
    "vars_of_module": ("import builtins\nvars(builtins)['len'] = str", "assigns builtins.__dict__['len']"),
    "module_dict_update": ("import builtins\nbuiltins.__dict__.update(len=str)", "changes builtins.__dict__"),
    "inside_function": (
        "def sneaky():\n    import builtins\n    builtins.max = min\nsneaky()",
        "assigns builtins.max",
    ),
    "import_below_function": (
        "def later():\n    npt.assert_allclose = print\nimport numpy.testing as npt",
        "assigns numpy.testing.assert_allclose",
    ),
    "unpacking_target": ("np.isclose, x = print, 1", "assigns numpy.isclose"),
    "for_target": ("for np.allclose in [print]:\n    pass", "assigns numpy.allclose"),
    # 2. rebinding a builtin the tests call, at top level
    "rebind_isinstance": ("isinstance = lambda *a: True", "rebinds builtin isinstance"),
    "rebind_def": ("def len(x):\n    return 3", "rebinds builtin len"),
    "rebind_class": ("class AssertionError(Exception):\n    pass", "rebinds builtin AssertionError"),
    "rebind_import": ("from numpy import max", "rebinds builtin max"),
    "rebind_tuple": ("type, x = (lambda o: int), 1", "rebinds builtin type"),
    "rebind_walrus": ("[(abs := print) for _ in range(1)]", "rebinds builtin abs"),
    "rebind_global": ("def f():\n    global round\n    round = int\nf()", "rebinds builtin round"),
    "rebind_in_if": ("if True:\n    sorted = list", "rebinds builtin sorted"),
    "rebind_np": ("np = type('N', (), {'allclose': staticmethod(lambda *a, **k: True)})", "rebinds np (numpy)"),
    "rebind_dunder_builtins": ("__builtins__ = {}", "rebinds __builtins__"),
    # 3. escape hatches and tools for reaching into the test's machinery
    "setattr_module": ("import builtins\nsetattr(builtins, 'len', str)", "calls setattr on builtins"),
    "setattr_np_testing": ("setattr(np.testing, 'assert_allclose', print)", "calls setattr on numpy.testing"),
    "delattr_module": ("import math\ndelattr(math, 'isclose')", "calls delattr on math"),
    "setattr_import": ("setattr(__import__('builtins'), 'len', str)", "calls setattr on builtins"),
    "setattr_import_module": (
        "import importlib\nsetattr(importlib.import_module(name), 'len', str)",
        "calls setattr on importlib.import_module(...)",
    ),
    "object_setattr": ("object.__setattr__(np, 'allclose', print)", "calls setattr on numpy"),
    "exec": ("exec('import builtins; builtins.len = str')", "calls exec"),
    "eval": ("answer = eval('4 * 10 + 2')", "calls eval"),
    "compile": ("code = compile('x = 1', 'f', 'exec')", "calls compile"),
    "eval_reference": ("run = eval\nrun('1')", "uses eval"),
    "builtins_exec": ("import builtins as b\nb.exec('x = 1')", "calls exec"),
    "dunder_import": ("m = __import__('os')", "calls __import__"),
    "reload": ("import importlib\nimportlib.reload(np)", "calls importlib.reload"),
    "reload_from": ("from importlib import reload\nreload(np)", "calls importlib.reload"),
    "import_module": ("import importlib\nimportlib.import_module('numpy.testing')", "import_module on numpy.testing"),
    "import_module_computed": ("import importlib\nimportlib.import_module(n)", "import_module with a computed name"),
    "ctypes_import": ("import ctypes", "imports ctypes"),
    "ctypes_from": ("from ctypes import pythonapi", "imports ctypes"),
    "ctypes_use": ("ctypes.pythonapi.PyObject_SetAttr(1, 2, 3)", "uses ctypes"),
    "gc_import": ("import gc", "imports gc"),
    "gc_objects": ("gc.get_objects()", "calls gc.get_objects"),
    "gc_referrers": ("import gc as g\ng.get_referrers(len)", "calls gc.get_referrers"),
    "settrace": ("import sys\nsys.settrace(lambda *a: None)", "calls sys.settrace"),
    "setprofile": ("from sys import setprofile\nsetprofile(print)", "calls sys.setprofile"),
    "audithook": ("import sys\nsys.addaudithook(print)", "calls sys.addaudithook"),
    "os_kill": ("import os\nos.kill(os.getpid(), 9)", "calls os.kill"),
    "os_fork": ("import os\nos.fork()", "calls os.fork"),
    "signal": ("import signal\nsignal.signal(signal.SIGALRM, print)", "calls signal.signal"),
    "sys_modules_read": ("import sys\nreal = sys.modules.get('numpy')", "uses sys.modules"),
    "sys_modules_from": ("from sys import modules", "imports sys.modules"),
    "globals_write": ("globals()['isinstance'] = print", "writes globals()"),
    "globals_update": ("def f():\n    globals().update(len=str)", "writes globals()"),
    "vars_write": ("vars()['np'] = None", "writes vars()"),
    "locals_write": ("locals()['max'] = min", "writes locals()"),
    "get_ipython": ("get_ipython().events.register('pre_run_cell', print)", "uses get_ipython()"),
    "get_ipython_user_ns": ("ns = get_ipython().user_ns", "uses get_ipython()"),
    "get_ipython_imported": ("from IPython import get_ipython\nget_ipython().run_cell('x')", "uses get_ipython()"),
    # 4. comparisons that always agree
    "eq_true": (
        "class Answer(float):\n    def __eq__(self, other):\n        return True",
        "defines __eq__ that always returns True",
    ),
    "eq_docstring": (
        'class A:\n    def __eq__(self, other):\n        """Equal."""\n        return True',
        "defines __eq__ that always returns True",
    ),
    "ne_false": (
        "class A(int):\n    def __ne__(self, other):\n        return False",
        "defines __ne__ that always returns False",
    ),
    "eq_lambda": ("class A(str):\n    __eq__ = lambda self, other: True", "defines __eq__ that always returns True"),
    # 5. swapping a function's code or an object's class behind its name
    "code_swap": ("def f():\n    pass\ndef g():\n    return 42\nf.__code__ = g.__code__", "assigns __code__"),
    "class_swap": ("x = 1.0\nobj.__class__ = Always", "assigns __class__"),
    "defaults_swap": ("f.__defaults__ = (1,)", "assigns __defaults__"),
    "globals_del": ("del f.__kwdefaults__", "deletes __kwdefaults__"),
    "setattr_code": ("setattr(f, '__code__', g.__code__)", "calls setattr on __code__"),
    # IPython syntax around an attack does not hide it
    "after_magic": ("%matplotlib inline\nimport builtins\nbuiltins.len = str", "assigns builtins.len"),
    "shell_assignment": ("files = !ls\nnp.allclose = print", "assigns numpy.allclose"),
    "time_magic": ("%time np.allclose = print", "assigns numpy.allclose"),
    "capture_cell_magic": ("%%capture\nnp.allclose = print", "assigns numpy.allclose"),
}


@pytest.mark.parametrize(("source", "expected"), list(ATTACKS.values()), ids=list(ATTACKS))
def test_attack_is_reported(source, expected):
    """Is each way of subverting a test reported, with a short text naming what was touched?"""
    found = whats(source)
    assert any(expected in what for what in found), found


ORDINARY = {
    "pandas": """
        def busiest_month(df):
            counts = df.groupby(df["date"].dt.month)["troops"].sum()
            return int(counts.idxmax())
        """,
    "dataframe_columns": """
        df = pd.DataFrame({"a": [1, 2]})
        df.columns = ["troops"]
        df["share"] = df["troops"] / df["troops"].sum()
        df.loc[0, "troops"] = 3
        df.index.name = "row"
        """,
    "numpy": """
        import numpy as np
        np.random.seed(0)
        rng = np.random.default_rng(42)
        values = rng.normal(size=10)
        values[values < 0] = 0
        arr = np.zeros(3)
        arr[0] = 1
        np.testing.assert_allclose(arr, [1, 0, 0])
        """,
    "matplotlib": """
        import matplotlib.pyplot as plt
        plt.rcParams["figure.figsize"] = (8, 4)
        fig, ax = plt.subplots()
        ax.bar(["2019", "2023"], [3500, 4500])
        ax.set_title("KFOR troops")
        ax.title.set_fontsize(14)
        plt.close(fig)
        """,
    "pandas_options": """
        pd.options.display.max_rows = 10
        pd.options.display.width = 100
        pd.set_option("display.precision", 2)
        """,
    "regex": r"""
        import re
        from re import compile
        NUMBER = compile(r"\d[\d,]*")
        WORD = re.compile(r"\w+")
        def numbers(text):
            return [int(m.replace(",", "")) for m in NUMBER.findall(text)]
        """,
    "dates": """
        from datetime import date, datetime
        published = pd.to_datetime("2023-09-29")
        days = (date(2023, 12, 31) - published.date()).days
        stamp = datetime.now().isoformat()
        """,
    "local_builtin_names": """
        def describe(values):
            max = 0
            type = "bar"
            for len in values:
                max = len if len > max else max
            sum = [id for id in range(3)]
            return max, type, sum
        """,
    "parameters_named_like_builtins": """
        def pick(list, type=None, *, max=3, **dict):
            return list[:max]
        """,
    "comprehension_targets": """
        squares = [max * max for max in range(4)]
        pairs = {str: len for str, len in [("a", 1)]}
        total = sum(x for x in range(3))
        """,
    "user_objects": """
        class Point:
            def __init__(self, x, y):
                self.x = x
                self.value = y
        p = Point(1, 2)
        p.x = 5
        p.__doc__ = "a point"
        """,
    "dicts_and_lists": """
        result = {}
        result["x"] = 1
        result.update(y=2)
        counts = dict(a=1)
        del counts["a"]
        items = [1, 2]
        items[0] = 3
        """,
    "normal_eq": """
        class Troops:
            def __init__(self, year, count):
                self.year, self.count = year, count
            def __eq__(self, other):
                if not isinstance(other, Troops):
                    return NotImplemented
                return (self.year, self.count) == (other.year, other.count)
            def __hash__(self):
                return hash((self.year, self.count))
        """,
    "class_attributes_named_like_builtins": """
        class Limits:
            max = 10
            min = 0
            type = "count"
        """,
    "magics": """
        %matplotlib inline
        %load_ext autoreload
        !ls
        import numpy as np
        x = np.arange(3)
        """,
    "syntax_error": """
        def broken(:
            builtins.len = str
        """,
    "imports": """
        import numpy as np
        import pandas as pd
        import math
        from math import sqrt, isclose
        from collections import Counter
        import importlib.metadata
        root = math.sqrt(16)
        """,
    "frozen_dataclass": """
        from dataclasses import dataclass
        @dataclass(frozen=True)
        class Row:
            year: int
            def with_year(self, year):
                copy = Row(self.year)
                object.__setattr__(copy, "year", year)
                return copy
        """,
    "setattr_on_own_object": """
        class Box:
            pass
        box = Box()
        setattr(box, "label", "KFOR")
        print(getattr(box, "label"))
        """,
    "dataframe_eval": """
        df = pd.DataFrame({"a": [1], "b": [2]})
        df = df.eval("c = a + b")
        total = pd.eval("df.a + df.b")
        """,
    "shadowed_module_name": """
        math = {"score": 90}
        math["score"] = 95
        """,
    "string_mentions": '''
        NOTE = "do not write builtins.len = str or exec(...) in an answer"
        def f():
            """sys.modules and get_ipython() are mentioned here only."""
            return NOTE
        ''',
    "annotations_only": """
        len: int
        count: int = 3
        """,
    "numpy_items": """
        weights = np.ones(3)
        weights[1:] = 0.5
        table = np.empty((2, 2))
        table[:, 0] = [1, 2]
        """,
    "help_syntax": """
        np.mean?
        answer = 42
        """,
}


@pytest.mark.parametrize("source", list(ORDINARY.values()), ids=list(ORDINARY))
def test_ordinary_code_is_not_reported(source):
    """Does correct, everyday student code (pandas, numpy, magics, local names) pass without a finding?"""
    assert scan_source(textwrap.dedent(source)) == []


def test_finding_names_cell_and_line():
    """Does a finding carry the cell name given and the 1-based line of the construct?"""
    source = "x = 1\n\nimport builtins\nbuiltins.len = str\n"
    assert scan_source(source, cell="answer-x") == [Finding("answer-x", 4, "assigns builtins.len")]


def test_one_finding_per_construct():
    """Is an attack reported once, not once per name inside it?"""
    assert whats("import sys\nsys.modules['numpy'] = None") == ["assigns sys.modules['numpy']"]
    assert whats("setattr(__import__('builtins'), 'len', str)") == ["calls setattr on builtins"]
    assert whats("get_ipython().run_cell('x = 1')") == ["uses get_ipython()"]


def test_findings_are_in_line_order():
    """Are findings sorted by line, even those in function bodies scanned after the cell's top level?"""
    source = "def f():\n    np.allclose = print\nisinstance = print\n"
    assert [(f.line, f.what) for f in scan_source(source)] == [
        (2, "assigns numpy.allclose"),
        (3, "rebinds builtin isinstance"),
    ]


def test_scan_notebook_skips_instructor_cells():
    """Are test cells and locked cells skipped even when they hold code that would be reported?"""
    nb = new_notebook(cells=[
        locked_cell("import builtins\nbuiltins.len = str\nexec('x = 1')"),
        new_markdown_cell("exec('x')"),
        answer_cell("def f():\n    return 1\n"),
        test_cell("isinstance = print\nassert f() == 1"),
    ])
    assert scan_notebook(nb) == []


def test_scan_notebook_reads_student_cells():
    """Are solution cells and cells a student added (no nbgrader metadata) scanned, and named by grade_id or index?"""
    nb = new_notebook(cells=[
        locked_cell("import numpy as np"),
        answer_cell("def f():\n    return 1\nexec('y = 2')", grade_id="answer_f"),
        test_cell("assert f() == 1"),
        new_code_cell("import builtins\nbuiltins.isinstance = lambda *a: True"),
        new_code_cell("eval('1')", metadata={"nbgrader": {"solution": False, "grade": False, "locked": False}}),
    ])
    assert scan_notebook(nb) == [
        Finding("answer_f", 3, "calls exec"),
        Finding("cell 3", 2, "assigns builtins.isinstance"),
        Finding("cell 4", 1, "calls eval"),
    ]


def test_aliases_carry_across_cells():
    """Does an alias imported in one student cell resolve in a later one, as it does in the kernel?"""
    nb = new_notebook(cells=[
        answer_cell("import numpy.testing as npt\nfrom pandas import testing as pdt", grade_id="imports"),
        answer_cell("npt.assert_allclose = print\npdt.assert_series_equal = print", grade_id="later"),
    ])
    assert scan_notebook(nb) == [
        Finding("later", 1, "assigns numpy.testing.assert_allclose"),
        Finding("later", 2, "assigns pandas.testing.assert_series_equal"),
    ]


def test_rebinding_across_cells_clears_alias():
    """Once a student rebinds a name to an ordinary value (reported), is it no longer taken for the module?"""
    nb = new_notebook(cells=[
        answer_cell("import math\nmath = {'score': 1}", grade_id="one"),
        answer_cell("math['score'] = 2", grade_id="two"),
    ])
    assert scan_notebook(nb) == [Finding("one", 2, "rebinds math (math)")]


def test_setup_aliases_are_known_without_import():
    """Are np and pd (imported by the locked setup cell, which is not scanned) resolved in a student cell?"""
    nb = new_notebook(cells=[
        locked_cell("import numpy as np\nimport pandas as pd"),
        answer_cell("pd.testing.assert_frame_equal = print"),
    ])
    assert scan_notebook(nb) == [Finding("answer", 1, "assigns pandas.testing.assert_frame_equal")]


def test_list_valued_source():
    """Is a cell whose source is a list of strings (as in a notebook file) scanned as the joined text?"""
    nb = new_notebook(cells=[answer_cell(["import builtins\n", "builtins.len = str\n"])])
    nb.cells[0].source = ["import builtins\n", "builtins.len = str\n"]
    assert scan_notebook(nb) == [Finding("answer", 2, "assigns builtins.len")]


def test_syntax_error_gives_no_findings():
    """Is a cell that does not parse treated as a wrong answer rather than tampering?"""
    assert scan_source("exec('x')\nif True\n") == []


def test_windows_line_endings():
    """Are magics and help lines recognised, and lines counted right, in a cell saved with CRLF line endings?"""
    source = "x = 1\r\n%matplotlib inline\r\nnp.mean?\r\nimport builtins\r\nbuiltins.len = str\r\n"
    assert scan_source(source) == [Finding("cell", 5, "assigns builtins.len")]


def test_non_python_cell_magic_gives_no_findings():
    """Is a %%bash cell (not Python, so never run by the kernel as Python) left alone?"""
    assert scan_source("%%bash\nexec builtins.len = str\n") == []


def test_modulo_line_continuation_is_not_a_magic():
    """Is a line starting with % inside parentheses read as Python, not blanked as a magic?"""
    assert whats("x = (10\n     % 3)\neval('1')") == ["calls eval"]


def test_summary_names_findings_and_counts_the_rest():
    """Does summary() give one line naming the first findings and counting the others?"""
    findings = [
        Finding("answer-x", 3, "assigns builtins.isinstance"),
        Finding("answer-y", 1, "calls exec"),
        Finding("cell 4", 2, "uses sys.modules"),
        Finding("cell 4", 5, "calls eval"),
        Finding("cell 5", 1, "imports ctypes"),
    ]
    assert summary(findings) == (
        "tampering suspected: answer-x line 3 assigns builtins.isinstance; answer-y line 1 calls exec; "
        "cell 4 line 2 uses sys.modules (+2 more)"
    )
    assert summary(findings[:2]) == (
        "tampering suspected: answer-x line 3 assigns builtins.isinstance; answer-y line 1 calls exec"
    )
    assert summary(findings, limit=1) == "tampering suspected: answer-x line 3 assigns builtins.isinstance (+4 more)"
    assert "\n" not in summary(findings, limit=10)


def test_summary_of_nothing_is_empty():
    """Is the summary an empty string when nothing was found?"""
    assert summary([]) == ""


def test_deeply_nested_code_is_reported_not_crashed():
    """Does code too deep for the scan give a finding instead of an exception?"""
    found = whats("x = " + "+".join(["1"] * 5000))
    assert found == ["too deeply nested to scan"]


# --- cell-magic bodies and line magics (issue 14) ----------------------------------------

MAGICS = {
    "writefile-patch": ("%%writefile helper.py\nimport builtins\nbuiltins.len = lambda x: 3\n",
                        [(1, "writes helper.py with %%writefile"), (3, "assigns builtins.len")]),
    "file-patch": ("%%file -a helper.py\nimport math\nmath.isclose = lambda *a, **k: True\n",
                   [(1, "writes helper.py with %%file"), (3, "assigns math.isclose")]),
    "python-subprocess": ("%%python3\nimport ctypes\n", [(2, "imports ctypes")]),
    "script-python": ("%%script /usr/bin/python3\nexec('1')\n", [(2, "calls exec")]),
    "bash-heredoc": ("%%bash\ncd /tmp\ncat > sitecustomize.py <<EOF\nimport builtins\nEOF\n",
                     [(3, "runs or writes Python from %%bash")]),
    "script-bash": ("%%script bash\necho hi\npython -c 'print(1)'\n", [(3, "runs or writes Python from %%script")]),
    "capture": ("%%capture out\nimport builtins\nbuiltins.print = None\n", [(3, "assigns builtins.print")]),
    "run": ("x = 1\n%run -i helper.py\n", [(2, "runs helper.py with %run")]),
    "shell-escape": ("x = 1\n!echo 'import builtins' > helper.py\n",
                     [(2, "runs or writes Python from a shell escape")]),
    "shell-assign": ("out = !python -c 'print(2)'\n", [(1, "runs or writes Python from a shell escape")]),
}


@pytest.mark.parametrize("name", sorted(MAGICS))
def test_cell_magic_bodies_and_line_magics_are_read(name):
    """Is what a cell magic writes or runs, and what %run or a shell escape runs, scanned?"""
    source, expected = MAGICS[name]
    assert [(f.line, f.what) for f in scan_source(source)] == expected


MAGIC_ORDINARY = [
    "%%writefile notes.txt\nimport builtins is not Python here, just text\n",
    "%%bash\nls -l\necho done\n",
    "%%html\n<b>builtins.len = 3</b>\n",
    "%matplotlib inline\nx = 1\n",
    "!ls data\n",
    's = """\n!python -c 1\n%run x.py\n"""\n',  # in a string, not a magic
]


@pytest.mark.parametrize("source", MAGIC_ORDINARY)
def test_ordinary_magics_are_not_reported(source):
    assert scan_source(source) == []


def test_a_written_module_that_patches_and_is_imported_is_flagged_in_the_notebook():
    """The issue's case: %%writefile a module that patches builtins, then import it."""
    nb = new_notebook(cells=[
        answer_cell("%%writefile helper.py\nimport builtins\n_len = builtins.len\nbuiltins.len = lambda x: 3\n", "a1"),
        answer_cell("import helper\n\ndef f():\n    return 1\n", "a2"),
    ])
    text = summary(scan_notebook(nb))
    assert "a1 line 1 writes helper.py with %%writefile" in text and "a1 line 4 assigns builtins.len" in text


def test_control_without_reading_bodies_the_patch_is_unseen():
    """The control: the pre-issue-14 scan skips a non-Python cell magic's body, which is
    what _cell_magic now reads (the same body, pasted without its magic line, is caught)."""
    from coursekit.grader.execution.tamper_rules import _parse

    assert _parse("%%writefile helper.py\nimport builtins\nbuiltins.len = lambda x: 3\n") is None
    assert whats("import builtins\nbuiltins.len = lambda x: 3\n") == ["assigns builtins.len"]

"""The guard as code: run in this process (no kernel), does `before()` undo patches to what
tests rely on, and does the text sent to the kernel stand on its own?"""

from __future__ import annotations

import builtins
import math
import sys

import numpy.testing
import pandas

from coursekit.grader.execution.guard import install_guard, kernel_code


def test_before_undoes_patched_builtins_modules_and_methods():
    """Are a patched builtin, math function, testing helper and DataFrame method put back?"""
    token = "unit"
    guard = install_guard(token, ("len",))
    try:
        real_len, real_isclose, real_close, real_eq = len, math.isclose, numpy.testing.assert_allclose, \
            pandas.DataFrame.equals
        builtins.len = lambda x: 0
        math.isclose = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        pandas.DataFrame.equals = lambda self, other: True
        sys.settrace(lambda *a: None)
        guard.before()
        assert builtins.len is real_len and math.isclose is real_isclose
        assert numpy.testing.assert_allclose is real_close and pandas.DataFrame.equals is real_eq
        assert sys.gettrace() is None
        guard.after()
    finally:
        builtins.len, math.isclose = real_len, real_isclose
        numpy.testing.assert_allclose, pandas.DataFrame.equals = real_close, real_eq
        sys.settrace(None)
        sys.modules.pop(f"_coursekit_{token}", None)


def test_a_method_added_to_a_class_is_removed():
    """Is an `__eq__`-style override added to a pandas class after the snapshot taken away?"""
    token = "unit2"
    guard = install_guard(token, ())
    try:
        pandas.Series.__bool__ = lambda self: True
        guard.before()
        assert "__bool__" not in vars(pandas.Series)
    finally:
        vars(pandas.Series).get("__bool__") and delattr(pandas.Series, "__bool__")
        sys.modules.pop(f"_coursekit_{token}", None)


def test_the_kernel_code_is_self_contained():
    """Does the text sent to the kernel run in an empty namespace and leave no name behind?"""
    namespace: dict = {}
    exec(compile(kernel_code("unit3", ("len",)), "<guard>", "exec"), namespace)
    try:
        assert "install_guard" not in namespace
        module = sys.modules["_coursekit_unit3"]
        assert callable(module.before) and callable(module.after) and module.moved == []
    finally:
        sys.modules.pop("_coursekit_unit3", None)

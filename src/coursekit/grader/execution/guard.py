"""The guard against patching Python to pass tests, run inside the student's kernel.

`install_guard` is sent to the kernel as source text (`kernel_code`) and run once,
silently, before any student code. It snapshots what the tests rely on (builtins, math,
operator, NumPy's and pandas' testing helpers, their classes' methods, IPython's code
transformers, the trace hooks) and registers a module under a name drawn at random for
this kernel, with two steps SafeExecute calls around every test cell: `before()` puts
everything back as it was and sets aside student globals that shadow the builtins the
tests use; `after()` gives those globals back.

The function is self-contained on purpose (its imports are inside it, and it binds the
builtins it uses before any student code can rebind them): only its own source reaches
the kernel. It is an ordinary function here, so ruff reads it and tests/grader/
test_guard.py runs it in-process.
"""

from __future__ import annotations

import inspect


def install_guard(token, test_names):
    """Snapshot what tests rely on; register `_coursekit_<token>` with before/after steps.

    About 90 lines, on purpose: one program that must reach the kernel whole (see the module docstring).
    """
    import builtins
    import math
    import operator
    import sys

    import numpy
    import numpy.testing
    import pandas
    import pandas.testing
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
    return guard


def kernel_code(token: str, test_names: tuple[str, ...]) -> str:
    """The text the kernel runs: this module's `install_guard`, called once and deleted."""
    return (inspect.getsource(install_guard)
            + f"\n\ninstall_guard({token!r}, {tuple(test_names)!r})\ndel install_guard\n")

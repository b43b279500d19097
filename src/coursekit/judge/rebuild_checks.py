"""Validation of chart data from the student's kernel, for `coursekit.judge.rebuild`.

Trust boundary: every function here takes a value decoded from the kernel's JSON and
returns it only if it is what matplotlib may safely be given -- a bounded list, a short
string, a finite number in range, a colour-like value, a known transform name, a path
with valid codes -- and raises `DecodeError` otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from coursekit.judge.axes import MAX_CHILDREN, MAX_POINTS, MAX_TEXT
from coursekit.judge.codec import DecodeError

TRANSFORMS = ("data", "axes", "xaxis", "yaxis", "figure", "identity")
_ALIGN = {"left", "right", "center", "top", "bottom", "baseline", "center_baseline"}


def num(value: Any, *, finite: bool = False, low: float = -1e300, high: float = 1e300) -> float:
    if type(value) in (int, float) and not isinstance(value, bool):
        value = float(value)
    elif value in ("nan", "inf", "-inf") and not finite:
        value = float(value)
    else:
        raise DecodeError("expected a number")
    if finite and not math.isfinite(value):
        raise DecodeError("expected a finite number")
    if math.isfinite(value) and not low <= value <= high:
        raise DecodeError("number out of range")
    return value


def nums(values: Any, limit: int = 2 * MAX_POINTS) -> list[float]:
    if type(values) is not list or len(values) > limit:
        raise DecodeError("expected a bounded list of numbers")
    return [num(v) for v in values]


def text(value: Any, limit: int = MAX_TEXT) -> str:
    if type(value) is not str or len(value) > limit:
        raise DecodeError("expected a short string")
    return value


def obj(value: Any) -> dict:
    if type(value) is not dict:
        raise DecodeError("expected an object")
    return value


def bounded(value: Any, limit: int = MAX_CHILDREN) -> list:
    if type(value) is not list or len(value) > limit:
        raise DecodeError("expected a bounded list")
    return value


def color(value: Any) -> Any:
    from matplotlib.colors import is_color_like

    if type(value) is list and len(value) == 4:
        rgba = tuple(num(c, finite=True, low=0.0, high=1.0) for c in value)
        return rgba
    if type(value) is str and len(value) <= 40 and is_color_like(value):
        return value
    raise DecodeError("not a colour")


def colors(value: Any):
    import numpy as np

    rows = bounded(value, MAX_POINTS)
    out = [color(row) for row in rows if type(row) is list]
    if len(out) != len(rows):
        raise DecodeError("bad colour list")
    return np.array(out, dtype=float).reshape(-1, 4)


def transform(ax, name: Any):
    from matplotlib.transforms import IdentityTransform

    if name not in TRANSFORMS:
        raise DecodeError("unknown transform")
    return {"data": ax.transData, "axes": ax.transAxes, "xaxis": ax.get_xaxis_transform(),
            "yaxis": ax.get_yaxis_transform(), "figure": ax.figure.transFigure,
            "identity": IdentityTransform()}[name]


def path(vertices: Any, codes: Any):
    import numpy as np
    from matplotlib.path import Path

    flat = nums(vertices)
    if len(flat) % 2:
        raise DecodeError("odd number of path coordinates")
    array = np.array(flat, dtype=float).reshape(-1, 2)
    if codes is not None:
        codes = bounded(codes, MAX_POINTS)
        if len(codes) != len(array) or not all(type(c) is int and c in (0, 1, 2, 3, 4, 79) for c in codes):
            raise DecodeError("bad path codes")
        if codes and codes[0] != Path.MOVETO:
            raise DecodeError("a path must start with MOVETO")
    try:
        return Path(array, codes)
    except (ValueError, TypeError) as error:
        raise DecodeError(f"bad path ({error})") from None


def text_kwargs(item: dict) -> dict:
    ha, va = item.get("ha", "left"), item.get("va", "baseline")
    if ha not in _ALIGN or va not in _ALIGN:
        raise DecodeError("bad text alignment")
    return {"fontsize": num(item.get("fontsize", 10.0), finite=True, low=0.1, high=500),
            "color": color(item.get("color", "black")), "ha": ha, "va": va,
            "rotation": num(item.get("rotation", 0.0), finite=True), "visible": bool(item.get("visible", True)),
            "zorder": num(item.get("zorder", 3.0), finite=True), "usetex": False}



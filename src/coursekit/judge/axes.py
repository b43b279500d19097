"""A matplotlib Axes as plain data: the kernel's half of carrying a chart to the judge.

Trust boundary. `encode_axes` runs in the student's kernel (untrusted) when a graded
function returns an Axes; its output is only data, and the judge rebuilds a real Axes
from it with `coursekit.judge.rebuild`, which validates every field. Nothing here runs in
the judge.

What is carried, per Axes of the figure (up to 8; the returned one is marked): every
child in drawing order -- lines (x/y data as matplotlib's floats, line style and width,
marker, its size and face/edge colours, colour, draw style, label, z-order, alpha,
transform kind), collections (scatter offsets, sizes, paths, face/edge colours, line
widths; line and polygon collections as segments), rectangles (bars) and other patches as
paths, texts and annotations -- then bar containers, titles, axis labels, limits, scales,
major tick positions and labels, the legend's entries, and the x axis' unit type (date
with matplotlib's epoch, category with its labels, pandas period with its frequency, or
plain numbers). Per figure: its size and dpi, the figure texts (fig.text, suptitle) in
order, figure legends, and a PNG of the figure rendered in the kernel.

`coursekit.charts.read` of the rebuilt Axes gives the same `Chart` as of the original
(tests/test_judge_axes.py compares them field by field on the course's charts).
"""

from __future__ import annotations

import base64
import io
import math
import sys
from typing import Any

MAX_AXES = 8
MAX_CHILDREN = 400
MAX_POINTS = 200_000
MAX_TEXT = 2000
MAX_PNG = 2_000_000
PNG_DPI = 80



# --- kernel side: encoding ----------------------------------------------------------------


def encode_axes(value: Any, encoder=None, *, png: bool = True) -> dict | None:
    """The data for an Axes (None when `value` is not a plain matplotlib Axes); with
    `png`, a PNG of its figure too."""
    module = sys.modules.get("matplotlib.axes")
    if module is None or type(value) is not module.Axes:
        return None
    from coursekit import charts

    figure = charts._root_figure(value)
    # No draw (it cost ~25 ms of a chart's ~55 ms): ticks come from the locators and
    # formatters and limits from autoscaling, as charts.read sees an undrawn Axes in the
    # kernel path; only colour-mapped collections need their colours computed, which a draw
    # would do.
    for child in (c for a in figure.axes for c in a.collections):
        try:
            child.update_scalarmappable()
        except Exception:  # noqa: BLE001 - a collection that cannot map keeps its colours
            pass
    axes = [a for a in figure.axes if type(a) is module.Axes][:MAX_AXES]
    if value not in axes:
        axes = [value]
    data = {
        "$": "axes",
        "figsize": [float(v) for v in figure.get_size_inches()],
        "dpi": float(figure.dpi),
        "axes": [_encode_one(a) for a in axes],
        "index": axes.index(value),
        "texts": [_encode_figure_text(figure, t) for t in figure.texts[:MAX_CHILDREN]],
        "legends": [_legend_texts(legend) for legend in figure.legends[:MAX_AXES]],
    }
    picture = _png(figure) if png else None
    if picture is not None:
        data["png"] = picture
    return data


def _png(figure) -> str | None:
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=min(float(figure.dpi), PNG_DPI), bbox_inches="tight")
    except Exception:
        return None
    raw = buffer.getvalue()
    return base64.b64encode(raw).decode("ascii") if len(raw) <= MAX_PNG else None


def _floats(values) -> list:
    import numpy as np

    array = np.ma.asarray(values)
    if array.dtype.kind not in "iuf":
        array = np.ma.asarray(array, dtype=float)
    flat = np.ma.filled(array.astype(float), np.nan).ravel()[: 2 * MAX_POINTS]
    return [_f(v) for v in flat.tolist()]


def _f(value) -> Any:
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _color(value) -> Any:
    from matplotlib.colors import to_rgba

    if isinstance(value, str) and not (value[:1] == "C" and value[1:].isdigit()):
        return value[:40]
    try:
        return [float(c) for c in to_rgba(value)]
    except (ValueError, TypeError):
        return "none"


def _colors(array) -> list:
    import numpy as np

    try:
        return np.asarray(array, dtype=float).reshape(-1, 4)[:MAX_POINTS].tolist()
    except (ValueError, TypeError):
        return []


def _transform_kind(ax, transform) -> str:
    from matplotlib.transforms import IdentityTransform

    for name, candidate in (("data", ax.transData), ("axes", ax.transAxes), ("xaxis", ax.get_xaxis_transform()),
                            ("yaxis", ax.get_yaxis_transform()), ("figure", ax.figure.transFigure)):
        if transform == candidate:
            return name
    if isinstance(transform, IdentityTransform):
        return "identity"
    return "data"


def _convert(axis, value) -> Any:
    try:
        return _f(float(axis.convert_units(value)))
    except Exception:
        try:
            return _f(float(value))
        except Exception:
            return "nan"


def _text_props(text) -> dict:
    return {"s": str(text.get_text())[:MAX_TEXT], "fontsize": float(text.get_fontsize()),
            "color": _color(text.get_color()), "ha": str(text.get_horizontalalignment()),
            "va": str(text.get_verticalalignment()), "rotation": float(text.get_rotation()),
            "visible": bool(text.get_visible()), "zorder": float(text.get_zorder())}


def _encode_text(ax, text) -> dict:
    from matplotlib.text import Annotation

    found = _text_props(text)
    if isinstance(text, Annotation):
        xycoords = text.xycoords if isinstance(text.xycoords, str) else "data"
        textcoords = text.anncoords if isinstance(text.anncoords, str) else xycoords
        found.update(kind="annotation", xycoords=xycoords, textcoords=textcoords,
                     xy=_point(ax, text.xy, xycoords), xytext=_point(ax, text.xyann, textcoords),
                     arrow=bool(text.arrowprops))
        return found
    kind = _transform_kind(ax, text.get_transform())
    x, y = text.get_unitless_position() if hasattr(text, "get_unitless_position") else text.get_position()
    found.update(kind="text", transform=kind, x=_f(float(x)), y=_f(float(y)))
    return found


def _point(ax, xy, coords: str) -> list:
    if coords == "data":
        return [_convert(ax.xaxis, xy[0]), _convert(ax.yaxis, xy[1])]
    try:
        return [_f(float(xy[0])), _f(float(xy[1]))]
    except (TypeError, ValueError):
        return ["nan", "nan"]


def _encode_child(ax, child, index_of: dict) -> dict | None:
    from matplotlib.collections import Collection, LineCollection, PathCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.text import Text

    if isinstance(child, Line2D):
        marker = child.get_marker()
        if not isinstance(marker, (str, int)) or isinstance(marker, bool):
            marker = "o"
        return {"kind": "line", "x": _floats(child.get_xdata(orig=False)), "y": _floats(child.get_ydata(orig=False)),
                "linestyle": str(child.get_linestyle()), "linewidth": float(child.get_linewidth()),
                "marker": marker, "markersize": float(child.get_markersize()),
                "markerfacecolor": _color(child.get_markerfacecolor()),
                "markeredgecolor": _color(child.get_markeredgecolor()),
                "markeredgewidth": float(child.get_markeredgewidth()), "fillstyle": str(child.get_fillstyle()),
                "color": _color(child.get_color()), "drawstyle": str(child.get_drawstyle()),
                "label": str(child.get_label())[:MAX_TEXT], "zorder": float(child.get_zorder()),
                "alpha": child.get_alpha(), "visible": bool(child.get_visible()),
                "transform": _transform_kind(ax, child.get_transform())}
    if isinstance(child, Collection):
        kind = "scatter" if isinstance(child, PathCollection) else (
            "segments" if isinstance(child, LineCollection) else "polygons")
        paths = [{"v": p.vertices.astype(float).ravel().tolist()[: 2 * MAX_POINTS],
                  "c": None if p.codes is None else [int(c) for c in p.codes.tolist()]}
                 for p in child.get_paths()[:MAX_CHILDREN]]
        return {"kind": kind, "offsets": _floats(child.get_offsets()),
                "sizes": [float(s) for s in child.get_sizes()[:MAX_POINTS]] if kind == "scatter" else [],
                "paths": paths, "facecolors": _colors(child.get_facecolor()),
                "edgecolors": _colors(child.get_edgecolor()),
                "linewidths": [float(w) for w in child.get_linewidth()[:MAX_POINTS]],
                "label": str(child.get_label())[:MAX_TEXT], "zorder": float(child.get_zorder()),
                "visible": bool(child.get_visible()),
                "transform": _transform_kind(ax, child.get_transform()),
                "offset_transform": _transform_kind(ax, child.get_offset_transform())}
    if isinstance(child, Patch):
        if child is ax.patch or child in ax.spines.values():
            return None
        common = {"facecolor": _color(child.get_facecolor()), "edgecolor": _color(child.get_edgecolor()),
                  "linewidth": float(child.get_linewidth()), "label": str(child.get_label())[:MAX_TEXT],
                  "zorder": float(child.get_zorder()), "visible": bool(child.get_visible()),
                  "transform": _transform_kind(ax, child.get_transform())}
        if type(child) is Rectangle:
            x0, y0 = child.get_xy()
            return {"kind": "rectangle", "xy": [_convert(ax.xaxis, x0), _convert(ax.yaxis, y0)],
                    "width": _f(float(child.convert_xunits(child.get_width()))),
                    "height": _f(float(child.convert_yunits(child.get_height()))), **common}
        path = child.get_path()
        transform = child.get_patch_transform()
        vertices = transform.transform(path.vertices) if transform is not None else path.vertices
        return {"kind": "path", "v": vertices.astype(float).ravel().tolist()[: 2 * MAX_POINTS],
                "c": None if path.codes is None else [int(c) for c in path.codes.tolist()], **common}
    if isinstance(child, Text):
        if child in (ax.title, ax._left_title, ax._right_title):
            return None
        return _encode_text(ax, child)
    return None


def _legend_texts(legend) -> dict:
    title = legend.get_title()
    return {"texts": [str(t.get_text())[:MAX_TEXT] for t in legend.get_texts()[:MAX_CHILDREN]],
            "title": str(title.get_text())[:MAX_TEXT], "visible": bool(legend.get_visible()),
            "loc": int(legend._loc) if isinstance(getattr(legend, "_loc", None), int) else 0}


def _encode_one(ax) -> dict:
    from matplotlib.container import BarContainer

    from coursekit import charts

    kind = charts.x_kind(ax)
    found: dict[str, Any] = {"x_kind": kind, "position": [float(v) for v in ax.get_position().bounds]}
    if kind == "date":
        import matplotlib.dates as mdates

        found["epoch"] = str(mdates.get_epoch())
    elif kind == "category":
        mapping = getattr(ax.xaxis.get_units(), "_mapping", None) or {}
        found["categories"] = [str(label)[:MAX_TEXT] for label, _ in sorted(mapping.items(), key=lambda kv: kv[1])]
    elif kind == "period":
        found["freq"] = str(charts._period_freq(ax))
    children, index_of = [], {}
    for child in ax.get_children():
        if len(children) >= MAX_CHILDREN:
            break
        encoded = _encode_child(ax, child, index_of)
        if encoded is not None:
            index_of[id(child)] = len(children)
            children.append(encoded)
    found["children"] = children
    found["containers"] = [
        {"orientation": str(getattr(c, "orientation", None) or "vertical"), "label": str(c.get_label())[:MAX_TEXT],
         "patches": [index_of[id(p)] for p in c.patches if id(p) in index_of]}
        for c in ax.containers if isinstance(c, BarContainer)
    ][:MAX_CHILDREN]
    found["titles"] = {loc: _text_props(t) for loc, t in
                       (("center", ax.title), ("left", ax._left_title), ("right", ax._right_title))}
    found["xlabel"] = _text_props(ax.xaxis.label)
    found["ylabel"] = _text_props(ax.yaxis.label)
    found["xscale"], found["yscale"] = str(ax.get_xscale()), str(ax.get_yscale())
    found["xlim"] = [_f(v) for v in ax.get_xlim()]
    found["ylim"] = [_f(v) for v in ax.get_ylim()]
    for name, axis in (("xticks", ax.xaxis), ("yticks", ax.yaxis)):
        locs = list(axis.get_majorticklocs())[:MAX_CHILDREN]
        try:
            labels = axis.get_major_formatter().format_ticks(locs)
        except Exception:
            labels = [""] * len(locs)
        found[name] = {"locs": [_f(v) for v in locs], "labels": [str(s)[:MAX_TEXT] for s in labels]}
    legend = ax.get_legend()
    if legend is not None:
        found["legend"] = _legend_texts(legend)
        found["legend"]["handles"] = [_handle(h) for h in legend.legend_handles[:MAX_CHILDREN]]
    found["visible"] = bool(ax.get_visible())
    return found


def _handle(handle) -> dict:
    try:
        return {"color": _color(handle.get_color()), "marker": str(handle.get_marker()),
                "linestyle": str(handle.get_linestyle())}
    except Exception:
        return {}


def _encode_figure_text(figure, text) -> dict:
    found = _text_props(text)
    found["x"], found["y"] = (_f(float(v)) for v in text.get_position())
    found["role"] = ("suptitle" if text is getattr(figure, "_suptitle", None) else
                     "supxlabel" if text is getattr(figure, "_supxlabel", None) else
                     "supylabel" if text is getattr(figure, "_supylabel", None) else "text")
    return found

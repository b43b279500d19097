"""Rebuild a real matplotlib Axes (Agg) in the judge from the data a kernel sent.

Trust boundary. This runs in the judge on data from the student's kernel, so it trusts
nothing: every number must be a finite float (or "nan"/"inf" where matplotlib accepts
them), every colour must be colour-like, strings and lists are capped, only known
transform and coordinate names are accepted, and only plain artists are built (Line2D,
PathCollection, LineCollection, PolyCollection, Rectangle, PathPatch, Text, Annotation,
BarContainer, Legend). Anything else raises `DecodeError`.

The rebuilt Axes answers `coursekit.charts.read`, `ax.get_lines()`, `ax.collections`,
`ax.get_legend()`, `ax.get_title()`... as the original did: data are given to artists
as matplotlib's own floats, with a unit converter on the x axis that passes floats
through but tells `charts.x_kind` what the axis measures (dates, categories, pandas
periods); major ticks are fixed at the original positions and labels. The kernel's PNG
of the figure, once validated, is kept on the figure as `_coursekit_png`.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from coursekit.judge import png as png_check
from coursekit.judge import rebuild_checks as check
from coursekit.judge.axes import MAX_AXES, MAX_CHILDREN, MAX_POINTS
from coursekit.judge.codec import DecodeError

_COORDS = {"data", "axes fraction", "axes points", "axes pixels", "figure fraction", "figure points",
           "figure pixels", "offset points", "offset pixels", "offset fontsize", "subfigure fraction"}
_SCALES = {"linear", "log", "symlog", "logit"}
_LINESTYLES = {"-", "--", "-.", ":", "None", "none", " ", "", "solid", "dashed", "dashdot", "dotted"}
_DRAWSTYLES = {"default", "steps", "steps-pre", "steps-mid", "steps-post"}


# --- the pass-through unit converters -------------------------------------------------------


def _converters():
    from matplotlib.category import StrCategoryConverter
    from pandas.plotting._matplotlib.converter import DatetimeConverter, PeriodConverter

    class CategoryPassThrough(StrCategoryConverter):
        """matplotlib's category converter that lets matplotlib's own floats through."""

        @staticmethod
        def convert(value, unit, axis):
            import numpy as np

            array = np.asarray(value, dtype=object)
            if all(isinstance(v, (int, float)) for v in array.ravel().tolist()):
                return np.asarray(value, dtype=float)
            return StrCategoryConverter.convert(value, unit, axis)

    return DatetimeConverter, PeriodConverter, CategoryPassThrough


def _set_x_units(ax, spec: dict) -> float:
    """Give the x axis its kind; returns the shift (days) from the kernel's date epoch."""
    kind = spec.get("x_kind")
    datetime_converter, period_converter, category_converter = _converters()
    if kind == "date":
        import matplotlib.dates as mdates
        import numpy as np

        epoch = check.text(spec.get("epoch", "1970-01-01T00:00:00"), 40)
        try:
            theirs = np.datetime64(epoch, "us")
            ours = np.datetime64(mdates.get_epoch(), "us")
        except ValueError:
            raise DecodeError("bad date epoch") from None
        ax.xaxis.set_converter(datetime_converter())
        return float((theirs - ours) / np.timedelta64(1, "D"))
    if kind == "category":
        from matplotlib.category import UnitData

        labels = [check.text(v) for v in check.bounded(spec.get("categories"), MAX_CHILDREN)]
        ax.xaxis.set_converter(category_converter())
        ax.xaxis.set_units(UnitData(labels))
    elif kind == "period":
        freq = check.text(spec.get("freq"), 20)
        ax.freq = freq
        ax.xaxis.freq = freq
        ax.xaxis.set_converter(period_converter())
    elif kind != "number":
        raise DecodeError("unknown x axis kind")
    return 0.0


# --- building ---------------------------------------------------------------------------------


def rebuild(data: Any, *, into=None):
    """A real Axes (in a pyplot figure, Agg) built from `encode_axes` data: in a new figure,
    or added to the figure `into` (the student drew on a figure that was already open)."""
    import matplotlib.pyplot as plt

    data = check.obj(data)
    width, height = (check.num(v, finite=True, low=0.5, high=60) for v in check.bounded(data.get("figsize"), 2))
    dpi = check.num(data.get("dpi", 100.0), finite=True, low=10, high=400)
    specs = check.bounded(data.get("axes"), MAX_AXES)
    index = data.get("index")
    if not specs or type(index) is not int or not 0 <= index < len(specs):
        raise DecodeError("bad axes index")
    figure = plt.figure(figsize=(width, height), dpi=dpi) if into is None else into
    try:
        axes = [_build_axes(figure, check.obj(spec)) for spec in specs]
        for item in check.bounded(data.get("texts", [])):
            item = check.obj(item)
            x, y = check.num(item.get("x"), finite=True), check.num(item.get("y"), finite=True)
            role = item.get("role")
            kwargs = check.text_kwargs(item)
            if role == "suptitle":
                figure.suptitle(check.text(item.get("s")), x=x, y=y, **kwargs)
            else:
                figure.text(x, y, check.text(item.get("s")), **kwargs)
        for legend in check.bounded(data.get("legends", []), MAX_AXES):
            _figure_legend(figure, check.obj(legend))
        raw = data.get("png")
        if raw is not None:
            figure._coursekit_png = _png(raw)
        return axes[index]
    except DecodeError:
        if into is None:
            plt.close(figure)
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        if into is None:
            plt.close(figure)
        raise DecodeError(f"the chart could not be rebuilt ({type(error).__name__}: {str(error)[:200]})") from None


def _png(raw: Any) -> bytes | None:
    if type(raw) is not str or len(raw) > 4 * png_check.MAX_PNG // 3 + 8:
        return None
    try:
        blob = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    return blob if png_check.is_valid_png(blob) else None


def _build_axes(figure, spec: dict):
    position = check.bounded(spec.get("position"), 4)
    left, bottom, width, height = (check.num(v, finite=True, low=-10, high=10) for v in position)
    ax = figure.add_axes((left, bottom, width, height))
    shift = _set_x_units(ax, spec)
    built = []
    for item in check.bounded(spec.get("children", [])):
        built.append(_build_child(ax, check.obj(item), shift))
    _containers(ax, spec, built)
    for loc, item in check.obj(spec.get("titles", {})).items():
        if loc not in ("center", "left", "right"):
            raise DecodeError("bad title location")
        item = check.obj(item)
        if item.get("s"):
            kwargs = check.text_kwargs(item)
            for key in ("ha", "va", "rotation", "zorder"):
                kwargs.pop(key)
            ax.set_title(check.text(item.get("s")), loc=loc, **kwargs)
    for name, setter in (("xlabel", ax.set_xlabel), ("ylabel", ax.set_ylabel)):
        item = check.obj(spec.get(name, {"s": ""}))
        size = check.num(item.get("fontsize", 10.0), finite=True, low=0.1, high=500)
        setter(check.text(item.get("s", "")), fontsize=size)
    for name, setter in (("xscale", ax.set_xscale), ("yscale", ax.set_yscale)):
        scale = spec.get(name, "linear")
        if scale not in _SCALES:
            raise DecodeError("unknown scale")
        setter(scale)
    xlim = [check.num(v, finite=True) + shift for v in check.bounded(spec.get("xlim"), 2)]
    ylim = [check.num(v, finite=True) for v in check.bounded(spec.get("ylim"), 2)]
    if len(xlim) != 2 or len(ylim) != 2:
        raise DecodeError("bad limits")
    ax.set_xlim(*xlim, auto=None)
    ax.set_ylim(*ylim, auto=None)
    _ticks(ax.xaxis, check.obj(spec.get("xticks", {})), shift)
    _ticks(ax.yaxis, check.obj(spec.get("yticks", {})), 0.0)
    if "legend" in spec:
        _legend(ax, check.obj(spec["legend"]), built)
    ax.set_visible(bool(spec.get("visible", True)))
    return ax


def _ticks(axis, spec: dict, shift: float) -> None:
    from matplotlib.ticker import FixedFormatter, FixedLocator

    locs = [v + shift for v in check.nums(spec.get("locs", []), MAX_CHILDREN)]
    labels = [check.text(v) for v in check.bounded(spec.get("labels", []))]
    if len(labels) != len(locs) or not all(math.isfinite(v) for v in locs):
        raise DecodeError("bad ticks")
    axis.set_major_locator(FixedLocator(locs))
    axis.set_major_formatter(FixedFormatter(labels))


def _build_child(ax, item: dict, shift: float):
    kind = item.get("kind")
    if kind == "line":
        return _line(ax, item, shift)
    if kind in ("scatter", "segments", "polygons"):
        return _collection(ax, item, shift)
    if kind in ("rectangle", "path"):
        return _patch(ax, item, shift)
    if kind == "text":
        transform = item.get("transform")
        x = check.num(item.get("x")) + (shift if transform in ("data", "xaxis") else 0.0)
        return ax.text(x, check.num(item.get("y")), check.text(item.get("s")), transform=check.transform(ax, transform),
                       **check.text_kwargs(item))
    if kind == "annotation":
        xycoords, textcoords = item.get("xycoords"), item.get("textcoords")
        if xycoords not in _COORDS or textcoords not in _COORDS:
            raise DecodeError("bad annotation coordinates")
        xy = [check.num(v) for v in check.bounded(item.get("xy"), 2)]
        xytext = [check.num(v) for v in check.bounded(item.get("xytext"), 2)]
        if len(xy) != 2 or len(xytext) != 2:
            raise DecodeError("bad annotation point")
        if xycoords == "data":
            xy[0] += shift
        if textcoords == "data":
            xytext[0] += shift
        arrow = {"arrowstyle": "->"} if item.get("arrow") else None
        return ax.annotate(check.text(item.get("s")), xy=tuple(xy), xytext=tuple(xytext), xycoords=xycoords,
                           textcoords=textcoords, arrowprops=arrow, annotation_clip=False, **check.text_kwargs(item))
    raise DecodeError("unknown artist kind")


def _line(ax, item: dict, shift: float):
    from matplotlib.lines import Line2D

    x, y = check.nums(item.get("x")), check.nums(item.get("y"))
    if len(x) != len(y) or len(x) > MAX_POINTS:
        raise DecodeError("line x and y differ in length")
    transform = item.get("transform")
    if transform in ("data", "xaxis"):
        x = [v + shift for v in x]
    linestyle, drawstyle = item.get("linestyle"), item.get("drawstyle")
    if linestyle not in _LINESTYLES or drawstyle not in _DRAWSTYLES:
        raise DecodeError("bad line or draw style")
    marker = item.get("marker")
    if not ((type(marker) is str and len(marker) <= 40) or (type(marker) is int and 0 <= marker <= 11)):
        raise DecodeError("bad marker")
    if item.get("fillstyle") not in ("full", "left", "right", "bottom", "top", "none"):
        raise DecodeError("bad fill style")
    alpha = item.get("alpha")
    try:
        line = Line2D(x, y, linestyle=linestyle,
                      linewidth=check.num(item.get("linewidth"), finite=True, low=0, high=1000),
                      marker=marker, markersize=check.num(item.get("markersize"), finite=True, low=0, high=1000),
                      markerfacecolor=check.color(item.get("markerfacecolor")),
                      markeredgecolor=check.color(item.get("markeredgecolor")),
                      markeredgewidth=check.num(item.get("markeredgewidth"), finite=True, low=0, high=1000),
                      fillstyle=item.get("fillstyle"), color=check.color(item.get("color")), drawstyle=drawstyle,
                      label=check.text(item.get("label")), zorder=check.num(item.get("zorder"), finite=True),
                      alpha=None if alpha is None else check.num(alpha, finite=True, low=0, high=1),
                      visible=bool(item.get("visible", True)))
    except ValueError as error:  # e.g. a marker string matplotlib does not know
        raise DecodeError(f"bad line ({str(error)[:100]})") from None
    line.set_transform(check.transform(ax, transform))
    ax.add_line(line)
    return line


def _collection(ax, item: dict, shift: float):
    import numpy as np
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection

    kind = item.get("kind")
    paths = [check.path(check.obj(p).get("v"), check.obj(p).get("c")) for p in check.bounded(item.get("paths"))]
    offsets = check.nums(item.get("offsets"))
    if len(offsets) % 2:
        raise DecodeError("odd number of offset coordinates")
    offsets = np.array(offsets, dtype=float).reshape(-1, 2)
    offset_transform = item.get("offset_transform")
    if offset_transform in ("data", "xaxis") and len(offsets):
        offsets[:, 0] += shift
    common = {"facecolors": check.colors(item.get("facecolors")), "edgecolors": check.colors(item.get("edgecolors")),
              "linewidths": [check.num(w, finite=True, low=0, high=1000)
                             for w in check.bounded(item.get("linewidths"), MAX_POINTS)],
              "label": check.text(item.get("label")), "zorder": check.num(item.get("zorder"), finite=True)}
    if kind == "scatter":
        sizes = [check.num(s, finite=True, low=0, high=1e7) for s in check.bounded(item.get("sizes"), MAX_POINTS)]
        collection = PathCollection(paths, sizes=sizes, offsets=offsets if len(offsets) else None,
                                    offset_transform=check.transform(ax, offset_transform), **common)
    else:
        shifted = []
        for p in paths:
            vertices = np.array(p.vertices, dtype=float)
            if item.get("transform") in ("data", "xaxis") and len(vertices):
                vertices[:, 0] += shift
            shifted.append(vertices)
        cls = LineCollection if kind == "segments" else PolyCollection
        collection = cls(shifted, **common)
        if len(offsets):
            collection.set_offsets(offsets)
            collection.set_offset_transform(check.transform(ax, offset_transform))
    collection.set_transform(check.transform(ax, item.get("transform")))
    collection.set_visible(bool(item.get("visible", True)))
    ax.add_collection(collection, autolim=False)
    return collection


def _patch(ax, item: dict, shift: float):
    from matplotlib.patches import PathPatch, Rectangle

    transform = item.get("transform")
    common = {"facecolor": check.color(item.get("facecolor")), "edgecolor": check.color(item.get("edgecolor")),
              "linewidth": check.num(item.get("linewidth"), finite=True, low=0, high=1000),
              "label": check.text(item.get("label")), "zorder": check.num(item.get("zorder"), finite=True),
              "visible": bool(item.get("visible", True))}
    if item.get("kind") == "rectangle":
        x, y = (check.num(v) for v in check.bounded(item.get("xy"), 2))
        if transform in ("data", "xaxis"):
            x += shift
        patch = Rectangle((x, y), check.num(item.get("width")), check.num(item.get("height")), **common)
    else:
        path = check.path(item.get("v"), item.get("c"))
        if transform in ("data", "xaxis") and len(path.vertices):
            path.vertices[:, 0] += shift
        patch = PathPatch(path, **common)
    patch.set_transform(check.transform(ax, transform))
    ax.add_patch(patch)
    return patch


def _containers(ax, spec: dict, built: list) -> None:
    from matplotlib.container import BarContainer
    from matplotlib.patches import Rectangle

    for item in check.bounded(spec.get("containers", [])):
        item = check.obj(item)
        indices = check.bounded(item.get("patches"), MAX_CHILDREN)
        if not all(type(i) is int and 0 <= i < len(built) and isinstance(built[i], Rectangle) for i in indices):
            raise DecodeError("bad bar container")
        orientation = item.get("orientation")
        if orientation not in ("vertical", "horizontal"):
            raise DecodeError("bad bar orientation")
        container = BarContainer([built[i] for i in indices], orientation=orientation,
                                 label=check.text(item.get("label")))
        ax.add_container(container)


def _proxies(texts: list[str], handles: list, built: list) -> list:
    from matplotlib.lines import Line2D

    used, out = set(), []
    for i, label in enumerate(texts):
        match = next((a for a in built if id(a) not in used and hasattr(a, "get_label") and a.get_label() == label),
                     None)
        if match is None:
            spec = handles[i] if i < len(handles) and type(handles[i]) is dict else {}
            try:
                color = check.color(spec.get("color", "black"))
            except DecodeError:
                color = "black"
            match = Line2D([], [], color=color, label=label)
        used.add(id(match))
        out.append(match)
    return out


def _legend(ax, spec: dict, built: list) -> None:
    texts = [check.text(t) for t in check.bounded(spec.get("texts", []))]
    loc = spec.get("loc", 0)
    if type(loc) is not int or not 0 <= loc <= 10:
        loc = 0
    legend = ax.legend(_proxies(texts, check.bounded(spec.get("handles", [])), built), texts, loc=loc,
                       title=check.text(spec.get("title", "")) or None)
    legend.set_visible(bool(spec.get("visible", True)))


def _figure_legend(figure, spec: dict) -> None:
    texts = [check.text(t) for t in check.bounded(spec.get("texts", []))]
    legend = figure.legend(_proxies(texts, [], []), texts, title=check.text(spec.get("title", "")) or None)
    legend.set_visible(bool(spec.get("visible", True)))

"""Reading a matplotlib Axes into a `Chart`: the x axis' kind (date, pandas period,
category, number), each artist's points decoded, the figure's texts."""

from __future__ import annotations

import math
import warnings
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.category import StrCategoryConverter
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure, SubFigure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.text import Text

from coursekit.charts._model import (
    NO_LINESTYLE,
    NO_MARKER,
    Bars,
    Chart,
    Line,
    Scatter,
    XKind,
)

# --- reading ----------------------------------------------------------------------------


def _axes_of(chart: Any) -> Axes:
    """The Axes to read: an Axes, or a Figure with exactly one Axes."""
    if isinstance(chart, Axes):
        return chart
    if isinstance(chart, (Figure, SubFigure)):
        if len(chart.axes) == 1:
            return chart.axes[0]
        raise TypeError(f"this figure has {len(chart.axes)} Axes; pass the one to read")
    if isinstance(chart, (list, tuple)) and chart and all(isinstance(a, Line2D) for a in chart):
        raise TypeError(
            "got the list of lines that plot() returns, not an Axes: return `ax` "
            "(from `fig, ax = plt.subplots()`), or `plt.gca()`"
        )
    raise TypeError(f"expected a matplotlib Axes, got {type(chart).__name__}")


def _converter(axis) -> Any:
    getter = getattr(axis, "get_converter", None)  # matplotlib >= 3.10
    if getter is not None:
        return getter()
    return getattr(axis, "converter", None)


def _period_freq(ax: Axes) -> str | None:
    """pandas' period frequency for this Axes' x axis, if pandas made it a period axis."""
    for owner in (ax, ax.xaxis, ax.xaxis.get_major_formatter(), ax.xaxis.get_major_locator()):
        freq = getattr(owner, "freq", None)
        if freq is not None:
            return getattr(freq, "freqstr", None) or str(freq)
    return None


def x_kind(ax: Axes) -> XKind:
    """What the x axis measures, from its unit converter (and formatter, for dates).

    pandas' `PeriodConverter` subclasses matplotlib's `DateConverter`, so it is asked
    about first: its numbers are period ordinals, not matplotlib day numbers.
    """
    converter = _converter(ax.xaxis)
    if converter is not None and type(converter).__name__ == "PeriodConverter":
        return "period"
    if isinstance(converter, StrCategoryConverter):
        return "category"
    if converter is not None and (
        isinstance(converter, mdates.DateConverter) or type(converter).__module__ == "matplotlib.dates"
    ):
        return "date"
    formatter = ax.xaxis.get_major_formatter()
    if type(formatter).__name__ == "TimeSeries_DateFormatter" and _period_freq(ax):
        return "period"
    if isinstance(formatter, (mdates.DateFormatter, mdates.AutoDateFormatter, mdates.ConciseDateFormatter)):
        return "date"
    return "number"


def _category_labels(ax: Axes) -> dict[float, str]:
    units = ax.xaxis.get_units()
    mapping = getattr(units, "_mapping", None) or {}
    return {float(value): str(label) for label, value in mapping.items()}


def _decoder(ax: Axes, kind: XKind):
    """A function from matplotlib's internal x numbers to what they stand for."""
    if kind == "date":

        def decode(value: float) -> Any:
            if value is None or not np.isfinite(value):
                return pd.NaT
            return pd.Timestamp(mdates.num2date(value)).tz_localize(None)

        return decode
    if kind == "period":
        freq = _period_freq(ax)

        def decode(value: float) -> Any:
            if value is None or not np.isfinite(value):
                return pd.NaT
            whole = math.floor(value)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Period[B] is deprecated but still drawn
                period = pd.Period(ordinal=int(whole), freq=freq)
                start = period.start_time
                if value == whole:
                    return start
                length = (period + 1).start_time - start
            return start + (value - whole) * length

        return decode
    if kind == "category":
        labels = _category_labels(ax)

        def decode(value: float) -> Any:
            if value is not None and np.isfinite(value) and float(value) in labels:
                return labels[float(value)]
            return float(value)

        return decode
    return lambda value: float(value)


def _numbers(values: Any) -> np.ndarray:
    array = np.ma.asarray(values)
    if array.dtype.kind not in "iuf":
        array = np.ma.asarray(array, dtype=float)
    return np.ma.filled(array.astype(float), np.nan).ravel()


def _label(artist) -> str:
    """The artist's legend label; "" for matplotlib's hidden ones ("_child0", "_nolegend_")."""
    label = str(artist.get_label() or "")
    return "" if label.startswith("_") else label


def _color(artist_color: Any) -> str:
    from matplotlib.colors import to_hex

    try:
        return to_hex(artist_color, keep_alpha=False)
    except (ValueError, TypeError):
        return ""


def _read_line(ax: Axes, line: Line2D, decode) -> Line:
    xs = _numbers(line.get_xdata(orig=False))
    ys = _numbers(line.get_ydata(orig=False))
    in_data = line.get_transform() == ax.transData
    linestyle = line.get_linestyle()
    marker = line.get_marker()
    return Line(
        label=_label(line),
        x=tuple(decode(v) for v in xs) if in_data else tuple(float(v) for v in xs),
        y=tuple(float(v) for v in ys),
        linestyle=None if linestyle in NO_LINESTYLE or line.get_linewidth() == 0 else str(linestyle),
        marker=None if marker in NO_MARKER or line.get_markersize() == 0 else str(marker),
        drawstyle=str(line.get_drawstyle()),
        color=_color(line.get_color()),
        in_data_coordinates=in_data,
    )


def _read_scatter(ax: Axes, collection: PathCollection, decode) -> Scatter | None:
    if collection.get_offset_transform() != ax.transData:
        return None
    offsets = np.ma.asarray(collection.get_offsets())
    if offsets.size == 0:
        return Scatter(label=_label(collection), x=(), y=())
    offsets = np.ma.filled(offsets.astype(float), np.nan).reshape(-1, 2)
    return Scatter(
        label=_label(collection),
        x=tuple(decode(v) for v in offsets[:, 0]),
        y=tuple(float(v) for v in offsets[:, 1]),
    )


def _read_bars(container: BarContainer, decode) -> Bars:
    horizontal = getattr(container, "orientation", None) == "horizontal"
    positions, values = [], []
    for patch in container.patches:
        if horizontal:
            positions.append(float(patch.get_y() + patch.get_height() / 2))
            values.append(float(patch.get_width()))
        else:
            positions.append(decode(float(patch.get_x() + patch.get_width() / 2)))
            values.append(float(patch.get_height()))
    return Bars(
        label=_label(container),
        orientation="horizontal" if horizontal else "vertical",
        positions=tuple(positions),
        values=tuple(values),
    )


def _tick_label_ids(figure) -> set[int]:
    ids = set()
    for axes in figure.get_axes():
        for axis in (axes.xaxis, axes.yaxis):
            ids.add(id(axis.offsetText))
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ids.update((id(tick.label1), id(tick.label2)))
    return ids


def _figure_texts(figure) -> tuple[str, ...]:
    skip = _tick_label_ids(figure)
    texts = []
    for text in figure.findobj(match=Text):
        if id(text) in skip or not text.get_visible():
            continue
        content = text.get_text()
        if content and content.strip():
            texts.append(content)
    return tuple(texts)


def _root_figure(artist) -> Figure:
    """The top-level Figure (what is drawn, saved and closed), also for subfigures."""
    figure = artist if isinstance(artist, (Figure, SubFigure)) else artist.figure
    while isinstance(figure, SubFigure):
        figure = figure.figure
    return figure


def _moves_at_draw(figure: Figure) -> bool:
    """Would a draw move or resize an Axes of this figure?

    A layout engine (constrained, compressed, tight), a fixed aspect or box aspect, or an
    Axes locator (insets, colorbars) place Axes only when the figure is drawn, and the
    tick locators choose ticks by the Axes' size, so then `read` draws first. Otherwise it
    does not: tick labels are computed on request (`Axis.get_ticklabels` updates the ticks
    from the locator and formatter) and everything else `read` looks at is set when the
    artist is made, so a draw (30-60 ms a chart, more than the rest of `read`) would change
    nothing. tests/test_judge_axes.py checks that, chart by chart, against a drawn copy.
    """
    engine = figure.get_layout_engine()
    # `fig.tight_layout()` lays the figure out at once and leaves a placeholder engine that
    # does nothing at draw time.
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        return True
    return any(
        ax.get_aspect() != "auto" or ax.get_box_aspect() is not None or ax.get_axes_locator() is not None
        for ax in figure.get_axes()
    )


def _tick_labels(labels) -> tuple[str, ...]:
    return tuple(label.get_text() for label in labels if label.get_text())


def read(chart: Axes | Figure, *, close: bool = False) -> Chart:
    """Read an Axes (or a Figure with one Axes) back as a `Chart` of plain data.

    With `close=True` the figure is closed afterwards (the `Chart` does not need it):
    tests that draw many charts should close each one to keep memory flat.
    """
    import matplotlib.pyplot as plt

    ax = _axes_of(chart)
    figure = _root_figure(ax)
    try:
        if _moves_at_draw(figure):
            figure.draw_without_rendering()
        kind = x_kind(ax)
        decode = _decoder(ax, kind)
        lines = tuple(_read_line(ax, line, decode) for line in ax.get_lines() if line.get_visible())
        scatters = tuple(
            s for c in ax.collections
            if isinstance(c, PathCollection) and c.get_visible()
            for s in [_read_scatter(ax, c, decode)] if s is not None
        )
        bars = tuple(_read_bars(c, decode) for c in ax.containers if isinstance(c, BarContainer))
        titles = [ax.get_title(loc) for loc in ("center", "left", "right")]
        suptitle = getattr(figure, "_suptitle", None)
        legend = ax.get_legend()
        xlim = tuple(decode(v) for v in ax.get_xlim())
        return Chart(
            x_kind=kind,
            x_period=_period_freq(ax) if kind == "period" else None,
            xscale=ax.get_xscale(),
            yscale=ax.get_yscale(),
            xlim=xlim,
            ylim=tuple(float(v) for v in ax.get_ylim()),
            title="\n".join(t for t in titles if t.strip()),
            suptitle=suptitle.get_text() if suptitle is not None and suptitle.get_visible() else "",
            xlabel=ax.get_xlabel(),
            ylabel=ax.get_ylabel(),
            lines=lines,
            scatters=scatters,
            bars=bars,
            legend=tuple(t.get_text() for t in legend.get_texts()) if legend is not None else (),
            texts=_figure_texts(figure),
            xticklabels=_tick_labels(ax.get_xticklabels()),
            yticklabels=_tick_labels(ax.get_yticklabels()),
        )
    finally:
        if close:
            plt.close(figure)



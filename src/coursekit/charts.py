"""Read a matplotlib chart back as plain data, so a test can check it by meaning.

`read(ax)` turns an Axes into a `Chart`: its lines and their points (dates decoded to
`pandas.Timestamp`), marker series, bars, axis scales and limits, what kind of x axis it
has, its labels, titles and every text in the figure. It accepts charts drawn with
`ax.plot`, `ax.scatter`, `plt.plot` and pandas' `DataFrame.plot` / `Series.plot`,
including pandas' period-based date axes. `show(ax)` puts a picture of the chart in a
notebook's output, whatever the matplotlib backend. See docs/charts.md.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.category import StrCategoryConverter
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.text import Text

XKind = Literal["date", "period", "category", "number"]

# Dates decoded from matplotlib's float day numbers are exact to about a microsecond;
# two points a second apart are the same point for any chart in this course.
DATE_TOLERANCE = pd.Timedelta(seconds=1)
# matplotlib's ways of saying "no line" and "no marker".
NO_LINESTYLE = {"None", "none", " ", "", None}
NO_MARKER = {"None", "none", " ", "", None}


@dataclass(frozen=True)
class Line:
    """One `Line2D` of the Axes: what `ax.plot`, `plt.plot` and `DataFrame.plot` draw.

    `x` holds `pandas.Timestamp`s on a date axis, category labels (`str`) on a
    categorical axis and `float`s otherwise; `y` holds `float`s. NaN stays NaN (NaT).
    """

    label: str
    x: tuple[Any, ...]
    y: tuple[float, ...]
    linestyle: str | None  # None when no line is drawn between the points
    marker: str | None  # None when no marker is drawn at the points
    drawstyle: str
    color: str  # "#rrggbb" (alpha dropped)
    in_data_coordinates: bool  # False for axhline/axvline-style reference lines

    @property
    def points(self) -> list[tuple[Any, float]]:
        return list(zip(self.x, self.y, strict=True))

    @property
    def has_line(self) -> bool:
        return self.linestyle is not None

    @property
    def has_markers(self) -> bool:
        return self.marker is not None


@dataclass(frozen=True)
class Scatter:
    """One marker series drawn by `ax.scatter` (a PathCollection); x decoded as for `Line`."""

    label: str
    x: tuple[Any, ...]
    y: tuple[float, ...]

    @property
    def points(self) -> list[tuple[Any, float]]:
        return list(zip(self.x, self.y, strict=True))


@dataclass(frozen=True)
class Bars:
    """One `ax.bar` / `ax.barh` call: bar positions (decoded) and bar lengths."""

    label: str
    orientation: Literal["vertical", "horizontal"]
    positions: tuple[Any, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    """An Axes as plain data. Nothing here refers back to matplotlib objects."""

    x_kind: XKind
    x_period: str | None  # pandas' period frequency ("M", "D", "Y-DEC"...) on a period axis
    xscale: str
    yscale: str
    xlim: tuple[Any, Any]  # decoded like the x data
    ylim: tuple[float, float]
    title: str  # the Axes' titles (centre, left, right) that are not empty, one per line
    suptitle: str
    xlabel: str
    ylabel: str
    lines: tuple[Line, ...]
    scatters: tuple[Scatter, ...]
    bars: tuple[Bars, ...]
    legend: tuple[str, ...]
    texts: tuple[str, ...]  # every visible text of the figure except tick labels
    xticklabels: tuple[str, ...]
    yticklabels: tuple[str, ...]

    @property
    def x_is_date(self) -> bool:
        """Is x a real time axis (matplotlib dates, or pandas' period axis)?"""
        return self.x_kind in ("date", "period")

    def find_text(self, phrase: str) -> list[str]:
        """The figure's texts that contain `phrase`, ignoring case and line breaks."""
        wanted = _squash(phrase)
        return [text for text in self.texts if wanted in _squash(text)]

    def same_x(self, a: Any, b: Any) -> bool:
        """Do two x values name the same place on this chart's x axis?

        On a date axis, two times less than a second apart; on pandas' period axis, two
        times in the same period (pandas draws 2020-01-31 at "January 2020"); otherwise
        equal labels or numbers.
        """
        if self.x_is_date:
            try:
                a, b = pd.Timestamp(a), pd.Timestamp(b)
            except (TypeError, ValueError):
                return False
            if pd.isna(a) or pd.isna(b):
                return False
            if self.x_kind == "period":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return pd.Period(a, freq=self.x_period) == pd.Period(b, freq=self.x_period)
            return abs(a - b) <= DATE_TOLERANCE
        if isinstance(a, str) or isinstance(b, str):
            return str(a) == str(b)
        return _close(a, b)

    def x_covers(self, values: Iterable[Any]) -> bool:
        """Does the x axis, as drawn, reach every one of `values` (none is cut off)?"""
        low, high = self.xlim
        if low > high:  # an inverted axis still shows what lies between its ends
            low, high = high, low
        for value in values:
            if self.x_kind == "period":
                value = pd.Timestamp(value)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    inside = (pd.Period(low, freq=self.x_period) <= pd.Period(value, freq=self.x_period)
                              <= pd.Period(high, freq=self.x_period))
            elif self.x_kind == "date":
                inside = low - DATE_TOLERANCE <= pd.Timestamp(value) <= high + DATE_TOLERANCE
            else:
                try:
                    inside = low <= float(value) <= high
                except (TypeError, ValueError):
                    return False
            if not inside:
                return False
        return True

    def same_points(self, found: Iterable[tuple[Any, float]], x: Iterable[Any], y: Iterable[float]) -> bool:
        """Are `found` points exactly the points (x[i], y[i]), in that order?"""
        found, x, y = list(found), list(x), list(y)
        if not len(found) == len(x) == len(y):
            return False
        return all(
            self.same_x(fx, ex) and _close(fy, ey) for (fx, fy), ex, ey in zip(found, x, y, strict=True)
        )

    def lines_through(self, x: Iterable[Any], y: Iterable[float]) -> list[Line]:
        """The drawn lines (a visible line style, in data coordinates) whose points are exactly
        (x[i], y[i]) in order; markers-only `plot` calls are not lines."""
        x, y = list(x), list(y)
        return [
            line for line in self.lines
            if line.has_line and line.in_data_coordinates and self.same_points(line.points, x, y)
        ]

    def markers_at(self, x: Iterable[Any], y: Iterable[float]) -> bool:
        """Is there a marker at every point (x[i], y[i])?

        Markers count whether they sit on a line, on a markers-only `plot` call or on an
        `ax.scatter`, as long as one series has markers at exactly these points (in any order).
        """
        x, y = list(x), list(y)
        series = [line.points for line in self.lines if line.has_markers and line.in_data_coordinates]
        series += [scatter.points for scatter in self.scatters]
        return any(self._same_point_set(points, x, y) for points in series)

    def _same_point_set(self, found: list[tuple[Any, float]], x: list[Any], y: list[float]) -> bool:
        remaining = list(found)
        if len(remaining) != len(x):
            return False
        for want_x, want_y in zip(x, y, strict=True):
            match = next(
                (i for i, (fx, fy) in enumerate(remaining) if self.same_x(fx, want_x) and _close(fy, want_y)),
                None,
            )
            if match is None:
                return False
            del remaining[match]
        return True


def _squash(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _close(a: Any, b: Any) -> bool:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return False
    if math.isnan(a) or math.isnan(b):
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


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
        # Tick labels and pandas' period-axis formatting exist only after a draw.
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


# --- showing ----------------------------------------------------------------------------


def png_bytes(chart: Axes | Figure, *, dpi: int = 80) -> bytes:
    """The whole figure as PNG bytes (small: feedback pages embed them)."""
    figure = _root_figure(chart if isinstance(chart, (Figure, SubFigure)) else _axes_of(chart))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def show(chart: Axes | Figure, *, alt: str | None = None) -> None:
    """Put a PNG of the chart in the notebook cell's output, whatever the backend.

    Under the Agg backend figures are never displayed, and a test cell closes the figures
    it reads, so without this the graded notebook (and the student's feedback) would keep
    no picture of the chart that was checked. Outside IPython this does nothing.
    """
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        return
    if get_ipython() is None:
        return
    image = Image(data=png_bytes(chart), format="png")
    if alt:
        image.alt = alt
    display(image)


def describe(chart: Chart) -> str:
    """A few plain lines about a chart, for assertion messages and debugging."""
    out = [f"x axis: {chart.x_kind}" + (f" (period {chart.x_period})" if chart.x_period else "")]
    out.append(f"y axis: {chart.ylim[0]:g} to {chart.ylim[1]:g}, {chart.yscale}")
    for line in chart.lines:
        style = ", ".join(
            part for part in (
                f"line {line.linestyle}" if line.has_line else "no line",
                f"marker {line.marker}" if line.has_markers else "no marker",
            )
        )
        out.append(f"line {line.label!r} ({style}): {len(line.x)} points")
    for scatter in chart.scatters:
        out.append(f"scatter {scatter.label!r}: {len(scatter.x)} points")
    for bars in chart.bars:
        out.append(f"bars {bars.label!r}: {len(bars.values)} bars")
    return "\n".join(out)


__all__ = [
    "Bars",
    "Chart",
    "Line",
    "Scatter",
    "describe",
    "png_bytes",
    "read",
    "show",
    "x_kind",
]

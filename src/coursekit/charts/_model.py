"""The data a chart is read into: `Chart`, `Line`, `Scatter`, `Bars`, plain values only."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

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



"""Read a matplotlib chart back as plain data, so a test can check it by meaning.

`read(ax)` turns an Axes into a `Chart`: its lines and their points (dates decoded to
`pandas.Timestamp`), marker series, bars, axis scales and limits, what kind of x axis it
has, its labels, titles and every text in the figure. It accepts charts drawn with
`ax.plot`, `ax.scatter`, `plt.plot` and pandas' `DataFrame.plot` / `Series.plot`,
including pandas' period-based date axes. `show(ax)` puts a picture of the chart in a
notebook's output, whatever the matplotlib backend. See docs/charts.md.
"""


from __future__ import annotations

import base64
import html
import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from coursekit.charts._model import DATE_TOLERANCE, Bars, Chart, Line, Scatter, XKind
from coursekit.charts._read import _axes_of, _root_figure, read, x_kind

# Re-exported for the grader's judge, which carries a chart's period axis across processes.
from coursekit.charts._read import _period_freq as _period_freq

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

    With `alt`, the output carries the alt text in every form a reader uses: in the PNG's
    metadata (nbconvert and the feedback pages write it as `<img alt=...>`) and as an HTML
    `<img>` with its `alt` (JupyterLab draws a PNG output without any alt attribute, so a
    screen reader would meet an unlabelled image), and as the plain-text form.
    """
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        return
    if get_ipython() is None:
        return
    bundle, metadata = picture_output(base64.b64encode(png_bytes(chart)).decode("ascii"), alt)
    if metadata:
        display(bundle, raw=True, metadata=metadata)
    else:
        display(bundle, raw=True)


def picture_output(png: str, alt: str | None) -> tuple[dict, dict]:
    """The display data and metadata `show` puts in a cell for a base64 PNG (the grader's
    judge builds the same from the kernel's picture, so a judged cell shows what a stock one does)."""
    if not alt:
        return {"image/png": png, "text/plain": "<chart>"}, {}
    bundle = {
        "image/png": png,
        "text/html": f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{png}">',
        "text/plain": alt,
    }
    return bundle, {"image/png": {"alt": alt}}


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
    "DATE_TOLERANCE",
    "Bars",
    "Chart",
    "Line",
    "Scatter",
    "XKind",
    "describe",
    "picture_output",
    "png_bytes",
    "read",
    "show",
    "x_kind",
]

"""Charts carried to the judge: the rebuilt Axes reads back exactly as the student's did.

Every plot_troops and plot_sources variant of the course (right and wrong) and a range of
other charts are drawn, encoded as the kernel would, sent through JSON text, rebuilt as
the judge does, and compared: `coursekit.charts.read` field by field, the raw artist
properties the course's tests inspect, and the verdict of the course's own chart tests.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from coursekit import charts, notebooks  # noqa: E402
from coursekit.grader import gate  # noqa: E402
from coursekit.judge import axes, codec, png, rebuild  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ROOT / "tests" / "fixtures" / "variants"


def trip(value):
    text = codec.dumps(codec.encode(value, axes_encoder=axes.encode_axes))
    return codec.decode(codec.loads(text), axes_decoder=rebuild.rebuild)


def same_chart(original: Axes, rebuilt: Axes) -> None:
    a, b = charts.read(original), charts.read(rebuilt)
    for field in dataclasses.fields(a):  # repr: NaN points compare equal to NaN points
        assert repr(getattr(a, field.name)) == repr(getattr(b, field.name)), field.name


def test_cell_namespace(test_id: str, cut: str, setup: bool = True) -> dict:
    """The setup cell and the visible part of a test cell (its helpers) of a solution notebook."""
    assignment = {"test_plot_troops": "03-charting-troop-numbers", "test_plot_sources": "04-tracing-claims"}[test_id]
    solution = notebooks.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    cells = {notebooks.grade_id(c): c.source for c in solution.cells if notebooks.grade_id(c)}
    namespace: dict = {}
    if setup:
        exec(cells["setup"].replace("%matplotlib inline", ""), namespace)  # noqa: S102
    exec(cells[test_id].split(cut)[0], namespace)  # noqa: S102
    return namespace


test_cell_namespace.__test__ = False  # a helper, not a test

OTHER_SERIES = pd.DataFrame({
    "date": pd.to_datetime(["2013-02-18", "2017-02-15", "2020-12-31", "2022-08-10", "2023-10-14"]),
    "troops": [6000, 4273, 3500, 3735, 4500],
})
SERIES = pd.DataFrame({
    "date": pd.to_datetime(["1999-06-12", "2002-03-01", "2003-06-15", "2003-12-31", "2023-09-29"]),
    "troops": [50000, 39000, 26000, 17500, 3735],
})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- the course's charts ------------------------------------------------------------------------

TROOPS = gate.load_variants(VARIANTS / "03-charting-troop-numbers")["plot_troops"]
SOURCES = gate.load_variants(VARIANTS / "04-tracing-claims")["plot_sources"]


@pytest.mark.parametrize("variant", TROOPS, ids=lambda v: v.path.stem)
def test_plot_troops_variants_read_back_the_same(variant):
    namespace = test_cell_namespace("test_plot_troops", "check_troop_chart(SERIES, show=True)")
    exec(variant.source, namespace)  # noqa: S102
    for series in (SERIES, OTHER_SERIES):
        original = namespace["plot_troops"](series)
        rebuilt = trip(original)
        if not isinstance(original, Axes):
            assert isinstance(rebuilt, codec.Unsupported)
            continue
        same_chart(original, rebuilt)
        # the course's own check of this chart gives the same verdict on both
        found = {}
        for name, ax in (("original", original), ("rebuilt", rebuilt)):
            namespace["plot_troops"] = lambda _series, ax=ax: ax
            found[name] = namespace["troop_chart_failures"](series)
        assert found["original"] == found["rebuilt"]


@pytest.mark.parametrize("variant", SOURCES, ids=lambda v: v.path.stem)
def test_plot_sources_variants_read_back_the_same(variant):
    namespace = test_cell_namespace("test_plot_sources", "result = plot_sources(")
    exec(variant.source, namespace)  # noqa: S102
    reports = namespace["REPORTS"]
    made_up = pd.DataFrame({"as_of": pd.to_datetime(["2009-01-17", "2001-07-30", "2012-12-03"]),
                            "troops": [2600, 8800, 2100]})
    for series, table in ((namespace["ARTICLE_SERIES"], reports), (SERIES, made_up)):
        original = namespace["plot_sources"](series, table)
        rebuilt = trip(original)
        if not isinstance(original, Axes):
            assert isinstance(rebuilt, codec.Unsupported) and type(rebuilt).__name__ == type(original).__name__
            continue
        same_chart(original, rebuilt)
        assert namespace["_drawn"](original) == namespace["_drawn"](rebuilt)
        assert original.get_title() == rebuilt.get_title()
        assert (original.get_legend() is None) == (rebuilt.get_legend() is None)
        verdicts = []
        for ax in (original, rebuilt):
            try:
                namespace["check_sources_chart"](ax, series, table)
                verdicts.append("pass")
            except AssertionError as error:
                verdicts.append(str(error))
        assert verdicts[0] == verdicts[1]


# --- other charts a student might draw -----------------------------------------------------------


def _scatter_and_bars():
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.scatter(SERIES["date"], SERIES["troops"], c=SERIES["troops"], cmap="viridis", s=40, label="points")
    ax.bar(SERIES["date"], SERIES["troops"], width=200, alpha=0.3, label="bars")
    ax.axhline(20000, color="grey", linestyle="--")
    ax.axvline(pd.Timestamp("2003-01-01"), color="red")
    ax.annotate("cut", xy=(pd.Timestamp("2003-06-15"), 26000), xytext=(10, 10), textcoords="offset points",
                arrowprops={"arrowstyle": "->"})
    ax.text(0.5, 0.9, "in axes", transform=ax.transAxes)
    ax.text(pd.Timestamp("2010-01-01"), 30000, "in data")
    ax.legend(title="Key")
    fig.suptitle("Super title")
    fig.text(0.01, 0.01, "Source: European Western Balkans")
    return ax


def _categories():
    fig, ax = plt.subplots()
    ax.plot(["Initially", "2002", "June 2003"], [50000, 39000, 26000], "s--")
    ax.barh(["a", "b"], [1, 2])
    ax.set_title("left", loc="left")
    ax.set_title("right", loc="right")
    return ax


def _period_axis():
    series = pd.Series([5, 7, 6, 8], index=pd.date_range("2020-01-31", periods=4, freq="ME"), name="troops")
    return series.plot(marker="o", legend=True)


def _log_twins_and_fills():
    fig, ax = plt.subplots()
    x = np.arange(10.0)
    ax.plot(x, np.exp(x), drawstyle="steps-post", label="exp")
    ax.fill_between(x, 1, np.exp(x), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlim(9, 0)
    twin = ax.twinx()
    twin.set_ylabel("other unit")
    ax.vlines([2, 4], 0, 1, transform=ax.get_xaxis_transform())
    fig.legend(["exp"])
    ax.set_xticks([0, 3, 6, 9], ["zero", "three", "six", "nine"])
    return ax


def _empty():
    return plt.subplots()[1]


def _nan_points_and_hollow_markers():
    fig, ax = plt.subplots()
    ax.plot([1, 2, np.nan, 4], [1, np.nan, 3, 4], marker="o", markerfacecolor="none", markersize=9,
            color="C3", linewidth=0)
    return ax


@pytest.mark.parametrize("draw", [_scatter_and_bars, _categories, _period_axis, _log_twins_and_fills, _empty,
                                  _nan_points_and_hollow_markers])
def test_other_charts_read_back_the_same(draw):
    original = draw()
    rebuilt = trip(original)
    same_chart(original, rebuilt)
    for a, b in zip(original.get_lines(), rebuilt.get_lines(), strict=True):
        np.testing.assert_array_equal(a.get_xydata(), b.get_xydata())
        assert str(a.get_marker()) == str(b.get_marker()) and a.get_linestyle() == b.get_linestyle()
        assert matplotlib.colors.to_rgba(a.get_markerfacecolor()) == matplotlib.colors.to_rgba(
            b.get_markerfacecolor())
    for a, b in zip(original.collections, rebuilt.collections, strict=True):
        np.testing.assert_allclose(a.get_facecolors(), b.get_facecolors())
        np.testing.assert_allclose(a.get_offsets(), b.get_offsets())


def test_the_students_figure_comes_with_a_valid_png():
    original = _scatter_and_bars()
    data = codec.encode(original, axes_encoder=axes.encode_axes)
    blob = base64.b64decode(data["png"])
    assert png.is_valid_png(blob)
    rebuilt = rebuild.rebuild(json.loads(json.dumps(data)))
    assert charts._root_figure(rebuilt)._coursekit_png == blob
    # a PNG altered on the way is dropped, not passed on
    tampered = dict(data, png=base64.b64encode(blob[:-20] + b"<script>alert(1)</script>").decode())
    assert getattr(charts._root_figure(rebuild.rebuild(tampered)), "_coursekit_png", None) is None


def test_png_check_refuses_what_is_not_one_modest_png():
    good = charts.png_bytes(_empty())
    assert png.is_valid_png(good)
    assert not png.is_valid_png(good + b"trailing")
    assert not png.is_valid_png(b"GIF89a" + good[6:])
    assert not png.is_valid_png(good[:40])
    broken_crc = bytearray(good)
    broken_crc[30] ^= 0xFF
    assert not png.is_valid_png(bytes(broken_crc))
    assert not png.is_valid_png(good, max_side=10)



# --- reading without a draw ----------------------------------------------------------------------
# charts.read draws a figure only when a draw would move its Axes (a layout engine, an aspect,
# an Axes locator). Each chart below is built twice, one copy drawn as a renderer would draw it
# (what read used to do first); both copies must read the same, as the student drew them and as
# the judge rebuilt them.


def _constrained_layout():
    fig, ax = plt.subplots(figsize=(4, 2.5), layout="constrained")
    ax.plot(range(11), [0, 5, 3, 8, 2, 9, 4, 7, 1, 6, 10], marker="o")
    ax.set_title("Constrained layout\nwith a title\non three lines")
    ax.set_xlabel("x\nunder two lines")
    fig.suptitle("and a suptitle")
    return ax


def _concise_dates_and_rotated_labels():
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(OTHER_SERIES["date"], OTHER_SERIES["troops"], "o-")
    locator = matplotlib.dates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
    fig.autofmt_xdate()
    ax.set_ylim(0, None)
    return ax


def _equal_aspect_and_inset():
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([0, 1, 2, 3], [0, 40, 10, 30], marker="x")
    ax.set_aspect("equal")
    inset = ax.inset_axes([0.6, 0.6, 0.35, 0.35])
    inset.plot([0, 1], [1, 0])
    return ax


UNDRAWN_CASES = [_scatter_and_bars, _categories, _period_axis, _log_twins_and_fills, _empty,
                 _nan_points_and_hollow_markers, _constrained_layout, _concise_dates_and_rotated_labels,
                 _equal_aspect_and_inset]


def _solution_plot(assignment: str, function: str):
    """The instructor's `function` of `assignment`, defined after the notebook's setup cell."""
    solution = notebooks.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    test_id, cut = {"plot_troops": ("test_plot_troops", "check_troop_chart(SERIES, show=True)"),
                    "plot_sources": ("test_plot_sources", "result = plot_sources(")}[function]
    namespace = test_cell_namespace(test_id, cut)
    exec(gate.solution_answers(solution)[function], namespace)  # noqa: S102
    return namespace


def _variant_builders():
    troops = _solution_plot("03-charting-troop-numbers", "plot_troops")
    sources = _solution_plot("04-tracing-claims", "plot_sources")
    yield "troops-solution", lambda: troops["plot_troops"](SERIES)
    yield "sources-solution", lambda: sources["plot_sources"](sources["ARTICLE_SERIES"], sources["REPORTS"])
    for variant in TROOPS:
        namespace = test_cell_namespace("test_plot_troops", "check_troop_chart(SERIES, show=True)")
        exec(variant.source, namespace)  # noqa: S102
        for series in (SERIES, OTHER_SERIES):
            yield f"troops-{variant.path.stem}", lambda f=namespace["plot_troops"], s=series: f(s)
    for variant in SOURCES:
        namespace = test_cell_namespace("test_plot_sources", "result = plot_sources(")
        exec(variant.source, namespace)  # noqa: S102
        yield (f"sources-{variant.path.stem}",
               lambda f=namespace["plot_sources"], s=namespace["ARTICLE_SERIES"], r=namespace["REPORTS"]: f(s, r))


def _same_read_drawn_or_not(build) -> int:
    """Read two copies of a chart, one drawn first; 1 if it was an Axes, 0 if not."""
    plt.figure()  # builders that draw on the current Axes (pandas' .plot()) get one each
    undrawn = build()
    plt.figure()
    drawn = build()
    if not isinstance(undrawn, Axes):
        return 0
    assert charts._root_figure(undrawn) is not charts._root_figure(drawn)
    charts._root_figure(drawn).canvas.draw()
    a, b = charts.read(undrawn), charts.read(drawn)
    for field in dataclasses.fields(a):
        assert repr(getattr(a, field.name)) == repr(getattr(b, field.name)), field.name
    return 1


@pytest.mark.parametrize("build", UNDRAWN_CASES, ids=lambda b: b.__name__.strip("_"))
def test_an_undrawn_chart_reads_as_a_drawn_one(build):
    assert _same_read_drawn_or_not(build)
    assert _same_read_drawn_or_not(lambda: trip(build()))  # the judge's rebuilt copy


def test_every_course_chart_variant_reads_the_same_undrawn():
    read = 0
    for _name, build in _variant_builders():
        read += _same_read_drawn_or_not(build)
        read += _same_read_drawn_or_not(lambda b=build: trip(b()))
        plt.close("all")
    assert read >= 2 * (len(TROOPS) + len(SOURCES))  # the solutions and most variants return an Axes


def test_read_draws_only_when_a_draw_would_move_the_axes(monkeypatch):
    drawn = []
    real = matplotlib.figure.Figure.draw_without_rendering
    monkeypatch.setattr(matplotlib.figure.Figure, "draw_without_rendering",
                        lambda self: (drawn.append(self), real(self))[1])
    troops = _solution_plot("03-charting-troop-numbers", "plot_troops")["plot_troops"]
    sources = _solution_plot("04-tracing-claims", "plot_sources")
    article_and_reports = (sources["ARTICLE_SERIES"], sources["REPORTS"])
    for build in (lambda: troops(SERIES), lambda: trip(troops(SERIES)),
                  lambda: sources["plot_sources"](*article_and_reports),
                  lambda: trip(sources["plot_sources"](*article_and_reports)), _scatter_and_bars, _period_axis):
        plt.figure()
        charts.read(build())
    assert drawn == []
    for build in (_constrained_layout, _equal_aspect_and_inset):
        charts.read(build())
    assert len(drawn) == 2


def test_without_its_draw_a_constrained_chart_would_read_differently(monkeypatch):
    """The draw kept for layout engines is needed: the layout shrinks this chart's Axes, and
    the y axis gets fewer ticks when it is drawn."""
    expected = charts.read(_constrained_layout())
    monkeypatch.setattr(matplotlib.figure.Figure, "draw_without_rendering", lambda self: None)
    assert charts.read(_constrained_layout()) != expected


# --- hostile chart data --------------------------------------------------------------------------


def _valid() -> dict:
    return json.loads(json.dumps(codec.encode(_scatter_and_bars(), axes_encoder=axes.encode_axes)))


def _line(data: dict) -> dict:
    return next(c for c in data["axes"][0]["children"] if c["kind"] == "line")


def _mutations():
    yield lambda d: d.update(figsize=[1e9, 1e9])
    yield lambda d: d.update(index=99)
    yield lambda d: d["axes"][0].update(x_kind="pickle")
    yield lambda d: d["axes"][0]["children"][0].update(kind="__import__")
    yield lambda d: _line(d).update(color="javascript:alert(1)")
    yield lambda d: _line(d).update(x=[1.0] * 3)
    yield lambda d: _line(d).update(transform="eval")
    yield lambda d: d["axes"][0].update(xscale="function")
    yield lambda d: d["axes"][0].update(xlim=["nan", 1])
    yield lambda d: d["axes"][0]["children"].append({"kind": "path", "v": [0, 0, 1], "c": None, "facecolor": "red",
                                                     "edgecolor": "red", "linewidth": 1, "label": "", "zorder": 1,
                                                     "transform": "data"})
    yield lambda d: d["axes"][0].update(containers=[{"orientation": "vertical", "label": "", "patches": [0, 10**9]}])
    yield lambda d: d["axes"][0].update(children=[{"kind": "line"}] * 1000)
    yield lambda d: d["axes"][0].update(epoch="not a date")
    yield lambda d: d.update(axes=[])


@pytest.mark.parametrize("mutate", list(_mutations()), ids=range(14))
def test_hostile_chart_data_is_a_decode_error(mutate):
    data = _valid()
    mutate(data)
    with pytest.raises(codec.DecodeError):
        codec.decode(data, axes_decoder=rebuild.rebuild)

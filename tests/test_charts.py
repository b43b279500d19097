"""Does coursekit.charts read real matplotlib and pandas charts back as the data they show,
and do the assignment's chart tests and feedback rest on it correctly?"""

from __future__ import annotations

import base64
import dataclasses
import pickle
import re
import shutil

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from conftest import ROOT, coursekit
from matplotlib.artist import Artist
from matplotlib.offsetbox import AnchoredText

from coursekit import charts, notebooks
from coursekit.grader import answers, gradebook, sampleclass

ASSIGNMENT = "03-charting-troop-numbers"
DATES = pd.to_datetime(["1999-06-12", "2002-03-01", "2003-06-15", "2003-12-31", "2023-09-29"])
TROOPS = [50000, 39000, 26000, 17500, 3735]
SERIES = pd.DataFrame({"date": DATES, "troops": TROOPS})


@pytest.fixture(autouse=True)
def no_figure_left_open():
    """Every test closes what it draws (read(close=True) or an explicit close)."""
    plt.close("all")
    yield
    plt.close("all")


def honest_axes():
    fig, ax = plt.subplots()
    ax.plot(SERIES["date"], SERIES["troops"], marker="o")
    ax.set_ylim(bottom=0)
    return ax


# --- what a line is ------------------------------------------------------------------------


def test_ax_plot_with_datetime64_gives_timestamps_and_markers():
    """Does ax.plot on datetime64 give a date axis whose points decode to the same Timestamps?"""
    chart = charts.read(honest_axes(), close=True)
    assert chart.x_kind == "date" and chart.x_is_date
    (line,) = chart.lines
    assert list(line.x) == list(DATES)
    assert all(type(x) is pd.Timestamp for x in line.x)
    assert line.y == tuple(float(t) for t in TROOPS)
    assert line.marker == "o" and line.has_markers and line.has_line and line.in_data_coordinates
    assert chart.lines_through(DATES, TROOPS) == [line]
    assert chart.markers_at(DATES, TROOPS)


def test_pyplot_state_interface_is_read_through_gca():
    """Is a chart drawn with plt.plot / plt.ylim / plt.title read the same way through plt.gca()?"""
    plt.figure()
    plt.plot(list(DATES.to_pydatetime()), TROOPS, "s--")
    plt.ylim(0, 60000)
    plt.title("KFOR shrank")
    plt.ylabel("Troops")
    chart = charts.read(plt.gca(), close=True)
    assert chart.x_kind == "date"
    assert chart.lines[0].marker == "s" and chart.lines[0].linestyle == "--"
    assert chart.ylim == (0.0, 60000.0)
    assert chart.title == "KFOR shrank" and chart.ylabel == "Troops"
    assert chart.lines_through(DATES, TROOPS)


def test_dataframe_plot_with_irregular_dates_uses_matplotlib_day_numbers():
    """DataFrame.plot(x="date") on irregular dates: pandas' DatetimeConverter, decoded exactly?"""
    ax = SERIES.plot(x="date", y="troops", marker="o")
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "date" and chart.x_period is None
    assert chart.lines[0].label == "troops"
    assert chart.legend == ("troops",)
    assert list(chart.lines[0].x) == list(DATES)
    assert chart.lines_through(DATES, TROOPS)


@pytest.mark.parametrize(
    "dates, freq",
    [
        (pd.date_range("2023-01-01", periods=4, freq="MS"), "M"),
        (pd.to_datetime(["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"]), "M"),
        (pd.date_range("2023-09-25", periods=5, freq="D"), "D"),
        (pd.to_datetime(["2000-01-01", "2001-01-01", "2002-01-01"]), "Y"),
    ],
    ids=["month-starts", "month-ends", "days", "years"],
)
def test_dataframe_plot_with_regular_dates_uses_pandas_period_axis(dates, freq):
    """The classic trap: on evenly spaced dates DataFrame.plot draws period ordinals (600, 601…)
    instead of matplotlib day numbers. Are they decoded back to the dates they stand for?"""
    frame = pd.DataFrame({"date": dates, "troops": range(len(dates))})
    ax = frame.plot(x="date", y="troops", marker="o")
    raw = ax.get_lines()[0].get_xdata(orig=False)
    assert raw[0] < 1000 or freq == "D"  # ordinals, not day numbers since 1970 (D: days since 1970)
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "period" and chart.x_is_date
    assert chart.x_period.startswith(freq)
    (line,) = chart.lines
    assert all(type(x) is pd.Timestamp for x in line.x)
    # Each point decodes to the start of its period, the place pandas draws it.
    assert list(line.x) == [pd.Period(d, freq=chart.x_period).start_time for d in dates]
    assert chart.lines_through(dates, range(len(dates)))
    assert chart.x_covers(dates)
    shifted = [d + pd.DateOffset(years=1) for d in dates]
    assert not chart.lines_through(shifted, range(len(dates)))


def test_series_plot_with_a_date_index_is_a_period_axis_too():
    """Series.plot() on a regular DatetimeIndex: read as a date axis with the right points?"""
    dates = pd.date_range("2023-06-01", periods=4, freq="W-MON")
    ax = pd.Series([3735, 3800, 4100, 4500], index=dates).plot(style="o-")
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "period"
    assert chart.lines_through(dates, [3735, 3800, 4100, 4500])
    assert chart.markers_at(dates, [3735, 3800, 4100, 4500])


def test_x_compat_turns_pandas_back_to_matplotlib_dates():
    """With x_compat=True pandas draws matplotlib day numbers even for regular dates."""
    dates = pd.date_range("2023-01-01", periods=4, freq="MS")
    ax = pd.DataFrame({"date": dates, "troops": [1, 2, 3, 4]}).plot(x="date", y="troops", x_compat=True)
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "date"
    assert list(chart.lines[0].x) == list(dates)


def test_day_numbers_with_xaxis_date_are_a_date_axis():
    """Floats from date2num on an axis marked with ax.xaxis_date(): decoded as dates?"""
    fig, ax = plt.subplots()
    ax.plot(mdates.date2num(list(DATES.to_pydatetime())), TROOPS)
    ax.xaxis_date()
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "date"
    assert chart.lines_through(DATES, TROOPS)


def test_dates_as_text_make_a_categorical_axis():
    """Dates written as strings: evenly spaced categories, their labels as x, not dates."""
    labels = [d.strftime("%b %Y") for d in DATES]
    fig, ax = plt.subplots()
    ax.plot(labels, TROOPS, marker="o")
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "category" and not chart.x_is_date
    assert list(chart.lines[0].x) == labels
    assert not chart.lines_through(DATES, TROOPS)
    assert chart.lines_through(labels, TROOPS)
    assert chart.xticklabels == tuple(labels)


def test_bar_chart_of_strings_has_bars_and_no_line():
    """A bar chart over dates as text: bars with their labels and heights, no line."""
    fig, ax = plt.subplots()
    ax.bar(DATES.astype(str), TROOPS)
    chart = charts.read(ax, close=True)
    assert chart.lines == () and chart.x_kind == "category"
    (bars,) = chart.bars
    assert bars.orientation == "vertical"
    assert bars.positions == tuple(DATES.astype(str)) and bars.values == tuple(map(float, TROOPS))
    assert not chart.lines_through(DATES, TROOPS) and not chart.markers_at(DATES, TROOPS)


def test_bars_on_a_date_axis_decode_their_positions():
    fig, ax = plt.subplots()
    ax.bar(DATES, TROOPS, width=200)
    chart = charts.read(ax, close=True)
    assert chart.x_kind == "date"
    assert list(chart.bars[0].positions) == list(DATES)


def test_line_plus_scatter_counts_as_one_line_with_markers():
    """A bare line with ax.scatter on top: one line through the points, markers at them."""
    fig, ax = plt.subplots()
    ax.plot(DATES, TROOPS, color="grey")
    ax.scatter(DATES, TROOPS, label="figures")
    chart = charts.read(ax, close=True)
    assert not chart.lines[0].has_markers
    (scatter,) = chart.scatters
    assert list(scatter.x) == list(DATES) and scatter.label == "figures"
    assert len(chart.lines_through(DATES, TROOPS)) == 1
    assert chart.markers_at(DATES, TROOPS)


def test_markers_only_plot_call_is_markers_not_a_line():
    """ax.plot(..., "o") draws markers with no line: it is not a line, but its markers count."""
    fig, ax = plt.subplots()
    ax.plot(DATES, TROOPS, "o")
    chart = charts.read(ax, close=True)
    assert chart.lines[0].linestyle is None and chart.lines[0].marker == "o"
    assert chart.lines_through(DATES, TROOPS) == []
    assert chart.markers_at(DATES, TROOPS)
    ax2 = honest_axes()
    ax2.plot(DATES, TROOPS, linestyle="none", marker="s")
    assert len(charts.read(ax2, close=True).lines_through(DATES, TROOPS)) == 1


def test_markers_must_sit_at_every_point():
    fig, ax = plt.subplots()
    ax.plot(DATES, TROOPS)
    ax.scatter(DATES[:-1], TROOPS[:-1])
    chart = charts.read(ax, close=True)
    assert chart.lines_through(DATES, TROOPS) and not chart.markers_at(DATES, TROOPS)


def test_wrong_points_are_not_the_series():
    """Thousands instead of troops, a point missing, the order reversed: no match."""
    for xs, ys in [(DATES, [t / 1000 for t in TROOPS]), (DATES[:-1], TROOPS[:-1]), (DATES[::-1], TROOPS[::-1])]:
        fig, ax = plt.subplots()
        ax.plot(xs, ys, marker="o")
        assert charts.read(ax, close=True).lines_through(DATES, TROOPS) == []


def test_reference_lines_are_kept_but_never_match_the_series():
    """axhline/axvline are lines in axes coordinates: reported, flagged, never 'the' line."""
    ax = honest_axes()
    ax.axhline(3800, color="grey")
    ax.axvline(pd.Timestamp("2023-05-30"))
    chart = charts.read(ax, close=True)
    assert [line.in_data_coordinates for line in chart.lines] == [True, False, False]
    assert len(chart.lines_through(DATES, TROOPS)) == 1


def test_gaps_in_a_line_decode_to_nat_and_nan():
    fig, ax = plt.subplots()
    ax.plot(pd.to_datetime(["2020-01-01", None, "2021-01-01"]), [1.0, 2.0, float("nan")])
    line = charts.read(ax, close=True).lines[0]
    assert line.x[1] is pd.NaT and line.y[2] != line.y[2]


# --- axes, limits and texts ----------------------------------------------------------------


def test_limits_and_scales():
    """Scales, y limits as numbers, x limits decoded to dates; x_covers spots a cut-off point."""
    ax = honest_axes()
    ax.set_xlim(pd.Timestamp("2000-01-01"), pd.Timestamp("2024-01-01"))
    ax.set_yscale("log")
    chart = charts.read(ax, close=True)
    assert chart.yscale == "log" and chart.xscale == "linear"
    assert chart.xlim == (pd.Timestamp("2000-01-01"), pd.Timestamp("2024-01-01"))
    assert not chart.x_covers(DATES)  # 1999 is cut off
    assert chart.x_covers(DATES[1:])


def test_default_y_axis_does_not_start_at_zero():
    """Is matplotlib's autoscaled y axis (a margin below the smallest value) reported as it is?"""
    fig, ax = plt.subplots()
    ax.plot(DATES, TROOPS)
    bottom, top = charts.read(ax, close=True).ylim
    assert 0 < bottom < min(TROOPS) and top > max(TROOPS)


def test_every_text_in_the_figure_is_found_and_tick_labels_are_kept_apart():
    """Title (centre and left), suptitle, labels, fig.text, ax.text, annotate, legend and an
    AnchoredText are texts; tick labels are listed apart; hidden and empty texts are not."""
    ax = honest_axes()
    fig = ax.figure
    ax.plot(DATES, TROOPS, label="article")
    ax.set_title("KFOR shrank", loc="left")
    ax.set_title("centre title")
    fig.suptitle("The big title")
    ax.set_xlabel("Date\nSource: European  Western Balkans")
    ax.set_ylabel("Troops")
    fig.text(0.01, 0.01, "fig.text line")
    ax.text(DATES[0], 100, "ax.text line")
    ax.annotate("NATO decides", xy=(pd.Timestamp("2023-05-30"), 3800), xytext=(-50, 20),
                textcoords="offset points", arrowprops={"arrowstyle": "->"})
    ax.add_artist(AnchoredText("anchored note", loc="upper right"))
    hidden = ax.text(DATES[1], 100, "invisible")
    hidden.set_visible(False)
    ax.text(DATES[2], 100, "")
    ax.legend()
    chart = charts.read(ax, close=True)
    assert chart.title == "centre title\nKFOR shrank"
    assert chart.suptitle == "The big title"
    for text in ("fig.text line", "ax.text line", "NATO decides", "anchored note", "article", "Troops"):
        assert text in chart.texts, text
    assert "invisible" not in chart.texts and "" not in chart.texts
    assert chart.find_text("european western balkans") == ["Date\nSource: European  Western Balkans"]
    assert chart.find_text("Reuters") == []
    assert chart.xticklabels and not set(chart.xticklabels) & set(chart.texts)
    assert "2000" in chart.xticklabels or "2004" in chart.xticklabels


# --- the API's edges -----------------------------------------------------------------------


def test_chart_is_plain_data():
    """A Chart holds no matplotlib objects: it pickles, and survives its figure being closed."""
    chart = charts.read(honest_axes(), close=True)

    def walk(value):
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                yield from walk(getattr(value, f.name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                yield from walk(item)
        else:
            yield value

    assert not any(isinstance(v, Artist) for v in walk(chart))
    assert pickle.loads(pickle.dumps(chart)) == chart


def test_read_closes_the_figure_only_when_asked():
    ax = honest_axes()
    charts.read(ax)
    assert plt.fignum_exists(ax.figure.number)
    charts.read(ax, close=True)
    assert not plt.fignum_exists(ax.figure.number)


def test_read_accepts_a_figure_with_one_axes_and_names_other_mistakes():
    """A one-Axes Figure is read; plot()'s list of lines, a two-Axes figure or None are refused
    with a message that says what to pass instead."""
    fig, ax = plt.subplots()
    lines = ax.plot(DATES, TROOPS)
    assert charts.read(fig).lines_through(DATES, TROOPS)
    with pytest.raises(TypeError, match="list of lines that plot"):
        charts.read(lines)
    with pytest.raises(TypeError, match="expected a matplotlib Axes, got NoneType"):
        charts.read(None)
    fig2, _ = plt.subplots(1, 2)
    with pytest.raises(TypeError, match="has 2 Axes"):
        charts.read(fig2)


def test_reading_a_figure_closed_by_plt_show_still_works():
    """A student's function that closes its figure (inline plt.show) still returns a readable Axes."""
    ax = honest_axes()
    plt.close(ax.figure)
    assert charts.read(ax).lines_through(DATES, TROOPS)


def test_png_bytes_and_show_outside_ipython():
    """png_bytes gives a PNG; show() outside a notebook does nothing and raises nothing."""
    ax = honest_axes()
    data = charts.png_bytes(ax)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert charts.show(ax, alt="a chart") is None


def test_show_attaches_the_alt_text_to_the_png_and_to_an_html_image(monkeypatch):
    """JupyterLab draws a PNG output with no alt attribute: show() also gives an <img> with the alt text."""
    import IPython
    import IPython.display

    shown = []
    first, second = honest_axes(), honest_axes()  # before get_ipython is replaced: pyplot asks it for its hook
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: shown.append((args, kwargs)))
    charts.show(first, alt='Two "lines" & a date axis')
    charts.show(second)
    (with_alt, with_alt_kwargs), (without, without_kwargs) = shown
    bundle = with_alt[0]
    assert with_alt_kwargs == {"raw": True, "metadata": {"image/png": {"alt": 'Two "lines" & a date axis'}}}
    assert bundle["text/html"] == (f'<img alt="Two &quot;lines&quot; &amp; a date axis" '
                                   f'src="data:image/png;base64,{bundle["image/png"]}">')
    assert bundle["text/plain"] == 'Two "lines" & a date axis'
    assert set(without[0]) == {"image/png", "text/plain"} and without_kwargs == {"raw": True}


def test_describe_names_what_the_grader_sees():
    ax = honest_axes()
    ax.scatter(DATES, TROOPS)
    text = charts.describe(charts.read(ax, close=True))
    assert "x axis: date" in text and "y axis: 0 to" in text
    assert "(line -, marker o): 5 points" in text and "scatter" in text


# --- the assignment's chart test, in-process ----------------------------------------------


def _test_cell_namespace():
    """The solution's setup cell, solution answers and plot_troops test helper, run here."""
    solution = notebooks.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    cells = {notebooks.grade_id(c): c.source for c in solution.cells if notebooks.grade_id(c)}
    namespace: dict = {}
    exec(cells["setup"].replace("%matplotlib inline", ""), namespace)  # noqa: S102
    test_source = cells["test_plot_troops"].split("check_troop_chart(SERIES, show=True)")[0]
    exec(test_source, namespace)  # noqa: S102 - defines SERIES and check_troop_chart
    return namespace, answers.solution_answers(solution)["plot_troops"]


PLOT_VARIANTS = answers.load_variants(ROOT / "tests" / "fixtures" / "variants" / ASSIGNMENT)["plot_troops"]


@pytest.mark.parametrize("variant", PLOT_VARIANTS, ids=lambda v: v.path.stem)
def test_plot_troops_check_passes_right_charts_and_fails_wrong_ones(variant):
    """Run without a kernel: does check_troop_chart accept every differently drawn right chart
    (on the article's series and an irregular other one) and reject every wrong one?"""
    namespace, _ = _test_cell_namespace()
    exec(variant.source, namespace)  # noqa: S102
    other = pd.DataFrame({
        "date": pd.to_datetime(["2013-02-18", "2017-02-15", "2020-12-31", "2022-08-10", "2023-10-14"]),
        "troops": [6000, 4273, 3500, 3735, 4500],
    })
    try:
        namespace["check_troop_chart"](namespace["SERIES"])
        namespace["check_troop_chart"](other)
    except AssertionError:
        passed = False
    else:
        passed = True
    assert passed == variant.right, variant.why
    assert plt.get_fignums() == []  # the check closed every figure it read


def test_plot_troops_check_passes_the_solution():
    namespace, answer = _test_cell_namespace()
    exec(answer, namespace)  # noqa: S102
    namespace["check_troop_chart"](namespace["SERIES"])


# --- the feedback an instructor and a student see -----------------------------------------



@pytest.mark.slow
def test_feedback_html_embeds_each_students_chart(course_copy, tmp_path):
    """After `coursekit grade`, does each sample student's feedback page carry, as an embedded
    PNG, the chart their plot_troops drew (the picture the test cell checked)?"""
    submissions = tmp_path / "submissions"
    for folder in sorted((course_copy / "tests" / "fixtures" / "submissions").glob(f"*/{ASSIGNMENT}")):
        shutil.copytree(folder, submissions / folder.parent.name / ASSIGNMENT)
    students = sorted(p.name for p in submissions.iterdir())
    assert len(students) >= 6

    done = coursekit("grade", str(submissions), "--assignment", ASSIGNMENT, course=course_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {
        student: score for (student, assignment), score
        in sampleclass.expected_scores(course_copy / "tests" / "fixtures" / "answers").items()
        if assignment == ASSIGNMENT
    }
    graded = gradebook.read_assignment_scores(course_copy / "build" / "gradebook.db", [ASSIGNMENT])
    assert {s.student: s.autograded for s in graded} == expected

    plain_alt = "The chart that plot_troops drew for the article's series"
    alt = plain_alt.replace("'", "&#39;")  # as nbconvert escapes it
    image = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')
    drew_a_chart = {"ada", "chloe", "dev", "eve", "femi"}  # ben handed in a blank notebook
    for student in students:
        page = course_copy / "build" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        html = page.read_text(encoding="utf-8")
        found = [base64.b64decode(data) for text, data in image.findall(html) if text in (alt, plain_alt)]
        if student in drew_a_chart:
            assert len(found) == 1, f"{student}: no chart of plot_troops in {page}"
            assert found[0].startswith(b"\x89PNG\r\n\x1a\n") and len(found[0]) > 5000
        else:
            assert found == [], student
        # The misleading chart of Question 5 is drawn by a locked cell for everyone.
        assert len(image.findall(html)) >= 1 + (student in drew_a_chart)


def test_hidden_labels_are_empty_and_subfigures_are_read_through_their_root():
    """matplotlib's automatic '_child0' labels read as ''; a chart in a subfigure sees the
    whole figure's texts and closes the whole figure."""
    fig = plt.figure()
    left, _ = fig.subfigures(1, 2)
    ax = left.subplots()
    ax.plot(DATES, TROOPS)
    ax.plot(DATES, TROOPS, label="article")
    fig.text(0.01, 0.01, "Source: European Western Balkans")
    chart = charts.read(ax, close=True)
    assert [line.label for line in chart.lines] == ["", "article"]
    assert chart.find_text("European Western Balkans")
    assert not plt.fignum_exists(fig.number)

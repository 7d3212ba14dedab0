"""Studio's SVG charts are plain coordinates: ticks are round numbers covering the data, points
land inside the plot box (higher values higher up), the best one is marked, and what is not a
number is left out and counted."""

from __future__ import annotations

import itertools
import math

import pytest

from rayline.studio import charts


def test_nice_ticks_are_round_and_cover_the_range():
    ticks = charts.nice_ticks(0.13, 0.87)
    assert ticks[0] <= 0.13 and ticks[-1] >= 0.87
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and steps.pop() in (0.1, 0.2, 0.5)
    assert 3 <= len(ticks) <= 8
    # One value: a range around it, not a division by zero.
    single = charts.nice_ticks(5.0, 5.0)
    assert single[0] < 5.0 < single[-1]
    with pytest.raises(ValueError):
        charts.nice_ticks(0.0, math.inf)


def test_series_in_order_with_the_best_marked_and_gaps_skipped():
    chart = charts.series([3.0, None, 1.0, float("nan"), 2.0], ["a", "b", "c", "d", "e"], best=2)
    assert [p.label for p in chart.points] == ["a: 3", "c: 1", "e: 2"]
    assert chart.skipped == 2
    assert [p.best for p in chart.points] == [False, True, False]
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs)  # in trial order, left to right
    # SVG's y grows downwards: the largest value is the highest point.
    assert min(chart.points, key=lambda p: p.y).label == "a: 3"
    for p in chart.points:
        assert chart.left <= p.x <= chart.right and chart.top <= p.y <= chart.bottom
    assert chart.line.startswith("M") and chart.line.count("L") == 2
    with pytest.raises(ValueError):
        charts.series([1.0], ["a", "b"])


def test_scatter_numeric_and_categorical():
    numeric = charts.scatter([0.1, 0.5, 0.9], [2.0, 1.0, 3.0], ["t0", "t1", "t2"], best=1)
    assert [p.best for p in numeric.points] == [False, True, False]
    assert numeric.points[0].x < numeric.points[1].x < numeric.points[2].x
    assert numeric.line == ""
    assert all(t.label for t in numeric.x_ticks)
    # A categorical hyperparameter: one tick per category, in the order first seen.
    cats = charts.scatter(["gbtree", "dart", "gbtree"], [1.0, 2.0, "x"], ["t0", "t1", "t2"])
    assert [t.label for t in cats.x_ticks] == ["gbtree", "dart"]
    assert len(cats.points) == 2 and cats.skipped == 1


def test_empty_and_display():
    empty = charts.series([], [])
    assert empty.points == () and empty.y_ticks
    assert charts.display(None) == "—" and charts.display(float("nan")) == "—"
    assert charts.display(3) == "3" and charts.display(0.123456) == "0.1235"
    assert charts.display("gbtree") == "gbtree" and charts.fmt(1234567.0) == "1.23e+06"

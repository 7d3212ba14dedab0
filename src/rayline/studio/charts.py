"""Small charts for Studio pages, computed on the server and drawn as SVG by a template
(``templates/_chart.html``): the page shows them before any script runs, and the strict CSP
allows no chart library. Pure Python (no Ray, no numpy): only coordinates, ticks and labels.

A :class:`Chart` is one plot: its points in SVG coordinates (the plot box inside margins for
the axes' labels), the ticks of both axes and, for a series in order, the line through them.
``series`` plots values in order (a tuning job's objective per trial); ``scatter`` plots one
value against another, numeric or categorical (the objective against one hyperparameter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 420
HEIGHT = 240
#: Room for the y axis's tick labels (left), the x axis's (bottom) and the title (top).
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 26, 42


@dataclass(frozen=True)
class Tick:
    at: float  # the SVG coordinate along its axis
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # what the point's tooltip says
    best: bool = False


@dataclass(frozen=True)
class Chart:
    """One plot in SVG coordinates: the plot box is ``left``..``right`` by ``top``..``bottom``."""

    title: str
    x_label: str
    y_label: str
    points: tuple[Point, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    line: str = ""  # an SVG path through the points in order ("" for a scatter)
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    #: What was left out (a value that is missing or not a number), for the chart's caption.
    skipped: int = 0


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, NaN, text, a bool)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt(value: float) -> str:
    """A number short enough for a tick or a table cell (4 significant digits)."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def display(value: Any) -> str:
    """A table cell's text: a number as :func:`fmt` writes it, nothing as a dash, else the
    value's text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    n = number(value)
    if n is None:
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return fmt(n)


def nice_ticks(lo: float, hi: float, *, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) covering ``lo``..``hi``, about
    ``count`` of them: what a reader can take in at a glance."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"ticks need finite bounds, not {lo!r}..{hi!r}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    at = first
    while at < hi + step * 0.5:
        ticks.append(round(at, 12))
        at += step
    if ticks[-1] < hi:
        ticks.append(round(at, 12))
    return ticks


class _Axis:
    """Maps values onto ``start``..``end`` (SVG units) over the ticks' range."""

    def __init__(self, ticks: list[float], start: float, end: float) -> None:
        self.lo, self.hi = ticks[0], ticks[-1]
        self.start, self.end = start, end
        self.values = ticks

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.start + (value - self.lo) / span * (self.end - self.start)

    def ticks(self) -> tuple[Tick, ...]:
        return tuple(Tick(round(self(v), 1), fmt(v)) for v in self.values)


def series(
    values: Sequence[Any],
    labels: Sequence[str],
    *,
    best: int | None = None,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
) -> Chart:
    """``values`` in order (x: 1, 2, ... as the values come), a line through those that are
    numbers; ``best`` (an index into ``values``) is marked."""
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    kept = [(i, number(v)) for i, v in enumerate(values)]
    known = [(i, v) for i, v in kept if v is not None]
    x_axis = _Axis(_index_ticks(len(values)), LEFT, WIDTH - RIGHT)
    y_axis = _Axis(_ticks([v for _, v in known]), HEIGHT - BOTTOM, TOP)
    points = tuple(
        Point(
            round(x_axis(i + 1), 1),
            round(y_axis(v), 1),
            f"{labels[i]}: {fmt(v)}",
            best=i == best,
        )
        for i, v in known
    )
    line = " ".join(f"{'M' if k == 0 else 'L'}{p.x},{p.y}" for k, p in enumerate(points))
    return Chart(
        title,
        x_label,
        y_label,
        points,
        x_axis.ticks(),
        y_axis.ticks(),
        line=line,
        skipped=len(values) - len(known),
    )


def scatter(
    xs: Sequence[Any],
    ys: Sequence[Any],
    labels: Sequence[str],
    *,
    best: int | None = None,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
) -> Chart:
    """``ys`` against ``xs``; numeric ``xs`` on a linear axis, anything else (a categorical
    hyperparameter) as evenly spaced categories in the order first seen. A pair with a missing
    or non-numeric y is left out (counted in ``skipped``)."""
    if not len(xs) == len(ys) == len(labels):
        raise ValueError(f"{len(xs)} xs, {len(ys)} ys and {len(labels)} labels")
    pairs = [(i, x, number(y)) for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
    pairs = [(i, x, y) for i, x, y in pairs if y is not None and x is not None]
    numeric = all(number(x) is not None for _, x, _ in pairs)
    y_axis = _Axis(_ticks([y for _, _, y in pairs]), HEIGHT - BOTTOM, TOP)
    if numeric:
        x_axis = _Axis(_ticks([number(x) for _, x, _ in pairs]), LEFT, WIDTH - RIGHT)
        place = {i: x_axis(number(x)) for i, x, _ in pairs}
        x_ticks = x_axis.ticks()
    else:
        categories = list(dict.fromkeys(str(x) for _, x, _ in pairs))
        band = (WIDTH - RIGHT - LEFT) / max(len(categories), 1)
        at = {c: LEFT + band * (k + 0.5) for k, c in enumerate(categories)}
        place = {i: at[str(x)] for i, x, _ in pairs}
        x_ticks = tuple(Tick(round(at[c], 1), c) for c in categories)
    points = tuple(
        Point(
            round(place[i], 1),
            round(y_axis(y), 1),
            f"{labels[i]}: {x_label or 'x'}={_show(x)}, {y_label or 'y'}={fmt(y)}",
            best=i == best,
        )
        for i, x, y in pairs
    )
    return Chart(
        title,
        x_label,
        y_label,
        points,
        x_ticks,
        y_axis.ticks(),
        skipped=len(xs) - len(pairs),
    )


def _show(value: Any) -> str:
    n = number(value)
    return fmt(n) if n is not None else str(value)


def _ticks(values: list[float]) -> list[float]:
    if not values:
        return [0.0, 1.0]
    return nice_ticks(min(values), max(values))


def _index_ticks(n: int) -> list[float]:
    """Whole-number ticks 1..n (at most about 8 of them)."""
    if n <= 1:
        return [0.0, 1.0, 2.0]
    step = max(1, math.ceil(n / 8))
    ticks = [float(v) for v in range(1, n + 1, step)]
    if ticks[-1] != n:
        ticks.append(float(n))
    return ticks

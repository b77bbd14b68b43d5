"""Server-rendered SVG charts for console pages: no JavaScript library, nothing fetched, readable
without a browser (each chart carries a text title and per-point tooltips).

Pages pass the returned Markup to a template as it is. Colours come from `console.css`
(`.chart-s0` … `.chart-s5`), so every chart follows the console's theme.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

X = datetime | float
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 52, 12, 12, 34


@dataclass(frozen=True)
class Series:
    """One line: points in x order; a None y breaks the line (no data there)."""

    name: str
    points: Sequence[tuple[X, float | None]]


@dataclass(frozen=True)
class Bars:
    """One series of bars, one value per category of the chart."""

    name: str
    values: Sequence[float]


@dataclass(frozen=True)
class Threshold:
    """A horizontal reference line, e.g. the latency SLO or an alert threshold."""

    value: float
    label: str


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    y_max: float
    y_min: float = 0.0
    ticks: list[float] = field(default_factory=list)

    @property
    def plot_w(self) -> float:
        return self.width - _PAD_LEFT - _PAD_RIGHT

    @property
    def plot_h(self) -> float:
        return self.height - _PAD_TOP - _PAD_BOTTOM

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min or 1.0
        return _PAD_TOP + self.plot_h * (1 - (value - self.y_min) / span)


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 up to at least `top` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(i * step, 10) for i in range(math.ceil(top / step - 1e-9) + 1)]


def fmt_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:.3g}k"
    return f"{value:.3g}"


def _x_text(x: X) -> str:
    if isinstance(x, datetime):
        return x.strftime("%H:%M") if (x.hour, x.minute) != (0, 0) else x.strftime("%b %d")
    return fmt_number(x)


def _x_value(x: X) -> float:
    return x.timestamp() if isinstance(x, datetime) else float(x)


def _open(frame: _Frame, title: str) -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in frame.ticks:
        y = frame.y(tick)
        parts.append(
            f'<line class="chart-grid" x1="{_PAD_LEFT}" x2="{frame.width - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="chart-tick" x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{fmt_number(tick)}</text>"
        )
    return parts


def _thresholds(frame: _Frame, thresholds: Sequence[Threshold]) -> list[str]:
    parts = []
    for t in thresholds:
        y = frame.y(t.value)
        parts.append(
            f'<line class="chart-threshold" x1="{_PAD_LEFT}" x2="{frame.width - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"><title>{escape(t.label)}: {fmt_number(t.value)}</title></line>'
            f'<text class="chart-threshold-label" x="{frame.width - _PAD_RIGHT}" y="{y - 3:.1f}" '
            f'text-anchor="end">{escape(t.label)}</text>'
        )
    return parts


def _legend(names: Sequence[str], frame: _Frame) -> list[str]:
    if len(names) < 2:
        return []
    parts, x = [], float(_PAD_LEFT)
    for i, name in enumerate(names):
        parts.append(
            f'<rect class="chart-s{i % 6}" x="{x:.1f}" y="{frame.height - 11}" width="9" height="9"/>'
            f'<text class="chart-tick" x="{x + 12:.1f}" y="{frame.height - 3}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return parts


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    width: int = 640,
    height: int = 180,
    thresholds: Sequence[Threshold] = (),
    y_format: Callable[[float], str] = fmt_number,
) -> Markup:
    """Lines over time (or any numeric x), with optional reference lines; empty data says so."""
    xs = [_x_value(x) for s in series for x, y in s.points if y is not None]
    ys = [y for s in series for _, y in s.points if y is not None]
    if not xs:
        return Markup('<p class="chart-empty">{}: no data yet.</p>').format(title)
    top = max([*ys, *(t.value for t in thresholds)]) * 1.05 or 1.0
    ticks = nice_ticks(top)
    frame = _Frame(width, height, y_max=ticks[-1], ticks=ticks)
    x_lo, x_hi = min(xs), max(xs)
    x_span = (x_hi - x_lo) or 1.0

    def px(x: X) -> float:
        return _PAD_LEFT + frame.plot_w * ((_x_value(x) - x_lo) / x_span)

    parts = _open(frame, title)
    parts += _thresholds(frame, thresholds)
    for i, s in enumerate(series):
        runs: list[list[str]] = [[]]
        for x, y in s.points:
            if y is None:
                runs.append([])
                continue
            runs[-1].append(f"{px(x):.1f},{frame.y(y):.1f}")
            parts.append(
                f'<circle class="chart-dot chart-s{i % 6}" cx="{px(x):.1f}" cy="{frame.y(y):.1f}" r="2">'
                f"<title>{escape(s.name)} {escape(_x_text(x))}: {escape(y_format(y))}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="chart-line chart-s{i % 6}" points="{" ".join(run)}"/>')
    first = next(x for s in series for x, y in s.points if y is not None)
    last = max((x for s in series for x, y in s.points if y is not None), key=_x_value)
    base = height - _PAD_BOTTOM + 14
    parts.append(f'<text class="chart-tick" x="{_PAD_LEFT}" y="{base}">{escape(_x_text(first))}</text>')
    parts.append(
        f'<text class="chart-tick" x="{width - _PAD_RIGHT}" y="{base}" text-anchor="end">'
        f"{escape(_x_text(last))}</text>"
    )
    parts += _legend([s.name for s in series], frame)
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Bars],
    *,
    title: str,
    stacked: bool = False,
    hrefs: Sequence[str | None] | None = None,
    width: int = 640,
    height: int = 180,
    thresholds: Sequence[Threshold] = (),
) -> Markup:
    """Bars per category, grouped or stacked; a category with an href links to what it counts."""
    if not categories or not series:
        return Markup('<p class="chart-empty">{}: no data yet.</p>').format(title)
    totals = (
        [sum(s.values[i] for s in series) for i in range(len(categories))]
        if stacked
        else [max(s.values[i] for s in series) for i in range(len(categories))]
    )
    top = max([*totals, *(t.value for t in thresholds)]) * 1.05 or 1.0
    ticks = nice_ticks(top)
    frame = _Frame(width, height, y_max=ticks[-1], ticks=ticks)
    slot = frame.plot_w / len(categories)
    bar_w = slot * 0.8 / (1 if stacked else len(series))
    parts = _open(frame, title)
    label_every = max(1, math.ceil(len(categories) / 12))
    for c, category in enumerate(categories):
        x0 = _PAD_LEFT + c * slot + slot * 0.1
        cell: list[str] = []
        base = 0.0
        for i, s in enumerate(series):
            value = s.values[c]
            lo, hi = (base, base + value) if stacked else (0.0, value)
            x = x0 if stacked else x0 + i * bar_w
            y_top, y_bottom = frame.y(hi), frame.y(lo)
            cell.append(
                f'<rect class="chart-bar chart-s{i % 6}" x="{x:.1f}" y="{y_top:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{max(y_bottom - y_top, 0):.1f}">'
                f"<title>{escape(category)} · {escape(s.name)}: {fmt_number(value)}</title></rect>"
            )
            base = hi if stacked else base
        href = hrefs[c] if hrefs is not None else None
        parts.append(f'<a href="{escape(href)}">{"".join(cell)}</a>' if href else "".join(cell))
        if c % label_every == 0:
            parts.append(
                f'<text class="chart-tick" x="{x0 + slot * 0.4:.1f}" y="{height - _PAD_BOTTOM + 14}" '
                f'text-anchor="middle">{escape(category)}</text>'
            )
    parts += _thresholds(frame, thresholds)
    parts += _legend([s.name for s in series], frame)
    parts.append("</svg>")
    return Markup("".join(parts))

"""Inline SVG charts drawn in Python: no JavaScript chart library, no CDN, nothing fetched.

Each chart is a ``<figure>`` holding an ``<svg>`` (sized by its viewBox, so it scales to the page) and
an HTML legend that wraps on a phone. Styling lives in the report's stylesheet via CSS classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from reports.text import fmt_ms, scrub

PALETTE = ("#2563eb", "#0d9488", "#d97706", "#7c3aed", "#db2777", "#4b5563", "#65a30d", "#0891b2")

WIDTH = 640
HEIGHT = 260
MARGIN_LEFT = 58
MARGIN_RIGHT = 52
MARGIN_TOP = 14
MARGIN_BOTTOM = 38


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass
class Curve:
    """One line on a chart: (x, y) points in data units."""

    label: str
    points: list[tuple[float, float]]
    colour: str
    dashed: bool = False
    note: str = ""


@dataclass
class Bars:
    """Background bars on a second y axis (request rate), with an optional error share per bar."""

    label: str
    points: list[tuple[float, float, float]] = field(default_factory=list)  # (x, value, error share 0…1)
    width: float = 1.0


def nice_ticks(upper: float, count: int = 5) -> list[float]:
    """0 … ≥upper in 1/2/5 x 10ⁿ steps."""
    if upper <= 0 or not math.isfinite(upper):
        return [0.0, 1.0]
    raw = upper / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    top = math.ceil(upper / step - 1e-9) * step
    n = round(top / step)
    return [round(i * step, 10) for i in range(n + 1)]


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick_label(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10 or value == 0:
        return f"{value:.0f}"
    return f"{value:g}"


class _Frame:
    """Maps data to SVG coordinates inside the plot area."""

    def __init__(self, x0: float, x1: float, y_top: float, y2_top: float = 1.0) -> None:
        self.x0, self.x1 = x0, x1 if x1 > x0 else x0 + 1
        self.y_top = y_top or 1.0
        self.y2_top = y2_top or 1.0
        self.left, self.right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - min(max(value, 0.0), self.y_top) / self.y_top * (self.bottom - self.top)

    def y2(self, value: float) -> float:
        return self.bottom - min(max(value, 0.0), self.y2_top) / self.y2_top * (self.bottom - self.top)


def _path(frame: _Frame, points: Sequence[tuple[float, float]]) -> str:
    parts = []
    for i, (x, y) in enumerate(points):
        parts.append(f"{'M' if i == 0 else 'L'}{_num(frame.x(x))} {_num(frame.y(y))}")
    return "".join(parts)


def _y_axis(frame: _Frame, ticks: Sequence[float], title: str) -> list[str]:
    out = []
    for tick in ticks:
        y = _num(frame.y(tick))
        out.append(f'<line class="grid" x1="{frame.left}" x2="{frame.right}" y1="{y}" y2="{y}"/>')
        out.append(
            f'<text class="tick" x="{frame.left - 6}" y="{y}" dy="3.5" text-anchor="end">{_tick_label(tick)}</text>'
        )
    mid = (frame.top + frame.bottom) / 2
    out.append(
        f'<text class="axis-title" transform="translate(13 {_num(mid)}) rotate(-90)" '
        f'text-anchor="middle">{escape(title)}</text>'
    )
    return out


def _legend(curves: Sequence[Curve], extra: Sequence[tuple[str, str, str]] = ()) -> str:
    items = []
    for curve in curves:
        style = "dashed" if curve.dashed else "solid"
        note = f' <span class="muted">{escape(scrub(curve.note))}</span>' if curve.note else ""
        items.append(
            f'<span class="key"><i class="swatch {style}" style="border-color:{curve.colour}"></i>'
            f"{escape(scrub(curve.label))}{note}</span>"
        )
    for cls, label, col in extra:
        items.append(f'<span class="key"><i class="swatch {cls}" style="border-color:{col}"></i>{escape(label)}</span>')
    return f'<figcaption class="legend">{"".join(items)}</figcaption>'


def _svg(body: list[str], label: str) -> str:
    return (
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(scrub(label))}" '
        f'preserveAspectRatio="xMidYMid meet">{"".join(body)}</svg>'
    )


PERCENTILE_TICKS: tuple[tuple[float, str], ...] = (
    (0.0, "0%"),
    (1.0, "90%"),
    (2.0, "99%"),
    (3.0, "99.9%"),
    (4.0, "99.99%"),
    (5.0, "99.999%"),
    (6.0, "99.9999%"),
)


def percentile_x(percentile: float) -> float:
    """HdrHistogram plotter's x: log10(1 / (1 - p))."""
    remaining = max(1.0 - percentile / 100.0, 1e-9)
    return math.log10(1.0 / remaining)


def percentile_chart(curves: Sequence[Curve], *, budget_ms: float | None, x_end: float, label: str) -> Markup:
    """Latency by percentile (x: 1/(1-p) on a log scale, like HdrHistogram's plotter; y: ms)."""
    log_end = max(math.log10(max(x_end, 10.0)), 1.0)
    drawn = [c for c in curves if c.points]
    y_max = max((y for c in drawn for _, y in c.points), default=0.0)
    if budget_ms:
        y_max = max(y_max, budget_ms)
    ticks = nice_ticks(y_max * 1.04 or 1.0)
    frame = _Frame(0.0, log_end, ticks[-1])
    body = _y_axis(frame, ticks, "latency (ms)")
    for x, text in PERCENTILE_TICKS:
        if x > log_end + 1e-9:
            break
        px = _num(frame.x(x))
        body.append(f'<line class="grid v" x1="{px}" x2="{px}" y1="{frame.top}" y2="{frame.bottom}"/>')
        body.append(f'<text class="tick" x="{px}" y="{frame.bottom + 15}" text-anchor="middle">{text}</text>')
    body.append(
        f'<text class="axis-title" x="{_num((frame.left + frame.right) / 2)}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">percentile</text>'
    )
    extra: list[tuple[str, str, str]] = []
    if budget_ms:
        y = _num(frame.y(budget_ms))
        body.append(f'<line class="budget" x1="{frame.left}" x2="{frame.right}" y1="{y}" y2="{y}"/>')
        body.append(
            f'<text class="budget-label" x="{frame.right - 4}" y="{y}" dy="-4" text-anchor="end">'
            f"budget {escape(fmt_ms(budget_ms))}</text>"
        )
        extra.append(("budget", "budget", "#dc2626"))
    for curve in drawn:
        points = [(percentile_x(p), ms) for p, ms in curve.points]
        dash = ' stroke-dasharray="5 4"' if curve.dashed else ""
        body.append(f'<path class="line" d="{_path(frame, points)}" stroke="{curve.colour}"{dash}/>')
    # One legend entry per profile; a single grey key explains the dashed service-time curves.
    keyed = [c for c in drawn if not c.dashed]
    if len(keyed) < len(drawn):
        extra.insert(0, ("dashed", "service time (from actual send)", "#64748b"))
    return Markup(f'<figure class="chart">{_svg(body, label)}{_legend(keyed, extra)}</figure>')


def timeline_chart(curves: Sequence[Curve], bars: Bars | None, *, budget_ms: float | None, label: str) -> Markup:
    """p95 over time (lines, left axis, ms) over request rate (bars, right axis, req/s; errors in red)."""
    xs = [x for c in curves for x, _ in c.points] + ([x for x, _, _ in bars.points] if bars else [])
    if not xs:
        return Markup("")
    width = bars.width if bars else 1.0
    x0, x1 = min(xs), max(xs) + width
    y_max = max((y for c in curves for _, y in c.points), default=0.0)
    if budget_ms:
        y_max = max(y_max, budget_ms)
    ticks = nice_ticks(y_max * 1.04 or 1.0)
    rate_max = max((v for _, v, _ in bars.points), default=0.0) if bars else 0.0
    rate_ticks = nice_ticks(rate_max * 1.1 or 1.0, 4)
    frame = _Frame(x0, x1, ticks[-1], rate_ticks[-1])
    body: list[str] = []
    if bars:
        bar_w = max((frame.x(x0 + width) - frame.x(x0)) * 0.8, 0.8)
        for x, value, err in bars.points:
            left = _num(frame.x(x) + bar_w * 0.125)
            top = frame.y2(value)
            height = frame.bottom - top
            body.append(
                f'<rect class="rate" x="{left}" y="{_num(top)}" width="{_num(bar_w)}" height="{_num(height)}"/>'
            )
            if err > 0:
                err_h = max(height * min(err, 1.0), 1.5)
                body.append(
                    f'<rect class="rate-err" x="{left}" y="{_num(frame.bottom - err_h)}" '
                    f'width="{_num(bar_w)}" height="{_num(err_h)}"/>'
                )
        for tick in rate_ticks:
            body.append(
                f'<text class="tick r" x="{frame.right + 6}" y="{_num(frame.y2(tick))}" dy="3.5">'
                f"{_tick_label(tick)}</text>"
            )
        body.append(
            f'<text class="axis-title" transform="translate({WIDTH - 10} '
            f'{_num((frame.top + frame.bottom) / 2)}) rotate(90)" text-anchor="middle">req/s</text>'
        )
    body.extend(_y_axis(frame, ticks, "p95 (ms)"))
    for tick in nice_ticks(x1 - x0, 6):
        if x0 + tick > x1 + 1e-9:
            break
        px = _num(frame.x(x0 + tick))
        body.append(
            f'<text class="tick" x="{px}" y="{frame.bottom + 15}" text-anchor="middle">{_tick_label(x0 + tick)}</text>'
        )
    body.append(
        f'<text class="axis-title" x="{_num((frame.left + frame.right) / 2)}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">time into run (s)</text>'
    )
    extra: list[tuple[str, str, str]] = []
    if budget_ms:
        y = _num(frame.y(budget_ms))
        body.append(f'<line class="budget" x1="{frame.left}" x2="{frame.right}" y1="{y}" y2="{y}"/>')
        extra.append(("budget", "budget", "#dc2626"))
    for curve in curves:
        if not curve.points:
            continue
        body.append(f'<path class="line" d="{_path(frame, curve.points)}" stroke="{curve.colour}"/>')
    if bars:
        extra.append(("bar", bars.label, "#cbd5e1"))
        if any(err > 0 for _, _, err in bars.points):
            extra.append(("bar err", "errors", "#ef4444"))
    return Markup(f'<figure class="chart">{_svg(body, label)}{_legend(curves, extra)}</figure>')

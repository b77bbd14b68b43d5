"""A server-rendered SVG line chart of daily accuracy, one line per version (no JavaScript)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

from shipyard.review.schemas import AccuracyReport

WIDTH, HEIGHT, PAD = 640, 200, 32
COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")


def accuracy_chart(report: AccuracyReport) -> Markup:
    """Accuracy (0 to 1) per day of prediction, a polyline and dots per version; empty when no data."""
    if not report.daily:
        return Markup("")
    first, last = report.start.date(), report.end.date()
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return PAD + (WIDTH - 2 * PAD) * (day - first).days / span

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="daily accuracy per version of {escape(report.service)}">'
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
            f'<text x="4" y="{y(tick) + 4:.1f}" font-size="10">{tick:.0%}</text>'
        )
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10">{first.isoformat()}</text>')
    parts.append(
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">{last.isoformat()}</text>'
    )
    versions = sorted({d.version for d in report.daily}, key=lambda v: v or 0)
    for i, version in enumerate(versions):
        color = COLORS[i % len(COLORS)]
        points = [
            (x(d.day), y(d.accuracy), d)
            for d in report.daily
            if d.version == version and d.accuracy is not None
        ]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for px, py, d in points:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}">'
                f"<title>v{version} {d.day}: {d.correct}/{d.labelled}</title></circle>"
            )
        parts.append(
            f'<text x="{WIDTH - PAD + 4}" y="{PAD + 12 * i}" font-size="10" fill="{color}">v{version}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))

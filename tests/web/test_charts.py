"""The console's SVG charts: well-formed, escaped, and honest about empty data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from shipyard.web.charts import Bars, Series, Threshold, bar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def test_nice_ticks_cover_the_top_with_round_steps() -> None:
    assert nice_ticks(97) == [0, 25, 50, 75, 100]
    assert nice_ticks(0.9) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0) == [0.0, 1.0]


def test_a_line_chart_draws_each_run_of_points_and_the_threshold() -> None:
    t0 = datetime(2026, 11, 22, 9, tzinfo=UTC)
    points = [(t0 + timedelta(minutes=i), v) for i, v in enumerate([120.0, 180.0, None, 90.0, 95.0])]
    svg = ET.fromstring(
        str(line_chart([Series("p95 <script>", points)], title="p95 ms", thresholds=[Threshold(150, "SLO")]))
    )
    assert len(svg.findall(f"{SVG}polyline")) == 2  # the gap splits the line
    assert len(svg.findall(f"{SVG}circle")) == 4
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "p95 <script> 09:01: 180" in titles  # escaped in the markup, read back as text
    assert any(el.get("class") == "chart-threshold" for el in svg.iter(f"{SVG}line"))


def test_a_stacked_bar_chart_links_each_category_and_stacks_values() -> None:
    svg = ET.fromstring(
        str(
            bar_chart(
                ["Nov 21", "Nov 22"],
                [Bars("served", [10, 20]), Bars("failed", [1, 5])],
                title="calls per day",
                stacked=True,
                hrefs=["/predictions?day=2026-11-21", None],
            )
        )
    )
    links = svg.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == ["/predictions?day=2026-11-21"]
    rects = [r for r in svg.iter(f"{SVG}rect") if "chart-bar" in (r.get("class") or "")]
    assert len(rects) == 4
    day2 = [float(r.get("height") or 0) for r in rects[2:]]
    assert abs(day2[0] - 4 * day2[1]) < 0.5  # 20 served vs 5 failed, on one scale (0.1 px rounding)


def test_no_data_says_so_instead_of_drawing_an_empty_frame() -> None:
    assert "no data yet" in str(line_chart([Series("calls", [])], title="Calls"))
    assert "no data yet" in str(bar_chart([], [], title="Calls"))

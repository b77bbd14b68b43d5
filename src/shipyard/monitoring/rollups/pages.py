"""The morning dashboard: every service's last 24 hours or 7 days from the rollups, and one service's
history; every number links to the predictions behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from shipyard.auth.principal import Principal
from shipyard.monitoring import panels
from shipyard.monitoring.rollups import service as rollups
from shipyard.monitoring.rollups.schemas import Bucket, Totals
from shipyard.registry import service as registry
from shipyard.serving.pages import browse_url
from shipyard.serving.schemas import OUTCOMES
from shipyard.web.charts import Bars, Series, Threshold, bar_chart, fmt_number, line_chart
from shipyard.web.console import render
from shipyard.web.deps import Require, get_ctx

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Window:
    """A dashboard range: [start, end) aligned to its bars' buckets, and how finely to chart it."""

    key: str
    label: str
    start: datetime
    end: datetime
    bars: str  # resolution of the bar charts
    lines: str  # resolution of the line charts


WINDOWS = {"24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days"}


def window(key: str, now: datetime) -> Window:
    if key == "24h":
        end = rollups.floor(now, "hour") + timedelta(hours=1)
        return Window(key, WINDOWS[key], end - timedelta(hours=24), end, "hour", "hour")
    days = 7 if key == "7d" else 30
    end = rollups.floor(now, "day") + timedelta(days=1)
    return Window(key, WINDOWS[key], end - timedelta(days=days), end, "day", "hour" if days == 7 else "day")


@dataclass(frozen=True)
class Row:
    """One service's numbers over the window, and where each one links (None: no prediction access)."""

    slug: str
    name: str
    slo_ms: int
    totals: Totals
    links: dict[str, str] | None

    @property
    def over_slo(self) -> bool:
        return self.totals.p95_ms is not None and self.totals.p95_ms > self.slo_ms


def _links(slug: str, w: Window) -> dict[str, str]:
    base = {"service": slug, "start": w.start, "end": w.end}
    return {
        "calls": browse_url(**base),
        "errors": browse_url(**base, outcome="failed"),
        "slow": browse_url(**base, slow=True),
        **{outcome: browse_url(**base, outcome=outcome) for outcome in OUTCOMES},
    }


def _label(start: datetime, resolution: str) -> str:
    return start.strftime("%H:00") if resolution == "hour" else start.strftime("%b %d")


def _periods(w: Window, resolution: str) -> list[datetime]:
    step = rollups.STEP[resolution]
    found, at = [], w.start
    while at < w.end:
        found.append(at)
        at += step
    return found


def _by_start(buckets: list[Bucket]) -> dict[datetime, Bucket]:
    return {b.start: b for b in buckets}


def _range_key(value: str, default: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else default


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
    period: str = "24h",
) -> HTMLResponse:
    ctx = get_ctx(request)
    now = ctx.clock.now()
    w = window(_range_key(period, "24h", ("24h", "7d")), now)
    kept = ctx.settings.monitoring.rollups
    with ctx.uow() as session:
        services = [
            s
            for s in registry.list_services(session)
            if principal.can("service:read", service=s.slug, service_owner=s.owner_id)
        ]
        slugs = [s.slug for s in services]
        totals = rollups.summaries(session, slugs, w.start, w.end, kept=kept, now=now) if slugs else {}
        drift = panels.drift_badges(session, slugs)
        alerts = panels.firing_alerts(session, slugs) if ctx.settings.alerts.enabled else None
        per_service = {
            slug: _by_start(
                rollups.series(session, slug, w.start, w.end, kept=kept, now=now, resolution=w.bars)[1]
            )
            for slug in slugs
        }
    rows = [
        Row(
            s.slug,
            s.name,
            s.latency_slo_ms,
            totals[s.slug],
            _links(s.slug, w)
            if principal.can("prediction:read", service=s.slug, service_owner=s.owner_id)
            else None,
        )
        for s in services
    ]
    may_browse = any(r.links is not None for r in rows)
    periods = _periods(w, w.bars)
    categories = [_label(p, w.bars) for p in periods]
    step = rollups.STEP[w.bars]

    def chart(title: str, value: Any, **filters: Any) -> Markup:
        series = [
            Bars(slug, [float(value(per_service[slug].get(p))) for p in periods])
            for slug in slugs
            if per_service[slug]
        ]
        hrefs = [browse_url(start=p, end=p + step, **filters) for p in periods] if may_browse else None
        return bar_chart(categories, series, title=title, stacked=True, hrefs=hrefs)

    per = "hour" if w.bars == "hour" else "day"
    charts = {
        "calls": chart(f"Calls per {per}, by service", lambda b: b.calls if b else 0),
        "errors": chart(f"Errors per {per}, by service", lambda b: b.errors if b else 0, outcome="failed"),
        "slow": chart(f"Replies slower than the SLO per {per}", lambda b: b.slow if b else 0, slow=True),
    }
    return render(
        request,
        "dashboard.html",
        w=w,
        windows={k: WINDOWS[k] for k in ("24h", "7d")},
        rows=rows,
        overall=rollups.merge(r.totals for r in rows),
        charts=charts,
        fmt_number=fmt_number,
        alerts=alerts,
        drift=drift,
    )


@router.get("/dashboard/{slug}", response_class=HTMLResponse)
def service_dashboard_page(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
    period: str = "24h",
) -> HTMLResponse:
    ctx = get_ctx(request)
    now = ctx.clock.now()
    w = window(_range_key(period, "24h", ("24h", "7d", "30d")), now)
    kept = ctx.settings.monitoring.rollups
    with ctx.uow() as session:
        service = registry.get_service(session, slug)
        totals = rollups.summary(session, slug, w.start, w.end, kept=kept, now=now)
        bars = _by_start(
            rollups.series(session, slug, w.start, w.end, kept=kept, now=now, resolution=w.bars)[1]
        )
        lines = rollups.series(session, slug, w.start, w.end, kept=kept, now=now, resolution=w.lines)[1]
        drift = panels.drift_badges(session, [slug])
        alerts = panels.firing_alerts(session, [slug]) if ctx.settings.alerts.enabled else None
    may_browse = principal.can("prediction:read", service=slug, service_owner=service.owner_id)
    row = Row(slug, service.name, service.latency_slo_ms, totals, _links(slug, w) if may_browse else None)
    periods = _periods(w, w.bars)
    step = rollups.STEP[w.bars]
    per = "hour" if w.bars == "hour" else "day"
    outcome_bars = [
        Bars(outcome, [float(bars[p].outcomes[outcome] if p in bars else 0) for p in periods])
        for outcome in OUTCOMES
        if totals.outcomes.get(outcome)
    ]
    hrefs = [browse_url(service=slug, start=p, end=p + step) for p in periods] if may_browse else None
    slo = [Threshold(float(service.latency_slo_ms), f"SLO {service.latency_slo_ms} ms")]
    charts = {
        "calls": bar_chart(
            [_label(p, w.bars) for p in periods],
            outcome_bars,
            title=f"Calls per {per}, by outcome",
            stacked=True,
            hrefs=hrefs,
        ),
        "latency": line_chart(
            [
                Series(name, [(b.start, getattr(b, f"{name}_ms")) for b in lines])
                for name in ("p50", "p95", "p99")
            ],
            title=f"Latency per {w.lines} (ms)",
            thresholds=slo,
            y_format=lambda v: f"{v:.3g} ms",
        ),
        "problems": line_chart(
            [
                Series("errors", [(b.start, float(b.errors)) for b in lines]),
                Series("slow", [(b.start, float(b.slow)) for b in lines]),
                Series("fallbacks", [(b.start, float(b.outcomes["fallback"])) for b in lines]),
            ],
            title=f"Errors, slow replies and fallbacks per {w.lines}",
        ),
        "cost": line_chart([Series("cost", [(b.start, b.cost) for b in lines])], title=f"Cost per {w.lines}"),
    }
    return render(
        request,
        "dashboard_service.html",
        w=w,
        windows=WINDOWS,
        row=row,
        outcomes=OUTCOMES,
        charts=charts,
        fmt_number=fmt_number,
        alerts=alerts,
        drift=drift,
    )

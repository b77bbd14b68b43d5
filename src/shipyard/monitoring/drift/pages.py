"""The console's drift page per service: verdict, per-feature table and charts, data quality, reference."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard.auth.principal import Principal
from shipyard.core.errors import ShipyardError
from shipyard.monitoring.drift import history
from shipyard.monitoring.drift import service as drift
from shipyard.monitoring.drift.jobs import publish
from shipyard.registry import service as registry
from shipyard.web.charts import Bars, Series, Threshold, bar_chart, line_chart
from shipyard.web.console import render
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)
HISTORY_RUNS = 100


def _charts(
    run_features: list[Any], series: dict[tuple[str, str], list[tuple[Any, float | None, bool]]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per feature: its score over time (with its threshold) and the reference vs live histogram."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for f in run_features:
        key = (f.role, f.name)
        points = [(at, value) for at, value, _ in series.get(key, [])]
        label = f.statistic.replace("_", " ")
        thresholds = [Threshold(f.threshold, "threshold")] if f.threshold is not None else []
        trend = line_chart(
            [Series(label, points)], title=f"{f.name}: {label} per run", height=150, thresholds=thresholds
        )
        hist = None
        if f.histogram:
            hist = bar_chart(
                f.histogram["labels"],
                [Bars("reference", f.histogram["reference"]), Bars("live", f.histogram["live"])],
                title=f"{f.name}: share of rows, reference vs live"
                + (" (first embedding component)" if f.kind == "text" else ""),
                height=170,
            )
        out[key] = {"trend": trend, "histogram": hist}
    return out


def _page(
    request: Request, principal: Principal, slug: str, *, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    wanted = request.query_params.get("version")
    with get_ctx(request).uow() as session:
        service = registry.to_read(session, registry.get_service(session, slug))
        owner_id = registry.get_service(session, slug).owner_id
        references = [drift.reference_read(r) for r in drift.list_references(session, slug)]
        latest = history.latest_runs(session, slug)
        versions = sorted({r.version for r in references} | {r.version for r in latest}, reverse=True)
        chosen: int | None = None
        if wanted and wanted.isdigit() and int(wanted) in versions:
            chosen = int(wanted)
        elif service.live_version in versions:
            chosen = service.live_version
        elif versions:
            chosen = versions[0]
        run = next((r for r in latest if r.version == chosen), None)
        current = None
        charts: dict[tuple[str, str], dict[str, Any]] = {}
        if run is not None:
            current = history.run_read(run, history.features_of(session, [run.id])[run.id])
            series = history.feature_history(session, slug, run.version, limit=HISTORY_RUNS)
            charts = _charts(current.features or [], series)
        recent = [history.run_read(r) for r in history.runs(session, slug, limit=20, version=chosen)]
        thresholds = drift.thresholds_read(session, slug)
    reference = next((r for r in references if r.version == chosen), None)
    return render(
        request,
        "drift.html",
        status_code=status_code,
        service=service,
        versions=versions,
        chosen=chosen,
        run=current,
        charts=charts,
        recent=recent,
        reference=reference,
        thresholds=thresholds,
        can_check=principal.can("drift:check", service=slug, service_owner=owner_id),
        flashes=[("error", error)]
        if error
        else (
            [("ok", "Checked. The results below are from this run.")]
            if request.query_params.get("flash") == "checked"
            else []
        ),
    )


@router.get("/services/{slug}/drift", response_class=HTMLResponse)
def drift_page(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> HTMLResponse:
    return _page(request, principal, slug)


@router.post("/services/{slug}/drift/check")
def check_form(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("drift:check"))]
) -> Response:
    ctx = get_ctx(request)
    try:
        with ctx.uow() as session:
            runs = drift.check_service(
                session, actor(request, principal), ctx.settings.monitoring.drift, slug
            )
            for run in runs:
                publish(session, run)
    except ShipyardError as exc:
        return _page(request, principal, slug, status_code=status_for(exc), error=exc.detail)
    return RedirectResponse(f"/services/{quote(slug)}/drift?flash=checked", status_code=303)

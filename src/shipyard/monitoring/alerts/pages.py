"""Console pages for alerts: firing / pending / resolved, one alert with its deliveries, rules, silences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from shipyard.auth.principal import Principal
from shipyard.core.errors import ShipyardError
from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.schemas import STATES, RuleUpdate, SilenceCreate
from shipyard.registry import service as registry
from shipyard.web.console import render
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("alert:read"))]
Manager = Annotated[Principal, Depends(Require("alert:manage"))]

# Fixed keys, never free text in a link.
FLASHES: dict[str, tuple[str, str]] = {
    "silenced": ("ok", "Silenced. Matching alerts still change state but notify no one until it ends."),
    "expired": ("ok", "The silence has ended; alerts it covered notify again from the next evaluation."),
    "defaults": ("ok", "The default rules are installed (existing rules of the same name were kept)."),
    "enabled": ("ok", "The rule is enabled."),
    "disabled": ("ok", "The rule is disabled; its active alerts resolve at the next evaluation."),
}


def _flashes(request: Request) -> list[tuple[str, str]]:
    found = FLASHES.get(request.query_params.get("flash", ""))
    return [found] if found else []


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, principal: Reader, state: str = "") -> HTMLResponse:
    """Active alerts (firing, then pending) by default; ?state= shows one state, resolved is the history."""
    chosen = state if state in STATES else ""
    with get_ctx(request).uow() as session:
        if chosen:
            found = alerts.list_alerts(session, state=chosen)
        else:
            found = [a for a in alerts.list_alerts(session, limit=500) if a.state != "resolved"]
    template = "_alert_rows.html" if request.headers.get("hx-request") == "true" else "alerts.html"
    return render(request, template, alerts=found, state=chosen, states=STATES, flashes=_flashes(request))


@router.get("/alerts/rules", response_class=HTMLResponse)
def rules_page(request: Request, principal: Reader) -> HTMLResponse:
    with get_ctx(request).uow() as session:
        rules = alerts.list_rules(session)
        channels = alerts.list_channels(session)
    return render(
        request,
        "alert_rules.html",
        rules=rules,
        channels=channels,
        can_manage=principal.can("alert:manage"),
        flashes=_flashes(request),
    )


def _fail(request: Request, exc: ShipyardError) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status_code=status_for(exc),
        status=status_for(exc),
        title="That did not work",
        detail=exc.detail,
    )


@router.post("/alerts/rules/defaults")
def defaults_submit(request: Request, principal: Manager) -> Response:
    ctx = get_ctx(request)
    with ctx.uow() as session:
        alerts.install_default_rules(
            session, actor(request, principal), runbook_base=ctx.settings.alerts.runbook_base_url
        )
    return RedirectResponse("/alerts/rules?flash=defaults", status_code=303)


@router.post("/alerts/rules/{rule_name}/enabled")
def enabled_submit(
    rule_name: str, request: Request, principal: Manager, enabled: Annotated[str, Form()] = ""
) -> Response:
    on = enabled == "true"
    try:
        with get_ctx(request).uow() as session:
            alerts.update_rule(session, actor(request, principal), rule_name, RuleUpdate(enabled=on))
    except ShipyardError as exc:
        return _fail(request, exc)
    return RedirectResponse(f"/alerts/rules?flash={'enabled' if on else 'disabled'}", status_code=303)


def _silences(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    ctx = get_ctx(request)
    with ctx.uow() as session:
        silences = alerts.list_silences(session, ctx.clock.now(), include_expired=True)[:100]
        rules = [r.name for r in alerts.list_rules(session)]
        services = [s.slug for s in registry.list_services(session)]
    return render(
        request,
        "alert_silences.html",
        status_code=status_code,
        silences=silences,
        rules=rules,
        services=services,
        can_manage=principal.can("alert:manage"),
        flashes=flashes if flashes is not None else _flashes(request),
    )


@router.get("/alerts/silences", response_class=HTMLResponse)
def silences_page(request: Request, principal: Reader) -> HTMLResponse:
    return _silences(request, principal)


@router.post("/alerts/silences")
def silence_submit(
    request: Request,
    principal: Manager,
    rule: Annotated[str, Form()] = "",
    service: Annotated[str, Form()] = "",
    duration: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = SilenceCreate(
            rule=rule or None,
            service=service or None,
            duration=duration.strip() or None,
            reason=reason.strip(),
        )
        with get_ctx(request).uow() as session:
            alerts.create_silence(session, actor(request, principal), data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _silences(request, principal, status_code=422, flashes=[("error", problems)])
    except ShipyardError as exc:
        return _silences(request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)])
    return RedirectResponse("/alerts/silences?flash=silenced", status_code=303)


@router.post("/alerts/silences/{silence_id}/expire")
def expire_submit(silence_id: str, request: Request, principal: Manager) -> Response:
    try:
        with get_ctx(request).uow() as session:
            alerts.expire_silence(session, actor(request, principal), silence_id)
    except ShipyardError as exc:
        return _silences(request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)])
    return RedirectResponse("/alerts/silences?flash=expired", status_code=303)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(alert_id: str, request: Request, principal: Reader) -> HTMLResponse:
    try:
        with get_ctx(request).uow() as session:
            alert = alerts.get_alert(session, alert_id)
            deliveries = alerts.list_deliveries(session, alert_id=alert_id)
    except ShipyardError as exc:
        return _fail(request, exc)
    return render(request, "alert_detail.html", alert=alert, deliveries=deliveries)

"""JSON routes for alerts: the alerts themselves, rules, silences, channels, deliveries and exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from shipyard.auth.principal import Principal
from shipyard.monitoring.alerts import exports
from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.schemas import (
    STATES,
    AlertRead,
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    DeliveryRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SilenceCreate,
    SilenceRead,
)
from shipyard.monitoring.alerts.signals import all_signals
from shipyard.web.deps import Require, actor, get_ctx

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Reader = Annotated[Principal, Depends(Require("alert:read"))]
Manager = Annotated[Principal, Depends(Require("alert:manage"))]


@router.get("", response_model=list[AlertRead])
def list_alerts(
    request: Request,
    principal: Reader,
    state: Annotated[
        str | None, Query(pattern="^(pending|firing|resolved)$", description=" | ".join(STATES))
    ] = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertRead]:
    """Alerts: firing first, then pending, then resolved (the history), newest first within each."""
    with get_ctx(request).uow() as session:
        return alerts.list_alerts(session, state=state, service=service, limit=limit)


@router.get("/signals")
def list_signals(request: Request, principal: Reader) -> list[dict[str, Any]]:
    """The signals rules can name, with their units and whether thresholds may be × the latency SLO."""
    return [
        {
            "name": s.name,
            "description": s.description,
            "unit": s.unit,
            "per_service": s.per_service,
            "slo_relative": s.slo_relative,
            "prometheus": s.promql is not None,
        }
        for s in all_signals()
    ]


# -- rules -----------------------------------------------------------------------------------------------


@router.get("/rules", response_model=list[RuleRead])
def list_rules(request: Request, principal: Reader) -> list[RuleRead]:
    with get_ctx(request).uow() as session:
        return [RuleRead.model_validate(r) for r in alerts.list_rules(session)]


@router.post("/rules", response_model=RuleRead, status_code=201)
def create_rule(request: Request, principal: Manager, body: RuleCreate) -> RuleRead:
    """Create a rule: `signal` `comparison` `threshold` over `window`, held for `for` before it fires."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        rule = alerts.create_rule(
            session, actor(request, principal), body, runbook_base=ctx.settings.alerts.runbook_base_url
        )
        return RuleRead.model_validate(rule)


@router.post("/rules/defaults", response_model=list[RuleRead], status_code=201)
def install_defaults(request: Request, principal: Manager) -> list[RuleRead]:
    """Create the default rules (over every service) that do not exist yet; answers the ones created."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        made = alerts.install_default_rules(
            session, actor(request, principal), runbook_base=ctx.settings.alerts.runbook_base_url
        )
        return [RuleRead.model_validate(r) for r in made]


@router.get("/rules/{rule_name}", response_model=RuleRead)
def get_rule(rule_name: str, request: Request, principal: Reader) -> RuleRead:
    with get_ctx(request).uow() as session:
        return RuleRead.model_validate(alerts.get_rule(session, rule_name))


@router.patch("/rules/{rule_name}", response_model=RuleRead)
def update_rule(rule_name: str, request: Request, principal: Manager, body: RuleUpdate) -> RuleRead:
    with get_ctx(request).uow() as session:
        return RuleRead.model_validate(
            alerts.update_rule(session, actor(request, principal), rule_name, body)
        )


@router.delete("/rules/{rule_name}", status_code=204)
def delete_rule(rule_name: str, request: Request, principal: Manager) -> Response:
    """Delete a rule, with its alerts and their delivery records."""
    with get_ctx(request).uow() as session:
        alerts.delete_rule(session, actor(request, principal), rule_name)
    return Response(status_code=204)


# -- silences --------------------------------------------------------------------------------------------


@router.get("/silences", response_model=list[SilenceRead])
def list_silences(request: Request, principal: Reader, include_expired: bool = False) -> list[SilenceRead]:
    ctx = get_ctx(request)
    with ctx.uow() as session:
        return alerts.list_silences(session, ctx.clock.now(), include_expired=include_expired)


@router.post("/silences", response_model=SilenceRead, status_code=201)
def create_silence(request: Request, principal: Manager, body: SilenceCreate) -> SilenceRead:
    """Mute notifications for a rule and/or a service until `ends_at` (or for `duration`). Alerts still
    change state while silenced; they are simply not notified."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        silence = alerts.create_silence(session, actor(request, principal), body)
        rule = alerts.get_rule(session, silence.rule_id) if silence.rule_id else None
        return alerts.silence_read(silence, rule.name if rule else None, ctx.clock.now())


@router.post("/silences/{silence_id}/expire", response_model=SilenceRead)
def expire_silence(silence_id: str, request: Request, principal: Manager) -> SilenceRead:
    """End a silence now."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        silence = alerts.expire_silence(session, actor(request, principal), silence_id)
        rule = alerts.get_rule(session, silence.rule_id) if silence.rule_id else None
        return alerts.silence_read(silence, rule.name if rule else None, ctx.clock.now())


# -- channels --------------------------------------------------------------------------------------------


@router.get("/channels", response_model=list[ChannelRead])
def list_channels(request: Request, principal: Reader) -> list[ChannelRead]:
    """Channels; a webhook shows only its scheme and host (the URL is a secret)."""
    with get_ctx(request).uow() as session:
        return [ChannelRead.model_validate(c) for c in alerts.list_channels(session)]


@router.post("/channels", response_model=ChannelRead, status_code=201)
def create_channel(request: Request, principal: Manager, body: ChannelCreate) -> ChannelRead:
    """A webhook (`url`, a Slack-compatible JSON POST) or e-mail (`recipients`, through the SMTP settings)."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        channel = alerts.create_channel(
            session, actor(request, principal), body, secret=ctx.settings.secret()
        )
        return ChannelRead.model_validate(channel)


@router.patch("/channels/{channel_name}", response_model=ChannelRead)
def update_channel(
    channel_name: str, request: Request, principal: Manager, body: ChannelUpdate
) -> ChannelRead:
    ctx = get_ctx(request)
    with ctx.uow() as session:
        channel = alerts.update_channel(
            session, actor(request, principal), channel_name, body, secret=ctx.settings.secret()
        )
        return ChannelRead.model_validate(channel)


@router.delete("/channels/{channel_name}", status_code=204)
def delete_channel(channel_name: str, request: Request, principal: Manager) -> Response:
    """Delete a channel no rule uses any more."""
    with get_ctx(request).uow() as session:
        alerts.delete_channel(session, actor(request, principal), channel_name)
    return Response(status_code=204)


# -- deliveries and exports ---------------------------------------------------------------------------------


@router.get("/deliveries", response_model=list[DeliveryRead])
def list_deliveries(
    request: Request,
    principal: Reader,
    alert_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeliveryRead]:
    """Every notification attempt, newest first: which channel, which event, attempt number, ok or error."""
    with get_ctx(request).uow() as session:
        return alerts.list_deliveries(session, alert_id=alert_id, limit=limit)


@router.get("/export/prometheus", response_class=PlainTextResponse)
def export_prometheus(request: Request, principal: Reader) -> PlainTextResponse:
    """Prometheus alerting rules (YAML) equivalent to the enabled Shipyard rules."""
    with get_ctx(request).uow() as session:
        text = exports.prometheus_rules(session).yaml()
    return PlainTextResponse(text, media_type="application/yaml")


@router.get("/export/grafana")
def export_grafana(request: Request, principal: Reader) -> dict[str, Any]:
    """A Grafana dashboard (JSON model) with the same signals as panels."""
    with get_ctx(request).uow() as session:
        return exports.grafana_dashboard(session)


@router.get("/{alert_id}", response_model=AlertRead)
def get_alert(alert_id: str, request: Request, principal: Reader) -> AlertRead:
    with get_ctx(request).uow() as session:
        return alerts.get_alert(session, alert_id)

"""`shipyard alerts`: rules, channels, silences, the alerts themselves, and Prometheus/Grafana exports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for

alerts_app = typer.Typer(help="Alert rules, channels, silences and exports.", no_args_is_help=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@alerts_app.command("list")
def alerts_list(
    state: str | None = typer.Option(None, help="pending, firing or resolved (default: all)."),
    home: Path | None = HomeOption,
) -> None:
    """Alerts, firing first."""
    from shipyard.monitoring.alerts import service as alerts

    table = Table("state", "rule", "service", "value", "threshold", "since (UTC)", "id")
    with session_for(home) as (_, session):
        for a in alerts.list_alerts(session, state=state):
            value = "-" if a.value is None else f"{a.value:.4g}"
            silenced = " (silenced)" if a.silenced and a.state != "resolved" else ""
            table.add_row(
                a.state + silenced,
                a.rule,
                a.service,
                value,
                f"{a.comparison} {a.threshold:.4g}",
                a.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                a.id,
            )
    console.print(table)


@alerts_app.command("rules")
def rules_list(home: Path | None = HomeOption) -> None:
    """List the alert rules."""
    from shipyard.monitoring.alerts import service as alerts

    table = Table("name", "condition", "service", "for", "severity", "channels", "enabled")
    with session_for(home) as (_, session):
        for r in alerts.list_rules(session):
            unit = " × SLO" if r.threshold_unit == "slo" else ""
            table.add_row(
                r.name,
                f"{r.signal} {r.comparison} {r.threshold:g}{unit} over {r.window_s}s",
                r.service or "every service",
                f"{r.for_s}s",
                r.severity,
                ", ".join(r.channels) or "-",
                "yes" if r.enabled else "no",
            )
    console.print(table)


@alerts_app.command("add-rule")
def add_rule(
    name: str,
    signal: str = typer.Option(
        ..., help="e.g. error_rate, p95_latency_ms, fallback_rate (see docs/alerts.md)."
    ),
    threshold: float = typer.Option(...),
    comparison: str = typer.Option(">", help="> >= < <="),
    slo: bool = typer.Option(False, "--slo", help="The threshold is a multiple of the latency SLO."),
    window: str = typer.Option("5m"),
    for_: str = typer.Option("0", "--for", help="How long the condition must hold before it fires."),
    service: str | None = typer.Option(None, help="One service (default: every service)."),
    severity: str = typer.Option("warning", help="info, warning or critical."),
    channel: list[str] = typer.Option([], help="A channel to notify (repeat for several)."),
    runbook: str = typer.Option("", help="Runbook link (default: the signal's runbook page)."),
    home: Path | None = HomeOption,
) -> None:
    """Create an alert rule."""
    from pydantic import ValidationError

    from shipyard.monitoring.alerts import service as alerts
    from shipyard.monitoring.alerts.schemas import RuleCreate

    try:
        data = RuleCreate.model_validate(
            {
                "name": name,
                "signal": signal,
                "threshold": threshold,
                "comparison": comparison,
                "threshold_unit": "slo" if slo else "value",
                "window": window,
                "for": for_,
                "service": service,
                "severity": severity,
                "channels": channel,
                "runbook_url": runbook,
            }
        )
    except ValidationError as exc:
        _fail(f"invalid rule:\n{exc}")
        return
    with session_for(home) as (settings, session):
        alerts.create_rule(session, cli_actor(), data, runbook_base=settings.alerts.runbook_base_url)
    console.print(f"Created alert rule [bold]{name}[/bold]")


def _install_defaults_help() -> str:
    # From the rules themselves, so the help cannot fall behind the list (a module of plain data).
    from shipyard.monitoring.alerts.defaults import DEFAULT_RULES

    return (
        f"Create the {len(DEFAULT_RULES)} default rules over every service: "
        + ", ".join(rule["name"] for rule in DEFAULT_RULES)
        + ". Rules that already exist by name are kept as they are."
    )


@alerts_app.command("install-defaults", help=_install_defaults_help())
def install_defaults(
    channel: list[str] = typer.Option([], help="A channel the default rules notify (repeat for several)."),
    home: Path | None = HomeOption,
) -> None:
    from shipyard.monitoring.alerts import service as alerts

    with session_for(home) as (settings, session):
        made = alerts.install_default_rules(
            session, cli_actor(), runbook_base=settings.alerts.runbook_base_url, channels=channel
        )
        names = [r.name for r in made]
    console.print(f"Created {len(names)} rule(s){': ' + ', '.join(names) if names else ' (all existed)'}")


def _set_enabled(name: str, enabled: bool, home: Path | None) -> None:
    from shipyard.monitoring.alerts import service as alerts
    from shipyard.monitoring.alerts.schemas import RuleUpdate

    with session_for(home) as (_, session):
        alerts.update_rule(session, cli_actor(), name, RuleUpdate(enabled=enabled))
    console.print(f"{name} {'enabled' if enabled else 'disabled'}")


@alerts_app.command("enable")
def enable(name: str, home: Path | None = HomeOption) -> None:
    """Enable a rule."""
    _set_enabled(name, True, home)


@alerts_app.command("disable")
def disable(name: str, home: Path | None = HomeOption) -> None:
    """Disable a rule (its active alerts resolve at the next evaluation)."""
    _set_enabled(name, False, home)


@alerts_app.command("delete-rule")
def delete_rule(name: str, home: Path | None = HomeOption) -> None:
    """Delete a rule with its alerts and their delivery records."""
    from shipyard.monitoring.alerts import service as alerts

    with session_for(home) as (_, session):
        alerts.delete_rule(session, cli_actor(), name)
    console.print(f"Deleted alert rule {name}")


@alerts_app.command("add-webhook")
def add_webhook(
    name: str,
    url: str = typer.Option("-", help="The webhook URL; '-' (the default) reads it from standard input."),
    home: Path | None = HomeOption,
) -> None:
    """Add a webhook channel (a Slack-compatible JSON POST). The URL is stored sealed, never shown again."""
    from shipyard.monitoring.alerts import service as alerts
    from shipyard.monitoring.alerts.schemas import ChannelCreate

    if url == "-":
        url = sys.stdin.readline().strip()
    with session_for(home) as (settings, session):
        channel = alerts.create_channel(
            session, cli_actor(), ChannelCreate(name=name, kind="webhook", url=url), secret=settings.secret()
        )
        hint = channel.url_hint
    console.print(f"Created webhook channel [bold]{name}[/bold] ({hint})")


@alerts_app.command("add-email")
def add_email(
    name: str,
    to: list[str] = typer.Option(..., help="A recipient (repeat for several)."),
    home: Path | None = HomeOption,
) -> None:
    """Add an e-mail channel (sent through SHIPYARD_ALERTS__SMTP__*)."""
    from shipyard.monitoring.alerts import service as alerts
    from shipyard.monitoring.alerts.schemas import ChannelCreate

    with session_for(home) as (settings, session):
        alerts.create_channel(
            session,
            cli_actor(),
            ChannelCreate(name=name, kind="email", recipients=to),
            secret=settings.secret(),
        )
    console.print(f"Created e-mail channel [bold]{name}[/bold] ({', '.join(to)})")


@alerts_app.command("channels")
def channels_list(home: Path | None = HomeOption) -> None:
    """List the channels (a webhook shows only its scheme and host)."""
    from shipyard.monitoring.alerts import service as alerts

    table = Table("name", "kind", "target", "enabled")
    with session_for(home) as (_, session):
        for c in alerts.list_channels(session):
            target = c.url_hint if c.kind == "webhook" else ", ".join(c.recipients)
            table.add_row(c.name, c.kind, target or "-", "yes" if c.enabled else "no")
    console.print(table)


@alerts_app.command("silence")
def silence(
    rule: str | None = typer.Option(None, help="A rule's name (default: every rule)."),
    service: str | None = typer.Option(None, help="A service (default: every service)."),
    for_: str = typer.Option("2h", "--for", help="How long, e.g. 30m, 2h, 1d."),
    reason: str = typer.Option(..., "--reason", "-r"),
    home: Path | None = HomeOption,
) -> None:
    """Silence notifications for a rule and/or a service; alerts still change state meanwhile."""
    from shipyard.monitoring.alerts import service as alerts
    from shipyard.monitoring.alerts.schemas import SilenceCreate

    try:
        data = SilenceCreate(rule=rule, service=service, duration=for_, reason=reason)
    except ValueError as exc:
        _fail(str(exc))
        return
    with session_for(home) as (_, session):
        made = alerts.create_silence(session, cli_actor(), data)
        silence_id, ends = made.id, made.ends_at
    console.print(f"Silenced until {ends.strftime('%Y-%m-%d %H:%M:%S')} UTC (id {silence_id})")


@alerts_app.command("silences")
def silences_list(home: Path | None = HomeOption) -> None:
    """List silences that have not ended."""
    from shipyard.core.clock import Clock
    from shipyard.monitoring.alerts import service as alerts

    table = Table("id", "rule", "service", "until (UTC)", "by", "reason")
    with session_for(home) as (_, session):
        for s in alerts.list_silences(session, Clock().now()):
            table.add_row(
                s.id,
                s.rule or "every rule",
                s.service or "every service",
                s.ends_at.strftime("%Y-%m-%d %H:%M:%S"),
                s.created_by,
                s.reason,
            )
    console.print(table)


@alerts_app.command("expire-silence")
def expire_silence(silence_id: str, home: Path | None = HomeOption) -> None:
    """End a silence now."""
    from shipyard.monitoring.alerts import service as alerts

    with session_for(home) as (_, session):
        alerts.expire_silence(session, cli_actor(), silence_id)
    console.print(f"Silence {silence_id} ended")


@alerts_app.command("export-prometheus")
def export_prometheus(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
    home: Path | None = HomeOption,
) -> None:
    """Prometheus alerting rules equivalent to the enabled Shipyard rules (check: promtool check rules)."""
    from shipyard.monitoring.alerts import exports

    with session_for(home) as (_, session):
        export = exports.prometheus_rules(session)
    _write(export.yaml(), output)
    for why in export.skipped:
        err.print(f"[yellow]not exported:[/yellow] {why}")


@alerts_app.command("export-grafana")
def export_grafana(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
    home: Path | None = HomeOption,
) -> None:
    """A Grafana dashboard (JSON) with the same signals; import it in Grafana (Dashboards > Import)."""
    from shipyard.monitoring.alerts import exports

    with session_for(home) as (_, session):
        dashboard = exports.grafana_dashboard(session)
    _write(json.dumps(dashboard, indent=2) + "\n", output)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        err.print(f"Wrote {output}")

"""The Prometheus rules and the Grafana dashboard: valid under Debian's `promtool check rules`, and
equivalent to the Shipyard rules (thresholds × SLO per service, runbook links, `for` durations)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import yaml

from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.exports import (
    PrometheusExport,
    alert_name,
    grafana_dashboard,
    prometheus_rules,
    to_yaml,
)
from shipyard.monitoring.alerts.signals import _SIGNALS, register_signal
from shipyard.registry import service as registry
from shipyard.registry.schemas import ServiceUpdate
from tests.factories import World, bearer
from tests.monitoring.alerts.helpers import rule

PROMTOOL = shutil.which("promtool")


def promtool_check(path: Path) -> str:
    assert PROMTOOL, "promtool is missing: apt-get install -y prometheus (scripts/test installs it)"
    done = subprocess.run(
        [PROMTOOL, "check", "rules", "--lint-fatal", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


async def test_prometheus_rules_pass_promtool_and_match_the_shipyard_rules(
    world: World, tmp_path: Path
) -> None:
    world.service("echo")  # latency SLO 1000 ms
    world.service("fast")
    with world.ctx.uow() as s:
        registry.update_service(s, world.actor(), "fast", ServiceUpdate(latency_slo_ms=250))
        alerts.install_default_rules(s, world.actor(), runbook_base="https://wiki.example.com/runbooks")
    rule(
        world,
        "echo-volume-drop",
        "call_volume",
        10,
        comparison="<",
        service="echo",
        window="1h",
        **{"for": "15m"},
    )
    register_signal("constant", lambda q: {})
    try:
        rule(world, "no-promql", "constant", 1)
        export = prometheus_rules_for(world)
    finally:
        _SIGNALS.pop("constant")
    assert export.skipped == ["no-promql: signal constant has no PromQL equivalent"]

    path = tmp_path / "shipyard.rules.yml"
    path.write_text(export.yaml())
    out = promtool_check(path)
    parsed = yaml.safe_load(path.read_text())
    (group,) = parsed["groups"]
    by_name: dict[str, list[dict[str, object]]] = {}
    for entry in group["rules"]:
        by_name.setdefault(entry["alert"], []).append(entry)
    # The default rules, the echo rule; slow-replies once per service with that service's SLO.
    assert f"SUCCESS: {len(group['rules'])} rules found" in out and len(group["rules"]) == 11
    (drift,) = by_name["ShipyardDriftDetected"]
    assert drift["expr"] == "(max by (service) (shipyard_drift_detected)) > 0"
    (accuracy,) = by_name["ShipyardAccuracyDrop"]
    assert accuracy["expr"] == "(min by (service) (shipyard_accuracy)) < 0.85" and accuracy["for"] == "1h"
    (errors,) = by_name["ShipyardHighErrorRate"]
    assert errors["for"] == "5m" and errors["labels"] == {
        "severity": "critical",
        "shipyard_rule": "high-error-rate",
    }
    assert errors["annotations"]["runbook_url"] == "https://wiki.example.com/runbooks/high-error-rate.md"
    assert errors["expr"] == (
        '(sum by (service) (rate(shipyard_calls_total{outcome="failed"}[5m])) / '
        "sum by (service) (rate(shipyard_calls_total[5m]))) > 0.05"
    )
    slow = {e["expr"].rsplit(" > ", 1)[1]: e["expr"] for e in by_name["ShipyardSlowReplies"]}
    assert set(slow) == {"1000", "250"}
    assert 'service="fast"' in slow["250"] and 'service="echo"' in slow["1000"]
    (volume,) = by_name["ShipyardEchoVolumeDrop"]
    assert volume["expr"] == '(sum by (service) (increase(shipyard_calls_total{service="echo"}[1h]))) < 10'
    assert volume["for"] == "15m"
    (backlog,) = by_name["ShipyardReviewBacklog"]
    assert backlog["expr"] == "(max by (service) (shipyard_review_held_oldest_age_seconds)) > 1800"
    assert backlog["for"] == "0s"
    assert backlog["annotations"]["runbook_url"] == "https://wiki.example.com/runbooks/review-backlog.md"
    (breaker,) = by_name["ShipyardBreakerOpen"]
    assert breaker["expr"] == "(count by (service) (shipyard_breaker_state == 2)) > 0"


def prometheus_rules_for(world: World) -> PrometheusExport:
    with world.ctx.uow() as s:
        return prometheus_rules(s)


def test_alert_names_and_yaml_edge_cases() -> None:
    assert alert_name("high-error-rate") == "ShipyardHighErrorRate"
    assert alert_name("p95.latency_echo") == "ShipyardP95LatencyEcho"
    text = to_yaml({"a": [], "b": {}, "c": [{"d": 'x "quoted" {{ $labels.service }}'}], "e": None, "f": 1.5})
    assert yaml.safe_load(text) == {
        "a": [],
        "b": {},
        "c": [{"d": 'x "quoted" {{ $labels.service }}'}],
        "e": None,
        "f": 1.5,
    }


async def test_grafana_dashboard_has_the_panels_and_every_expression_parses(
    world: World, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    world.service("echo")
    world.service("fast")
    with world.ctx.uow() as s:
        dashboard = json.loads(json.dumps(grafana_dashboard(s)))  # plain JSON
    assert dashboard["schemaVersion"] >= 39 and dashboard["uid"] == "shipyard-overview"
    titles = [p["title"] for p in dashboard["panels"]]
    assert titles == [
        "Calls per service",
        "Error rate",
        "p95 latency vs SLO",
        "Fallbacks",
        "Abstentions",
        "Circuit breaker state (0 closed, 1 half-open, 2 open)",
        "Spool backlog",
        "Drift score",
        "Review backlog (open tasks, held calls)",
        "Oldest open review task waiting",
        "Dynamic batches: p95 model time and wait",
    ]
    assert len({p["id"] for p in dashboard["panels"]}) == len(titles)
    latency = dashboard["panels"][2]
    assert [t["legendFormat"] for t in latency["targets"]] == [
        "{{service}} p95",
        "{{service}} SLO",
        "{{service}} SLO",
    ]
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "service"}

    # Grafana fills in $__rate_interval and $service; with values in their place each expression must parse.
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = [
        {"alert": f"Panel{i}", "expr": e.replace("$__rate_interval", "5m").replace("$service", ".*")}
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "panels.yml"
    path.write_text(to_yaml({"groups": [{"name": "panels", "rules": rules}]}))
    assert f"SUCCESS: {len(exprs)} rules found" in promtool_check(path)

    admin = bearer(world.user_with_key("ada", ["admin"]))
    r = await client.get("/v1/alerts/export/grafana", headers=admin)
    assert r.status_code == 200 and r.json()["panels"][0]["title"] == "Calls per service"
    r = await client.get("/v1/alerts/export/prometheus", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(r.text) == {"groups": [{"name": "shipyard", "rules": []}]}

"""`shipyard alerts` as a real subprocess against a fresh instance: channels, rules, silences, and an
export that promtool accepts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shipyard.cli.app import app
from shipyard.monitoring.alerts.defaults import DEFAULT_RULES
from tests.monitoring.alerts.test_exports import promtool_check
from tests.test_cli import cli, cli_many, ok


def test_alerts_commands_end_to_end(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    ok(cli("init", "--no-examples", home=home))
    webhook, email, bad = cli_many(
        ("alerts", "add-webhook", "ops"),  # the URL from standard input (so not in argv): here, none
        ("alerts", "add-email", "oncall", "--to", "oncall@example.com"),
        ("alerts", "add-rule", "x", "--signal", "errors", "--threshold", "1"),
        home=home,
    )
    assert webhook.returncode == 1 and "webhook url" in webhook.stderr
    assert bad.returncode == 1 and "unknown_signal" in bad.stderr
    ok(email)
    out = ok(cli("alerts", "install-defaults", "--channel", "oncall", home=home))
    assert "Created 9 rule(s): high-error-rate" in out
    ok(
        cli(
            "alerts",
            "add-rule",
            "slow-p99",
            "--signal",
            "p95_latency_ms",
            "--threshold",
            "2",
            "--slo",
            "--window",
            "15m",
            "--for",
            "10m",
            "--severity",
            "critical",
            "--channel",
            "oncall",
            home=home,
        )
    )
    silenced = ok(cli("alerts", "silence", "--rule", "slow-p99", "--for", "1h", "-r", "load test", home=home))
    silence_id = silenced.split("(id ")[1].rstrip(")\n")
    rules, silences, channels = cli_many(
        ("alerts", "rules"), ("alerts", "silences"), ("alerts", "channels"), home=home
    )
    assert "slow-p99" in ok(rules) and "× SLO" in rules.stdout and "oncall" in rules.stdout
    assert "load test" in ok(silences) and "oncall@example.com" in ok(channels)
    for result in cli_many(
        ("alerts", "expire-silence", silence_id), ("alerts", "disable", "spool-backlog"), home=home
    ):
        ok(result)

    rules_file, dashboard_file = tmp_path / "rules.yml", tmp_path / "dashboard.json"
    exported = cli_many(
        ("alerts", "export-prometheus", "-o", str(rules_file)),
        ("alerts", "export-grafana", "-o", str(dashboard_file)),
        home=home,
    )
    for result in exported:
        ok(result)
    text = rules_file.read_text()
    assert "ShipyardHighErrorRate" in text and "ShipyardSpoolBacklog" not in text  # disabled: not exported
    # No service yet: a × SLO threshold has no SLO to multiply, and the command says so.
    assert "ShipyardSlowP99" not in text
    assert "not exported: slow-p99: no service yet" in exported[0].stderr
    assert f"SUCCESS: {text.count('- alert:')} rules found" in promtool_check(rules_file)
    assert json.loads(dashboard_file.read_text())["title"] == "Shipyard"


def test_install_defaults_help_names_every_default_rule() -> None:
    result = CliRunner().invoke(app, ["alerts", "install-defaults", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the help wraps at 80 columns, never inside a rule's name
    names = ", ".join(rule["name"] for rule in DEFAULT_RULES)
    assert f"Create the {len(DEFAULT_RULES)} default rules over every service: {names}." in text

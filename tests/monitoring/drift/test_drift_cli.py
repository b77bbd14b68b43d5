"""`shipyard drift`, run as real subprocesses against an instance folder."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker
from tests.monitoring.drift.live import SCHEMA, jsonl, rows
from tests.test_cli import cli, cli_many, fails, ok


def test_reference_thresholds_and_check_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(cli("init", "--no-examples", home=home))
    spec = tmp_path / "scorer.json"
    spec.write_text(json.dumps({"slug": "scorer", "name": "Scorer", "input_schema": SCHEMA}))
    ok(cli("services", "create", str(spec), home=home))
    register = (
        "versions",
        "register",
        "scorer",
        "--loader",
        "callable",
        "--entrypoint",
        "json:dumps",
    )
    ok(cli(*register, "--live", home=home))
    good, bad = tmp_path / "ref.jsonl", tmp_path / "bad.jsonl"
    good.write_bytes(jsonl(rows(120, seed=1)))
    bad.write_bytes(b'{"x": 1}\n{"x": \n')
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"ks_statistic": 0.05}))
    out = ok(cli("drift", "reference", "upload", "scorer", "1", str(good), "--kind", "plan=text", home=home))
    assert "Reference for scorer v1: 120 rows" in out and "plan (text)" in out
    shown, thresholds, failed, unknown, rebuilt, bad_since = cli_many(
        ("drift", "reference", "show", "scorer", "1"),
        ("drift", "thresholds", "scorer", "--set", str(limits)),
        ("drift", "reference", "upload", "scorer", "1", str(bad)),
        ("drift", "reference", "show", "scorer", "7"),
        ("rollups", "rebuild", "--since", "2d"),  # the dashboard's backfill, on the same instance
        ("rollups", "rebuild", "--since", "soon"),
        home=home,
    )
    assert "Rebuilt 0 minute, 0 hour and 0 day bucket(s) since 2d ago" in ok(rebuilt)  # no calls yet
    fails(bad_since, "--since", "is not a duration")
    assert json.loads(ok(shown))["source"] == "upload:jsonl"
    assert json.loads(ok(thresholds))["overrides"] == {"ks_statistic": 0.05}
    fails(failed, "bad_file", "line 2 is not valid JSON")
    fails(unknown, "not_found", "no version 7")
    out = ok(cli("drift", "check", "scorer", home=home))
    assert "insufficient data" in out  # no recorded calls yet
    engine = make_engine(f"sqlite:///{home / 'shipyard.db'}")
    try:
        with make_sessionmaker(engine)() as s:
            actions = s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith("drift."))
                .order_by(AuditEvent.seq)
            ).all()
    finally:
        engine.dispose()
    assert actions == ["drift.reference.set", "drift.thresholds.set", "drift.check"]

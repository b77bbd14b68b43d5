"""The `shipyard` command, run as real subprocesses against one instance folder for the module."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.audit.models import AuditEvent
from shipyard.auth.models import ApiKey, User
from shipyard.core.crypto import token_digest, verify_password
from shipyard.db.engine import make_engine
from shipyard.db.migrate import alembic_config
from shipyard.db.session import make_sessionmaker
from shipyard.registry.models import ModelVersion, Service
from tests.factories import ECHO_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SHIPYARD = Path(sys.executable).parent / "shipyard"
CLI_ACTOR = f"cli:{getpass.getuser()}"
TWO_FEATURES = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


def cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(COLUMNS="250", NO_COLOR="1", TERM="dumb")
    command = [str(SHIPYARD), *args] + (["--home", str(home)] if home else [])
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def cli_many(*commands: tuple[str, ...], home: Path) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands at once (each CLI start costs seconds of imports)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda c: cli(*c, home=home), commands))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def fails(result: subprocess.CompletedProcess[str], *phrases: str, code: int = 1) -> str:
    """A clean failure: the exit code, the phrases on stderr, no traceback."""
    assert result.returncode == code, f"{result.args}\n{result.stdout}\n{result.stderr}"
    text = result.stderr + result.stdout
    assert "Traceback" not in text, text
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{text}"
    return text


@dataclass
class Instance:
    home: Path
    init: subprocess.CompletedProcess[str]

    @contextmanager
    def db(self) -> Iterator[Session]:
        engine = make_engine(f"sqlite:///{self.home / 'shipyard.db'}")
        try:
            with make_sessionmaker(engine)() as session:
                yield session
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    home = tmp_path_factory.mktemp("cli") / "home"
    return Instance(home, cli("init", home=home))


# --- init -----------------------------------------------------------------------------------------


def test_init_creates_the_instance_admin_and_example_service(instance: Instance) -> None:
    out = ok(instance.init)
    assert "Created" in out and str(instance.home) in out
    match = re.search(r"password: (\S+)", out)
    assert match and "username: admin" in out
    assert "Registered example service claims-triage and made version 1 live" in out
    assert (instance.home / "shipyard.db").is_file()
    assert stat.S_IMODE((instance.home / "secret.key").stat().st_mode) == 0o600
    with instance.db() as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.roles == ["admin"] and admin.is_active
        assert admin.password_hash and verify_password(admin.password_hash, match.group(1))
        service = s.scalar(select(Service).where(Service.slug == "claims-triage"))
        assert service is not None and service.live_version_id is not None
        live = s.get(ModelVersion, service.live_version_id)
        assert live is not None and live.number == 1 and live.loader == "joblib"


def test_init_again_reuses_the_instance(instance: Instance) -> None:
    out = ok(cli("init", home=instance.home))
    assert "Reusing the instance" in out
    assert "password" not in out and "Registered example" not in out
    with instance.db() as s:
        assert s.scalars(select(User.username)).all() == ["admin"]  # no second admin
        assert s.scalar(select(func.count()).select_from(Service).where(Service.slug == "claims-triage")) == 1
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == 2  # claims-triage, the assistant


# --- users ----------------------------------------------------------------------------------------


def test_users_create_list_roles_disable_enable_reset(instance: Instance) -> None:
    home = instance.home
    created = ok(
        cli("users", "create", "bob", "--roles", "owner,reviewer", "--email", "bob@example.com", home=home)
    )
    first = re.search(r"one-time password: (\S+)", created)
    assert first and "Created bob" in created

    ok(cli("users", "set-roles", "bob", "analyst,reviewer", home=home))
    with instance.db() as s:
        bob = s.scalar(select(User).where(User.username == "bob"))
        assert bob is not None and bob.roles == ["analyst", "reviewer"] and bob.email == "bob@example.com"
        assert bob.password_hash and verify_password(bob.password_hash, first.group(1))

    ok(cli("users", "disable", "bob", home=home))
    with instance.db() as s:
        assert s.scalar(select(User.is_active).where(User.username == "bob")) is False
    listing = ok(cli("users", "list", home=home))
    assert re.search(r"bob\s*│\s*analyst, reviewer\s*│\s*no\s*│", listing), listing
    assert re.search(r"admin\s*│\s*admin\s*│\s*yes\s*│", listing), listing

    ok(cli("users", "enable", "bob", home=home))
    reset = ok(cli("users", "reset-password", "bob", home=home))
    second = re.search(r"New password for bob: (\S+)", reset)
    assert second and second.group(1) != first.group(1)
    with instance.db() as s:
        bob = s.scalar(select(User).where(User.username == "bob"))
        assert bob is not None and bob.is_active
        assert bob.password_hash and verify_password(bob.password_hash, second.group(1))
        assert not verify_password(bob.password_hash, first.group(1))
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == "bob").order_by(AuditEvent.seq)
        ).all()
        actors = set(s.scalars(select(AuditEvent.actor).where(AuditEvent.target_id == "bob")))
    assert actions == ["user.create", "user.update", "user.update", "user.update", "user.password_reset"]
    assert actors == {CLI_ACTOR}


def test_users_invalid_input_is_a_clear_error(instance: Instance) -> None:
    unknown_role, bad_set_roles, duplicate, no_such_user = cli_many(
        ("users", "create", "eve", "--roles", "wizard"),
        ("users", "set-roles", "admin", "admin,wizard"),
        ("users", "create", "admin", "--roles", "consumer"),
        ("users", "disable", "nobody"),
        home=instance.home,
    )
    fails(unknown_role, "invalid user", "unknown roles ['wizard']")
    fails(bad_set_roles, "invalid roles", "wizard")
    fails(duplicate, "conflict", "already exists")
    fails(no_such_user, "not_found", "nobody")
    with instance.db() as s:
        assert s.scalar(select(User).where(User.username == "eve")) is None
        assert s.scalar(select(User.roles).where(User.username == "admin")) == ["admin"]


# --- keys -----------------------------------------------------------------------------------------


def test_keys_create_list_revoke(instance: Instance) -> None:
    home = instance.home
    ok(cli("users", "create", "kim", "--roles", "owner,consumer", home=home))
    out = ok(
        cli(*"keys create --user kim --name ci --roles consumer --services claims-triage".split(), home=home)
    )
    match = re.search(r"(sy_[A-Za-z0-9_-]{20,})", out)
    assert match and "shown only once" in out
    secret = match.group(1)
    with instance.db() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.digest == token_digest(secret)))
        assert key is not None and key.name == "ci" and key.roles == ["consumer"]
        assert key.services == ["claims-triage"] and key.expires_at is not None and key.revoked_at is None
        key_id, prefix = key.id, key.prefix
        event = s.scalar(
            select(AuditEvent).where(AuditEvent.action == "key.create", AuditEvent.target_id == key_id)
        )
        assert event is not None and event.actor == CLI_ACTOR  # who ran the command, like every CLI change
        assert secret not in json.dumps(event.after)

    listing = ok(cli("keys", "list", "--user", "kim", home=home))
    assert key_id in listing and prefix in listing and "claims-triage" in listing
    assert secret not in listing

    revoked = ok(cli("keys", "revoke", key_id, home=home))
    assert prefix in revoked
    with instance.db() as s:
        assert s.scalar(select(ApiKey.revoked_at).where(ApiKey.id == key_id)) is not None

    beyond_owner, unknown_role = cli_many(
        ("keys", "create", "--user", "kim", "--roles", "admin"),
        ("keys", "create", "--user", "kim", "--roles", "wizard"),
        home=home,
    )
    fails(beyond_owner, "forbidden", "cannot grant roles you do not hold")
    fails(unknown_role, "invalid key", "unknown roles ['wizard']")


# --- services and versions ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import joblib
    from sklearn.linear_model import LogisticRegression

    x = [[0.0, 0.1], [0.2, 0.0], [0.1, 0.3], [1.0, 0.9], [0.9, 1.1], [1.2, 1.0]]
    model = LogisticRegression().fit(x, [0, 0, 0, 1, 1, 1])
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    joblib.dump(model, path)
    return path


def test_services_and_versions(instance: Instance, model_file: Path, tmp_path: Path) -> None:
    home = instance.home
    spec = tmp_path / "points.json"
    description = {"slug": "points", "name": "Points", "owner": "admin", "input_schema": TWO_FEATURES}
    spec.write_text(json.dumps({**description, "timeout_ms": 1500}))
    assert "Created service points" in ok(cli("services", "create", str(spec), home=home))

    listing, shown = cli_many(("services", "list"), ("services", "show", "points"), home=home)
    assert re.search(r"points\s*│\s*Points\s*│\s*admin\s*│\s*-\s*│\s*serving", ok(listing)), listing.stdout
    assert re.search(r"claims-triage\s*│.*│\s*v1\s*│\s*serving", listing.stdout)
    data = json.loads(ok(shown))
    assert data["slug"] == "points" and data["input_schema"] == TWO_FEATURES
    assert data["timeout_ms"] == 1500 and data["live_version"] is None and data["paused"] is False

    register = ("versions", "register", "points", "--loader", "joblib", "--artifact", str(model_file))
    config = ("--config", json.dumps({"input_format": "array"}))
    out = ok(cli(*register, *config, "--confidence", "--live", home=home))
    assert "Registered points v1 and made it live" in out
    out = ok(cli(*register, *config, "--description", "same model, again", home=home))
    assert "Registered points v2" in out and "live" not in out

    versions_out = ok(cli("versions", "list", "points", home=home))
    assert re.search(r"v1\s*│\s*joblib.*live", versions_out) and re.search(r"v2\s*│\s*joblib", versions_out)
    assert "live" not in next(line for line in versions_out.splitlines() if "v2" in line)

    assert "points: v2 is live" in ok(cli("versions", "live", "points", "2", home=home))
    with instance.db() as s:
        service = s.scalar(select(Service).where(Service.slug == "points"))
        assert service is not None
        versions = {
            v.number: v for v in s.scalars(select(ModelVersion).where(ModelVersion.service_id == service.id))
        }
        assert service.live_version_id == versions[2].id
        digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
        assert versions[1].artifact_sha256 == versions[2].artifact_sha256 == digest  # content-addressed
        assert versions[1].returns_confidence and versions[1].config == {"input_format": "array"}
        assert versions[1].created_by == CLI_ACTOR
        actions = s.scalars(
            select(AuditEvent.action).where(AuditEvent.service == "points").order_by(AuditEvent.seq)
        ).all()
    assert actions == ["service.create", "version.create", "version.live", "version.create", "version.live"]
    assert (home / "artifacts").is_dir()


def test_services_and_versions_invalid_input(instance: Instance, tmp_path: Path) -> None:
    bad_schema = tmp_path / "bad-schema.json"
    bad_schema.write_text(
        json.dumps({"slug": "broken", "name": "Broken", "input_schema": {"type": "nonsense"}})
    )
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps({"slug": "claims-triage", "name": "Again", "input_schema": ECHO_SCHEMA}))
    schema_err, duplicate, no_version, bad_config = cli_many(
        ("services", "create", str(bad_schema)),
        ("services", "create", str(dup)),
        ("versions", "live", "claims-triage", "9"),
        ("versions", "register", "claims-triage", "--loader", "joblib", "--config", "{not json"),
        home=instance.home,
    )
    fails(schema_err, "invalid service description", "not a valid JSON Schema")
    fails(duplicate, "conflict", "already exists")
    fails(no_version, "not_found", "no version 9")
    fails(bad_config, "--config is not valid JSON")
    with instance.db() as s:
        assert s.scalar(select(Service).where(Service.slug == "broken")) is None


# --- pause and resume -----------------------------------------------------------------------------


def test_pause_and_resume(instance: Instance) -> None:
    home = instance.home
    empty_reason, no_reason, resume_running = cli_many(
        ("pause", "claims-triage", "--reason", "   "),
        ("pause", "claims-triage"),
        ("resume", "claims-triage"),
        home=home,
    )
    fails(empty_reason, "invalid_input", "needs a reason")
    fails(no_reason, "Missing option", "--reason", code=2)  # Click's usage-error exit status
    fails(resume_running, "conflict", "not paused")

    out = ok(cli("pause", "claims-triage", "--reason", "drift on region EU", home=home))
    assert "claims-triage paused" in out and "drift on region EU" in out
    with instance.db() as s:
        service = s.scalar(select(Service).where(Service.slug == "claims-triage"))
        assert service is not None and service.paused and service.paused_by == CLI_ACTOR
        assert service.paused_reason == "drift on region EU" and service.paused_at is not None
    assert f"paused ({CLI_ACTOR}: drift on region EU)" in ok(cli("services", "list", home=home))

    assert "claims-triage resumed" in ok(cli("resume", "claims-triage", home=home))
    with instance.db() as s:
        service = s.scalar(select(Service).where(Service.slug == "claims-triage"))
        assert service is not None and not service.paused and service.paused_by is None
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.service == "claims-triage", AuditEvent.action.like("service.%"))
            .order_by(AuditEvent.seq)
        ).all()
    assert [e.action for e in events][-2:] == ["service.pause", "service.resume"]
    assert events[-2].after == {"paused": True, "reason": "drift on region EU"}


# --- database and audit ---------------------------------------------------------------------------


def test_db_upgrade_and_current(instance: Instance, tmp_path: Path) -> None:
    upgraded, current = cli_many(("db", "upgrade"), ("db", "current"), home=instance.home)
    head = ScriptDirectory.from_config(
        alembic_config(f"sqlite:///{instance.home / 'shipyard.db'}")
    ).get_current_head()
    assert f"Database at revision {head}" in ok(upgraded)
    assert ok(current).strip() == head
    fails(cli("db", "current", home=tmp_path / "missing" / "deeper"), "cannot open the database")


def test_audit_verify_and_list(instance: Instance) -> None:
    verified, listing, filtered = cli_many(
        ("audit", "verify"),
        ("audit", "list", "--limit", "500"),
        ("audit", "list", "--action", "service.", "--service", "claims-triage"),
        home=instance.home,
    )
    with instance.db() as s:
        total = s.scalar(select(func.count()).select_from(AuditEvent))
        newest = s.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert total and total > 15 and newest is not None
    assert f"OK: {total} events, chain intact" in ok(verified)

    rows = [line for line in ok(listing).splitlines() if re.match(r"\D*\d+\s*│", line)]
    assert len(rows) == total
    assert re.search(
        rf"\b{newest.seq}\s*│.*│\s*{re.escape(newest.actor)}\s*│\s*{re.escape(newest.action)}", rows[0]
    )
    assert "shipyard-init" in listing.stdout and "user.create" in listing.stdout

    actions = re.findall(r"│\s*(service\.\w+)\s*│", ok(filtered))
    assert actions == ["service.resume", "service.pause", "service.create"]


def test_services_policy_show_and_set(instance: Instance, tmp_path: Path) -> None:
    good = tmp_path / "policy.json"
    good.write_text(
        json.dumps({"fallbacks": [{"kind": "fixed", "output": "specialist", "message": "queued"}]})
    )
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"breaker": {"treshold": 3}}))
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"fallbacks": [{"kind": "version", "version": 42}]}))
    shown, bad, no_version = cli_many(
        ("services", "policy", "claims-triage"),
        ("services", "policy", "claims-triage", "--set", str(typo)),
        ("services", "policy", "claims-triage", "--set", str(missing)),
        home=instance.home,
    )
    assert json.loads(ok(shown))["breaker"]["failure_threshold"] == 5
    fails(bad, "invalid policy", "breaker.treshold")
    fails(no_version, "bad_policy", "no version 42")

    out = ok(cli("services", "policy", "claims-triage", "--set", str(good), home=instance.home))
    assert "policy replaced" in out
    policy = json.loads(out.split("policy replaced", 1)[1])
    assert policy["fallbacks"][0]["message"] == "queued" and policy["retries"]["attempts"] == 2
    with instance.db() as s:
        action = s.scalar(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1))
    assert action == "service.policy"

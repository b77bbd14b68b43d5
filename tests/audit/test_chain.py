"""The hash-chained audit log: linking, verification, and tampering by an attacker with database access."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from shipyard.audit import service as audit
from shipyard.audit.models import AuditEvent, AuditHead
from shipyard.audit.service import GENESIS, Actor, VerifyReport, event_hash
from shipyard.core.clock import FrozenClock
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work
from shipyard.registry import service as registry
from shipyard.registry.models import Service
from shipyard.registry.schemas import ServiceCreate
from tests.factories import ECHO_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SHIPYARD = Path(sys.executable).parent / "shipyard"
N = 8


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def append(factory: sessionmaker[Session], clock: FrozenClock, n: int = N) -> None:
    """n events, each in its own committed transaction, with varied JSON payloads."""
    for i in range(n):
        with unit_of_work(factory) as s:
            audit.record(
                s,
                Actor("alice", "user", f"req_{i}", clock),
                "thing.update" if i % 2 else "thing.create",
                "thing",
                f"t{i}",
                service="echo" if i % 3 else None,
                before=None if i == 0 else {"v": i - 1},
                after={"v": i, "tags": ["a", "b"], "nested": {"ratio": i / 3, "ok": True}},
            )
        clock.advance(seconds=1, microseconds=123)


def events(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def verify(factory: sessionmaker[Session]) -> VerifyReport:
    with unit_of_work(factory) as s:
        return audit.verify(s)


def tamper(factory: sessionmaker[Session], sql: str, **params: Any) -> None:
    """Raw SQL in its own transaction, bypassing Shipyard (no head update, no hashing)."""
    with factory() as s:
        s.execute(text(sql), params)
        s.commit()


def shift_seqs(factory: sessionmaker[Session], first: int, by: int) -> None:
    """Renumber seq >= first by `by`, in two steps so the primary key never collides mid-statement."""
    tamper(factory, "UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= :f", f=first)
    tamper(factory, "UPDATE audit_events SET seq = seq - 1000000 + :by WHERE seq >= 1000000", by=by)


def forge(factory: sessionmaker[Session], seq: int, prev_hash: str, clock: FrozenClock) -> None:
    """Insert a well-formed event whose hash is consistent with its content and claimed predecessor."""
    fields: dict[str, Any] = {
        "at": clock.now() - timedelta(hours=1),
        "actor": "mallory",
        "actor_kind": "user",
        "action": "user.update",
        "target_type": "user",
        "target_id": "mallory",
        "service": None,
        "request_id": None,
        "before": {"roles": ["consumer"]},
        "after": {"roles": ["admin"]},
    }
    with factory() as s:
        s.execute(
            insert(AuditEvent).values(
                seq=seq, prev_hash=prev_hash, hash=event_hash(prev_hash, **fields), **fields
            )
        )
        s.commit()


# --- an intact chain ------------------------------------------------------------------------------


def test_appends_link_each_event_to_the_one_before(
    factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(factory, clock)
    rows = events(factory)
    assert [e.seq for e in rows] == list(range(1, N + 1))
    assert rows[0].prev_hash == GENESIS
    for prev, event in zip(rows, rows[1:], strict=False):
        assert event.prev_hash == prev.hash
    assert len({e.hash for e in rows}) == N
    for e in rows:  # the stored hash is the hash of the stored content, after the database round trip
        assert e.hash == event_hash(
            e.prev_hash,
            at=e.at,
            actor=e.actor,
            actor_kind=e.actor_kind,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            service=e.service,
            request_id=e.request_id,
            before=e.before,
            after=e.after,
        )
    assert rows[3].after == {"v": 3, "tags": ["a", "b"], "nested": {"ratio": 1.0, "ok": True}}
    with factory() as s:
        head = s.get(AuditHead, 1)
        assert head is not None and (head.seq, head.hash) == (N, rows[-1].hash)
    assert verify(factory) == VerifyReport(True, N)


def test_verify_ok_on_an_empty_log(factory: sessionmaker[Session]) -> None:
    assert verify(factory) == VerifyReport(True, 0)


def test_numbers_that_jsonb_rewrites_still_verify(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    # jsonb returns 1e20 as the integer 100000000000000000000; the stored form must hash the same.
    payload = {"big": 1e20, "large": 1.2345678901234567e19, "small": 1e-7, "plain": 2.5, "whole": 3.0}
    with unit_of_work(factory) as s:
        audit.record(
            s, Actor("alice", "user", None, clock), "service.update", "service", "echo", after=payload
        )
    assert verify(factory) == VerifyReport(True, 1)


def test_verify_pages_through_long_logs(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    actor = Actor("bulk", "system", None, clock)
    with unit_of_work(factory) as s:  # past the verifier's 1000-event page
        for i in range(1205):
            audit.record(s, actor, "bulk.write", "thing", str(i), after={"i": i})
    assert verify(factory) == VerifyReport(True, 1205)
    tamper(factory, "UPDATE audit_events SET target_id = 'x' WHERE seq = 1100")
    report = verify(factory)
    assert (report.ok, report.problem, report.seq, report.checked) == (False, "modified", 1100, 1099)


# --- tampering ------------------------------------------------------------------------------------

MODIFICATIONS = {
    "actor": "UPDATE audit_events SET actor = 'mallory' WHERE seq = :k",
    "action": "UPDATE audit_events SET action = 'thing.read' WHERE seq = :k",
    "target_id": "UPDATE audit_events SET target_id = 't999' WHERE seq = :k",
    "service": "UPDATE audit_events SET service = 'billing' WHERE seq = :k",
    "request_id": "UPDATE audit_events SET request_id = 'req_forged' WHERE seq = :k",
}


@pytest.mark.parametrize("field", sorted(MODIFICATIONS))
def test_modified_field_is_reported_at_its_event(
    factory: sessionmaker[Session], clock: FrozenClock, field: str
) -> None:
    append(factory, clock)
    tamper(factory, MODIFICATIONS[field], k=4)
    report = verify(factory)
    assert (report.ok, report.problem, report.seq, report.checked) == (False, "modified", 4, 3)
    assert "event 4" in report.detail


def test_modified_json_payload_is_reported(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    append(factory, clock)
    with factory() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(after={"v": 5, "tags": ["a"]}))
        s.commit()
    report = verify(factory)
    assert (report.problem, report.seq) == ("modified", 5)


def test_modified_timestamp_is_reported(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    append(factory, clock)
    with factory() as s:
        at = s.scalar(select(AuditEvent.at).where(AuditEvent.seq == 2))
        assert at is not None
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(at=at + timedelta(minutes=5)))
        s.commit()
    report = verify(factory)
    assert (report.problem, report.seq) == ("modified", 2)


def test_deleted_event_in_the_middle(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    append(factory, clock)
    tamper(factory, "DELETE FROM audit_events WHERE seq = 4")
    report = verify(factory)
    assert (report.ok, report.problem, report.seq, report.checked) == (False, "deleted", 4, 3)


def test_deleted_event_with_seqs_renumbered_to_close_the_gap(
    factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(factory, clock)
    tamper(factory, "DELETE FROM audit_events WHERE seq = 4")
    shift_seqs(factory, 5, -1)
    assert [e.seq for e in events(factory)] == list(range(1, N))
    report = verify(factory)
    assert (report.ok, report.problem, report.seq) == (False, "deleted", 4)


@pytest.mark.parametrize("removed", [1, 3])
def test_deleted_events_at_the_end_are_caught_by_the_head_row(
    factory: sessionmaker[Session], clock: FrozenClock, removed: int
) -> None:
    append(factory, clock)
    tamper(factory, "DELETE FROM audit_events WHERE seq > :keep", keep=N - removed)
    report = verify(factory)
    assert (report.ok, report.problem, report.seq, report.checked) == (
        False,
        "deleted",
        N - removed + 1,
        N - removed,
    )
    assert f"{N - removed + 1}..{N}" in report.detail


def test_forged_event_inserted_in_the_middle(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    append(factory, clock)
    k = 4
    prev_hash = events(factory)[k - 2].hash  # event k-1: the forged event claims to follow it
    shift_seqs(factory, k, +1)
    forge(factory, k, prev_hash, clock)
    rows = events(factory)
    assert [e.seq for e in rows] == list(range(1, N + 2)) and rows[k - 1].actor == "mallory"
    report = verify(factory)
    assert (report.ok, report.problem, report.seq) == (False, "inserted", k)


@pytest.mark.parametrize(("a", "b"), [(3, 6), (4, 5), (1, 2)])
def test_swapped_events_are_reported_as_reordered(
    factory: sessionmaker[Session], clock: FrozenClock, a: int, b: int
) -> None:
    append(factory, clock)
    tamper(factory, "UPDATE audit_events SET seq = -1 WHERE seq = :a", a=a)
    tamper(factory, "UPDATE audit_events SET seq = :a WHERE seq = :b", a=a, b=b)
    tamper(factory, "UPDATE audit_events SET seq = :b WHERE seq = -1", b=b)
    report = verify(factory)
    assert (report.ok, report.problem, report.seq) == (False, "reordered", a)


def test_forged_event_appended_at_the_end(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    append(factory, clock)
    forge(factory, N + 1, events(factory)[-1].hash, clock)
    report = verify(factory)
    assert (report.ok, report.problem, report.seq, report.checked) == (False, "inserted", N + 1, N + 1)


def test_appends_continue_the_chain_after_a_clean_verify(
    factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(factory, clock, 3)
    assert verify(factory).ok
    append(factory, clock, 2)
    rows = events(factory)
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5] and rows[3].prev_hash == rows[2].hash
    assert verify(factory) == VerifyReport(True, 5)


# --- the CLI --------------------------------------------------------------------------------------


def _cli(db_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_DATABASE_URL=db_url, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [str(SHIPYARD), *args, "--home", str(home)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_audit_verify_exit_codes(
    factory: sessionmaker[Session], clock: FrozenClock, db_url: str, tmp_path: Path
) -> None:
    append(factory, clock)
    ok = _cli(db_url, tmp_path / "home", "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout and f"{N} events" in ok.stdout

    tamper(factory, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    bad = _cli(db_url, tmp_path / "home", "audit", "verify")
    assert bad.returncode == 1
    assert "FAILED" in bad.stderr and "modified at event 3" in bad.stderr
    assert "Traceback" not in bad.stderr


# --- the audit event lands in the transaction of the change ---------------------------------------


def test_failed_transaction_leaves_neither_change_nor_audit_event(
    factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    actor = Actor("alice", "user", None, clock)
    with pytest.raises(RuntimeError, match="after the change"), unit_of_work(factory) as s:
        registry.create_service(s, actor, ServiceCreate(slug="echo", name="Echo", input_schema=ECHO_SCHEMA))
        assert audit.count(s) == 1  # written, but only inside this transaction
        raise RuntimeError("failed after the change")
    with factory() as s:
        assert s.scalar(select(Service).where(Service.slug == "echo")) is None
        assert audit.count(s) == 0
        head = s.get(AuditHead, 1)
        assert head is not None and (head.seq, head.hash) == (0, GENESIS)
    assert verify(factory) == VerifyReport(True, 0)

    # The chain is not left with a hole: the next committed change is event 1.
    with unit_of_work(factory) as s:
        registry.create_service(s, actor, ServiceCreate(slug="echo", name="Echo", input_schema=ECHO_SCHEMA))
    rows = events(factory)
    assert [(e.seq, e.action, e.prev_hash) for e in rows] == [(1, "service.create", GENESIS)]


def test_failed_update_keeps_the_old_state_and_no_event(
    factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    actor = Actor("alice", "user", None, clock)
    with unit_of_work(factory) as s:
        registry.create_service(s, actor, ServiceCreate(slug="echo", name="Echo", input_schema=ECHO_SCHEMA))
    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        registry.pause(s, actor, "echo", "incident 42")
        raise RuntimeError("crash before commit")
    with factory() as s:
        service = s.scalar(select(Service).where(Service.slug == "echo"))
        assert service is not None and service.paused is False and service.paused_by is None
        assert [e.action for e in s.scalars(select(AuditEvent))] == ["service.create"]
    assert verify(factory) == VerifyReport(True, 1)

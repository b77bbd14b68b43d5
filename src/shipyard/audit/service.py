"""Append audit events to the hash chain, list them, and verify the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.audit.models import AuditEvent, AuditHead
from shipyard.core.clock import Clock
from shipyard.core.crypto import canonical_json, sha256_hex

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it, and under which request. Every state change names one."""

    name: str
    kind: str  # user | key | oidc | system
    request_id: str | None = None
    clock: Clock = field(default_factory=Clock, compare=False)

    @classmethod
    def system(cls, name: str = "system", clock: Clock | None = None) -> Actor:
        return cls(name=name, kind="system", clock=clock or Clock())


def jsonable(value: Any) -> Any:
    """Normalise to plain JSON types so the stored value hashes the same after a round trip."""
    if value is None:
        return None
    try:
        plain = orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str))
    except TypeError:  # e.g. an int beyond 64 bits in a JSON Schema: the stdlib can write it
        plain = json.loads(json.dumps(value, default=str))
    return _portable(plain)


_INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson (and so canonical_json) can serialize


def _portable(value: Any) -> Any:
    # PostgreSQL's jsonb stores numbers as numeric and hands integral ones back as ints: a float that
    # JSON writes in exponent form (|x| >= 1e16) would come back as an int and no longer hash the same.
    if isinstance(value, float) and abs(value) >= 1e16:
        as_int = int(value)
        return as_int if _INT_RANGE[0] <= as_int <= _INT_RANGE[1] else repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        return str(value)
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


def event_hash(
    prev_hash: str,
    *,
    at: datetime,
    actor: str,
    actor_kind: str,
    action: str,
    target_type: str,
    target_id: str,
    service: str | None,
    request_id: str | None,
    before: Any,
    after: Any,
) -> str:
    # seq is deliberately not hashed: the chain order lives in prev_hash links, which lets the
    # verifier tell a reordering from an edit.
    body = canonical_json(
        {
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "actor_kind": actor_kind,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "service": service,
            "request_id": request_id,
            "before": before,
            "after": after,
        }
    )
    return sha256_hex(prev_hash.encode() + body)


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    *,
    service: str | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; the head row lock keeps the chain linear."""
    head = session.get(AuditHead, 1, with_for_update=True, populate_existing=True)
    if head is None:  # first event on a fresh database
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    at = actor.clock.now()
    before, after = jsonable(before), jsonable(after)
    digest = event_hash(
        head.hash,
        at=at,
        actor=actor.name,
        actor_kind=actor.kind,
        action=action,
        target_type=target_type,
        target_id=target_id,
        service=service,
        request_id=actor.request_id,
        before=before,
        after=after,
    )
    event = AuditEvent(
        seq=head.seq + 1,
        at=at,
        actor=actor.name,
        actor_kind=actor.kind,
        action=action,
        target_type=target_type,
        target_id=target_id,
        service=service,
        request_id=actor.request_id,
        before=before,
        after=after,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq, head.hash = event.seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    service: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    session: Session, flt: AuditFilter, *, limit: int = 100, before_seq: int | None = None
) -> list[AuditEvent]:
    """Newest first, keyset-paginated by seq."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if flt.actor:
        stmt = stmt.where(AuditEvent.actor == flt.actor)
    if flt.action:
        stmt = stmt.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    if flt.service:
        stmt = stmt.where(AuditEvent.service == flt.service)
    if flt.target_id:
        stmt = stmt.where(AuditEvent.target_id == flt.target_id)
    if flt.since:
        stmt = stmt.where(AuditEvent.at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEvent.at < flt.until)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    problem: str | None = None  # modified | deleted | inserted | reordered
    seq: int | None = None
    detail: str = ""


def _recompute(event: AuditEvent) -> str:
    return event_hash(
        event.prev_hash,
        at=event.at,
        actor=event.actor,
        actor_kind=event.actor_kind,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        service=event.service,
        request_id=event.request_id,
        before=event.before,
        after=event.after,
    )


def _iter_events(session: Session) -> Iterator[AuditEvent]:
    last = 0
    while True:  # keyset pages keep memory flat on long logs
        page = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(1000)
            )
        )
        if not page:
            return
        yield from page
        last = page[-1].seq
        for event in page:  # keep memory flat without detaching the caller's other objects
            session.expunge(event)


def verify(session: Session) -> VerifyReport:
    """Walk the chain; report the first event that was modified, deleted, inserted or reordered."""
    prev: AuditEvent | None = None
    expected_seq, checked = 1, 0
    events = _iter_events(session)
    for event in events:
        if _recompute(event) != event.hash:
            return VerifyReport(
                False,
                checked,
                "modified",
                event.seq,
                f"event {event.seq} ({event.action}) does not match its hash",
            )
        if event.seq != expected_seq:
            return VerifyReport(
                False, checked, "deleted", expected_seq, f"events {expected_seq}..{event.seq - 1} are missing"
            )
        prev_hash = prev.hash if prev else GENESIS
        if event.prev_hash != prev_hash:
            return _classify_break(session, event, prev)
        prev, expected_seq, checked = event, event.seq + 1, checked + 1
    head = session.get(AuditHead, 1)
    tip_seq, tip_hash = (prev.seq, prev.hash) if prev else (0, GENESIS)
    if head is not None and (head.seq, head.hash) != (tip_seq, tip_hash):
        if head.seq > tip_seq:
            return VerifyReport(
                False,
                checked,
                "deleted",
                tip_seq + 1,
                f"events {tip_seq + 1}..{head.seq} were removed from the end",
            )
        return VerifyReport(
            False,
            checked,
            "inserted",
            head.seq + 1,
            f"events after {head.seq} were appended outside Shipyard",
        )
    return VerifyReport(True, checked)


def _classify_break(session: Session, event: AuditEvent, prev: AuditEvent | None) -> VerifyReport:
    """The event's own hash is intact but it does not link to its predecessor: find out why."""
    linked = session.scalar(select(AuditEvent.seq).where(AuditEvent.hash == event.prev_hash))
    prev_seq = prev.seq if prev else 0
    if linked is not None and linked > event.seq:
        return VerifyReport(
            False,
            prev_seq,
            "reordered",
            event.seq,
            f"event {event.seq} was moved: it follows event {linked} in the chain",
        )
    if linked is not None and linked < prev_seq:
        return VerifyReport(
            False,
            prev_seq,
            "inserted",
            linked + 1,
            f"events {linked + 1}..{prev_seq} were inserted into the chain",
        )
    return VerifyReport(
        False,
        prev_seq,
        "deleted",
        event.seq,
        f"events before {event.seq} were removed (its predecessor is gone)",
    )


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0

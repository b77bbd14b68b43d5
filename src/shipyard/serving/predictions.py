"""Reading recorded predictions. Payloads may hold personal data, so every read is audited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, case, literal, select
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.core.errors import NotFound
from shipyard.serving.models import Prediction


def recent(
    session: Session, actor: Actor, service: str, *, limit: int = 50, outcome: str | None = None
) -> list[Prediction]:
    stmt = select(Prediction).where(Prediction.service == service)
    if outcome:
        stmt = stmt.where(Prediction.outcome == outcome)
    rows = list(session.scalars(stmt.order_by(Prediction.started_at.desc()).limit(limit)))
    record(
        session,
        actor,
        "prediction.read",
        "service",
        service,
        service=service,
        after={"count": len(rows), "outcome": outcome, "request_ids": [r.request_id for r in rows][:50]},
    )
    return rows


def get(session: Session, actor: Actor, request_id: str) -> Prediction:
    row = session.get(Prediction, request_id)
    if row is None:
        raise NotFound(f"no recorded prediction {request_id!r} (records reach the database within seconds)")
    record(session, actor, "prediction.read", "prediction", request_id, service=row.service)
    return row


@dataclass(frozen=True)
class Observed:
    """What aggregate monitoring (drift, data quality) reads of one recorded call."""

    inputs: Any
    output: Any
    confidence: float | None
    outcome: str
    fallback: str | None


def window(
    session: Session, service: str, version_id: str, start: datetime, end: datetime, *, limit: int
) -> list[Observed]:
    """One version's calls that passed input validation in [start, end), newest first, at most `limit`.

    Not audited per read: the caller (a drift check) keeps only aggregates, never a payload.
    """
    stmt = (
        select(
            Prediction.inputs,
            Prediction.output,
            Prediction.confidence,
            Prediction.outcome,
            Prediction.fallback,
        )
        .where(
            Prediction.service == service,
            Prediction.started_at >= start,
            Prediction.started_at < end,
            Prediction.version_id == version_id,
            Prediction.outcome != "rejected",
        )
        .order_by(Prediction.started_at.desc())
        .limit(limit)
    )
    return [Observed(*row) for row in session.execute(stmt)]


def find(session: Session, request_id: str) -> Prediction | None:
    """One prediction for another domain's bookkeeping (feedback, labels); unaudited, so what it
    returns must not be shown to the caller."""
    return session.get(Prediction, request_id)


def find_many(session: Session, request_ids: Iterable[str]) -> dict[str, Prediction]:
    """Predictions by request id, for the ids that are recorded (unaudited, as `find`)."""
    ids = list(dict.fromkeys(request_ids))
    found: dict[str, Prediction] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start : start + 500]
        found.update(
            (p.request_id, p)
            for p in session.scalars(select(Prediction).where(Prediction.request_id.in_(chunk)))
        )
    return found


def outputs(session: Session, request_ids: Iterable[str]) -> dict[str, Any]:
    """The recorded output of each request id that is recorded (unaudited: for computing accuracy)."""
    ids = list(dict.fromkeys(request_ids))
    found: dict[str, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(Prediction.request_id, Prediction.output).where(Prediction.request_id.in_(chunk))
        )
        found.update((rid, output) for rid, output in rows)
    return found


DEFAULT_SLO_MS = 1000  # the registry's default, for predictions of a service no longer registered


def slower_than_slo(slos: Mapping[str, int]) -> ColumnElement[bool]:
    """SQL: the prediction took longer than its service's latency SLO (`slos`: slug -> ms)."""
    limit: ColumnElement[Any] = (
        case(dict(slos), value=Prediction.service, else_=DEFAULT_SLO_MS) if slos else literal(DEFAULT_SLO_MS)
    )
    return Prediction.latency_ms > limit


@dataclass(frozen=True)
class Search:
    """What the predictions browser asks for; `services` are those the reader may see."""

    services: Sequence[str]
    version: int | None = None  # 0: calls refused before a version was chosen
    outcome: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    slow_slos: Mapping[str, int] | None = None  # set: only calls over their service's SLO


# Metadata only: listing shows no payload, so it is not a payload read (opening one is, and is audited).
_LISTED = (
    Prediction.request_id,
    Prediction.service,
    Prediction.version,
    Prediction.caller,
    Prediction.outcome,
    Prediction.error_code,
    Prediction.fallback,
    Prediction.confidence,
    Prediction.started_at,
    Prediction.latency_ms,
    Prediction.cost,
)


def search(session: Session, query: Search, *, offset: int = 0, limit: int = 50) -> list[Row[Any]]:
    """Predictions' metadata (no inputs or outputs), newest first."""
    stmt = select(*_LISTED).where(Prediction.service.in_(list(query.services)))
    if query.version is not None:
        stmt = stmt.where(
            Prediction.version.is_(None) if query.version == 0 else Prediction.version == query.version
        )
    if query.outcome:
        stmt = stmt.where(Prediction.outcome == query.outcome)
    if query.start is not None:
        stmt = stmt.where(Prediction.started_at >= query.start)
    if query.end is not None:
        stmt = stmt.where(Prediction.started_at < query.end)
    if query.slow_slos is not None:
        stmt = stmt.where(slower_than_slo(query.slow_slos))
    stmt = stmt.order_by(Prediction.started_at.desc(), Prediction.request_id.desc())
    return list(session.execute(stmt.offset(offset).limit(limit)))


def service_of(session: Session, request_id: str) -> str:
    """The service a recorded prediction belongs to (no payload is read, so nothing is audited)."""
    service = session.scalar(select(Prediction.service).where(Prediction.request_id == request_id))
    if service is None:
        raise NotFound(f"no recorded prediction {request_id!r} (records reach the database within seconds)")
    return service

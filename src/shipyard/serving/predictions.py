"""Reading recorded predictions. Payloads may hold personal data, so every read is audited."""

from __future__ import annotations

from sqlalchemy import select
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

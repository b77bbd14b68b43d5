"""Every call becomes a prediction record: durable in the local spool before the response is sent,
shipped to the database in batches by a background thread that survives restarts."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from shipyard.db.inserts import insert_new
from shipyard.review.queue import service as review_queue
from shipyard.serving.models import Prediction

log = logging.getLogger(__name__)

_COLUMNS = (
    "request_id",
    "service",
    "version_id",
    "version",
    "caller",
    "caller_kind",
    "inputs",
    "output",
    "confidence",
    "outcome",
    "error_code",
    "error_detail",
    "fallback",
    "started_at",
    "ended_at",
    "latency_ms",
    "cpu_ms",
    "tokens_in",
    "tokens_out",
    "cost",
)


def _row(record: dict[str, Any]) -> dict[str, Any]:
    row = {name: record.get(name) for name in _COLUMNS}
    row["started_at"] = datetime.fromisoformat(record["started_at"])
    row["ended_at"] = datetime.fromisoformat(record["ended_at"])
    return row


def make_sink(factory: sessionmaker[Session]) -> Any:
    """A spool sink: insert a batch, and the review tasks it asks for, ignoring rows already shipped
    (delivery is at-least-once)."""
    table = Prediction.__table__  # a Table; typed as FromClause
    assert isinstance(table, Table)

    def sink(records: list[dict[str, Any]]) -> None:
        rows = [_row(r) for r in records]
        engine = factory.kw["bind"]
        # Core executemany, not the ORM: the shipper runs beside the hot path and competes for the GIL.
        with engine.begin() as conn:
            conn.execute(insert_new(conn, table, ["request_id"]), rows)
            # Same transaction: a held call is never on record without the task that releases it.
            review_queue.open_tasks(conn, records)

    return sink

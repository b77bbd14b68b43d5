"""Predictions recorded through the real recorder sink, for rollup tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from shipyard.serving.recorder import make_sink
from shipyard.web.context import AppContext

_ids = itertools.count()


def record(ctx: AppContext, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ship `calls` (each: started_at, and any of service, version, outcome, latency_ms, cost...)."""
    records = []
    for call in calls:
        started: datetime = call["started_at"]
        latency = float(call.get("latency_ms", 10.0))
        records.append(
            {
                "request_id": call.get("request_id") or f"req-{next(_ids):08d}",
                "service": call.get("service", "echo"),
                "version_id": None,
                "version": call.get("version", 1),
                "caller": "key:test",
                "caller_kind": "key",
                "inputs": {"x": 1},
                "output": [2.0],
                "confidence": 0.9,
                "outcome": call.get("outcome", "served"),
                "error_code": None,
                "error_detail": None,
                "fallback": None,
                "started_at": started.isoformat(),
                "ended_at": (started + timedelta(milliseconds=latency)).isoformat(),
                "latency_ms": latency,
                "cpu_ms": call.get("cpu_ms"),
                "tokens_in": call.get("tokens_in"),
                "tokens_out": call.get("tokens_out"),
                "cost": call.get("cost"),
            }
        )
    make_sink(ctx.sessions)(records)
    return records

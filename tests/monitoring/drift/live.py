"""Drift test data: a service with a mixed input schema, and calls recorded through the real recorder sink."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from shipyard.registry import service as registry
from shipyard.registry.schemas import ServiceCreate, VersionCreate
from shipyard.serving.recorder import make_sink
from tests.factories import World

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "x": {"type": "number", "minimum": -10, "maximum": 10},
        "amount": {"type": "number"},
        "region": {"type": "string", "enum": ["north", "south", "east", "west", "antarctica"]},
        "plan": {"type": "string", "maxLength": 10},
        "comment": {"type": "string"},
    },
    "required": ["x"],
}
REGIONS = ["north", "south", "east", "west"]
PLANS = ["basic", "plus", "pro"]
BILLING = "invoice payment late fee charge refund billing statement balance overdue card amount paid".split()
ACCOUNT = "login password account locked reset email username sign access blocked verify code".split()


def make_service(world: World, slug: str = "scorer", owner: str | None = None) -> str:
    with world.ctx.uow() as s:
        registry.create_service(
            s, world.actor(), ServiceCreate(slug=slug, name="Scorer", input_schema=SCHEMA, owner=owner)
        )
        registry.register_version(
            s,
            world.actor(),
            world.ctx.store,
            slug,
            VersionCreate(
                loader="callable",
                entrypoint="tests.factories:double",
                returns_confidence=True,
                make_live=True,
            ),
        )
    return slug


def rows(
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    region_p: list[float] | None = None,
    text: bool = False,
    text_topic: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Inputs with model outputs: x ~ N(shift, 1), amount lognormal, region and plan categorical."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    amount = rng.lognormal(3.0, 0.5, n)
    region = rng.choice(REGIONS, n, p=region_p or [0.4, 0.3, 0.2, 0.1])
    plan = rng.choice(PLANS, n, p=[0.5, 0.3, 0.2])
    confidence = rng.uniform(0.5, 1.0, n)
    out = []
    for i in range(n):
        inputs: dict[str, Any] = {
            "x": round(float(x[i]), 6),
            "amount": round(float(amount[i]), 4),
            "region": str(region[i]),
            "plan": str(plan[i]),
        }
        if text:
            words = rng.choice(text_topic or BILLING, 8)
            inputs["comment"] = " ".join(str(w) for w in words)
        out.append(
            {"inputs": inputs, "output": round(float(x[i]) * 2, 6), "confidence": float(confidence[i])}
        )
    return out


def record(
    world: World,
    slug: str,
    items: list[dict[str, Any]],
    at: datetime,
    *,
    version: int = 1,
    outcome: str = "served",
) -> None:
    """Ship the calls to the predictions table through the recorder's real sink, spread over a minute."""
    with world.ctx.uow() as s:
        version_id = registry.get_version(s, slug, version).id
    sink = make_sink(world.ctx.sessions)
    batch = []
    for i, item in enumerate(items):
        started = at + timedelta(milliseconds=i * 60_000 / max(len(items), 1))
        batch.append(
            {
                "request_id": f"req_{uuid.uuid4().hex}",
                "service": slug,
                "version_id": version_id,
                "version": version,
                "caller": "tester",
                "caller_kind": "key",
                "inputs": item["inputs"],
                "output": item.get("output"),
                "confidence": item.get("confidence"),
                "outcome": outcome,
                "started_at": started.isoformat(),
                "ended_at": started.isoformat(),
                "latency_ms": 1.0,
            }
        )
    for i in range(0, len(batch), 500):
        sink(batch[i : i + 500])


def jsonl(items: list[dict[str, Any]]) -> bytes:
    import json

    return "\n".join(json.dumps(item) for item in items).encode()


def csv_bytes(items: list[dict[str, Any]]) -> bytes:
    columns = ["x", "amount", "region", "plan", "output", "confidence"]
    lines = [",".join(columns)]
    for item in items:
        values = {**item["inputs"], "output": item["output"], "confidence": item["confidence"]}
        lines.append(",".join(str(values[c]) for c in columns))
    return ("\n".join(lines) + "\n").encode()

"""`assert_clean`, the verdict every fault test ends with, and what it reads from the predictions table."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from shipyard.db.engine import make_engine
from shipyard.serving.models import Prediction
from tests.faults.harness.load import Reply, summary

CONNECT_ERRORS = ("ConnectError", "ConnectTimeout")  # the request never reached the server
# What the invoke path records for a refused call, by the problem's code (anything else: "failed").
_REFUSAL_OUTCOMES = {
    "shed": "shed",
    "rate_limited": "rejected",
    "paused": "rejected",
    "schema_violation": "rejected",
    "no_live_version": "rejected",
}


@dataclass(frozen=True)
class Recorded:
    outcome: str
    fallback: str | None
    error_code: str | None


def recorded(database_url: str, prefixes: Collection[str]) -> tuple[dict[str, Recorded], int]:
    """Predictions whose request id starts with one of `prefixes`, and how many rows there are in all."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows: dict[str, Recorded] = {}
            total = 0
            for prefix in prefixes:
                where = Prediction.request_id.like(f"{prefix}-%")
                total += conn.execute(select(func.count()).where(where)).scalar_one()
                for request_id, outcome, step, code in conn.execute(
                    select(
                        Prediction.request_id, Prediction.outcome, Prediction.fallback, Prediction.error_code
                    ).where(where)
                ):
                    rows[request_id] = Recorded(outcome, step, code)
            return rows, total
    finally:
        engine.dispose()


def assert_clean(
    replies: Sequence[Reply],
    database_url: str,
    *,
    codes: Collection[str] | None = None,
    killed: bool = False,
    wait_s: float = 30.0,
) -> Counter[str]:
    """Every reply is a 200 (served or fallback) or a 503/429 problem with Retry-After, never a 500,
    502, 504 or a client timeout; and the predictions table holds exactly the acknowledged calls.

    `codes`: the problem codes this test expects (then no other); a code named here may be any status.
    `killed`: the server was kill -9'ed mid-load: requests cut off by the kill fail, and those of them
    that reached the server may be recorded although never acknowledged; nothing else may be.
    Returns the replies' summary (`summary()`).
    """
    assert replies, "no replies at all: the load never ran"
    seen = summary(replies)
    bad: list[str] = []
    for r in replies:
        if r.status is None:
            if not (killed and r.error != "timeout"):
                bad.append(f"{r.request_id} ({r.phase}): {r.error} after {r.elapsed_s:.2f} s")
            continue
        if r.echoed_id != r.request_id:
            bad.append(f"{r.request_id}: answered with request id {r.echoed_id!r}")
        if r.status == 200:
            if r.outcome not in ("served", "fallback") or (r.outcome == "fallback") != bool(r.fallback_step):
                bad.append(f"{r.request_id}: 200 with outcome {r.outcome!r}, fallback {r.fallback_step!r}")
            continue
        if codes is not None and r.code not in codes:
            bad.append(f"{r.request_id} ({r.phase}): {r.status} {r.code}, expected only {sorted(codes)}")
        elif codes is None and r.status not in (429, 503):
            bad.append(f"{r.request_id} ({r.phase}): {r.status} {r.code}")
        if r.status in (429, 503) and not (r.retry_after or "").isdigit():
            bad.append(f"{r.request_id}: {r.status} {r.code} without a Retry-After ({r.retry_after!r})")
    assert not bad, f"{len(bad)} bad replies of {len(replies)} ({dict(seen)}):\n" + "\n".join(bad[:20])

    acked = {r.request_id: r for r in replies if r.status is not None and r.code != "recorder_unavailable"}
    refused = {r.request_id for r in replies if r.code == "recorder_unavailable"}
    cut_off = {r.request_id for r in replies if r.status is None and r.error not in CONNECT_ERRORS}
    prefixes = {r.request_id.rsplit("-", 1)[0] for r in replies}
    deadline = time.monotonic() + wait_s
    while True:  # the shipper moves the spool to the database in batches, and backs off while it is down
        rows, total = recorded(database_url, prefixes)
        if acked.keys() <= rows.keys() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    missing = acked.keys() - rows.keys()
    assert not missing, (
        f"{len(missing)} of {len(acked)} acknowledged calls not recorded after {wait_s} s "
        f"(e.g. {sorted(missing)[:5]}; replies {dict(seen)})"
    )
    unacked = rows.keys() - acked.keys()
    assert not unacked & refused, (
        f"refused (recorder_unavailable) calls were recorded: {sorted(unacked & refused)[:5]}"
    )
    if killed:
        assert unacked <= cut_off, (
            f"recorded, never acknowledged nor in flight: {sorted(unacked - cut_off)[:5]}"
        )
    else:
        assert not unacked, f"{len(unacked)} recorded calls were never acknowledged: {sorted(unacked)[:5]}"
    assert total == len(rows), f"{total} rows for {len(rows)} request ids: duplicates"

    wrong = []
    for request_id, r in acked.items():
        row = rows[request_id]
        if r.status == 200:
            expected = (r.outcome, r.fallback_step)
        else:
            expected = (_REFUSAL_OUTCOMES.get(r.code or "", "failed"), None)
        if (row.outcome, row.fallback) != expected:
            wrong.append(f"{request_id}: answered {r.kind} {expected}, recorded {row.outcome} {row.fallback}")
    assert not wrong, f"{len(wrong)} records disagree with their replies:\n" + "\n".join(wrong[:10])
    return seen

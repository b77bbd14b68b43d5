"""The verdict itself: `assert_clean` must fail on every kind of unclean run, or the fault tests prove
nothing. Synthetic replies against a real (SQLite) predictions table; no server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard.db.engine import make_engine
from shipyard.db.migrate import upgrade
from shipyard.db.session import make_sessionmaker
from shipyard.serving.recorder import make_sink
from tests.faults.harness import Load, Reply, assert_clean

TAG = "unit-0a1b2c3d"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shipyard.db'}"
    upgrade(url)
    return url


def reply(n: int, status: int | None = 200, **kwargs: object) -> Reply:
    request_id = f"{TAG}-{n:06d}"
    fields: dict[str, object] = {"echoed_id": request_id if status is not None else None}
    if status == 200:
        fields["outcome"] = "served"
    fields.update(kwargs)
    return Reply(request_id, "echo", "start", status, **fields)  # type: ignore[arg-type]


def record(db: str, *rows: tuple[Reply, str, str | None]) -> None:
    """Put predictions on record through the real sink: (reply, outcome, fallback step)."""
    now = datetime.now(UTC).isoformat()
    engine = make_engine(db)
    try:
        make_sink(make_sessionmaker(engine))(
            [
                {
                    "request_id": r.request_id,
                    "service": "echo",
                    "caller": "admin",
                    "caller_kind": "user",
                    "outcome": outcome,
                    "fallback": step,
                    "started_at": now,
                    "ended_at": now,
                    "latency_ms": 1.0,
                }
                for r, outcome, step in rows
            ]
        )
    finally:
        engine.dispose()


SERVED = reply(1)
FALLBACK = reply(2, outcome="fallback", fallback_step="fixed", fallback_cause="model_failed")
SHED = reply(3, 503, code="shed", retry_after="1")
LIMITED = reply(4, 429, code="rate_limited", retry_after="2")
REFUSED = reply(5, 503, code="recorder_unavailable", retry_after="5")


def test_a_clean_run_passes_and_is_summed_up(db: str) -> None:
    record(db, (SERVED, "served", None), (FALLBACK, "fallback", "fixed"), (SHED, "shed", None))
    record(db, (LIMITED, "rejected", None))
    seen = assert_clean([SERVED, FALLBACK, SHED, LIMITED, REFUSED], db)
    assert seen == {
        "200 served": 1,
        "200 fallback": 1,
        "503 shed": 1,
        "429 rate_limited": 1,
        "503 recorder_unavailable": 1,
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (reply(9, 500, code="internal_error"), "500 internal_error"),
        (reply(9, 502, code="model_failed"), "502 model_failed"),
        (reply(9, 504, code="timeout"), "504 timeout"),
        (reply(9, None, error="timeout", elapsed_s=5.0), "timeout after 5.00 s"),
        (reply(9, None, error="ReadError"), "ReadError"),
        (reply(9, 503, code="shed"), "without a Retry-After"),
        (replace(SERVED, echoed_id="req_other"), "answered with request id"),
        (reply(9, outcome="abstained"), "outcome 'abstained'"),
        (reply(9, outcome="fallback"), "fallback None"),
    ],
    ids=["500", "502", "504", "hang", "dropped", "no-retry-after", "other-id", "odd-outcome", "no-step"],
)
def test_an_unclean_reply_fails(db: str, bad: Reply, message: str) -> None:
    record(db, (bad, "served", None))
    with pytest.raises(AssertionError, match=message):
        assert_clean([bad], db)


def test_named_codes_are_the_only_ones_allowed(db: str) -> None:
    record(db, (SHED, "shed", None))
    gateway = reply(9, 502, code="model_failed")
    record(db, (gateway, "failed", None))
    assert assert_clean([SHED, gateway], db, codes=("shed", "model_failed")) == {
        "503 shed": 1,
        "502 model_failed": 1,
    }
    with pytest.raises(AssertionError, match=r"503 shed, expected only \['recorder_unavailable'\]"):
        assert_clean([SHED], db, codes=("recorder_unavailable",))


def test_an_acknowledged_call_missing_from_the_table_fails(db: str) -> None:
    record(db, (SERVED, "served", None))
    with pytest.raises(AssertionError, match="1 of 2 acknowledged calls not recorded"):
        assert_clean([SERVED, FALLBACK], db, wait_s=0.3)


def test_a_record_without_an_acknowledgement_fails(db: str) -> None:
    stray = reply(9)
    record(db, (SERVED, "served", None), (stray, "served", None))
    with pytest.raises(AssertionError, match="1 recorded calls were never acknowledged"):
        assert_clean([SERVED], db)


def test_a_refused_call_must_not_be_on_record(db: str) -> None:
    record(db, (REFUSED, "failed", None))
    with pytest.raises(AssertionError, match="refused .* were recorded"):
        assert_clean([REFUSED], db)


def test_a_record_must_agree_with_its_reply(db: str) -> None:
    record(db, (FALLBACK, "served", None), (SHED, "failed", None))
    with pytest.raises(AssertionError, match="2 records disagree"):
        assert_clean([FALLBACK, SHED], db)


def test_after_a_kill_only_calls_in_flight_may_be_recorded_unacknowledged(db: str) -> None:
    in_flight = reply(7, None, error="ReadError")
    never_sent = reply(8, None, error="ConnectError")
    record(db, (SERVED, "served", None), (in_flight, "served", None))
    assert assert_clean([SERVED, in_flight, never_sent], db, killed=True) == {
        "200 served": 1,
        "error ReadError": 1,
        "error ConnectError": 1,
    }
    record(db, (never_sent, "served", None))
    with pytest.raises(AssertionError, match="never acknowledged nor in flight"):
        assert_clean([SERVED, in_flight, never_sent], db, killed=True)
    with pytest.raises(AssertionError, match="timeout"):  # a hang is a hang, kill or no kill
        assert_clean([SERVED, in_flight, reply(6, None, error="timeout")], db, killed=True)


def test_a_load_name_cannot_carry_wildcards() -> None:
    with pytest.raises(ValueError, match="lower-case letters and digits"):
        Load("http://127.0.0.1:1", "key", "echo", name="my_load%")

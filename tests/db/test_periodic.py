"""Periodic jobs run once per interval across processes, and a dead holder's lease runs out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from shipyard.core.clock import FrozenClock
from shipyard.db.engine import make_engine
from shipyard.db.periodic import PeriodicJob, PeriodicLease, PeriodicRunner, claim
from shipyard.db.session import make_sessionmaker


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def _runners(
    db_url: str, clock: FrozenClock, job: PeriodicJob, n: int, engines: list[Engine]
) -> list[PeriodicRunner]:
    runners = []
    for i in range(n):
        engines.append(make_engine(db_url))
        runner = PeriodicRunner(make_sessionmaker(engines[-1]), clock)
        runner.holder = f"worker-{i}"
        runner.add(job)
        runners.append(runner)
    return runners


def test_one_of_several_workers_runs_each_round(
    db_url: str, clock: FrozenClock, engines: list[Engine]
) -> None:
    calls: list[str] = []
    job = PeriodicJob("rollup", timedelta(minutes=1), lambda: calls.append("ran"))
    a, b, c = _runners(db_url, clock, job, 3, engines)

    assert [r.run_due() for r in (a, b, c)] == [["rollup"], [], []]
    clock.advance(seconds=30)
    assert [r.run_due() for r in (a, b, c)] == [[], [], []]  # not due yet
    clock.advance(seconds=30)
    assert [r.run_due() for r in (b, a, c)] == [["rollup"], [], []]
    assert calls == ["ran", "ran"]


def test_a_failing_round_is_recorded_and_the_next_round_still_runs(
    db_url: str, clock: FrozenClock, engines: list[Engine]
) -> None:
    def boom() -> None:
        raise RuntimeError("no table")

    (runner,) = _runners(db_url, clock, PeriodicJob("drift", timedelta(minutes=5), boom), 1, engines)
    assert runner.run_due() == ["drift"]
    with runner.factory() as s:
        lease = s.execute(select(PeriodicLease)).scalar_one()
    assert lease.last_error == "RuntimeError: no table" and lease.last_ok_at is None
    assert lease.expires_at is None  # released at once, not after the lease
    clock.advance(minutes=5)
    assert runner.run_due() == ["drift"]


def test_a_holder_that_died_mid_run_is_replaced_when_its_lease_expires(
    db_url: str, clock: FrozenClock, engines: list[Engine]
) -> None:
    job = PeriodicJob("alerts", timedelta(seconds=30), lambda: None, lease=timedelta(minutes=2))
    dead, alive = _runners(db_url, clock, job, 2, engines)
    assert claim(dead.factory, job, dead.holder, clock.now())  # and never releases
    clock.advance(minutes=1)
    assert alive.run_due() == []  # due, but the lease still holds
    clock.advance(minutes=1)
    assert alive.run_due() == ["alerts"]

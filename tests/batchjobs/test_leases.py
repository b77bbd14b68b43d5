"""Claims and leases on the real database: one winner per job, takeover after expiry, writes fenced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from shipyard.batchjobs import leases
from shipyard.batchjobs.leases import NewLetter, Progress
from shipyard.batchjobs.models import BatchJob, DeadLetter
from shipyard.batchjobs.schemas import COMPLETED_WITH_ERRORS, DL_RETRYING, QUEUED, RUNNING
from shipyard.core.config import Settings
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE_S = 30.0


@pytest.fixture
def engines(settings: Settings) -> Iterator[list[Engine]]:
    """Four engines on one database, as four server processes would have."""
    made = [make_engine(settings.database_url) for _ in range(4)]
    yield made
    for engine in made:
        engine.dispose()


def add_jobs(factory: sessionmaker[Session], n: int) -> list[str]:
    with unit_of_work(factory) as s:
        jobs = [
            BatchJob(
                service="echo",
                submitted_by="test",
                run_as={"id": "t", "name": "test", "kind": "system", "roles": ["admin"]},
                input_format="jsonl",
                input_name="rows.jsonl",
                input_sha256="0" * 64,
                input_bytes=10,
                total_rows=10,
                next_row=1,
                next_offset=0,
                succeeded=0,
                failed=0,
                fallback=0,
                status=QUEUED,
                created_at=T0 + timedelta(seconds=i),
                updated_at=T0,
            )
            for i in range(n)
        ]
        s.add_all(jobs)
        s.flush()
        return [j.id for j in jobs]


def test_each_job_is_claimed_by_exactly_one_of_several_runners(engines: list[Engine]) -> None:
    factories = [make_sessionmaker(e) for e in engines]
    ids = add_jobs(factories[0], 30)
    start = threading.Barrier(len(factories))
    won: dict[str, list[str]] = {f"runner-{i}": [] for i in range(len(factories))}
    errors: list[BaseException] = []

    def runner(owner: str, factory: sessionmaker[Session]) -> None:
        try:
            start.wait()
            while True:  # the runner loop: look, then try to take each candidate
                found = leases.candidates(factory, T0)
                if not found:
                    return
                for job_id, _, _ in found:
                    if leases.claim(factory, job_id, owner, T0, LEASE_S) is not None:
                        won[owner].append(job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(o, f)) for o, f in zip(won, factories, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    claimed = [job_id for jobs in won.values() for job_id in jobs]
    assert sorted(claimed) == sorted(ids)  # every job once: nobody won a job twice or lost one
    with factories[0]() as s:
        owners = dict(s.execute(select(BatchJob.id, BatchJob.lease_owner)).all())
    assert all(owners[job_id] == owner for owner, jobs in won.items() for job_id in jobs)


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_off(engines: list[Engine]) -> None:
    factory = make_sessionmaker(engines[0])
    (job_id,) = add_jobs(factory, 1)
    a = leases.claim(factory, job_id, "a", T0, LEASE_S)
    assert a is not None and (a.next_row, a.next_offset) == (1, 0)
    assert leases.claim(factory, job_id, "b", T0 + timedelta(seconds=20), LEASE_S) is None  # still held
    assert leases.heartbeat(factory, job_id, "a", T0 + timedelta(seconds=20), LEASE_S) == RUNNING

    # a stalls past its lease (renewed until t+50); b takes the job over from the last checkpoint.
    done = Progress(next_row=4, next_offset=30, succeeded=3)
    assert leases.checkpoint(factory, job_id, "a", T0 + timedelta(seconds=21), LEASE_S, done) == RUNNING
    b = leases.claim(factory, job_id, "b", T0 + timedelta(seconds=52), LEASE_S)
    assert b is not None and (b.next_row, b.next_offset) == (4, 30)

    late = Progress(next_row=9, next_offset=80, succeeded=4, letters=[NewLetter(8, "model_failed", "boom")])
    assert leases.checkpoint(factory, job_id, "a", T0 + timedelta(seconds=53), LEASE_S, late) is None
    assert leases.heartbeat(factory, job_id, "a", T0 + timedelta(seconds=53), LEASE_S) is None
    assert not leases.bump(factory, job_id, "a", T0 + timedelta(seconds=53), LEASE_S, 5, 1, letter=False)
    leases.let_go(factory, job_id, "a", T0 + timedelta(seconds=53), QUEUED)  # ignored: not a's any more
    with factory() as s:
        job = s.get(BatchJob, job_id)
        assert job is not None
        assert (job.next_row, job.succeeded, job.failed, job.lease_owner, job.status) == (
            4,
            3,
            0,
            "b",
            RUNNING,
        )
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0  # a's dead letter never landed


def test_finishing_waits_for_retries_queued_meanwhile(engines: list[Engine]) -> None:
    factory = make_sessionmaker(engines[0])
    (job_id,) = add_jobs(factory, 1)
    assert leases.claim(factory, job_id, "a", T0, LEASE_S) is not None
    letter = NewLetter(3, "model_failed", "boom", inputs={"x": 3}, request_id=f"job-{job_id}-3")
    progress = Progress(next_row=11, next_offset=100, succeeded=9, letters=[letter])
    assert leases.checkpoint(factory, job_id, "a", T0, LEASE_S, progress) == RUNNING
    with unit_of_work(factory) as s:  # what a retry request does while the runner is on the last chunk
        dl = s.get(DeadLetter, (job_id, 3))
        assert dl is not None
        dl.status = DL_RETRYING
    assert leases.finish(factory, job_id, "a", T0) == "more"
    assert leases.retrying_letters(factory, job_id, 10) == [(3, {"x": 3}, 0)]
    with unit_of_work(factory) as s:
        dl = s.get(DeadLetter, (job_id, 3))
        assert dl is not None
        dl.status = "open"
    assert leases.finish(factory, job_id, "a", T0) == "done"
    with factory() as s:
        job = s.get(BatchJob, job_id)
        assert job is not None and job.status == COMPLETED_WITH_ERRORS and job.lease_owner is None

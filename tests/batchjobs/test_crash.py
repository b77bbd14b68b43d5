"""kill -9 mid-job: a restarted server resumes the job from its checkpoint and every row is on record once.

A real `shipyard serve` runs a job of a few hundred slow rows; once some chunks are checkpointed it is
killed with SIGKILL. The job is left `running` under a lease nobody renews. A second server on the
same instance takes it over when the lease expires, re-runs the rows after the checkpoint under the
same request ids, and finishes: the predictions table holds each row's request id exactly once, with
the right output, and nothing else under the job's prefix.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shipyard.batchjobs.models import BatchJob
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker
from shipyard.serving.models import Prediction
from tests.faults.harness import Instance, ShipyardServer

pytestmark = pytest.mark.slow

ROWS = 400
# Quick leases, so the second server takes the orphaned job over within seconds.
JOBS = {
    "SHIPYARD_JOBS__LEASE_S": "2.0",
    "SHIPYARD_JOBS__POLL_S": "0.1",
    "SHIPYARD_JOBS__CHUNK_ROWS": "10",
}


def job_state(db_url: str, job_id: str) -> tuple[str, int, str | None]:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            job = s.get(BatchJob, job_id)
            assert job is not None
            return job.status, job.next_row - 1, job.lease_owner
    finally:
        engine.dispose()


def recorded(db_url: str, job_id: str) -> dict[str, tuple[object, object]]:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            rows = s.execute(
                select(Prediction.request_id, Prediction.inputs, Prediction.output).where(
                    Prediction.request_id.startswith(f"job-{job_id}-")
                )
            ).all()
            return {request_id: (inputs, output) for request_id, inputs, output in rows}
    finally:
        engine.dispose()


def wait(condition: Callable[[], bool], what: str, server: ShipyardServer, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}:\n{server.logs()}"
        assert server.proc.poll() is None, f"the server exited:\n{server.logs()}"
        time.sleep(0.02)


def test_kill_9_mid_job_then_restart_finishes_with_each_row_recorded_once(
    db_url: str, tmp_path: Path
) -> None:
    instance = Instance(tmp_path / "instance", db_url)
    instance.service("echo", "tests.batchjobs.models:slow_double")
    key = instance.consumer_key
    log = tmp_path / "server.log"
    body = "".join(f'{{"x": {x}}}\n' for x in range(ROWS)).encode()

    first = instance.serve(log, **JOBS)
    second: ShipyardServer | None = None
    try:
        r = httpx.post(
            f"{first.url}/v1/services/echo/jobs?format=jsonl",
            content=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        wait(lambda: job_state(db_url, job_id)[1] >= 50, "no checkpoint past row 50", first)
        first.kill()  # SIGKILL: mid-chunk, with calls in flight and rows past the checkpoint
        assert first.proc.returncode == -signal.SIGKILL

        status, done, owner = job_state(db_url, job_id)
        assert status == "running" and owner is not None and 50 <= done < ROWS  # orphaned mid-job

        second = instance.serve(log, **JOBS)
        wait(lambda: job_state(db_url, job_id)[0] == "succeeded", "the job did not finish", second)
        wait(lambda: len(recorded(db_url, job_id)) >= ROWS, "not every row reached the database", second)

        records = recorded(db_url, job_id)
        assert set(records) == {f"job-{job_id}-{n}" for n in range(1, ROWS + 1)}  # each row once, no others
        for n in range(1, ROWS + 1):
            assert records[f"job-{job_id}-{n}"] == ({"x": n - 1}, 2 * (n - 1))
        r = httpx.get(
            f"{second.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        body_read = r.json()
        assert (body_read["succeeded"], body_read["failed"], body_read["rows_done"]) == (ROWS, 0, ROWS)
    finally:
        first.stop()
        if second is not None:
            second.stop()

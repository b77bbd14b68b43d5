"""kill -9 under load: every call the server acknowledged is in the predictions table after a restart.

A real `shipyard serve` process takes concurrent invokes; part way through, the database refuses the
shipper's writes (a lock held by the test), so acknowledged calls exist only in the local spool; then
the server is killed with SIGKILL. After a restart on the same instance folder, the shipper brings
every acknowledged call to the database, once; of the calls never acknowledged, only those in flight
at the kill may be on record. Runs on SQLite and PostgreSQL: the spool and its recovery are the same,
the database's locking and conflict handling are not.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from shipyard.db.engine import make_engine
from shipyard.serving.models import Prediction
from tests.faults.harness import (
    Instance,
    Load,
    Reply,
    ShipyardServer,
    assert_clean,
    recorded,
    shipping_blocked,
)

pytestmark = pytest.mark.slow

CLIENTS = 16


def _x(r: Reply) -> int:
    return int(r.request_id[-6:]) % 50  # the load's default inputs: {"x": n % 50}


def test_kill_9_mid_load_loses_no_acknowledged_call(db_url: str, tmp_path: Path) -> None:
    instance = Instance(tmp_path / "instance", db_url)
    instance.service("echo", "tests.factories:double")
    log = tmp_path / "server.log"
    first = instance.serve(log)
    second: ShipyardServer | None = None
    try:
        load = Load(first.url, instance.consumer_key, "echo", clients=CLIENTS)
        with load:
            load.wait_for(100)  # shipping freely
            with shipping_blocked(db_url):
                load.phase = "shipping blocked"
                load.wait_for(100, lambda r: r.phase == "shipping blocked")  # acknowledged, spooled only
                first.proc.kill()  # SIGKILL, mid-load and mid-ship
                first.proc.wait(timeout=10)
                load.phase = "killed"
                load.wait_for(CLIENTS, lambda r: r.status is None)
        replies = load.stop()
        assert first.proc.returncode == -signal.SIGKILL

        acked = {r.request_id: r for r in replies if r.status is not None}
        assert {r.kind for r in acked.values()} == {"200 served"}, "only successes before the kill"
        assert all(r.output == 2 * _x(r) for r in acked.values())
        before_restart, _ = recorded(db_url, {load.tag})  # nobody ships now: the server is dead
        unshipped = acked.keys() - before_restart.keys()
        assert unshipped, "every call was shipped before the kill; the restart proves nothing"

        second = instance.serve(log)  # same home, same spool
        assert_clean(replies, db_url, killed=True, wait_s=60)

        engine = make_engine(db_url)  # the recovered records are whole, not just present
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        Prediction.request_id, Prediction.inputs, Prediction.output, Prediction.outcome
                    ).where(Prediction.request_id.in_(sorted(unshipped)[:500]))
                ).all()
        finally:
            engine.dispose()
        assert len(rows) == min(len(unshipped), 500)
        for request_id, inputs, output, outcome in rows:
            x = _x(acked[request_id])
            assert (inputs, output, outcome) == ({"x": x}, 2 * x, "served")

        # The restarted server serves and records as before.
        after = Load(second.url, instance.consumer_key, "echo", name="after", clients=4, calls=40).run()
        assert assert_clean(after, db_url, codes=()) == {"200 served": 40}
        second.assert_healthy()
    finally:
        first.stop()
        if second is not None:
            second.stop()

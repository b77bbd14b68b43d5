"""PostgreSQL goes down under load. Calls keep being served from the in-process caches and recorded to
the local spool; when the database is back, the spool drains and every acknowledged call is recorded
once. A service that fails closed refuses calls (503 recorder_unavailable) once the spool reaches its
cap, and serves again when the database has taken the backlog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import Instance, Load, Reply, assert_clean
from tests.faults.servers import PrivatePostgres

pytestmark = pytest.mark.slow

SPOOL_CAP = 64 * 1024  # a few hundred records: reached in a second or two of an outage


def _down(r: Reply) -> bool:
    return r.phase == "database down"


def _back(r: Reply) -> bool:
    return r.phase == "database back"


def test_postgres_stopped_mid_load_loses_no_call(private_pg: PrivatePostgres, tmp_path: Path) -> None:
    instance = Instance(tmp_path / "instance", private_pg.url)
    instance.service("echo", "tests.factories:double")
    server = instance.serve(tmp_path / "server.log")
    try:
        load = Load(server.url, instance.consumer_key, "echo", clients=6, pause_s=0.005)
        with load:
            load.wait_for(100)
            private_pg.stop()  # immediate: like a crash, mid-insert for the shipper
            load.phase = "database down"
            load.wait_for(150, _down)
            ready = server.get("/readyz")
            assert ready["status"] == "degraded" and ready["database"].startswith("unavailable"), ready
            assert ready["recorder"] == "ok" and ready["spool_backlog"] > 0, ready
            private_pg.start()
            load.phase = "database back"
            load.wait_for(100, _back)
        replies = load.stop()

        seen = assert_clean(replies, private_pg.url, codes=(), wait_s=60)
        assert seen == {"200 served": len(replies)}, seen
        assert all(r.output == 2 * (int(r.request_id[-6:]) % 50) for r in replies)
        ready = server.wait_drained()
        assert (ready["status"], ready["database"]) == ("ok", "ok"), ready
        server.assert_healthy()
    finally:
        server.stop()


def test_a_full_spool_fails_closed_until_the_database_is_back(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    instance = Instance(tmp_path / "instance", private_pg.url)
    instance.service("strict", "tests.factories:double", policy={"on_recorder_full": "fail_closed"})
    server = instance.serve(tmp_path / "server.log", SHIPYARD_RECORDER__MAX_SPOOL_BYTES=str(SPOOL_CAP))
    try:
        load = Load(server.url, instance.consumer_key, "strict", clients=4, pause_s=0.01)
        with load:
            load.wait_for(40)
            # The admin key is checked against the database once, then cached: do it while it is up.
            assert server.get("/v1/services/strict/runtime", instance.admin_key)["recorder"]["cap_bytes"]
            private_pg.stop()
            load.phase = "database down"
            load.wait_for(20, lambda r: _down(r) and r.code == "recorder_unavailable")
            ready = server.get("/readyz")  # still 200: a full spool is each service's call
            assert (ready["status"], ready["recorder"]) == ("degraded", "full"), ready
            view = server.get("/v1/services/strict/runtime", instance.admin_key)["recorder"]
            assert view["cap_bytes"] == SPOOL_CAP and view["backlog_bytes"] >= SPOOL_CAP, view
            assert view["shipping_error"], view
            private_pg.start()
            load.phase = "database back"
            load.wait_for(40, lambda r: _back(r) and r.status == 200)
        replies = load.stop()

        # The refused calls are not on record (assert_clean checks): that is what failing closed means.
        seen = assert_clean(replies, private_pg.url, codes=("recorder_unavailable",), wait_s=60)
        assert set(seen) == {"200 served", "503 recorder_unavailable"}, seen
        assert {r.retry_after for r in replies if r.status == 503} == {"5"}
        before = [r for r in replies if r.phase == "start"]
        assert {r.kind for r in before} == {"200 served"}, "refused while the database was up"
        ready = server.wait_drained()
        assert (ready["status"], ready["recorder"]) == ("ok", "ok"), ready
        server.assert_healthy()
    finally:
        server.stop()

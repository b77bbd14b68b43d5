"""kill -9 under load: every call the server acknowledged is in the predictions table after a restart.

A real `shipyard serve` process takes concurrent invokes; part way through, the database refuses the
shipper's writes (a lock held by the test), so acknowledged calls exist only in the local spool; then
the server is killed with SIGKILL. After a restart on the same instance folder, the shipper must bring
every acknowledged call to the database, once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, func, select, text

from shipyard.audit.service import Actor
from shipyard.core.config import Settings
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work
from shipyard.instance import init_instance, issue_key
from shipyard.registry import service as registry
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.schemas import ServiceCreate, VersionCreate
from shipyard.serving.models import Prediction
from tests.factories import ECHO_SCHEMA
from tests.servers import free_port, wait_until_up

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHIPYARD = Path(sys.executable).parent / "shipyard"
CONCURRENCY = 16


class Server:
    """`shipyard serve` as a child process, logging to a file."""

    def __init__(self, home: Path, db_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
        # cwd alone is not on sys.path for a console script; the callable model lives in tests/.
        env.update(SHIPYARD_DATABASE_URL=db_url, PYTHONPATH=str(ROOT))
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(SHIPYARD),
                    "serve",
                    "--home",
                    str(home),
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout_s: float = 60) -> None:
        wait_until_up(self.url, self.proc, self.log, path="/readyz", timeout_s=timeout_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Load:
    """Concurrent invokes from a background thread; remembers what each acknowledged call was sent."""

    url: str
    key: str
    acked: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=10, headers=headers) as client:
            await asyncio.gather(*(self._worker(client, i) for i in range(CONCURRENCY)))

    async def _worker(self, client: httpx.AsyncClient, i: int) -> None:
        n = 0
        while not self.stop.is_set():
            x = i * 1_000_000 + n
            n += 1
            try:
                r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": x}})
            except httpx.HTTPError:  # the server died under us: not acknowledged
                self.failures += 1
                await asyncio.sleep(0.01)
                continue
            self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
            if r.status_code == 200:
                body = r.json()
                assert body["output"] == 2 * x
                self.acked[body["request_id"]] = x


@contextmanager
def shipping_blocked(db_url: str) -> Iterator[Connection]:
    """Hold a lock that makes every insert into predictions wait (reads still work)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            trans = conn.begin()  # SQLite: BEGIN IMMEDIATE, the database's single write lock
            if engine.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE predictions IN EXCLUSIVE MODE"))
            try:
                yield conn
            finally:
                trans.rollback()
    finally:
        engine.dispose()


def _setup_instance(home: Path, db_url: str) -> str:
    settings = init_instance(Settings(home=home, database_url=db_url), examples=False).settings
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as s:
            actor = Actor.system("test-setup")
            registry.create_service(
                s, actor, ServiceCreate(slug="echo", name="Echo", input_schema=ECHO_SCHEMA, owner="admin")
            )
            registry.register_version(
                s,
                actor,
                ArtifactStore(settings.artifacts_dir),
                "echo",
                VersionCreate(
                    loader="callable",
                    entrypoint="tests.factories:double",
                    returns_confidence=True,
                    make_live=True,
                ),
            )
    finally:
        engine.dispose()
    return issue_key(settings, "admin", "load generator", ["consumer"])


def _stored(db_url: str, ids: list[str]) -> dict[str, int]:
    """request_id -> number of rows with it, for the given ids."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            counts: dict[str, int] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows = conn.execute(
                    select(Prediction.request_id, func.count())
                    .where(Prediction.request_id.in_(chunk))
                    .group_by(Prediction.request_id)
                )
                for request_id, n in rows:
                    counts[request_id] = n
            return counts
    finally:
        engine.dispose()


def test_kill_9_under_load_loses_no_acknowledged_call(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "instance"
    key = _setup_instance(home, db_url)
    log = tmp_path / "server.log"

    first = Server(home, db_url, log)
    second: Server | None = None
    try:
        first.wait_ready()
        warm = httpx.post(
            f"{first.url}/v1/services/echo/invoke",
            json={"inputs": {"x": -1}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert warm.status_code == 200, warm.text

        load = Load(first.url, key)
        driver = threading.Thread(target=load.run, name="load")
        driver.start()
        time.sleep(0.8)  # shipping freely
        with shipping_blocked(db_url):
            time.sleep(0.8)  # acknowledged calls now pile up in the spool only
            assert first.proc.poll() is None, first.logs()
            first.proc.kill()  # SIGKILL, mid-load and mid-ship
            first.proc.wait(timeout=10)
            load.stop.set()
            driver.join(timeout=30)
            assert not driver.is_alive()
        acked = dict(load.acked)
        assert first.proc.returncode == -signal.SIGKILL
        before_restart = _stored(db_url, list(acked))  # nobody ships now: the server is dead

        assert len(acked) >= 50, (len(acked), load.statuses, load.failures, first.logs())
        assert set(load.statuses) == {200}, load.statuses  # nothing but successes before the kill
        missing = set(acked) - set(before_restart)
        assert missing, "every call was shipped before the kill; the restart proved nothing"

        second = Server(home, db_url, log)
        second.wait_ready()
        deadline = time.monotonic() + 60
        while True:
            stored = _stored(db_url, list(acked))
            if len(stored) == len(acked) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        lost = set(acked) - set(stored)
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged calls lost:\n{second.logs()}"
        assert all(n == 1 for n in stored.values())

        engine = make_engine(db_url)
        try:
            with engine.connect() as conn:
                total, distinct = conn.execute(
                    select(func.count(), func.count(func.distinct(Prediction.request_id)))
                ).one()
                assert total == distinct  # no duplicates overall, acknowledged or not
                assert total >= len(acked) + 1  # + the warm-up call
                rows = conn.execute(
                    select(
                        Prediction.request_id, Prediction.inputs, Prediction.output, Prediction.outcome
                    ).where(Prediction.request_id.in_(list(missing)[:500]))
                ).all()
        finally:
            engine.dispose()
        for request_id, inputs, output, outcome in rows:  # the recovered records are whole
            assert inputs == {"x": acked[request_id]} and output == 2 * acked[request_id]
            assert outcome == "served"

        # The restarted server still serves and records.
        r = httpx.post(
            f"{second.url}/v1/services/echo/invoke",
            json={"inputs": {"x": 5}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert r.status_code == 200 and r.json()["output"] == 10
    finally:
        first.stop()
        if second is not None:
            second.stop()

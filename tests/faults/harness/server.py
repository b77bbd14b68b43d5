"""An instance set up before its server starts, and `shipyard serve` as a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, text

from shipyard.audit.service import Actor
from shipyard.core.config import Settings
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work
from shipyard.instance import init_instance, issue_key
from shipyard.registry import service as registry
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.schemas import ServiceCreate, VersionCreate
from shipyard.serving.policy import RuntimePolicy
from tests.factories import ECHO_SCHEMA
from tests.faults.harness.load import CLIENT_TIMEOUT_S
from tests.servers import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[3]
SHIPYARD = Path(sys.executable).parent / "shipyard"


class Instance:
    """An instance folder and database, set up through the real service functions before a server starts."""

    def __init__(self, home: Path, database_url: str = "") -> None:
        settings = Settings(home=home, database_url=database_url)
        self.settings = init_instance(settings, examples=False).settings
        self.home = home
        self.database_url = self.settings.database_url
        self.store = ArtifactStore(self.settings.artifacts_dir)
        self.consumer_key = self.key(["consumer"])
        self.admin_key = self.key(["admin"])  # reads runtimes, resets breakers

    def key(self, roles: list[str]) -> str:
        return issue_key(self.settings, "admin", f"fault test {'+'.join(roles)}", roles)

    @contextmanager
    def _uow(self) -> Iterator[Any]:
        engine = make_engine(self.database_url)
        try:
            with unit_of_work(make_sessionmaker(engine)) as session:
                yield session
        finally:
            engine.dispose()

    def service(
        self,
        slug: str,
        entrypoint: str,
        *,
        loader: str = "callable",
        timeout_ms: int = 2000,
        output_schema: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        returns_confidence: bool = True,
    ) -> None:
        """A service whose version 1 is live; `policy` is set after any versions it names exist."""
        with self._uow() as s:
            registry.create_service(
                s,
                Actor.system("fault-setup"),
                ServiceCreate(
                    slug=slug,
                    name=slug.title(),
                    input_schema=ECHO_SCHEMA,
                    output_schema=output_schema,
                    timeout_ms=timeout_ms,
                    owner="admin",
                ),
            )
        self.version(slug, entrypoint, loader=loader, returns_confidence=returns_confidence, live=True)
        if policy is not None:
            self.policy(slug, policy)

    def version(
        self,
        slug: str,
        entrypoint: str,
        *,
        loader: str = "callable",
        returns_confidence: bool = True,
        live: bool = False,
    ) -> int:
        with self._uow() as s:
            version = registry.register_version(
                s,
                Actor.system("fault-setup"),
                self.store,
                slug,
                VersionCreate(
                    loader=loader,
                    entrypoint=entrypoint,
                    returns_confidence=returns_confidence,
                    make_live=live,
                ),
            )
            return version.number

    def policy(self, slug: str, policy: dict[str, Any]) -> None:
        with self._uow() as s:
            registry.set_policy(s, Actor.system("fault-setup"), slug, RuntimePolicy.model_validate(policy))

    def serve(self, log: Path, **env: str) -> ShipyardServer:
        """Start `shipyard serve` on this instance and wait until /readyz answers 200."""
        server = ShipyardServer(self.home, self.database_url, log, env)
        server.wait_ready()
        return server


class ShipyardServer:
    """One `shipyard serve` child process on a free port, logging to a file (appended across restarts)."""

    def __init__(self, home: Path, database_url: str, log: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
        # cwd alone is not on sys.path for a console script; the callable models live in tests/. The
        # caller's PYTHONPATH stays: in a worktree it is what points `shipyard` at this tree's src/.
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        full_env.update(SHIPYARD_DATABASE_URL=database_url, PYTHONPATH=path, **env)
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
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def logs(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def wait_ready(self, timeout_s: float = 60) -> None:
        wait_until_up(self.url, self.proc, self.log, path="/readyz", timeout_s=timeout_s)

    def get(self, path: str, key: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = httpx.get(f"{self.url}{path}", headers=headers, timeout=CLIENT_TIMEOUT_S)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
        body: dict[str, Any] = r.json()
        return body

    def wait_drained(self, timeout_s: float = 30) -> dict[str, Any]:
        """Poll /readyz until the spool is empty (every record acked by the database); return it."""
        deadline = time.monotonic() + timeout_s
        while (ready := self.get("/readyz"))["spool_backlog"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready["spool_backlog"] == 0, f"the spool did not drain in {timeout_s} s: {ready}"
        return ready

    def breaker(self, key: str, slug: str, version: int = 1) -> str:
        """The state of a version's circuit breaker in this server process."""
        view = self.get(f"/v1/services/{slug}/runtime", key)
        states = {v["version"]: v["breaker"]["state"] for v in view["versions"]}
        assert version in states, f"{slug} v{version} is not in the runtime view: {view}"
        state: str = states[version]
        return state

    def reset_breaker(self, key: str, slug: str, version: int = 1) -> None:
        r = httpx.post(
            f"{self.url}/v1/services/{slug}/versions/{version}/breaker/reset",
            headers={"Authorization": f"Bearer {key}"},
            timeout=CLIENT_TIMEOUT_S,
        )
        assert r.status_code == 200, r.text

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples in this server process that carry `labels`."""
        text = httpx.get(f"{self.url}/metrics", timeout=CLIENT_TIMEOUT_S).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def assert_healthy(self) -> None:
        """Still running, and no request ever hit the unhandled-error (500) handler."""
        assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{self.logs()}"
        assert "unhandled error" not in self.log.read_text(errors="replace"), self.logs(12000)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no draining, the spool left as it lies."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def shipping_blocked(database_url: str) -> Iterator[Connection]:
    """Hold a lock that makes every insert into predictions wait (reads still work)."""
    engine = make_engine(database_url)
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

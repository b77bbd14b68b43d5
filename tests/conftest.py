"""Shared fixtures. Database tests run on SQLite and on the machine's real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from shipyard.core.clock import FrozenClock
from shipyard.core.config import Settings
from shipyard.db.engine import make_engine
from shipyard.db.migrate import upgrade
from shipyard.db.session import make_sessionmaker
from tests import factories
from tests.faults.servers import PrivatePostgres, PrivateRedis

PG_ADMIN_URL = os.environ.get("SHIPYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]
_TABLES = ["predictions", "audit_events", "console_sessions", "api_keys", "cache_epochs"]


def _psql(sql: str) -> None:
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One fresh PostgreSQL database for the whole run (per xdist worker), dropped at the end."""
    name = f"shipyard_test_{uuid.uuid4().hex[:10]}"
    _psql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wipe(url: str) -> None:
    """Empty every table between tests (much faster than a database per test)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE services SET live_version_id = NULL"))
            for table in [
                "alert_deliveries",
                "alert_silences",
                "alerts",
                "alert_channels",
                "alert_rules",
                "batch_row_attempts",
                "batch_dead_letters",
                "batch_jobs",
                "document_passages",
                "policy_documents",
                "review_tasks",
                "feedback",
                "labels",
                "quality_settings",
                "predictions",
                "rollup_buckets",
                "periodic_leases",
                "drift_feature_results",
                "drift_runs",
                "drift_references",
                "drift_settings",
                "audit_events",
                "console_sessions",
                "api_keys",
                "cache_epochs",
                "unknown_sign_ins",
                "model_versions",
                "services",
                "users",
            ]:
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("UPDATE audit_head SET seq = 0, hash = :h"), {"h": "0" * 64})
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shipyard.db'}"
        upgrade(url)
        return url
    url: str = request.getfixturevalue("pg_url")
    _wipe(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        home=tmp_path / "home",
        database_url=db_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        # Tests run periodic jobs with `ctx.periodic.run_due()`, so no background thread races them.
        monitoring={"periodic_jobs": False},
    )  # type: ignore[arg-type]


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as s:
        yield s
        s.rollback()
    engine.dispose()


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[object]:
    from shipyard.web.app import create_app

    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def world(app: object) -> factories.World:
    """Users, keys and services to act with, created through the real services."""
    return factories.World(app)  # type: ignore[arg-type]


# -- private servers that a test may stop, kill and restart (never the machine's shared ones) --------


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A fresh, running PostgreSQL cluster with an empty `shipyard` database; removed afterwards.

    Function-scoped: a fault test leaves its server crashed or half-recovered, and initdb is cheap.
    """
    # Not tmp_path: pytest's temp root is 0700 root, which the postgres user cannot pass through.
    base = Path(tempfile.mkdtemp(prefix="shipyard-pg-"))
    base.chmod(0o755)
    server = PrivatePostgres(base)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A running redis-server of the test's own; killed afterwards."""
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "[postgresql" in item.nodeid or "pg_url" in names or "private_pg" in names:
            item.add_marker(pytest.mark.postgres)
        if "private_pg" in names or "private_redis" in names:
            item.add_marker(pytest.mark.slow)


__all__ = ["subprocess"]


# -- the policy assistant's embedder: loading it takes ~10 s, so one per test session -----------------


@pytest.fixture(scope="session")
def shared_embedder() -> object:
    from shipyard.assistants.policy.embedder import Embedder

    return Embedder(torch_threads=1)


@pytest.fixture
def corpus(world: factories.World, shared_embedder: object) -> object:
    """The world's live corpus, built on the session's embedder instead of loading its own."""
    from shipyard.assistants.policy.live import LiveCorpus

    ctx = world.ctx
    live = LiveCorpus.for_home(
        ctx.sessions, ctx.settings.documents_dir, ctx.settings.secret(), ctx.settings.assistant
    )
    live.embedder = shared_embedder  # type: ignore[assignment]
    ctx._corpus = live
    return live

"""The private servers go down and come back the way fault tests need, and clients notice both."""

from __future__ import annotations

import psycopg
import pytest
import redis

from tests.faults.servers import PrivatePostgres, PrivateRedis


def _pg_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def test_postgres_stops_restarts_and_keeps_committed_data(private_pg: PrivatePostgres) -> None:
    assert private_pg.url.endswith("/shipyard") and ":5432/" not in private_pg.url
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE marks (n int)")
        conn.execute("INSERT INTO marks VALUES (1)")
        held = psycopg.connect(private_pg.url, autocommit=True)
    try:
        private_pg.stop()  # immediate: like a crash
        assert not private_pg.running()
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")  # a connection open across the outage sees it
        assert not _pg_answers(private_pg.url)
    finally:
        held.close()

    private_pg.start()
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        conn.execute("INSERT INTO marks VALUES (2)")
    private_pg.kill()
    assert not private_pg.running() and not _pg_answers(private_pg.url)

    private_pg.start()  # crash recovery replays the WAL
    with psycopg.connect(private_pg.url) as conn:
        assert conn.execute("SELECT n FROM marks ORDER BY n").fetchall() == [(1,), (2,)]
    private_pg.stop("fast")
    private_pg.start()
    assert _pg_answers(private_pg.url)


def test_postgres_rejects_an_unknown_stop_mode(private_pg: PrivatePostgres) -> None:
    with pytest.raises(ValueError, match="unknown pg_ctl stop mode"):
        private_pg.stop("gently")
    assert private_pg.running()


def test_postgres_close_removes_the_cluster(private_pg: PrivatePostgres) -> None:
    private_pg.close()
    assert not private_pg.root.exists() and not _pg_answers(private_pg.url)


def test_redis_stops_restarts_freezes_and_dies(private_redis: PrivateRedis) -> None:
    assert not private_redis.url.startswith("redis://127.0.0.1:6379")
    client = redis.Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        client.set("k", "v")
        assert client.get("k") == b"v"

        private_redis.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        private_redis.start()  # same port, empty: nothing was persisted
        assert client.ping() and client.get("k") is None

        private_redis.freeze()
        with pytest.raises(redis.TimeoutError):
            client.ping()  # the port accepts, nothing answers
        private_redis.thaw()
        assert client.ping()

        private_redis.kill()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        private_redis.start()
        assert client.ping()
    finally:
        client.close()

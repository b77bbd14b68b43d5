"""The change bus with Redis down from the start, dying mid-run, going silent, and coming back:
changes keep reaching other workers by polling, nothing waits on Redis, each worker warns once and
says when Redis is back, and the subscription is renewed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from shipyard.db.changes import CHANNEL, ChangeBus, bump
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work
from tests.faults.servers import PrivateRedis
from tests.servers import accept_all, black_hole, free_port

LOGGER = "shipyard.db.changes"


class Heard:
    """Counts invalidations of one topic, and waits for the next."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_beyond(self, count: int, timeout_s: float = 30) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.count > count, timeout_s), "the change never arrived"


@contextmanager
def running_bus(
    db_url: str, redis_url: str | None, *, poll_s: float = 0.1, retry_s: float = 0.1
) -> Iterator[tuple[ChangeBus, sessionmaker[Session]]]:
    engine = make_engine(db_url)
    bus = ChangeBus(redis_retry_s=retry_s)
    factory = make_sessionmaker(engine, bus=bus)
    bus.start(factory, poll_s, redis_url)
    try:
        yield bus, factory
    finally:
        bus.stop()
        engine.dispose()


def change(factory: sessionmaker[Session], topic: str = "registry") -> None:
    with unit_of_work(factory) as session:
        bump(session, topic)


def until(predicate: object, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def subscribers(url: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return int(client.pubsub_numsub(CHANNEL)[0][1])
    except redis.RedisError:
        return 0
    finally:
        client.close()


def publish_directly(url: str, topic: str) -> None:
    """A change announced on Redis only: no counter moves, so polling cannot be what delivers it."""
    client = redis.Redis.from_url(url)
    try:
        client.publish(CHANNEL, topic)
    finally:
        client.close()


def test_redis_down_from_the_start(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    heard = Heard()
    with running_bus(db_url, dead) as (_, writer), running_bus(db_url, dead) as (reader, _):
        reader.subscribe("registry", heard)
        for _ in range(3):
            before = heard.count
            change(writer)
            heard.wait_beyond(before)
        time.sleep(1)  # ten retry intervals and ten polls: none of them may warn again
    warnings = logged(caplog, logging.WARNING)
    assert len(warnings) == 2, warnings  # one per worker
    assert all("polling" in w for w in warnings)


def test_a_black_holed_redis_is_not_waited_on_for_every_change(db_url: str) -> None:
    # A port that accepts connections and never answers: every attempt costs a full timeout.
    with black_hole() as hole:
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}/0"
        with running_bus(db_url, url, retry_s=60) as (_, writer):
            heard = Heard()
            with running_bus(db_url, None) as (reader, _):
                reader.subscribe("registry", heard)
                for _ in range(5):
                    before = heard.count
                    change(writer)
                    heard.wait_beyond(before)
            attempts = accept_all(hole)
    assert 1 <= attempts <= 2  # the subscriber's first try, and at most one publish


def test_redis_dies_and_comes_back(
    db_url: str, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    url = private_redis.url
    heard = Heard()
    with running_bus(db_url, url) as (_, writer), running_bus(db_url, url) as (reader, _):
        reader.subscribe("registry", heard)
        until(lambda: subscribers(url) == 2)
        publish_directly(url, "registry")
        heard.wait_beyond(0)

        private_redis.kill()
        for _ in range(3):
            before = heard.count
            change(writer)  # its publish fails; polling carries the change
            heard.wait_beyond(before)
        until(lambda: len(logged(caplog, logging.WARNING)) == 2)
        time.sleep(1)  # retries keep failing quietly
        assert len(logged(caplog, logging.WARNING)) == 2

        private_redis.start()
        until(lambda: subscribers(url) == 2)  # both resubscribed
        before = heard.count
        publish_directly(url, "registry")
        heard.wait_beyond(before)
        until(lambda: len([m for m in logged(caplog, logging.INFO) if "back" in m]) == 2)
    assert len(logged(caplog, logging.WARNING)) == 2


def test_a_silent_redis_is_noticed_and_the_subscription_renewed(
    db_url: str, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    url = private_redis.url
    heard = Heard()
    with running_bus(db_url, url) as (reader, _):
        reader.subscribe("registry", heard)
        until(lambda: subscribers(url) == 1)
        private_redis.freeze()  # the connection stays open; nothing comes through it
        until(lambda: len(logged(caplog, logging.WARNING)) == 1)
        private_redis.thaw()
        until(lambda: any("back" in m for m in logged(caplog, logging.INFO)))
        until(lambda: subscribers(url) >= 1)
        before = heard.count
        publish_directly(url, "registry")
        heard.wait_beyond(before)

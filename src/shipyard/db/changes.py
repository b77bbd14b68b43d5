"""Change notification for in-process caches.

A transaction that changes cached state calls `bump(session, topic)`: it increments a counter row in
the same transaction and, once committed, tells this process's caches at once. Other processes hear
of it through Redis pub/sub when configured, and through polling the counters otherwise (or if
Redis is down), so the hot path serves from memory and still sees every change within seconds.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shipyard.db.base import Base
from shipyard.db.session import after_commit

log = logging.getLogger(__name__)
CHANNEL = "shipyard:changes"


class CacheEpoch(Base):
    __tablename__ = "cache_epochs"

    topic: Mapped[str] = mapped_column(String(50), primary_key=True)
    epoch: Mapped[int] = mapped_column(default=0)


class ChangeBus:
    """Process-wide fan-out of 'topic changed' to cache callbacks."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._seen: dict[str, int] = {}
        self._primed = False
        self._redis: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        self._subscribers[topic].append(callback)

    def notify_local(self, topic: str) -> None:
        for callback in self._subscribers.get(topic, ()):
            try:
                callback()
            except Exception:  # a broken cache must not break the writer
                log.exception("cache invalidation for %s failed", topic)

    def publish(self, topic: str) -> None:
        self.notify_local(topic)
        if self._redis is not None:
            try:
                self._redis.publish(CHANNEL, topic)
            except Exception as exc:  # polling still covers other processes
                log.warning("could not publish change of %s to Redis: %s", topic, exc)

    def poll_once(self, factory: sessionmaker[Session]) -> None:
        with factory() as session:
            rows = session.execute(select(CacheEpoch.topic, CacheEpoch.epoch)).all()
        for topic, epoch in rows:
            # The first poll only learns where things stand; after it, a topic seen for the first
            # time has changed since we started.
            if self._primed and self._seen.get(topic) != epoch:
                self.notify_local(topic)
            self._seen[topic] = epoch
        self._primed = True

    def start(self, factory: sessionmaker[Session], poll_seconds: float, redis_url: str | None) -> None:
        try:
            self.poll_once(factory)
        except Exception as exc:
            log.warning("change poll failed: %s", exc)
        self._threads.append(
            threading.Thread(
                target=self._poll_loop, args=(factory, poll_seconds), name="shipyard-change-poll", daemon=True
            )
        )
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            self._threads.append(
                threading.Thread(target=self._redis_loop, name="shipyard-change-sub", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3)
        self._threads.clear()

    def _poll_loop(self, factory: sessionmaker[Session], poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                self.poll_once(factory)
            except Exception as exc:  # database down: caches keep serving what they have
                log.warning("change poll failed: %s", exc)

    def _redis_loop(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self.notify_local(message["data"].decode())
            except Exception as exc:
                log.warning("Redis change subscription lost (%s); relying on polling", exc)
                self._stop.wait(5)


def bump(session: Session, topic: str) -> None:
    """Record that `topic` changed, in the caller's transaction."""
    bumped: set[str] = session.info.setdefault("bumped", set())
    if topic in bumped:
        return
    bumped.add(topic)
    result = session.execute(
        update(CacheEpoch).where(CacheEpoch.topic == topic).values(epoch=CacheEpoch.epoch + 1)
    )
    if not getattr(result, "rowcount", 1):
        session.add(CacheEpoch(topic=topic, epoch=1))
        session.flush()
    bus: ChangeBus | None = session.info.get("bus")
    if bus is not None:
        after_commit(session, lambda: bus.publish(topic))

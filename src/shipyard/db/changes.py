"""Change notification for in-process caches.

A transaction that changes cached state calls `bump(session, topic)`: it increments a counter row in
the same transaction and, once committed, tells this process's caches at once. Other processes hear
of it through Redis pub/sub when configured, and through polling the counters otherwise (or if
Redis is down), so the hot path serves from memory and still sees every change within seconds.
"""

from __future__ import annotations

import logging
import threading
import time
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
    """Process-wide fan-out of 'topic changed' to cache callbacks.

    Redis only speeds things up, so nothing waits on it: short timeouts, no client retries, and
    once it fails, no publishing to it for `redis_retry_s` while polling carries changes. An outage
    logs one warning and its end one info line, however many polls and retries lie between.
    """

    def __init__(self, *, redis_retry_s: float = 5.0) -> None:
        self._subscribers: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._seen: dict[str, int] = {}
        self._primed = False
        self._redis: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._redis_retry_s = redis_retry_s
        self._redis_lock = threading.Lock()
        self._redis_down = False
        self._publish_after = 0.0  # monotonic; no publishing to Redis before it
        self._poll_failing = False

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
        if self._redis is not None and time.monotonic() >= self._publish_after:
            try:
                self._redis.publish(CHANNEL, topic)
            except Exception as exc:  # polling still covers other processes
                self._redis_failed(exc)

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
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # Publishing runs after a commit, on the request's thread: fail fast, never retry.
            self._redis = redis.Redis.from_url(
                redis_url, socket_timeout=0.5, socket_connect_timeout=0.25, retry=Retry(NoBackoff(), 0)
            )
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
        if self._redis is not None:
            self._redis.close()

    def _poll_loop(self, factory: sessionmaker[Session], poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                self.poll_once(factory)
            except Exception as exc:  # database down: caches keep serving what they have
                if not self._poll_failing:
                    log.warning("change poll failed (%s); caches serve what they hold until it works", exc)
                self._poll_failing = True
            else:
                if self._poll_failing:
                    log.info("change poll works again")
                self._poll_failing = False

    def _redis_loop(self) -> None:
        tick = min(1.0, self._redis_retry_s)
        # Long enough that a busy machine's slow PONG is not taken for a dead Redis.
        silence_limit = max(3 * self._redis_retry_s, 2.0)
        while not self._stop.is_set():
            pubsub = self._redis.pubsub()
            try:
                pubsub.subscribe(CHANNEL)
                heard = pinged = time.monotonic()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=tick)
                    now = time.monotonic()
                    if message is not None:
                        heard = now
                        if message["type"] == "subscribe":
                            self._redis_back()
                        elif message["type"] == "message":
                            self.notify_local(message["data"].decode())
                    elif now - heard > silence_limit:
                        # A Redis that stopped answering (frozen, partitioned) drops nothing; only
                        # the silence after our pings gives it away.
                        raise TimeoutError(f"no answer from Redis in {now - heard:.1f} s")
                    elif now - max(heard, pinged) > self._redis_retry_s:
                        pubsub.ping()
                        pinged = now
            except Exception as exc:
                self._redis_failed(exc)
                self._stop.wait(self._redis_retry_s)
            finally:
                try:
                    pubsub.close()
                except Exception:  # already broken; nothing left to release
                    pass

    def _redis_failed(self, exc: Exception) -> None:
        with self._redis_lock:
            self._publish_after = time.monotonic() + self._redis_retry_s
            if self._redis_down:
                return
            self._redis_down = True
        log.warning("Redis is unreachable (%s); changes reach other workers by polling until it is back", exc)

    def _redis_back(self) -> None:
        with self._redis_lock:
            self._publish_after = 0.0
            if not self._redis_down:
                return
            self._redis_down = False
        log.info("Redis is back; changes reach other workers at once again")


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

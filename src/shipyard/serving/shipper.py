"""Ships the spool to the database: read a batch, hand it to the sink, ack; retry with backoff when the
sink fails (database down), never skipping or reordering records."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from shipyard.serving.spool import Spool, SpoolCursor

logger = logging.getLogger(__name__)


class Shipper:
    """Background thread that moves spooled records to a sink in batches, acking only what the sink took."""

    def __init__(
        self,
        spool: Spool,
        sink: Callable[[list[dict[str, Any]]], None],
        *,
        batch: int = 500,
        interval_s: float = 0.2,
        max_backoff_s: float = 5.0,
        min_backoff_s: float = 0.1,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._spool = spool
        self._sink = sink
        self._batch = batch
        self._interval_s = interval_s
        self._max_backoff_s = max_backoff_s
        self._min_backoff_s = min(min_backoff_s, max_backoff_s)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._hurry = threading.Event()  # cuts the pause between partial batches short
        self._progress = threading.Condition()
        self._last_error: str | None = None
        self._shipped = 0

    @property
    def last_error(self) -> str | None:
        """The error of the current failing streak; None once a batch ships again."""
        return self._last_error

    @property
    def shipped_total(self) -> int:
        """Records handed to the sink and acked since this shipper was created."""
        return self._shipped

    def start(self) -> None:
        """Start the background thread (no-op if it is running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._draining.clear()
        self._thread = threading.Thread(target=self._run, name="shipyard-spool-shipper", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True, timeout_s: float = 10.0) -> None:
        """Stop the thread; with drain, ship what is left first, giving up after timeout_s."""
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + timeout_s
        self._hurry.set()
        if drain:
            self._spool._barrier(timeout_s)  # appends already queued become readable first
            self._draining.set()
            self._spool.data_ready.set()
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("spool shipper: %d records left unshipped at stop", self._spool.backlog())
        self._stop.set()
        self._spool.data_ready.set()
        thread.join(max(0.1, deadline - time.monotonic()))
        if thread.is_alive():
            logger.warning("spool shipper: the sink did not return in time; leaving its thread behind")
        else:
            self._thread = None

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Block until everything appended so far is acked; True if it was within timeout_s."""
        deadline = time.monotonic() + timeout_s
        spool = self._spool
        spool._barrier(timeout_s)
        self._hurry.set()
        with spool._lock:
            target = spool._written
        with self._progress:
            return self._progress.wait_for(
                lambda: spool._acked_n >= target, timeout=max(0.0, deadline - time.monotonic())
            )

    def _run(self) -> None:
        ready = self._spool.data_ready
        attempt = 0
        while not self._stop.is_set():
            ready.clear()  # before read(), so a write landing after it still wakes us
            try:
                records, cursor = self._spool.read(self._batch)
            except Exception as exc:
                attempt += 1
                if not self._backoff("read", exc, attempt):
                    return
                continue
            attempt = 0
            if not records:
                if self._draining.is_set():
                    return
                ready.wait(self._interval_s)
                continue
            if not self._ship(records, cursor):
                return
            if len(records) < self._batch:
                # Let the next batch fill up a little: under load this means far fewer inserts and
                # cursor fsyncs. flush() and stop() cut the pause short.
                self._hurry.wait(self._interval_s)
                self._hurry.clear()

    def _ship(self, records: list[dict[str, Any]], cursor: SpoolCursor) -> bool:
        """Hand one batch to the sink until it takes it; False if stopped first. Never skips or reorders."""
        attempt = 0
        while True:
            try:
                self._sink(records)
                self._spool.ack(cursor)
            except Exception as exc:
                attempt += 1
                if not self._backoff("ship", exc, attempt):
                    return False
                continue
            with self._progress:
                self._shipped += len(records)
                self._last_error = None
                self._progress.notify_all()
            return True

    def _backoff(self, what: str, exc: Exception, attempt: int) -> bool:
        """Record a failure and sleep before retrying; False if stopped meanwhile."""
        self._last_error = f"{type(exc).__name__}: {exc}"
        # Jitter keeps the workers that lost the same database from retrying in lockstep.
        delay = min(self._max_backoff_s, self._min_backoff_s * 2 ** min(attempt - 1, 30))
        delay *= random.uniform(0.5, 1.0)
        logger.warning(
            "spool shipper: %s failed (attempt %d, backlog %d), retrying in %.2fs: %s",
            what,
            attempt,
            self._spool.backlog(),
            delay,
            self._last_error,
            exc_info=attempt == 1,
        )
        return not self._stop.wait(delay)

"""Load: concurrent invokes from a background thread, with every reply recorded.

Each request names itself (the `X-Request-Id` header, which the server adopts), so a request that
never got an answer still has a known id: after a kill -9 a test can tell exactly which recorded
predictions were in flight and which were acknowledged.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

CLIENT_TIMEOUT_S = 5.0  # past this, a call counts as a hang


@dataclass(frozen=True)
class Reply:
    """One request and what came back: an HTTP answer, or `error` (a transport error's type, "timeout")."""

    request_id: str
    slug: str
    phase: str
    status: int | None
    code: str | None = None  # a problem's code
    outcome: str | None = None  # a 200's outcome
    fallback_step: str | None = None
    fallback_cause: str | None = None
    output: Any = None
    retry_after: str | None = None
    echoed_id: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def kind(self) -> str:
        """A short label for summaries: `200 served`, `503 shed`, `error ReadError`."""
        if self.status is None:
            return f"error {self.error}"
        return f"{self.status} {self.outcome or self.code}"


def summary(replies: Sequence[Reply]) -> Counter[str]:
    return Counter(r.kind for r in replies)


class Load:
    """Concurrent invokes from a background thread, every reply recorded.

    `clients` callers each send one request at a time, round-robin over `slugs`, until `stop()` (or
    `calls` requests in all). Set `phase` to label the replies to requests sent from then on.
    """

    def __init__(
        self,
        url: str,
        key: str,
        slugs: str | Sequence[str],
        *,
        name: str = "load",
        clients: int = 6,
        inputs: Callable[[int], dict[str, Any]] = lambda n: {"x": n % 50},
        calls: int | None = None,
        timeout_s: float = CLIENT_TIMEOUT_S,
        pause_s: float = 0.0,
        refusal_pause_s: float = 0.05,
    ) -> None:
        self.url = url
        self.key = key
        self.slugs = [slugs] if isinstance(slugs, str) else list(slugs)
        if not re.fullmatch(r"[a-z0-9]+", name):  # the tag is matched with LIKE: no wildcards in it
            raise ValueError(f"a load's name is lower-case letters and digits, not {name!r}")
        self.tag = f"{name}-{uuid.uuid4().hex[:8]}"  # also the prefix of every request id
        self.clients = clients
        self.inputs = inputs
        self.calls = calls
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self.refusal_pause_s = refusal_pause_s  # a polite client waits a little after a 503 or 429
        self.phase = "start"
        self._replies: list[Reply] = []
        self._issued = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name=self.tag, daemon=True)
        self._crash: BaseException | None = None

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Load:
        self._thread.start()
        return self

    @property
    def replies(self) -> list[Reply]:
        with self._changed:
            return list(self._replies)

    def wait_for(
        self, n: int, where: Callable[[Reply], bool] = lambda r: True, *, timeout_s: float = 60
    ) -> None:
        """Block until `n` more replies matching `where` than there are now have come back."""
        with self._changed:
            target = sum(1 for r in self._replies if where(r)) + n

            def reached() -> bool:
                done = self._crash is not None or not self._thread.is_alive()
                return done or sum(1 for r in self._replies if where(r)) >= target

            ok = self._changed.wait_for(reached, timeout=timeout_s)
            got = sum(1 for r in self._replies if where(r))
        if self._crash is not None:
            raise AssertionError(f"the load generator crashed: {self._crash!r}")
        assert ok and got >= target, (
            f"{self.tag} ({self.phase}): {got - target + n} of {n} awaited replies in {timeout_s} s; "
            f"so far {dict(summary(self.replies))}"
        )

    def stop(self) -> list[Reply]:
        """Stop sending, wait for the requests in flight to end, return every reply."""
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 30)
        assert not self._thread.is_alive(), f"{self.tag}: the load generator did not stop"
        if self._crash is not None:
            raise AssertionError(f"the load generator crashed: {self._crash!r}")
        return self.replies

    def run(self) -> list[Reply]:
        """Send all `calls` and wait for their replies; return every reply."""
        assert self.calls is not None, "run() needs a fixed number of calls"
        self.start()
        self._thread.join(timeout=self.timeout_s * self.calls + 60)
        return self.stop()

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            async with httpx.AsyncClient(
                base_url=self.url, limits=limits, timeout=self.timeout_s, headers=headers
            ) as client:
                await asyncio.gather(*(self._client(client) for _ in range(self.clients)))
        except BaseException as exc:
            self._crash = exc
            raise
        finally:
            with self._changed:
                self._changed.notify_all()

    def _next(self) -> int | None:
        with self._changed:
            if self._stop.is_set() or (self.calls is not None and self._issued >= self.calls):
                return None
            self._issued += 1
            return self._issued - 1

    async def _client(self, client: httpx.AsyncClient) -> None:
        while (n := self._next()) is not None:
            reply = await self._call(client, n)
            with self._changed:
                self._replies.append(reply)
                self._changed.notify_all()
            if reply.status is None:
                await asyncio.sleep(0.02)  # the server is gone: do not spin
            elif reply.status in (429, 503):
                await asyncio.sleep(self.refusal_pause_s)
            if self.pause_s:
                await asyncio.sleep(self.pause_s)

    async def _call(self, client: httpx.AsyncClient, n: int) -> Reply:
        request_id = f"{self.tag}-{n:06d}"
        slug = self.slugs[n % len(self.slugs)]
        phase = self.phase
        t0 = time.monotonic()
        try:
            r = await client.post(
                f"/v1/services/{slug}/invoke",
                json={"inputs": self.inputs(n)},
                headers={"X-Request-Id": request_id},
            )
        except httpx.TimeoutException:
            return Reply(request_id, slug, phase, None, error="timeout", elapsed_s=time.monotonic() - t0)
        except httpx.TransportError as exc:
            return Reply(
                request_id, slug, phase, None, error=type(exc).__name__, elapsed_s=time.monotonic() - t0
            )
        elapsed = time.monotonic() - t0
        try:
            body = r.json()
        except ValueError:
            body = {"code": f"not json: {r.text[:80]!r}"}
        fallback = body.get("fallback") or {}
        return Reply(
            request_id,
            slug,
            phase,
            r.status_code,
            code=None if r.status_code == 200 else body.get("code"),
            outcome=body.get("outcome") if r.status_code == 200 else None,
            fallback_step=fallback.get("step"),
            fallback_cause=fallback.get("cause"),
            output=body.get("output"),
            retry_after=r.headers.get("retry-after"),
            echoed_id=r.headers.get("x-request-id"),
            elapsed_s=elapsed,
        )

"""An asyncio HTTP/1.1 load generator that records every call: open loop (on a schedule) or closed loop.

It speaks just enough HTTP/1.1 for a JSON API on loopback (keep-alive, Content-Length bodies) over
asyncio streams, which costs the generator far less CPU per call than a general client, so on a small
machine the server gets the cores. Every call carries its own X-Request-Id, so what the server recorded
can be checked call by call afterwards.

Open loop: call i is due at a planned instant, whatever happened to earlier calls; a call whose
connection is busy opens another one rather than waiting, so a slow server cannot slow the offered
load. Latency is measured from the planned instant (no coordinated omission): if the generator itself
falls behind, that lag counts against the call and is reported separately as `lag`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


@dataclass(slots=True)
class Call:
    request_id: str
    planned: float  # time.monotonic() when it was due
    sent: float  # when its bytes were handed to the socket
    done: float  # when its whole response had arrived (or it failed)
    status: int  # HTTP status; 0 when no response came (connection error, client timeout)
    code: str  # 200: the body's outcome; otherwise the problem's code, or the client error
    retry_after: str | None
    detail: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.done - self.planned) * 1000

    @property
    def lag_ms(self) -> float:
        return (self.sent - self.planned) * 1000


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    api_key: str
    timeout_s: float = 30.0

    def request(self, body: bytes, request_id: str) -> bytes:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.api_key}\r\nContent-Type: application/json\r\n"
            f"X-Request-Id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body


# uvicorn closes a keep-alive connection idle for 5 s; reusing one just as it does so loses the call.
IDLE_EXPIRY_S = 2.0


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.reusable = reader, writer, True
        self.last_used = time.monotonic()

    def fresh(self) -> bool:
        return time.monotonic() - self.last_used < IDLE_EXPIRY_S and not self.reader.at_eof()

    async def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            self.reusable = False
            raise ValueError(f"a {status} response without Content-Length; this client reads no other kind")
        body = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        return status, headers, body

    def close(self) -> None:
        self.reusable = False
        self.writer.close()


class Client:
    """A pool of keep-alive connections to one target; a call takes an idle one or opens a new one."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._idle: list[_Conn] = []
        self.opened = 0

    async def call(self, body: bytes, request_id: str, planned: float) -> Call:
        sent = time.monotonic()
        conn: _Conn | None = None
        try:
            async with asyncio.timeout(self.target.timeout_s):
                while self._idle and not self._idle[-1].fresh():
                    self._idle.pop().close()
                if self._idle:
                    conn = self._idle.pop()
                else:
                    reader, writer = await asyncio.open_connection(self.target.host, self.target.port)
                    conn = _Conn(reader, writer)
                    self.opened += 1
                sent = time.monotonic()
                status, headers, payload = await conn.exchange(self.target.request(body, request_id))
        except (
            OSError,
            ValueError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            if conn is not None:
                conn.close()
            return Call(request_id, planned, sent, time.monotonic(), 0, f"client:{type(exc).__name__}", None)
        done = time.monotonic()
        if conn.reusable:
            conn.last_used = done
            self._idle.append(conn)
        else:
            conn.close()
        code, detail = _read_body(status, payload)
        return Call(request_id, planned, sent, done, status, code, headers.get("retry-after"), detail)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def _read_body(status: int, payload: bytes) -> tuple[str, str]:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ("unreadable body", payload[:200].decode("utf-8", "replace"))
    if not isinstance(data, dict):
        return ("unreadable body", payload[:200].decode("utf-8", "replace"))
    if status == 200:
        return (str(data.get("outcome")), "")
    return (str(data.get("code")), str(data.get("detail", "")))


def schedule(rate: float, seconds: float, arrivals: str, seed: int = 0) -> list[float]:
    """Offsets (s from the start) of the calls of an open-loop run: evenly spaced, or a Poisson process."""
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    if arrivals == "uniform":
        return [i / rate for i in range(int(rate * seconds))]
    if arrivals != "poisson":
        raise ValueError(f"arrivals must be uniform or poisson, got {arrivals!r}")
    rng, t = random.Random(seed), 0.0
    out: list[float] = []
    while True:
        t += rng.expovariate(rate)
        if t >= seconds:
            return out
        out.append(t)


async def open_loop(
    target: Target, body: Callable[[int], bytes], offsets: Sequence[float], request_id: Callable[[int], str]
) -> tuple[list[Call], int]:
    """Fire call i at start + offsets[i], never waiting for answers; returns the calls and connections."""
    client = Client(target)
    tasks: list[asyncio.Task[Call]] = []
    # A full collection over tens of thousands of live calls stalls the schedule for tens of ms; the run
    # allocates little that is garbage, so the collector waits until it ends.
    gc.collect()
    gc.disable()
    start = time.monotonic() + 0.05
    try:
        for i, offset in enumerate(offsets):
            due = start + offset
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(client.call(body(i), request_id(i), due)))
        calls = list(await asyncio.gather(*tasks))
    finally:
        gc.enable()
        for task in tasks:
            task.cancel()
        client.close()
    return calls, client.opened


async def closed_loop(
    target: Target,
    body: Callable[[int], bytes],
    clients: int,
    seconds: float,
    request_id: Callable[[int], str],
) -> list[Call]:
    """`clients` callers, each sending its next call as soon as the last one is answered, for `seconds`."""
    counter = iter(range(1 << 62))
    end = time.monotonic() + seconds
    calls: list[Call] = []

    async def caller() -> None:
        client = Client(target)
        try:
            while time.monotonic() < end:
                i = next(counter)
                calls.append(await client.call(body(i), request_id(i), time.monotonic()))
        finally:
            client.close()

    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(caller())
    return calls


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (less generator CPU per call), else on asyncio."""
    factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile (the smallest value with at least p% of them at or below it)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[rank - 1]

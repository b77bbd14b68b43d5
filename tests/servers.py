"""Helpers for tests that run a real server: a free loopback port, a port that never answers, and
waiting until a server answers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def black_hole() -> Iterator[socket.socket]:
    """A listening port that accepts connections and never answers: each attempt costs a full timeout.

    The socket is non-blocking, so `accept_all` can count the connections attempted meanwhile."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(100)
        hole.setblocking(False)
        yield hole


def accept_all(listener: socket.socket) -> int:
    """Accept and close every pending connection on a non-blocking listener; how many there were."""
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def wait_until_up(
    url: str, proc: subprocess.Popen[bytes], log: Path, *, path: str = "/healthz", timeout_s: float = 60
) -> None:
    """Poll `url + path` until it answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer {path} in {timeout_s} s:\n{log.read_text()[-4000:]}")

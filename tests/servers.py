"""Helpers for tests that run a real server: a free loopback port, a port that never answers, waiting
until a server answers, and a small JSON endpoint that can be made slow, failing or absent."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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


class JsonServer(ABC):
    """A JSON-over-HTTP endpoint in a thread of the test process, on a port of its own, that a test can
    take down (connection refused) and bring back on the same port. Subclasses answer POSTs in
    `respond`, which may sleep to be slow."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self.up()

    @abstractmethod
    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body to answer a POST to `path` with."""

    def up(self) -> None:
        if self._server is not None:
            return
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                status, payload = owner.respond(self.path, body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller timed out and hung up first
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._server = server

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

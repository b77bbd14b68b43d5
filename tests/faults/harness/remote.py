"""A remote model endpoint that a test can make slow, broken or absent."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


class RemoteModel:
    """A JSON model endpoint in a thread of the test process, on a port of its own.

    Modes: `ok` answers {"output": 2x, "confidence": 0.9}; `slow` answers the same after `slow_s`;
    `error` answers 500. `down()` closes the listening socket (connection refused), `up()` reopens it
    on the same port.
    """

    def __init__(self, slow_s: float = 2.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/predict"
        self.mode = "ok"
        self.slow_s = slow_s
        self.hits = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        if self._server is not None:
            return
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with model._lock:
                    model.hits += 1
                mode = model.mode
                if mode == "slow":
                    time.sleep(model.slow_s)
                if mode == "error":
                    self._send(500, {"error": "the model server is broken"})
                else:
                    self._send(200, {"output": body["inputs"]["x"] * 2, "confidence": 0.9})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
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

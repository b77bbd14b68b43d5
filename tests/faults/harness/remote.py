"""A remote model endpoint that a test can make slow, broken or absent."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.servers import JsonServer


class RemoteModel(JsonServer):
    """A JSON model endpoint in a thread of the test process, on a port of its own.

    Modes: `ok` answers {"output": 2x, "confidence": 0.9}; `slow` answers the same after `slow_s`;
    `error` answers 500. `down()` closes the listening socket (connection refused), `up()` reopens it
    on the same port.
    """

    def __init__(self, slow_s: float = 2.0) -> None:
        self.mode = "ok"
        self.slow_s = slow_s
        self.hits = 0
        self._lock = threading.Lock()
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/predict"

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.hits += 1
        mode = self.mode
        if mode == "slow":
            time.sleep(self.slow_s)
        if mode == "error":
            return 500, {"error": "the model server is broken"}
        return 200, {"output": body["inputs"]["x"] * 2, "confidence": 0.9}

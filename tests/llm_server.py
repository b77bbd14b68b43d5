"""A stand-in for a remote OpenAI-compatible LLM provider: a real HTTP server a test can make slow,
failing or absent."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


class FakeLLM:
    """POST /v1/chat/completions in a thread of the test process.

    Modes: `ok` answers by quoting the first passage it was given and citing it as [1]; `slow` does so
    after `slow_s`; `error` answers 500; `uncited` answers without citing any passage. `down()` closes
    the port (connection refused). Every request body is kept in `requests`.
    """

    def __init__(self, slow_s: float = 3.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.mode = "ok"
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                llm.requests.append(body)
                if llm.mode == "slow":
                    time.sleep(llm.slow_s)
                if llm.mode == "error":
                    return self._send(500, {"error": {"message": "the provider is having a bad day"}})
                prompt = body["messages"][-1]["content"]
                first = prompt.split("[1] ", 1)[1].split("\n\n", 1)[0] if "[1] " in prompt else ""
                text = f"According to the policy, {first} [1]" if llm.mode != "uncited" else "Probably yes."
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller gave up first
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

"""A stand-in for a remote OpenAI-compatible LLM provider: a real HTTP server a test can make slow,
failing or absent."""

from __future__ import annotations

import time
from typing import Any

from tests.servers import JsonServer


class FakeLLM(JsonServer):
    """POST /v1/chat/completions in a thread of the test process.

    Modes: `ok` answers by quoting the first passage it was given and citing it as [1]; `slow` does so
    after `slow_s`; `error` answers 500; `uncited` answers without citing any passage. `down()` closes
    the port (connection refused). Every request body is kept in `requests`.
    """

    def __init__(self, slow_s: float = 3.0) -> None:
        self.mode = "ok"
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append(body)
        if self.mode == "slow":
            time.sleep(self.slow_s)
        if self.mode == "error":
            return 500, {"error": {"message": "the provider is having a bad day"}}
        prompt = body["messages"][-1]["content"]
        first = prompt.split("[1] ", 1)[1].split("\n\n", 1)[0] if "[1] " in prompt else ""
        text = f"According to the policy, {first} [1]" if self.mode != "uncited" else "Probably yes."
        return 200, {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }

"""The invoke path through the real app: auth, validation, pause, timeouts, recording."""

from __future__ import annotations

import httpx

from tests.factories import World, bearer


async def test_invoke_returns_output_confidence_outcome_version_and_request_id(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 21}}, headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"] == 42 and body["confidence"] == 0.9
    assert body["outcome"] == "served" and body["version"] == 1 and body["service"] == "echo"
    assert body["request_id"].startswith("req_") and r.headers["x-request-id"] == body["request_id"]

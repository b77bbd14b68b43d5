"""File uploads (artifacts, batch job inputs) get their own, larger body limit than API calls."""

from __future__ import annotations

import json

import httpx
import pytest

from shipyard.core.config import Settings
from tests.factories import World, bearer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    serving = settings.serving.model_copy(update={"max_body_bytes": 2048, "max_upload_bytes": 65536})
    return settings.model_copy(update={"serving": serving})


async def test_uploads_may_be_larger_than_calls(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    rows = "".join(json.dumps({"x": i, "label": "row"}) + "\n" for i in range(400)).encode()
    assert 2048 < len(rows) < 65536
    headers = {**bearer(key), "Content-Type": "application/x-ndjson"}
    job = await client.post("/v1/services/echo/jobs?format=jsonl", content=rows, headers=headers)
    assert job.status_code == 201, job.text

    too_big = await client.post("/v1/services/echo/jobs?format=jsonl", content=rows * 20, headers=headers)
    assert too_big.status_code == 413 and "65536" in too_big.json()["detail"]
    call = await client.post(
        "/v1/services/echo/invoke", json={"inputs": {"x": 1, "label": "y" * 3000}}, headers=bearer(key)
    )
    assert call.status_code == 413 and "2048" in call.json()["detail"]

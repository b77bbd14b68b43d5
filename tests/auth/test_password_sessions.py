"""Changing a password ends the user's other sessions; a service-limited key sees only its services."""

from __future__ import annotations

import httpx

from tests.auth.test_auth_api import login
from tests.factories import PASSWORD, World, bearer


async def test_password_change_ends_other_sessions_but_keeps_this_one(app: object, world: World) -> None:
    world.user("ada", ["analyst"])
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as laptop,
        httpx.AsyncClient(transport=transport, base_url="http://t") as stolen,
    ):
        csrf = (await login(laptop, "ada")).json()["csrf_token"]
        assert (await login(stolen, "ada")).status_code == 200
        assert (await stolen.get("/v1/auth/me")).status_code == 200
        r = await laptop.post(
            "/v1/auth/password",
            headers={"X-CSRF-Token": csrf},
            json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        )
        assert r.status_code == 204
        assert (await laptop.get("/v1/auth/me")).status_code == 200
        gone = await stolen.get("/v1/auth/me")
        assert gone.status_code == 401 and gone.json()["code"] == "session_ended"


async def test_a_service_limited_key_lists_only_its_services(client: httpx.AsyncClient, world: World) -> None:
    world.user("olivia", ["owner"])
    world.service("echo", owner="olivia")
    world.service("other", owner="olivia")
    limited = world.key("olivia", roles=["owner"], services=["echo"])
    r = await client.get("/v1/services", headers=bearer(limited))
    assert [s["slug"] for s in r.json()] == ["echo"]
    everything = world.key("olivia", roles=["owner"])
    r = await client.get("/v1/services", headers=bearer(everything))
    assert [s["slug"] for s in r.json()] == ["echo", "other"]

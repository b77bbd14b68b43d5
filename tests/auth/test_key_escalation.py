"""A credential can only hand on what it holds itself."""

from __future__ import annotations

import httpx

from tests.factories import World, bearer


async def test_a_consumer_key_of_an_admin_cannot_mint_an_admin_key(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    consumer_key = world.key("ada", roles=["consumer"])
    r = await client.post(
        "/v1/keys", json={"name": "escalate", "roles": ["admin"]}, headers=bearer(consumer_key)
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert "admin" in r.json()["detail"]
    ok = await client.post(
        "/v1/keys", json={"name": "same", "roles": ["consumer"]}, headers=bearer(consumer_key)
    )
    assert ok.status_code == 201


async def test_a_service_limited_key_cannot_mint_a_wider_one(client: httpx.AsyncClient, world: World) -> None:
    world.user("olivia", ["owner"])
    limited = world.key("olivia", roles=["owner"], services=["echo"])
    wider = await client.post("/v1/keys", json={"name": "all", "roles": ["owner"]}, headers=bearer(limited))
    assert wider.status_code == 403 and "limited to services ['echo']" in wider.json()["detail"]
    other = await client.post(
        "/v1/keys", json={"name": "x", "roles": ["owner"], "services": ["other"]}, headers=bearer(limited)
    )
    assert other.status_code == 403
    same = await client.post(
        "/v1/keys", json={"name": "y", "roles": ["owner"], "services": ["echo"]}, headers=bearer(limited)
    )
    assert same.status_code == 201 and same.json()["services"] == ["echo"]

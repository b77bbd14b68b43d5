"""SSO end to end: bearer JWTs from a real local identity provider, through the app, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from shipyard.core.clock import FrozenClock
from shipyard.core.config import Settings
from shipyard.web.app import create_app
from tests.auth.test_oidc import DISCOVERY, IdP, SigningKey, serve_idp
from tests.factories import World, bearer

SECRET = "test-secret-key-that-is-long-enough-0123456789"
ROLE_MAP = {"ml-consumers": ["consumer"], "ml-analysts": ["analyst"]}
INVOKE = "/v1/services/echo/invoke"


@pytest.fixture(scope="module")
def signer() -> SigningKey:
    return SigningKey("k1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def idp(signer: SigningKey) -> Iterator[IdP]:
    with serve_idp([signer.jwk()]) as state:
        yield state


@pytest.fixture
def settings(db_url: str, tmp_path: Path, idp: IdP) -> Settings:
    oidc = {"issuer": idp.issuer, "audience": "shipyard", "roles_claim": "groups", "role_map": ROLE_MAP}
    return Settings(
        env="test",
        home=tmp_path / "home",
        database_url=db_url,
        secret_key=SECRET,
        auth={"oidc": oidc},
    )


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    # The app's OIDC verifier fetches through this client; the app closes it at shutdown.
    application = create_app(settings, clock=clock, http=httpx.AsyncClient(trust_env=False, timeout=5))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def mint(idp: IdP, signer: SigningKey, clock: FrozenClock) -> Any:
    def mint(groups: list[str], *, lifetime: int = 300, key: SigningKey | None = None, **claims: Any) -> str:
        now = int(clock.now().timestamp())
        payload = {
            "iss": idp.issuer,
            "aud": "shipyard",
            "sub": "u-ada",
            "preferred_username": "ada",
            "groups": groups,
            "iat": now,
            "exp": now + lifetime,
            **claims,
        }
        use = key or signer
        return jwt.encode(payload, use.private, algorithm=use.alg, headers={"kid": use.kid})

    return mint


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


async def test_consumer_group_can_invoke(
    client: httpx.AsyncClient, world: World, mint: Any, idp: IdP
) -> None:
    world.service("echo")
    token = mint(["ml-consumers", "unmapped-group"])
    r = await client.get("/v1/auth/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "ada", "kind": "oidc", "roles": ["consumer"], "services": None}
    # A POST with a bearer token needs no CSRF token: only cookies are sent by browsers on their own.
    r = await client.post(INVOKE, json={"inputs": {"x": 21}}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["output"] == 42 and r.json()["outcome"] == "served"
    request_id = r.json()["request_id"]
    # The identity provider was asked once for its keys, not per call.
    assert idp.requests == {DISCOVERY: 1, "/jwks": 1}
    # The recorded call names the SSO user.
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    admin = world.user_with_key("root", ["admin"])
    r = await client.get(f"/v1/services/echo/predictions/{request_id}", headers=bearer(admin))
    assert r.status_code == 200 and (r.json()["caller"], r.json()["caller_kind"]) == ("ada", "oidc")
    # A consumer reads nothing else.
    r = await client.get("/v1/services/echo", headers=bearer(token))
    assert problem(r, 403, "forbidden")["detail"] == "ada may not service:read"


async def test_analyst_group_cannot_invoke(client: httpx.AsyncClient, world: World, mint: Any) -> None:
    world.service("echo")
    token = mint(["ml-analysts"])
    r = await client.get("/v1/auth/me", headers=bearer(token))
    assert r.status_code == 200 and r.json()["roles"] == ["analyst"]
    r = await client.post(INVOKE, json={"inputs": {"x": 1}}, headers=bearer(token))
    assert problem(r, 403, "forbidden")["detail"] == "ada may not service:invoke"
    r = await client.get("/v1/services/echo", headers=bearer(token))
    assert r.status_code == 200 and r.json()["slug"] == "echo"  # analysts may read


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, world: World, mint: Any, clock: FrozenClock
) -> None:
    world.service("echo")
    stale = mint(["ml-consumers"], iat=int(clock.now().timestamp()) - 7200, lifetime=-3600)
    for method, url in [("GET", "/v1/auth/me"), ("POST", INVOKE)]:
        r = await client.request(method, url, json={"inputs": {"x": 1}}, headers=bearer(stale))
        body = problem(r, 401, "unauthenticated")
        assert body["detail"].startswith("token expired at 2025-12-31T23:00:00")
        assert r.headers["www-authenticate"] == "Bearer"
    # A token accepted (and cached) earlier is refused once it expires: exp plus the 30 s leeway.
    token = mint(["ml-consumers"], lifetime=60)
    assert (await client.post(INVOKE, json={"inputs": {"x": 1}}, headers=bearer(token))).status_code == 200
    clock.advance(seconds=60 + 31)
    r = await client.post(INVOKE, json={"inputs": {"x": 1}}, headers=bearer(token))
    assert problem(r, 401, "unauthenticated")["detail"].startswith("token expired at 2026-01-01T00:01:00")


async def test_tokens_that_grant_nothing_or_are_forged_are_refused(
    client: httpx.AsyncClient, world: World, mint: Any
) -> None:
    r = await client.get("/v1/auth/me", headers=bearer(mint(["unmapped-group", "consumer"])))
    # With a role_map, only mapped groups count, even ones spelled like a Shipyard role.
    assert "grants no Shipyard role" in problem(r, 401, "unauthenticated")["detail"]
    rogue = SigningKey("k1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    r = await client.get("/v1/auth/me", headers=bearer(mint(["ml-consumers"], key=rogue)))
    assert problem(r, 401, "unauthenticated")["detail"] == "token signature is invalid for key 'k1'"
    r = await client.get("/v1/auth/me", headers=bearer(mint(["ml-consumers"], aud="another-app")))
    assert "does not include 'shipyard'" in problem(r, 401, "unauthenticated")["detail"]
    r = await client.get("/v1/auth/me", headers=bearer("not.a.jwt"))
    assert "malformed bearer token" in problem(r, 401, "unauthenticated")["detail"]
    r = await client.get("/v1/auth/me", headers=bearer("opaque-token"))
    assert (
        problem(r, 401, "bad_api_key")["detail"]
        == "the bearer token is not a Shipyard API key or a valid SSO token"
    )


async def test_identity_provider_down_is_503(client: httpx.AsyncClient, mint: Any, idp: IdP) -> None:
    idp.down = {DISCOVERY}
    r = await client.get("/v1/auth/me", headers=bearer(mint(["ml-consumers"])))
    assert "discovery document" in problem(r, 503, "unavailable")["detail"]
    idp.down = set()
    assert (await client.get("/v1/auth/me", headers=bearer(mint(["ml-consumers"])))).status_code == 200

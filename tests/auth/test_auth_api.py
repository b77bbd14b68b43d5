"""Sign-in, console sessions, users and API keys through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shipyard.auth.roles import ROLES
from shipyard.core.clock import FrozenClock
from shipyard.core.config import Settings
from shipyard.web.app import create_app
from tests.factories import PASSWORD, World, bearer

SECRET = "test-secret-key-that-is-long-enough-0123456789"
AUTH = {"slow_after": 2, "lock_after": 4, "lock_minutes": 15, "session_hours": 8}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(env="test", home=tmp_path / "home", database_url=db_url, secret_key=SECRET, auth=AUTH)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"username": username, "password": password})


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status, body
    return body


async def audit(client: httpx.AsyncClient, admin_key: str, action: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/audit", params={"action": action}, headers=bearer(admin_key))
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = [e for e in r.json() if e["action"] == action]
    return events


def row(world: World, table: str, row_id: str) -> dict[str, Any]:
    with world.ctx.sessions() as s:
        found = s.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).mappings().one()
        return dict(found)


# --- sign-in -----------------------------------------------------------------------------------------


async def test_login_sets_an_httponly_lax_cookie_and_me_works(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["analyst", "reviewer"])
    r = await login(client, "ada")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "ada" and body["kind"] == "user" and body["roles"] == ["analyst", "reviewer"]
    assert len(body["csrf_token"]) >= 24
    cookie = r.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert cookie.startswith("shipyard_session=")
    assert "httponly" in attributes and attributes["samesite"].strip().lower() == "samesite=lax"
    assert attributes["path"].strip() == "Path=/" and attributes["max-age"].strip() == f"Max-Age={8 * 3600}"
    assert "secure" not in attributes  # plain http in test; set for https and always in production
    r = await client.get("/v1/auth/me")
    assert r.status_code == 200
    assert r.json() == {"name": "ada", "kind": "user", "roles": ["analyst", "reviewer"], "services": None}


async def test_password_hash_is_argon2id(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["analyst"])
    with world.ctx.sessions() as s:
        user_id = s.execute(text("SELECT id FROM users WHERE username = 'ada'")).scalar_one()
    stored = row(world, "users", user_id)
    assert stored["password_hash"].startswith("$argon2id$")
    assert not any(PASSWORD in str(value) for value in stored.values())


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["analyst"])
    wrong = problem(await login(client, "ada", "not the password"), 401, "bad_credentials")
    unknown = problem(await login(client, "nobody", "not the password"), 401, "bad_credentials")
    assert wrong["detail"] == unknown["detail"] == "wrong username or password"
    assert wrong["title"] == unknown["title"]
    assert "set-cookie" not in (await login(client, "ada", "not the password either")).headers


async def test_throttle_then_lock_then_unlock_by_time(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    admin = world.user_with_key("root", ["admin"])
    world.user("ada", ["analyst"])
    for _ in range(AUTH["slow_after"]):
        problem(await login(client, "ada", "wrong"), 401, "bad_credentials")
    # From slow_after failures on, the next attempt must wait, even with the right password.
    r = await login(client, "ada")
    body = problem(r, 429, "too_many_attempts")
    assert int(r.headers["retry-after"]) == body["retry_after"] >= 1
    assert f"try again in {body['retry_after']} s" in body["detail"]
    for n in range(AUTH["slow_after"], AUTH["lock_after"]):
        clock.advance(seconds=2 ** (n - AUTH["slow_after"]))
        problem(await login(client, "ada", "wrong"), 401, "bad_credentials")
    # lock_after failures: locked for lock_minutes, and the lock is in the audit trail.
    r = await login(client, "ada")
    body = problem(r, 429, "too_many_attempts")
    assert int(r.headers["retry-after"]) == body["retry_after"]
    assert AUTH["lock_minutes"] * 60 <= body["retry_after"] <= AUTH["lock_minutes"] * 60 + 1
    (locked,) = await audit(client, admin, "user.locked")
    assert (locked["actor"], locked["actor_kind"], locked["target_id"]) == ("auth", "system", "ada")
    assert locked["after"]["failed_logins"] == AUTH["lock_after"]
    clock.advance(minutes=AUTH["lock_minutes"] - 1)
    problem(await login(client, "ada"), 429, "too_many_attempts")
    clock.advance(minutes=1)
    r = await login(client, "ada")
    assert r.status_code == 200, r.text


async def test_admin_enable_clears_a_lockout(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    admin = world.user_with_key("root", ["admin"])
    world.user("ada", ["analyst"])
    for n in range(AUTH["lock_after"]):
        problem(await login(client, "ada", "wrong"), 401, "bad_credentials")
        clock.advance(seconds=2**n)
    problem(await login(client, "ada"), 429, "too_many_attempts")
    r = await client.get("/v1/users", headers=bearer(admin))
    (ada,) = [u for u in r.json() if u["username"] == "ada"]
    assert ada["locked_until"] is not None
    r = await client.patch("/v1/users/ada", json={"is_active": True}, headers=bearer(admin))
    assert r.status_code == 200 and r.json()["locked_until"] is None
    assert (await login(client, "ada")).status_code == 200


async def test_disabled_user_cannot_sign_in_and_loses_session_and_keys(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.user_with_key("root", ["admin"])
    key = world.user_with_key("ada", ["consumer"])
    world.service("echo")
    assert (await login(client, "ada")).status_code == 200
    assert (await client.get("/v1/auth/me", headers=bearer(key))).status_code == 200  # cached now
    r = await client.patch("/v1/users/ada", json={"is_active": False}, headers=bearer(admin))
    assert r.status_code == 200 and r.json()["is_active"] is False
    body = problem(await client.get("/v1/auth/me", headers=bearer(key)), 401, "bad_api_key")
    assert body["detail"] == "this API key's owner is disabled"
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    problem(r, 401, "bad_api_key")
    body = problem(await client.get("/v1/auth/me"), 401, "session_ended")
    assert body["detail"] == "this account is disabled"
    body = problem(await login(client, "ada"), 401, "account_disabled")
    assert body["detail"] == "this account is disabled"


# --- console sessions --------------------------------------------------------------------------------


async def test_csrf_is_required_for_writes_with_the_cookie(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["analyst"])
    csrf = (await login(client, "ada")).json()["csrf_token"]
    body = problem(await client.post("/v1/keys", json={"name": "ci", "roles": ["analyst"]}), 403, "csrf")
    assert "CSRF token" in body["detail"]
    r = await client.post(
        "/v1/keys", json={"name": "ci", "roles": ["analyst"]}, headers={"X-CSRF-Token": "nope"}
    )
    problem(r, 403, "csrf")
    r = await client.post(
        "/v1/keys", json={"name": "ci", "roles": ["analyst"]}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 201, r.text
    assert r.json()["roles"] == ["analyst"]
    # Reads need no token.
    assert (await client.get("/v1/keys")).status_code == 200


async def test_logout_ends_the_session(client: httpx.AsyncClient, world: World) -> None:
    admin = world.user_with_key("root", ["admin"])
    world.user("ada", ["analyst"])
    r = await login(client, "ada")
    cookie, csrf = r.cookies["shipyard_session"], r.json()["csrf_token"]
    assert (await client.get("/v1/auth/me")).status_code == 200
    problem(await client.post("/v1/auth/logout"), 403, "csrf")
    r = await client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert 'shipyard_session=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    # The old cookie, sent again on purpose, no longer works.
    client.cookies.set("shipyard_session", cookie)
    body = problem(await client.get("/v1/auth/me"), 401, "session_ended")
    assert body["detail"] == "your session has ended; sign in again"
    assert [e["actor"] for e in await audit(client, admin, "session.end")] == ["ada"]
    (start,) = await audit(client, admin, "session.start")
    assert start["actor"] == "ada" and start["request_id"].startswith("req_")


async def test_session_expires_with_the_clock(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    world.user("ada", ["analyst"])
    assert (await login(client, "ada")).status_code == 200
    clock.advance(hours=AUTH["session_hours"] - 0.01)
    assert (await client.get("/v1/auth/me")).status_code == 200  # cached principal
    clock.advance(hours=0.02)
    problem(await client.get("/v1/auth/me"), 401, "session_ended")


async def test_bad_session_cookie_and_bad_header(client: httpx.AsyncClient) -> None:
    client.cookies.set("shipyard_session", "made-up")
    body = problem(await client.get("/v1/auth/me"), 401, "session_ended")
    assert "sign in again" in body["detail"]
    client.cookies.clear()
    body = problem(await client.get("/v1/auth/me"), 401, "unauthenticated")
    assert "sign in" in body["detail"]
    r = await client.get("/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert problem(r, 401, "bad_auth_header")["detail"] == "the Authorization header must be 'Bearer <token>'"
    r = await client.get("/v1/auth/me", headers={"Authorization": "Bearer not-a-key"})
    assert problem(r, 401, "bad_api_key")["detail"] == "the bearer token is not a Shipyard API key"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_password_change(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["analyst"])
    csrf = (await login(client, "ada")).json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    r = await client.post(
        "/v1/auth/password", json={"current_password": "wrong", "new_password": "x" * 12}, headers=headers
    )
    assert problem(r, 403, "wrong_password")["detail"] == "the current password is not correct"
    r = await client.post(
        "/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    body = problem(r, 422, "invalid_input")
    assert [e["loc"] for e in body["errors"]] == ["/body/new_password"]
    new = "a completely new passphrase"
    r = await client.post(
        "/v1/auth/password", json={"current_password": PASSWORD, "new_password": new}, headers=headers
    )
    assert r.status_code == 204
    client.cookies.clear()
    problem(await login(client, "ada"), 401, "bad_credentials")
    assert (await login(client, "ada", new)).status_code == 200
    # An API key has no password to change.
    key = world.key("ada", roles=["analyst"])
    client.cookies.clear()
    r = await client.post(
        "/v1/auth/password", json={"current_password": new, "new_password": "y" * 12}, headers=bearer(key)
    )
    assert problem(r, 403, "not_a_user")["detail"] == "only signed-in users have a password to change"


# --- users -------------------------------------------------------------------------------------------


async def test_user_creation_returns_a_one_time_password(client: httpx.AsyncClient, world: World) -> None:
    admin = world.user_with_key("root", ["admin"])
    r = await client.post("/v1/users", json={"username": "ben", "roles": ["reviewer"]}, headers=bearer(admin))
    assert r.status_code == 201, r.text
    created = r.json()
    password = created["password"]
    assert isinstance(password, str) and len(password) >= 12
    assert created["username"] == "ben" and created["roles"] == ["reviewer"] and created["source"] == "local"
    # Shown once: no listing or later read returns it.
    r = await client.get("/v1/users", headers=bearer(admin))
    assert all("password" not in u for u in r.json()) and password not in r.text
    r = await login(client, "ben", password)
    assert r.status_code == 200 and r.json()["roles"] == ["reviewer"]
    (event,) = [e for e in await audit(client, admin, "user.create") if e["target_id"] == "ben"]
    assert event["target_id"] == "ben" and event["actor"].startswith("key:") and event["actor_kind"] == "key"
    assert password not in str(event)
    # With a password chosen by the admin nothing is echoed back.
    r = await client.post(
        "/v1/users",
        json={"username": "cy", "roles": ["analyst"], "password": "x" * 12},
        headers=bearer(admin),
    )
    assert r.status_code == 201 and r.json()["password"] is None
    r = await client.post("/v1/users", json={"username": "cy", "roles": ["analyst"]}, headers=bearer(admin))
    assert problem(r, 409, "conflict")["detail"] == "a user named 'cy' already exists"


async def test_unknown_roles_are_rejected_listing_the_valid_ones(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.user_with_key("root", ["admin"])
    world.user("ada", ["analyst"])
    attempts = [
        ("POST", "/v1/users", {"username": "ben", "roles": ["analyst", "superuser"]}),
        ("PATCH", "/v1/users/ada", {"roles": ["superuser"]}),
        ("POST", "/v1/keys", {"name": "k", "roles": ["superuser"]}),
    ]
    for method, url, payload in attempts:
        r = await client.request(method, url, json=payload, headers=bearer(admin))
        body = problem(r, 422, "invalid_input")
        (error,) = body["errors"]
        assert error["loc"] == "/body/roles", error
        assert "unknown roles ['superuser']" in error["message"]
        assert f"valid roles are {list(ROLES)}" in error["message"]
    r = await client.post("/v1/users", json={"username": "ben", "roles": []}, headers=bearer(admin))
    assert problem(r, 422, "invalid_input")["errors"][0]["loc"] == "/body/roles"
    r = await client.get("/v1/users", headers=bearer(admin))
    assert "ben" not in {u["username"] for u in r.json()}


async def test_reset_password_gives_a_new_password_and_ends_sessions(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.user_with_key("root", ["admin"])
    world.user("ada", ["analyst"])
    assert (await login(client, "ada")).status_code == 200
    cookie = client.cookies["shipyard_session"]
    client.cookies.clear()
    r = await client.post("/v1/users/ada/reset-password", headers=bearer(admin))
    assert r.status_code == 200
    password = r.json()["password"]
    client.cookies.set("shipyard_session", cookie)
    problem(await client.get("/v1/auth/me"), 401, "session_ended")
    client.cookies.clear()
    problem(await login(client, "ada"), 401, "bad_credentials")
    assert (await login(client, "ada", password)).status_code == 200


# --- API keys ----------------------------------------------------------------------------------------


async def test_key_is_shown_once_stored_as_digest_and_listed_by_prefix(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.user_with_key("root", ["admin"])
    own = world.user_with_key("ada", ["analyst", "consumer"])
    r = await client.post("/v1/keys", json={"name": "ci", "roles": ["consumer"]}, headers=bearer(own))
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["key"]
    assert secret.startswith("sy_") and created["prefix"] == secret[:10]
    assert created["roles"] == ["consumer"] and created["expires_at"] is not None
    stored = row(world, "api_keys", created["id"])
    assert stored["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in stored.values())
    r = await client.get("/v1/keys", headers=bearer(own))
    listed = {k["id"]: k for k in r.json()}
    assert listed[created["id"]]["prefix"] == secret[:10]
    assert secret not in r.text and all("key" not in k for k in r.json())
    r = await client.get("/v1/auth/me", headers=bearer(secret))
    assert r.json() == {"name": f"key:{secret[:10]}", "kind": "key", "roles": ["consumer"], "services": None}
    (event,) = [e for e in await audit(client, admin, "key.create") if e["target_id"] == created["id"]]
    assert event["after"]["prefix"] == secret[:10] and secret not in str(event)
    # Everyone else's keys are for admins only.
    problem(await client.get("/v1/keys", params={"all_users": True}, headers=bearer(own)), 403, "forbidden")
    r = await client.get("/v1/keys", params={"all_users": True}, headers=bearer(admin))
    assert created["id"] in {k["id"] for k in r.json()}


async def test_expired_key_is_refused_even_when_cached(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    key = world.user_with_key("ada", ["consumer"], expires_in_days=2)
    world.service("echo")
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert r.status_code == 200
    clock.advance(days=2, seconds=-1)
    assert (await client.get("/v1/auth/me", headers=bearer(key))).status_code == 200
    clock.advance(seconds=1)
    for method, url, payload in [
        ("GET", "/v1/auth/me", None),
        ("POST", "/v1/services/echo/invoke", {"inputs": {"x": 1}}),
    ]:
        body = problem(
            await client.request(method, url, json=payload, headers=bearer(key)), 401, "bad_api_key"
        )
        assert "expired" in body["detail"]


async def test_revocation_takes_effect_at_once(client: httpx.AsyncClient, world: World) -> None:
    admin = world.user_with_key("root", ["admin"])
    key = world.user_with_key("ada", ["consumer"])
    world.service("echo")
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert r.status_code == 200  # the principal is cached now
    r = await client.get("/v1/keys", params={"all_users": True}, headers=bearer(admin))
    (key_id,) = [k["id"] for k in r.json() if k["prefix"] == key[:10]]
    r = await client.delete(f"/v1/keys/{key_id}", headers=bearer(admin))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert problem(r, 401, "bad_api_key")["detail"] == "this API key was revoked"
    (event,) = await audit(client, admin, "key.revoke")
    assert event["target_id"] == key_id and event["after"] == {"prefix": key[:10]}


async def test_users_revoke_their_own_keys_only(client: httpx.AsyncClient, world: World) -> None:
    ada = world.user_with_key("ada", ["consumer"])
    bob = world.user_with_key("bob", ["consumer"])
    ada_keys = (await client.get("/v1/keys", headers=bearer(ada))).json()
    (bob_key,) = (await client.get("/v1/keys", headers=bearer(bob))).json()
    r = await client.delete(f"/v1/keys/{bob_key['id']}", headers=bearer(ada))
    assert problem(r, 404, "not_found")["detail"] == f"no API key {bob_key['id']!r}"
    assert (await client.get("/v1/auth/me", headers=bearer(bob))).status_code == 200
    r = await client.delete(f"/v1/keys/{ada_keys[0]['id']}", headers=bearer(ada))
    assert r.status_code == 200
    problem(await client.get("/v1/auth/me", headers=bearer(ada)), 401, "bad_api_key")


@pytest.fixture
async def second_app(settings: Settings, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """Another worker process on the same database: no shared memory, only the database."""
    other = Settings(
        env="test",
        home=tmp_path / "home2",
        database_url=settings.database_url,
        secret_key=SECRET,
        cache={"poll_seconds": 0.1},
    )
    application = create_app(other, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


async def eventually_refused(client: httpx.AsyncClient, key: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get("/v1/auth/me", headers=bearer(key))
        if r.status_code != 200:
            return problem(r, 401, "bad_api_key")
        assert time.monotonic() < deadline, f"the other instance still accepts the key after {timeout} s"
        await asyncio.sleep(0.05)


async def test_revocation_reaches_another_instance_by_polling(
    client: httpx.AsyncClient, world: World, second_app: FastAPI
) -> None:
    admin = world.user_with_key("root", ["admin"])
    key = world.user_with_key("ada", ["consumer"])
    transport = httpx.ASGITransport(app=second_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert (await other.get("/v1/auth/me", headers=bearer(key))).status_code == 200  # cached there
        r = await client.get("/v1/keys", params={"all_users": True}, headers=bearer(admin))
        (key_id,) = [k["id"] for k in r.json() if k["prefix"] == key[:10]]
        assert (await client.delete(f"/v1/keys/{key_id}", headers=bearer(admin))).status_code == 200
        assert (await eventually_refused(other, key))["detail"] == "this API key was revoked"
        # A second change to the same topic travels the same way.
        other_key = world.key("ada")
        assert (await other.get("/v1/auth/me", headers=bearer(other_key))).status_code == 200
        r = await client.patch("/v1/users/ada", json={"is_active": False}, headers=bearer(admin))
        assert r.status_code == 200
        assert (await eventually_refused(other, other_key))["detail"] == "this API key's owner is disabled"


async def test_key_never_outranks_its_owner(client: httpx.AsyncClient, world: World) -> None:
    admin = world.user_with_key("root", ["admin"])
    world.user("ada", ["operator", "consumer"])
    key = world.key("ada", roles=["operator", "consumer"])
    world.service("echo")
    r = await client.post("/v1/services/echo/pause", json={"reason": "maintenance"}, headers=bearer(key))
    assert r.status_code == 200 and r.json()["paused"] is True
    assert (await client.post("/v1/services/echo/resume", headers=bearer(key))).status_code == 200
    r = await client.patch("/v1/users/ada", json={"roles": ["consumer"]}, headers=bearer(admin))
    assert r.status_code == 200
    r = await client.get("/v1/auth/me", headers=bearer(key))
    assert r.json()["roles"] == ["consumer"]
    r = await client.post("/v1/services/echo/pause", json={"reason": "maintenance"}, headers=bearer(key))
    assert problem(r, 403, "forbidden")["detail"] == f"key:{key[:10]} may not service:pause"
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert r.status_code == 200
    # Nor can it mint a key with the role it lost.
    r = await client.post("/v1/keys", json={"name": "more", "roles": ["operator"]}, headers=bearer(key))
    assert problem(r, 403, "forbidden")["detail"] == "you cannot grant roles you do not hold: ['operator']"


async def test_audit_events_for_user_key_session_and_lock(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    admin = world.user_with_key("root", ["admin"])
    r = await client.post(
        "/v1/users",
        json={"username": "ada", "roles": ["analyst"], "password": PASSWORD},
        headers=bearer(admin),
    )
    assert r.status_code == 201
    r = await client.post(
        "/v1/keys", json={"name": "for ada", "user": "ada", "roles": ["analyst"]}, headers=bearer(admin)
    )
    assert r.status_code == 201
    key_id = r.json()["id"]
    assert (await client.delete(f"/v1/keys/{key_id}", headers=bearer(admin))).status_code == 200
    assert (await login(client, "ada")).status_code == 200
    client.cookies.clear()
    for n in range(AUTH["lock_after"]):
        problem(await login(client, "ada", "wrong"), 401, "bad_credentials")
        clock.advance(seconds=2**n)
    actor = f"key:{admin[:10]}"
    expected = {
        "user.create": (actor, "user", "ada"),
        "key.create": (actor, "api_key", key_id),
        "key.revoke": (actor, "api_key", key_id),
        "session.start": ("ada", "user", "ada"),
        "user.locked": ("auth", "user", "ada"),
    }
    for action, (who, target_type, target_id) in expected.items():
        found = [
            (e["actor"], e["target_type"], e["target_id"])
            for e in await audit(client, admin, action)
            if e["target_id"] == target_id
        ]
        assert found == [(who, target_type, target_id)], action
    r = await client.get("/v1/audit/verify", headers=bearer(admin))
    assert r.status_code == 200 and r.json()["ok"] is True

"""Console pages through the real app: sign-in, CSRF, role-aware pages and their forms."""

from __future__ import annotations

import asyncio
import html
import re

import httpx
import pytest

from shipyard.audit import service as audit
from shipyard.audit.service import Actor
from shipyard.auth import service as auth
from shipyard.registry import service as registry
from shipyard.registry.schemas import VersionCreate
from tests.factories import PASSWORD, World, bearer

HTML = {"Accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the CSRF token the pages carry."""
    r = await client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 303, r.text
    page = await client.get("/keys", headers=HTML)
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def rows(page: str, table_id: str) -> list[str]:
    """The top-level rows of one table (each carries a data- attribute; diff rows nest inside)."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*)', page, re.S)
    assert table, f"no table #{table_id}"
    body = table.group(1).split("</main>", 1)[0]
    return ["<tr data-" + part for part in body.split("<tr data-")[1:]]


def one_time_secret(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]+)<', page)
    assert match, page
    return html.unescape(match.group(1))


# --- sign-in ---------------------------------------------------------------------------------------


async def test_login_form_sets_a_session_cookie_and_redirects(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    world.service("echo")
    r = await client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookie = r.headers["set-cookie"]
    assert (
        cookie.startswith("shipyard_session=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    )
    page = await client.get("/services", headers=HTML)
    assert page.status_code == 200 and "echo" in page.text
    assert 'data-slug="echo"' in page.text and "v1" in page.text


async def test_wrong_password_shows_the_form_again_with_the_error(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    r = await client.post("/login", data={"username": "ada", "password": "not the password"})
    assert r.status_code == 401
    assert "wrong username or password" in r.text and 'value="ada"' in r.text
    assert "shipyard_session" not in r.headers.get("set-cookie", "")


async def test_a_consumer_lands_on_its_keys_not_on_a_forbidden_page(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("carol", ["consumer"])
    r = await client.post("/login", data={"username": "carol", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/keys"


async def test_unauthenticated_page_request_redirects_to_login_with_next(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await client.get("/services", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/services"
    login = await client.get("/login", params={"next": "/services"})
    assert 'name="next" value="/services"' in login.text
    api = await client.get("/services")  # not a browser: a problem, not a redirect
    assert api.status_code == 401 and api.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "services",
    ],
)
async def test_login_next_refuses_anything_but_a_local_path(
    client: httpx.AsyncClient, world: World, target: str
) -> None:
    world.user("ada", ["admin"])
    page = await client.get("/login", params={"next": target})
    assert "evil" not in page.text and "javascript" not in page.text
    r = await client.post("/login", data={"username": "ada", "password": PASSWORD, "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"


async def test_login_next_keeps_a_local_path_and_its_query(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    r = await client.post(
        "/login", data={"username": "ada", "password": PASSWORD, "next": "/audit?action=service."}
    )
    assert r.status_code == 303 and r.headers["location"] == "/audit?action=service."


# --- CSRF ------------------------------------------------------------------------------------------


async def test_a_page_post_needs_the_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    world.service("echo")
    token = await sign_in(client, "ada")
    refused = await client.post("/services/echo/pause", data={"reason": "checking refunds"})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf"
    forged = await client.post("/services/echo/pause", data={"reason": "x" * 5, "csrf_token": "forged"})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf"
    as_page = await client.post("/services/echo/pause", data={"reason": "checking refunds"}, headers=HTML)
    assert as_page.status_code == 403 and "CSRF" in as_page.text
    page = await client.get("/services/echo", headers=HTML)
    assert 'id="state">serving' in page.text

    ok = await client.post("/services/echo/pause", data={"reason": "checking refunds", "csrf_token": token})
    assert ok.status_code == 303 and ok.headers["location"] == "/services/echo?flash=paused"
    page = await client.get(ok.headers["location"], headers=HTML)
    assert 'id="state">paused' in page.text and "checking refunds" in page.text
    assert 'class="paused-by">ada<' in page.text and "Every call now answers 503" in page.text
    # htmx sends the token as a header rather than a form field
    resumed = await client.post("/services/echo/resume", headers={"X-CSRF-Token": token})
    assert resumed.status_code == 303


# --- each page, by role ----------------------------------------------------------------------------

PAGES = ["/services", "/services/echo", "/audit", "/users", "/keys"]


async def test_every_page_renders_for_an_admin(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    world.service("echo")
    await sign_in(client, "ada")
    for path in PAGES:
        r = await client.get(path, headers=HTML)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', r.text, re.S)
    assert nav and all(label in nav.group(1) for label in ("Services", "Audit log", "Users", "API keys"))


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (["consumer"], {"/keys"}),
        (["analyst"], {"/services", "/services/echo", "/audit", "/keys"}),
        (["operator"], {"/services", "/services/echo", "/keys"}),
    ],
)
async def test_pages_answer_403_for_roles_without_the_permission(
    client: httpx.AsyncClient, world: World, roles: list[str], allowed: set[str]
) -> None:
    world.user("pat", roles)
    world.service("echo")
    await sign_in(client, "pat")
    for path in PAGES:
        r = await client.get(path, headers=HTML)
        expected = 200 if path in allowed else 403
        assert r.status_code == expected, (roles, path, r.status_code)
        if expected == 403:
            assert "403 · Forbidden" in r.text and "may not" in r.text
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', r.text, re.S)
    assert nav and ("/services" in nav.group(1)) == ("/services" in allowed)
    assert "/users" not in nav.group(1)


async def test_service_page_shows_buttons_only_to_those_who_may_use_them(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    world.user("olga", ["operator"])
    world.user("ann", ["analyst"])
    world.user("owen", ["owner"])
    world.service("echo")
    world.service("mine", owner="owen")
    with world.ctx.uow() as s:
        registry.register_version(
            s,
            world.actor(),
            world.ctx.store,
            "echo",
            VersionCreate(loader="callable", entrypoint="tests.factories:double"),
        )

    async def page_as(user: str, slug: str = "echo") -> str:
        client.cookies.clear()
        await sign_in(client, user)
        r = await client.get(f"/services/{slug}", headers=HTML)
        assert r.status_code == 200, r.text
        return r.text

    admin = await page_as("ada")
    assert ">Pause</button>" in admin and ">Make live</button>" in admin and 'id="predictions"' not in admin
    assert "Recent predictions" in admin
    operator = await page_as("olga")
    assert (
        ">Pause</button>" in operator and "Make live" not in operator and "Recent predictions" not in operator
    )
    analyst = await page_as("ann")
    assert "Pause</button>" not in analyst and "Make live" not in analyst and "Recent predictions" in analyst
    # An owner acts on its own services only, and the list shows only those.
    client.cookies.clear()
    await sign_in(client, "owen")
    listing = await client.get("/services", headers=HTML)
    assert 'data-slug="mine"' in listing.text and 'data-slug="echo"' not in listing.text
    assert (await client.get("/services/echo", headers=HTML)).status_code == 403
    mine = await page_as("owen", "mine")
    assert ">Pause</button>" in mine


# --- services --------------------------------------------------------------------------------------


async def test_make_live_from_the_console(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    world.service("echo")
    with world.ctx.uow() as s:
        registry.register_version(
            s,
            world.actor(),
            world.ctx.store,
            "echo",
            VersionCreate(loader="callable", entrypoint="tests.factories:double"),
        )
    token = await sign_in(client, "ada")
    r = await client.post("/services/echo/versions/2/live", data={"csrf_token": token})
    assert r.status_code == 303
    page = (await client.get(r.headers["location"], headers=HTML)).text
    assert 'id="live-version">v2 live' in page and "The version is live" in page
    versions = rows(page, "versions")
    assert 'data-version="2" class="is-live"' in versions[0] and "Make live" in versions[1]
    missing = await client.post("/services/echo/versions/9/live", data={"csrf_token": token}, headers=HTML)
    assert missing.status_code == 404 and "echo has no version 9" in missing.text


async def test_pause_needs_a_reason_and_conflicts_are_shown_on_the_page(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    world.service("echo")
    token = await sign_in(client, "ada")
    empty = await client.post("/services/echo/pause", data={"reason": "  ", "csrf_token": token})
    assert empty.status_code == 422 and "Give a reason" in empty.text
    not_paused = await client.post("/services/echo/resume", data={"csrf_token": token})
    assert not_paused.status_code == 409 and "echo is not paused" in not_paused.text


async def test_paused_reason_is_escaped_and_the_api_refuses_calls(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    token = await sign_in(client, "ada")
    reason = '<script>alert("x")</script> & more'
    r = await client.post("/services/echo/pause", data={"reason": reason, "csrf_token": token})
    assert r.status_code == 303
    listing = (await client.get("/services", headers=HTML)).text
    assert "<script>alert" not in listing and 'class="badge paused"' in listing
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in listing
    call = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert call.status_code == 503 and call.json()["code"] == "paused" and call.json()["reason"] == reason


async def test_recent_predictions_are_listed_and_the_read_is_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ann", ["analyst"])
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    call = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 2}}, headers=bearer(key))
    request_id = call.json()["request_id"]
    await sign_in(client, "ann")
    for _ in range(100):  # the recorder ships calls to the database in the background
        page = (await client.get("/services/echo", headers=HTML)).text
        if request_id in page:
            break
        await asyncio.sleep(0.05)
    recent = rows(page, "predictions")
    assert len(recent) == 1 and request_id in recent[0]
    assert "key:" in recent[0] and "served" in recent[0] and "0.90" in recent[0] and ">v1<" in recent[0]
    audit = (await client.get("/audit", params={"action": "prediction.read"}, headers=HTML)).text
    assert rows(audit, "audit") and all("ann" in row for row in rows(audit, "audit"))


# --- audit -----------------------------------------------------------------------------------------


async def test_audit_log_filters_diffs_and_pages(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    world.service("echo")
    who = Actor("ops-bot", "system", None, world.ctx.clock)
    with world.ctx.uow() as s:
        for i in range(30):
            registry.pause(s, who, "echo", f"drill {i}")
            registry.resume(s, who, "echo")
    await sign_in(client, "ada")
    page = (await client.get("/audit", headers=HTML)).text
    first = rows(page, "audit")
    assert len(first) == 50 and "session.start" in first[0]
    older = re.search(r'href="([^"]+)" rel="next" id="older"', page)
    assert older
    rest = rows((await client.get(html.unescape(older.group(1)), headers=HTML)).text, "audit")
    seqs = [int(re.search(r'data-seq="(\d+)"', r).group(1)) for r in first + rest]  # type: ignore[union-attr]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)

    narrowed = (
        await client.get("/audit", params={"action": "service.", "actor": "ops-bot"}, headers=HTML)
    ).text
    narrowed_rows = rows(narrowed, "audit")
    assert len(narrowed_rows) == 50 and all("ops-bot" in r and "service." in r for r in narrowed_rows)
    assert 'value="service."' in narrowed  # the form keeps the filters
    pause_row = next(r for r in narrowed_rows if "service.pause" in r)
    assert 'class="diff-changed"' in pause_row and 'class="diff-added"' in pause_row
    assert "&#34;drill" in pause_row  # the JSON value, escaped

    none = (await client.get("/audit", params={"since": "2030-01-01"}, headers=HTML)).text
    assert "No events match these filters" in none
    today = (
        await client.get("/audit", params={"until": "2026-01-01", "since": "2026-01-01"}, headers=HTML)
    ).text
    assert len(rows(today, "audit")) == 50  # the frozen clock's day is included by "until"
    bad = await client.get("/audit", params={"since": "yesterday", "before_seq": "x"}, headers=HTML)
    assert bad.status_code == 200 and "must be a date" in bad.text and "must be a number" in bad.text


async def test_audit_verify_fragment(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    world.user("ann", ["analyst"])
    world.service("echo")
    await sign_in(client, "ann")
    page = (await client.get("/audit", headers=HTML)).text
    assert "Verify chain" not in page
    assert (await client.get("/audit/verify", headers=HTML)).status_code == 403

    client.cookies.clear()
    await sign_in(client, "ada")
    page = (await client.get("/audit", headers=HTML)).text
    assert 'hx-get="/audit/verify"' in page and 'hx-target="#verify-result"' in page
    fragment = await client.get("/audit/verify", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    with world.ctx.uow() as s:
        total = audit.count(s)
    assert f"OK: {total} events, chain intact" in fragment.text and "verify-ok" in fragment.text


# --- users -----------------------------------------------------------------------------------------


async def test_create_user_shows_the_one_time_password_once(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["admin"])
    token = await sign_in(client, "ada")
    r = await client.post(
        "/users",
        data={
            "username": "bob",
            "display_name": "Bob",
            "roles": ["analyst", "reviewer"],
            "csrf_token": token,
        },
    )
    assert r.status_code == 200, r.text
    password = one_time_secret(r.text, "one-time-password")
    assert len(password) >= 12 and "Created bob." in r.text
    bob = next(row for row in rows(r.text, "users") if 'data-username="bob"' in row)
    assert "analyst" in bob and "reviewer" in bob and "active" in bob
    again = await client.get("/users", headers=HTML)
    assert password not in again.text and "one-time-password" not in again.text

    client.cookies.clear()
    signed = await client.post("/login", data={"username": "bob", "password": password})
    assert signed.status_code == 303


async def test_create_user_reports_invalid_input_and_duplicates(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    token = await sign_in(client, "ada")
    no_roles = await client.post("/users", data={"username": "bob", "csrf_token": token})
    assert no_roles.status_code == 422 and "roles" in no_roles.text and 'value="bob"' in no_roles.text
    taken = await client.post("/users", data={"username": "ada", "roles": "admin", "csrf_token": token})
    assert taken.status_code == 409 and "already exists" in taken.text


def other_client(app: object) -> httpx.AsyncClient:
    """A second browser: its own cookies, the same app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]


async def test_manage_users_roles_disable_enable_reset(
    client: httpx.AsyncClient, world: World, app: object
) -> None:
    world.user("ada", ["admin"])
    world.user("bob", ["analyst"])
    token = await sign_in(client, "ada")

    r = await client.post("/users/bob/roles", data={"roles": ["operator", "reviewer"], "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/users?flash=roles"
    page = (await client.get(r.headers["location"], headers=HTML)).text
    bob = next(row for row in rows(page, "users") if 'data-username="bob"' in row)
    assert "operator" in bob and "analyst</span>" not in bob and "Roles saved" in page

    assert (await client.post("/users/bob/disable", data={"csrf_token": token})).status_code == 303
    page = (await client.get("/users", headers=HTML)).text
    assert "disabled" in next(row for row in rows(page, "users") if 'data-username="bob"' in row)
    assert (await client.post("/users/bob/enable", data={"csrf_token": token})).status_code == 303

    reset = await client.post("/users/bob/reset-password", data={"csrf_token": token})
    assert reset.status_code == 200 and "New password for bob" in reset.text
    password = one_time_secret(reset.text, "one-time-password")
    async with other_client(app) as other:
        assert (await other.post("/login", data={"username": "bob", "password": password})).status_code == 303
        old = await other.post("/login", data={"username": "bob", "password": PASSWORD})
        assert old.status_code == 401

    own = await client.post("/users/ada/disable", data={"csrf_token": token})
    assert own.status_code == 409 and "cannot disable your own account" in own.text
    demote = await client.post("/users/ada/roles", data={"roles": "analyst", "csrf_token": token})
    assert demote.status_code == 409 and "own admin role" in demote.text
    ghost = await client.post("/users/nobody/disable", data={"csrf_token": token})
    assert ghost.status_code == 404 and "no user named" in ghost.text


# --- API keys --------------------------------------------------------------------------------------


async def test_create_use_and_revoke_a_key(client: httpx.AsyncClient, world: World, app: object) -> None:
    world.user("olga", ["operator", "consumer"])
    world.service("echo")
    token = await sign_in(client, "olga")
    page = (await client.get("/keys", headers=HTML)).text
    offered = set(re.findall(r'name="roles" value="([a-z]+)"', page))
    assert offered == {"operator", "consumer"}  # only the roles olga holds

    r = await client.post(
        "/keys",
        data={
            "name": "billing",
            "roles": "consumer",
            "services": "echo, other",
            "expires_days": "30",
            "csrf_token": token,
        },
    )
    assert r.status_code == 200, r.text
    secret = one_time_secret(r.text, "key-secret")
    assert secret.startswith("sy_")
    key_row = rows(r.text, "keys")[0]
    assert "billing" in key_row and "echo, other" in key_row and "2026-01-31" in key_row
    assert secret not in (await client.get("/keys", headers=HTML)).text

    async with other_client(app) as api:
        me = await api.get("/v1/auth/me", headers=bearer(secret))
        assert me.status_code == 200 and me.json()["services"] == ["echo", "other"]
        key_id = re.search(r'data-key="([^"]+)"', key_row).group(1)  # type: ignore[union-attr]
        revoked = await client.post(f"/keys/{key_id}/revoke", data={"csrf_token": token})
        assert revoked.status_code == 303 and revoked.headers["location"] == "/keys?flash=revoked"
        page = (await client.get("/keys", headers=HTML)).text
        assert "revoked" in rows(page, "keys")[0] and "Revoke</button>" not in rows(page, "keys")[0]
        refused = await api.get("/v1/auth/me", headers=bearer(secret))
        assert refused.status_code == 401 and refused.json()["code"] == "bad_api_key"


async def test_a_key_cannot_hold_roles_its_creator_lacks(client: httpx.AsyncClient, world: World) -> None:
    world.user("ann", ["analyst"])
    token = await sign_in(client, "ann")
    r = await client.post("/keys", data={"name": "sneaky", "roles": "admin", "csrf_token": token})
    assert r.status_code == 403 and "roles you do not hold: admin" in r.text
    assert 'id="keys"' not in r.text  # nothing was created
    never = await client.post(
        "/keys", data={"name": "forever", "roles": "analyst", "expires_days": "", "csrf_token": token}
    )
    assert never.status_code == 200 and "never" in rows(never.text, "keys")[0]
    bad = await client.post(
        "/keys", data={"name": "x", "roles": "analyst", "expires_days": "-3", "csrf_token": token}
    )
    assert bad.status_code == 422 and "expires_in_days" in bad.text


async def test_someone_elses_key_cannot_be_revoked(client: httpx.AsyncClient, world: World) -> None:
    world.user_with_key("carol", ["consumer"])
    world.user("ann", ["analyst"])
    with world.ctx.uow() as s:
        carol_key = auth.list_keys(s)[0].id
    token = await sign_in(client, "ann")
    r = await client.post(f"/keys/{carol_key}/revoke", data={"csrf_token": token})
    assert r.status_code == 404 and "no API key" in r.text


async def test_a_key_cannot_mint_a_wider_key_from_the_keys_page(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["admin"])
    key = world.key("ada", roles=["consumer"], services=["echo"])
    wider_role = await client.post("/keys", data={"name": "up", "roles": "admin"}, headers=bearer(key))
    assert wider_role.status_code == 403 and "roles you do not hold: admin" in wider_role.text
    wider_scope = await client.post(
        "/keys", data={"name": "up", "roles": "consumer", "services": "other"}, headers=bearer(key)
    )
    assert wider_scope.status_code == 403 and "does not cover these services: other" in wider_scope.text
    same = await client.post("/keys", data={"name": "same", "roles": "consumer"}, headers=bearer(key))
    assert same.status_code == 200
    new_key = one_time_secret(same.text, "key-secret")
    me = await client.get("/v1/auth/me", headers=bearer(new_key))
    assert me.json()["roles"] == ["consumer"] and me.json()["services"] == ["echo"]

"""The console in a real browser against a real server: sign-in, the kill switch, go-live, audit, roles,
users and keys. One server and one browser for the module; each test signs in on a fresh context."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.browser


def sign_in(page: Page, server: Server, username: str, password: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".whoami .who")).to_have_text(username)


def invoke(server: Server, x: float = 21) -> tuple[int, dict[str, object]]:
    with server.api() as api:
        r = api.post(
            "/v1/services/echo/invoke",
            json={"inputs": {"x": x}},
            headers={"Authorization": f"Bearer {server.consumer_key}"},
        )
        return r.status_code, r.json()


def test_sign_in_shows_errors_then_lands_on_services(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/services")
    expect(page).to_have_url(re.compile(r"/login\?next=/services$"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("certainly not it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash.error")).to_have_text("wrong username or password")
    expect(page.get_by_label("Username")).to_have_value("admin")

    page.get_by_label("Password").fill(server.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/services")
    row = page.locator('#services tr[data-slug="echo"]')
    expect(row.locator("a.slug")).to_have_text("echo")
    expect(row.locator(".live-version")).to_have_text("v1")
    expect(row.locator(".state")).to_have_text("serving")
    expect(row).to_contain_text("250 ms")


def test_pause_refuses_calls_with_the_reason_and_resume_serves_again(page: Page, server: Server) -> None:
    assert invoke(server)[0] == 200
    sign_in(page, server, "admin", server.admin_password)
    page.goto(f"{server.url}/services")
    page.get_by_role("link", name="echo").click()
    expect(page.locator("h1")).to_contain_text("Echo doubler")
    expect(page.locator("#state")).to_have_text("serving")

    reason = "Refund answers look wrong; investigating <b>now</b>"
    page.get_by_label("Reason (shown to every caller)").fill(reason)
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash.ok")).to_contain_text("Paused")
    expect(page.locator("#state")).to_have_text("paused")
    expect(page.locator("#paused .paused-by")).to_have_text("admin")
    expect(page.locator("#paused .paused-reason")).to_have_text(reason)  # shown as text, not markup

    status, body = invoke(server)
    assert status == 503 and body["code"] == "paused"
    assert body["reason"] == reason and body["paused_by"] == "admin"

    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".flash.ok")).to_contain_text("Resumed")
    expect(page.locator("#state")).to_have_text("serving")
    expect(page.locator("#paused")).to_have_count(0)
    status, body = invoke(server)
    assert status == 200 and body["output"] == 42 and body["outcome"] == "served"


def test_a_version_registered_by_the_cli_is_made_live_from_the_console(page: Page, server: Server) -> None:
    server.cli(
        "versions",
        "register",
        "echo",
        "--loader",
        "callable",
        "--entrypoint",
        "tests.factories:double",
        "--confidence",
        "--description",
        "second build",
    )
    sign_in(page, server, "admin", server.admin_password)
    page.goto(f"{server.url}/services/echo")
    newest = page.locator('#versions tr[data-version="2"]')
    expect(newest).to_contain_text("second build")
    expect(newest).to_contain_text("cli:")
    expect(page.locator("#live-version")).to_have_text("v1 live")

    newest.get_by_role("button", name="Make live").click()
    expect(page.locator(".flash.ok")).to_contain_text("is live")
    expect(page.locator("#live-version")).to_have_text("v2 live")
    expect(newest.locator(".badge.live")).to_have_text("live")
    expect(
        page.locator('#versions tr[data-version="1"]').get_by_role("button", name="Make live")
    ).to_be_visible()
    status, body = invoke(server)
    assert status == 200 and body["version"] == 2


def test_audit_log_shows_actions_filters_and_verifies(page: Page, server: Server) -> None:
    # Make the events this test reads, through the JSON API with a console session and its CSRF token.
    with server.api() as api:
        login = api.post("/v1/auth/login", json={"username": "admin", "password": server.admin_password})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        assert api.post("/v1/services/echo/pause", json={"reason": "audit drill"}, headers=csrf).is_success
        assert api.post("/v1/services/echo/resume", headers=csrf).is_success

    sign_in(page, server, "admin", server.admin_password)
    page.get_by_role("link", name="Audit log").click()
    table = page.locator("#audit")
    expect(table).to_be_visible()
    for action in ("service.pause", "service.resume"):
        row = table.locator("tbody > tr", has=page.locator("td.action", has_text=action)).first
        expect(row.locator("td.actor")).to_have_text("admin")
    live = table.locator("tbody > tr", has=page.locator("td.action", has_text="version.live")).first
    expect(live.locator("td.actor")).not_to_be_empty()
    everything = table.locator("tbody > tr[data-seq]").count()

    pause_row = table.locator("tbody > tr", has=page.locator("td.action", has_text="service.pause")).first
    pause_row.locator("details.diff summary").click()
    expect(pause_row.locator("tr.diff-added")).to_contain_text("audit drill")

    page.get_by_label("Action starts with").fill("service.")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=service\."))
    actions = table.locator("td.action").all_inner_texts()
    assert actions and all(a.startswith("service.") for a in actions) and len(actions) < everything
    expect(page.get_by_label("Action starts with")).to_have_value("service.")

    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#verify-result")).to_contain_text(re.compile(r"OK: \d+ events, chain intact"))


def test_navigation_and_buttons_follow_roles(page: Page, server: Server) -> None:
    sign_in(page, server, "ann", server.analyst_password)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Services")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit log")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    page.goto(f"{server.url}/services/echo")
    expect(page.locator("#versions")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.get_by_role("button", name="Make live")).to_have_count(0)
    expect(page.get_by_role("heading", name=re.compile("Recent predictions"))).to_be_visible()
    page.goto(f"{server.url}/audit")
    expect(page.get_by_role("button", name="Verify chain")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, server, "carl", server.consumer_password)
    expect(page).to_have_url(f"{server.url}/keys")
    response = page.goto(f"{server.url}/services")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("403 · Forbidden")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Services")).to_have_count(0)


def test_users_and_keys_show_secrets_once_and_revoked_keys_stop(page: Page, server: Server) -> None:
    sign_in(page, server, "admin", server.admin_password)
    page.get_by_role("link", name="Users").click()
    form = page.locator("#create-user")
    form.get_by_label("Username").fill("dana")
    form.get_by_label("Display name").fill("Dana Reviewer")
    form.get_by_label("reviewer").check()
    form.get_by_role("button", name="Create user").click()
    secret = page.locator("#one-time-password")
    expect(secret).to_have_text(re.compile(r"^\S{12,}$"))
    password = secret.inner_text()
    expect(page.locator('#users tr[data-username="dana"]')).to_contain_text("reviewer")
    page.goto(f"{server.url}/users")
    expect(page.locator("#one-time-password")).to_have_count(0)
    assert password not in page.content()

    page.get_by_role("link", name="API keys").click()
    create = page.locator("#create-key")
    create.get_by_label("Name").fill("browser key")
    expect(create.get_by_label("consumer")).to_be_checked()
    create.get_by_role("button", name="Create key").click()
    key = page.locator("#key-secret").inner_text()
    assert key.startswith("sy_")
    row = page.locator("#keys tbody > tr", has_text="browser key")
    expect(row.locator(".key-state")).to_have_text("active")
    with server.api() as api:
        me = api.get("/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["roles"] == ["consumer"]
        row.get_by_role("button", name="Revoke").click()
        expect(page.locator(".flash.ok")).to_contain_text("revoked")
        expect(page.locator("#keys tbody > tr", has_text="browser key").locator(".key-state")).to_have_text(
            "revoked"
        )
        assert key not in page.content()
        refused = api.get("/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401 and refused.json()["code"] == "bad_api_key"

    page.context.clear_cookies()
    sign_in(page, server, "dana", password)  # the one-time password works
    expect(page).to_have_url(f"{server.url}/dashboard")


def test_screenshots_of_the_console(page: Page, server: Server, tmp_path: Path) -> None:
    """Screenshots for a person to look at (layout is not asserted pixel by pixel)."""
    invoke(server, 3)
    invoke(server, 500)  # low confidence, still served
    sign_in(page, server, "admin", server.admin_password)
    shots = {
        "services.png": "/services",
        "service-detail.png": "/services/echo",
        "audit.png": "/audit",
        "users.png": "/users",
        "keys.png": "/keys",
    }
    for name, path in shots.items():
        page.goto(f"{server.url}{path}")
        if path == "/services/echo":
            page.locator("details.schema").first.click()
            expect(page.locator("#predictions")).to_be_visible()
        if path == "/audit":
            page.locator("#audit details.diff summary").first.click()
        if path == "/users":
            page.locator('#users tr[data-username="ann"] details.manage summary').click()
        page.screenshot(path=str(tmp_path / name), full_page=True)
    for name in shots:
        assert (tmp_path / name).stat().st_size > 10_000

"""The console's serving pages in a real browser: the live runtime panel, the policy form, and a batch
job uploaded and followed to the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.test_console import sign_in
from tests.factories import ECHO_SCHEMA

pytestmark = pytest.mark.browser


def call(server: Server, slug: str) -> dict[str, object]:
    with server.api() as api:
        r = api.post(
            f"/v1/services/{slug}/invoke",
            json={"inputs": {"x": 2}},
            headers={"Authorization": f"Bearer {server.consumer_key}"},
        )
        body: dict[str, object] = r.json()
        return body


def test_the_runtime_panel_follows_the_breaker_and_owners_edit_the_policy(
    page: Page, server: Server, tmp_path: Path
) -> None:
    spec = tmp_path / "flaky.json"
    spec.write_text(
        json.dumps({"slug": "flaky", "name": "Flaky", "owner": "admin", "input_schema": ECHO_SCHEMA})
    )
    server.cli("services", "create", str(spec))
    server.cli(
        "versions",
        "register",
        "flaky",
        "--loader",
        "callable",
        "--entrypoint",
        "tests.factories:boom",
        "--confidence",
        "--live",
    )
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "breaker": {"failure_threshold": 1, "cooldown_s": 600},
                "fallbacks": [{"kind": "fixed", "output": 0, "message": "sent to a person"}],
            }
        )
    )
    server.cli("services", "policy", "flaky", "--set", str(policy))

    sign_in(page, server, "admin", server.admin_password)
    page.goto(f"{server.url}/services/flaky")
    live = page.locator('#runtime-versions tr[data-version="1"]')
    expect(live.locator(".badge")).to_have_text("closed")
    expect(page.locator("#fallback-chain")).to_contain_text("fixed answer")

    body = call(server, "flaky")
    assert body["outcome"] == "fallback"
    # The panel refreshes itself (htmx, every 5 s): no reload.
    expect(live.locator(".badge")).to_have_text("open", timeout=15_000)
    live.get_by_role("button", name="Close breaker").click()
    expect(page.locator(".flash.ok")).to_contain_text("Breaker closed")
    expect(page.locator('#runtime-versions tr[data-version="1"] .badge')).to_have_text("closed")

    page.get_by_text("Edit the policy (JSON)").click()
    page.locator('textarea[name="policy"]').fill('{"concurrency": {"max_concurent": 2}}')
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator(".flash.error")).to_contain_text("max_concurent")
    page.locator('textarea[name="policy"]').fill('{"concurrency": {"max_concurrency": 2, "max_queue": 4}}')
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator(".flash.ok")).to_contain_text("Policy saved")
    expect(page.locator("#policy")).to_contain_text("2 running, 4 queued")
    expect(page.locator("#fallback-chain")).to_contain_text("none")
    assert call(server, "flaky")["code"] == "model_failed"  # the chain is gone: the error stands


def test_a_file_uploaded_in_the_console_is_scored_with_live_progress(
    page: Page, server: Server, tmp_path: Path
) -> None:
    rows = tmp_path / "numbers.jsonl"
    rows.write_text("".join(json.dumps({"x": x}) + "\n" for x in range(40)) + '{"x": "oops"}\n')
    sign_in(page, server, "admin", server.admin_password)
    page.goto(f"{server.url}/jobs")
    page.get_by_label("Service").select_option("echo")
    page.locator('input[type="file"]').set_input_files(str(rows))
    page.get_by_role("button", name="Submit job").click()

    expect(page.locator("#job-progress .rows")).to_have_text("41 / 41 rows", timeout=30_000)
    expect(page.locator("#count-succeeded")).to_have_text("40")
    expect(page.locator("#count-failed")).to_contain_text("1")
    letter = page.locator('#dead-letters tr[data-row="41"]')
    page.reload()
    expect(letter.locator(".reason")).to_contain_text("'oops' is not of type 'number'")

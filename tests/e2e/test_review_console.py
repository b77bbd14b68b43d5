"""The review queue in a real browser: a reviewer opens a held call, corrects its answer, moves on to
the next task, and the caller gets the corrected answer."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, run_clis
from tests.e2e.test_console import sign_in
from tests.factories import ECHO_SCHEMA

pytestmark = pytest.mark.browser


def hold(server: Server, x: float) -> str:
    with server.api() as api:
        r = api.post(
            "/v1/services/triage/invoke",
            json={"inputs": {"x": x}},
            headers={"Authorization": f"Bearer {server.consumer_key}"},
        )
    assert r.status_code == 202 and r.json()["outcome"] == "held_for_review", r.text
    rid: str = r.json()["request_id"]
    return rid


def caller_view(server: Server, rid: str, *, until_recorded: bool = False) -> dict[str, object]:
    """The caller's view of a held call; with `until_recorded`, waits for the recorder to ship it."""
    deadline = time.monotonic() + 20
    with server.api() as api:
        while True:
            r = api.get(
                f"/v1/predictions/{rid}/review",
                headers={"Authorization": f"Bearer {server.consumer_key}"},
            )
            if r.status_code != 404 or not until_recorded or time.monotonic() > deadline:
                assert r.status_code == 200, r.text
                body: dict[str, object] = r.json()
                return body
            time.sleep(0.2)


def test_a_reviewer_corrects_a_held_answer_and_the_caller_gets_it(
    page: Page, server: Server, tmp_path: Path
) -> None:
    spec = tmp_path / "triage.json"
    spec.write_text(
        json.dumps(
            {
                "slug": "triage",
                "name": "Triage",
                "owner": "admin",
                "input_schema": ECHO_SCHEMA,
                "output_schema": {"type": "number"},
            }
        )
    )
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"review": {"low_confidence": 0.5}}))
    created, _ = run_clis(
        server.env,
        ["users", "create", "rita", "--roles", "reviewer"],
        ["services", "create", str(spec)],
    )
    found = re.search(r"one-time password:\s+(\S+)", created)
    assert found, created
    password = found.group(1)
    run_clis(
        server.env,
        ["services", "policy", "triage", "--set", str(policy)],
        ["versions", "register", "triage", "--loader", "callable", "--entrypoint",
         "tests.factories:double", "--confidence", "--live"],
    )  # fmt: skip
    first, second = hold(server, 200), hold(server, 300)  # 0.4 sure: below 0.5, held
    assert caller_view(server, second, until_recorded=True)["state"] == "pending"

    sign_in(page, server, "rita", password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    row = page.locator(f'#reviews tr[data-request-id="{first}"]')
    expect(row).to_contain_text("held · waiting")
    expect(row).to_contain_text("confidence 0.4 < 0.5")
    expect(page.locator('#backlog tr[data-service="triage"] .open')).to_have_text("2")
    row.get_by_role("link", name=first).click()

    expect(page.locator("#inputs")).to_contain_text('"x": 200')
    expect(page.locator("#output")).to_have_text("400")
    answer = page.get_by_label("Corrected answer (JSON; used only by Correct)")
    expect(answer).to_have_value("400")
    answer.fill('"four hundred"')  # breaks the output schema: shown, and kept as typed
    page.get_by_role("button", name="Correct").click()
    expect(page.locator("#decision-errors")).to_contain_text("'four hundred' is not of type 'number'")
    expect(answer).to_have_value('"four hundred"')
    answer.fill("399")
    page.get_by_label("Comment (kept with the task; needed to escalate)").fill("rounding rule")
    page.get_by_role("button", name="Correct").click()

    # On to the next held call, with a word on what the last decision did.
    expect(page).to_have_url(f"{server.url}/reviews/{second}?flash=corrected")
    expect(page.locator(".flash.ok")).to_contain_text("Corrected: a held caller now gets your answer")
    expect(page.locator("#output")).to_have_text("600")
    view = caller_view(server, first)
    assert (view["state"], view["decided"], view["output"]) == ("corrected", True, 399)

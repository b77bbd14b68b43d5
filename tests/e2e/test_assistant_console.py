"""The policy assistant in a real browser: a supervisor uploads a policy, staff ask and see the cited
answer, the policy is withdrawn and the assistant says it does not know."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shipyard.assistants.policy.definition import INPUT_SCHEMA, OUTPUT_SCHEMA, SERVICE, SLUG
from shipyard.assistants.policy.setup import ENTRYPOINT
from tests.documents.test_documents_api import MRI_2025
from tests.e2e.conftest import Server
from tests.e2e.test_console import sign_in

pytestmark = pytest.mark.browser
QUESTION = (
    "Within how many business days are Northwind Health prior authorization requests "
    "for a lumbar spine MRI decided?"
)


@pytest.fixture(scope="module")
def assistant(server: Server) -> Server:
    """The assistant registered through the API, as an owner would, on the module's server."""
    out = server.cli("keys", "create", "--user", "admin", "--roles", "admin", "--name", "e2e-owner")
    key = re.search(r"(sy_\S+)", out)
    assert key
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    with server.api() as api:
        api.timeout = 120  # the first version loads the embedding model
        created = api.post(
            "/v1/services",
            json=SERVICE | {"owner": "admin", "input_schema": INPUT_SCHEMA, "output_schema": OUTPUT_SCHEMA},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        meta = {"loader": "callable", "entrypoint": ENTRYPOINT, "returns_confidence": True, "make_live": True}
        version = api.post(
            f"/v1/services/{SLUG}/versions", files={"meta": (None, json.dumps(meta))}, headers=headers
        )
        assert version.status_code == 201, version.text
    return server


def test_upload_ask_withdraw(page: Page, assistant: Server, tmp_path: Path) -> None:
    policy = tmp_path / "nwh-mri-2025.md"
    policy.write_text(MRI_2025)
    sign_in(page, assistant, "admin", assistant.admin_password)

    page.goto(f"{assistant.url}/documents")
    page.get_by_label("File").set_input_files(str(policy))
    page.get_by_label("Insurer").fill("Northwind Health")
    page.get_by_label("Topic").fill("imaging/mri")
    page.get_by_label("Effective date").fill("2025-01-01")
    page.get_by_label("Version", exact=True).fill("2025.1")
    page.get_by_role("button", name="Upload").click()
    result = page.locator(".upload-result")
    expect(result).to_have_attribute("data-outcome", "stored", timeout=60_000)
    expect(result).to_contain_text("active")

    page.goto(f"{assistant.url}/ask")
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("article.answer")
    expect(answer).to_have_attribute("data-outcome", "served", timeout=30_000)
    expect(answer.locator(".citations")).to_contain_text("2 business days")
    expect(answer).to_contain_text("version 2025.1")

    # The citation leads to the document; a supervisor withdraws it from there.
    answer.locator(".citations a").first.click()
    expect(page.locator("h1")).to_contain_text("Advanced imaging")
    page.get_by_label("Reason").fill("published in error")
    page.get_by_role("button", name="Withdraw this version").click()
    expect(page.locator(".flash.ok")).to_contain_text("Withdrawn")
    expect(page.locator("tr[data-status='withdrawn']")).to_have_count(1)

    page.goto(f"{assistant.url}/ask")
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask").click()
    expect(answer).to_have_attribute("data-outcome", "abstained", timeout=30_000)
    expect(answer.locator(".answer-text")).to_have_text("The active policies do not answer this.")

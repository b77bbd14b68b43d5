"""The morning dashboard in a real browser: signing in lands on it, its chart shows the calls, and a
bar opens exactly the predictions behind it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.test_console import invoke, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_lands_on_the_dashboard_and_a_bar_opens_its_predictions(page: Page, server: Server) -> None:
    for x in (1, 2, 3):
        assert invoke(server, x)[0] == 200
    sign_in(page, server, "admin", server.admin_password)
    expect(page).to_have_url(f"{server.url}/dashboard")
    row = page.locator('#dashboard tr[data-slug="echo"]')
    # The rollup job runs every 2 s in this server; wait for it to have counted our calls.
    deadline = time.monotonic() + 30
    while not re.fullmatch(r"[3-9]|\d\d+", row.locator("td.num").first.inner_text().strip()):
        assert time.monotonic() < deadline, "the dashboard never counted the calls"
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("#chart-calls svg.chart")).to_be_visible()
    expect(page.locator("#alerts-block")).to_contain_text("None firing")
    expect(page.locator("#drift-block")).to_contain_text("not checked")

    # The last bar is the current hour, which holds our calls: it opens them in the browser.
    page.locator("#chart-calls svg a").last.click()
    expect(page).to_have_url(re.compile(r"/predictions\?"))
    rows = page.locator("#predictions tbody tr[data-outcome=served]")
    assert rows.count() >= 3
    rows.first.locator("a").first.click()
    expect(page.locator("#outcome")).to_have_text("served")
    expect(page.locator("#inputs")).to_contain_text('"x"')

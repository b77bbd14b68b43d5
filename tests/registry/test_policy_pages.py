"""The service page's runtime panel and policy form."""

from __future__ import annotations

import json

import httpx

from tests.factories import World, bearer
from tests.web.test_pages import HTML, rows, sign_in


def runtime_rows(page: str) -> list[str]:
    """The rows of the runtime table alone (the tables after it also have data- rows)."""
    before, after = page.split('id="runtime-versions"', 1)
    return rows(before + 'id="runtime-versions"' + after.split("</table>", 1)[0], "runtime-versions")


async def test_the_service_page_shows_breakers_and_the_policy(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("olive", ["owner"])
    world.service("echo", owner="olive", entrypoint="tests.factories:boom")
    world.version("echo", "tests.factories:double")
    world.policy(
        "echo",
        {
            "breaker": {"failure_threshold": 1, "cooldown_s": 600},
            "fallbacks": [
                {"kind": "version", "version": 2},
                {"kind": "fixed", "output": 0, "message": "later"},
            ],
        },
    )
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert r.json()["outcome"] == "fallback"

    token = await sign_in(client, "olive")
    page = (await client.get("/services/echo", headers=HTML)).text
    runtime = runtime_rows(page)
    assert len(runtime) == 2  # the live version and the one in the fallback chain
    assert "breaker-open" in runtime[0] and "Close breaker" in runtime[0]
    assert "breaker-closed" in runtime[1]
    assert "version 2" in page and "fixed answer" in page and "“later”" in page

    fragment = await client.get("/services/echo/runtime", headers=HTML)
    assert fragment.status_code == 200 and 'id="runtime"' in fragment.text and "<html" not in fragment.text

    closed = await client.post("/services/echo/versions/1/breaker/reset", data={"csrf_token": token})
    assert closed.status_code == 303
    page = (await client.get(closed.headers["location"], headers=HTML)).text
    assert "Breaker closed" in page and "breaker-open" not in page


async def test_owners_edit_the_policy_and_mistakes_are_explained(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("olive", ["owner"])
    world.service("echo", owner="olive")
    token = await sign_in(client, "olive")

    bad = await client.post(
        "/services/echo/policy", data={"policy": '{"breaker": {"cooldown": 5}}', "csrf_token": token}
    )
    assert bad.status_code == 422 and "breaker.cooldown" in bad.text
    assert "cooldown" in bad.text  # the text the owner typed is kept in the form
    missing = await client.post(
        "/services/echo/policy",
        data={"policy": json.dumps({"fallbacks": [{"kind": "version", "version": 9}]}), "csrf_token": token},
    )
    assert missing.status_code == 422 and "has no version 9" in missing.text

    ok = await client.post(
        "/services/echo/policy",
        data={"policy": json.dumps({"concurrency": {"max_concurrency": 3}}), "csrf_token": token},
    )
    assert ok.status_code == 303
    page = (await client.get(ok.headers["location"], headers=HTML)).text
    assert "Policy saved" in page and "3 running" in page


async def test_operators_see_the_policy_but_cannot_edit_it(client: httpx.AsyncClient, world: World) -> None:
    world.user("olive", ["owner"])
    world.service("echo", owner="olive")
    world.user("otto", ["operator"])
    token = await sign_in(client, "otto")
    page = (await client.get("/services/echo", headers=HTML)).text
    assert 'id="policy"' in page and "Edit the policy" not in page
    r = await client.post("/services/echo/policy", data={"policy": "{}", "csrf_token": token}, headers=HTML)
    assert r.status_code == 403

"""The review queue's console pages through the real app: the queue and its backlog, one task (an
audited read), claims, decisions and their errors, and who may do what. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.core.clock import FrozenClock
from shipyard.review.queue import pages
from shipyard.review.queue.models import ReviewTask
from tests.factories import World, bearer
from tests.web.test_pages import HTML, sign_in

HOLD_LOW = {"review": {"low_confidence": 0.5}}  # tests.factories:double is 0.4 sure when |x| >= 100


async def held(client: httpx.AsyncClient, key: str, x: float, slug: str = "echo") -> str:
    r = await client.post(f"/v1/services/{slug}/invoke", json={"inputs": {"x": x}}, headers=bearer(key))
    assert r.status_code in (200, 202), r.text
    rid: str = r.json()["request_id"]
    return rid


async def shipped(world: World) -> None:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)


def audited(world: World, action: str) -> list[AuditEvent]:
    with world.ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def task(world: World, rid: str) -> ReviewTask:
    with world.ctx.sessions() as s:
        found = s.get(ReviewTask, rid)
        assert found is not None
        return found


def rows(page: str, table_id: str) -> list[str]:
    """The body rows of one table."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert table, f"no table #{table_id}"
    return ["<tr data-" + part for part in table.group(1).split("<tr data-")[1:]]


def textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, page
    return html.unescape(match.group(1))


def flash(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash \w+"[^>]*>(.*?)</p>', page, re.S)]


async def decide(client: httpx.AsyncClient, token: str, rid: str, **form: str) -> httpx.Response:
    return await client.post(f"/reviews/{rid}/decision", data={"csrf_token": token, **form}, headers=HTML)


async def test_the_queue_shows_reviewable_services_with_their_backlog_and_filters(
    client: httpx.AsyncClient, world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.user("rita", ["reviewer"])
    world.user("olga", ["owner"])
    world.service("alpha", owner="olga")
    world.service("beta")
    world.policy("alpha", HOLD_LOW)
    world.policy("beta", {"review": {"sample_rate": 1.0}})
    first = await held(client, caller, 200, "alpha")
    clock.advance(minutes=7)
    queued = await held(client, caller, 1, "beta")
    await shipped(world)
    clock.advance(seconds=30)

    await sign_in(client, "rita")
    page = (await client.get("/reviews", headers=HTML)).text
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav and '<a href="/predictions"' in nav.group(1) and '<a href="/reviews"' in nav.group(1)
    listed = rows(page, "reviews")
    assert [re.findall(r'data-request-id="([^"]+)"', r) for r in listed] == [[first], [queued]]
    alpha, beta = listed
    assert 'class="review-hold"' in alpha and "held · waiting" in alpha and ">7m 30s<" in alpha
    assert "low_confidence" in alpha and "confidence 0.4 &lt; 0.5" in alpha and "0.40" in alpha
    assert "queued · answered" in beta and "sample" in beta and ">30s<" in beta
    assert f'href="/reviews/{first}"' in alpha
    assert "<pre" not in page and "inputs" not in page  # no payloads in the list
    backlog = {r.split('"')[1]: r for r in rows(page, "backlog")}
    assert set(backlog) == {"alpha", "beta"}
    assert '<td class="num open">1</td>' in backlog["alpha"] and "badge held" in backlog["alpha"]
    assert '<td class="num oldest">7m 30s</td>' in backlog["alpha"]
    assert '<td class="num held">0</td>' in backlog["beta"]

    only_queued = (await client.get("/reviews?action=queue", headers=HTML)).text
    assert [r for r in rows(only_queued, "reviews") if first in r] == [] and queued in only_queued
    only_alpha = (await client.get("/reviews?service=alpha", headers=HTML)).text
    assert len(rows(only_alpha, "reviews")) == 1 and first in only_alpha
    assert '<option value="alpha" selected>' in only_alpha
    decided = (await client.get("/reviews?state=decided", headers=HTML)).text
    assert 'id="reviews"' not in decided and "No review tasks match these filters." in decided
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    one = (await client.get("/reviews", headers=HTML)).text
    later = re.search(r'<a href="([^"]+)" rel="next" id="more">Later »</a>', one)
    assert later and [first] == re.findall(r'data-request-id="([^"]+)"', one)
    two = (await client.get(html.unescape(later.group(1)), headers=HTML)).text
    assert [queued] == re.findall(r'data-request-id="([^"]+)"', two) and 'id="first">« Oldest' in two
    monkeypatch.undo()
    bogus = (await client.get("/reviews?state=bogus&action=maybe", headers=HTML)).text
    assert "&#39;state&#39; must be one of open, pending, escalated, decided, all" in bogus
    assert "&#39;action&#39; must be hold or queue" in bogus and first in bogus

    # An owner sees the queue of its own services only, and is refused another's.
    await sign_in(client, "olga")
    page = (await client.get("/reviews", headers=HTML)).text
    assert first in page and queued not in page
    assert [r.split('"')[1] for r in rows(page, "backlog")] == ["alpha"]
    assert '<option value="beta"' not in page
    refused = await client.get("/reviews?service=beta", headers=HTML)
    assert refused.status_code == 403 and "olga may not review:read on beta" in refused.text
    unknown = await client.get("/reviews?service=nope", headers=HTML)
    assert unknown.status_code == 404
    service_page = (await client.get("/services/alpha", headers=HTML)).text
    assert 'href="/reviews?service=alpha" id="review-link">Review queue</a>' in service_page


async def test_opening_a_task_shows_the_call_and_is_audited(client: httpx.AsyncClient, world: World) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.user("rita", ["reviewer"])
    world.user("olga", ["owner"])
    world.service("echo")
    world.service("other", owner="olga")
    world.policy("echo", HOLD_LOW)
    rid = await held(client, caller, 200)
    await shipped(world)

    await sign_in(client, "rita")
    assert rid in (await client.get("/reviews", headers=HTML)).text
    assert audited(world, "review.read") == []  # listing reads no payload

    r = await client.get(f"/reviews/{rid}", headers=HTML)
    assert r.status_code == 200
    page = r.text
    assert re.search(r'<pre id="inputs">\{\s+"x": 200\s+\}</pre>', page), page
    assert '<pre id="output">400</pre>' in page
    assert 'id="state">pending</span>' in page and "held · caller waiting" in page
    assert f"{caller[:10]}" in page and "(key)" in page
    assert "<code>low_confidence</code> confidence 0.4 &lt; 0.5" in page
    assert 'id="confidence">0.400</dd>' in page
    assert textarea(page, "output") == "400"
    assert 'value="approve"' in page and ">Claim</button>" in page
    (event,) = audited(world, "review.read")
    assert (event.actor, event.target_id, event.service) == ("rita", rid, "echo")

    await sign_in(client, "olga")  # owns another service only: the task is unknown to her
    hidden = await client.get(f"/reviews/{rid}", headers=HTML)
    assert hidden.status_code == 404 and "404 · Not found" in hidden.text
    assert "no review task for" in html.unescape(hidden.text) and '<pre id="output">' not in hidden.text
    missing = await client.get("/reviews/no-such-call", headers=HTML)
    assert missing.status_code == 404 and "no-such-call" in missing.text
    assert len(audited(world, "review.read")) == 1


async def test_approving_goes_on_to_the_next_task_then_back_to_the_queue(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.user("rita", ["reviewer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    first = await held(client, caller, 200)
    clock.advance(seconds=5)
    second = await held(client, caller, 300)
    await shipped(world)

    token = await sign_in(client, "rita")
    r = await decide(client, token, first, action="approve", comment="matches the claim", output="400")
    assert r.status_code == 303 and r.headers["location"] == f"/reviews/{second}?flash=approved"
    page = (await client.get(r.headers["location"], headers=HTML)).text
    assert flash(page) == ["Approved: the model's answer stands (a held caller now gets it)."]
    assert '<pre id="output">600</pre>' in page
    done = task(world, first)
    assert (done.state, done.decided_by, done.comment) == ("approved", "rita", "matches the claim")
    status = await client.get(f"/v1/predictions/{first}/review", headers=bearer(caller))
    assert (status.json()["state"], status.json()["output"]) == ("approved", 400)

    r = await decide(client, token, second, action="reject")
    assert r.status_code == 303 and r.headers["location"] == "/reviews?flash=rejected"
    page = (await client.get(r.headers["location"], headers=HTML)).text
    assert "Rejected: nothing is released to a held caller." in page
    assert "Nothing to review: the queue is empty." in page

    decided = (await client.get(f"/reviews/{first}", headers=HTML)).text
    assert 'id="decided">rita, ' in decided and 'id="comment">matches the claim</dd>' in decided
    assert 'id="decision"' not in decided and ">Claim</button>" not in decided  # read-only now
    assert '<span class="muted">(waited 5s)</span>' in decided
    clock.advance(minutes=3)  # a decided task's wait ends at its decision, not now
    later = (await client.get(f"/reviews/{first}", headers=HTML)).text
    assert '<span class="muted">(waited 5s)</span>' in later


async def test_a_bad_correction_is_shown_again_with_what_was_typed(
    client: httpx.AsyncClient, world: World
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.user("rita", ["reviewer"])
    world.service("echo", output_schema={"type": "number"})
    world.policy("echo", HOLD_LOW)
    rid = await held(client, caller, 150)
    await shipped(world)
    token = await sign_in(client, "rita")

    typed = '{"amount": 299,'
    r = await decide(client, token, rid, action="correct", output=typed, comment="the cap applies")
    assert r.status_code == 422
    assert flash(r.text) == ["The corrected answer is not valid JSON."]
    assert "Expecting property name enclosed in double quotes" in r.text
    assert textarea(r.text, "output") == typed and textarea(r.text, "comment") == "the cap applies"

    r = await decide(client, token, rid, action="correct", output='"three hundred"')
    assert r.status_code == 422
    assert flash(r.text) == ["the corrected output breaks the echo output schema (1 violation)"]
    assert re.search(r"<li>&#39;three hundred&#39; is not of type &#39;number&#39;</li>", r.text)
    assert textarea(r.text, "output") == '"three hundred"'

    r = await decide(client, token, rid, action="correct", output="  ")
    assert r.status_code == 422 and "Write the corrected answer as JSON" in r.text
    assert task(world, rid).state == "pending"

    r = await decide(client, token, rid, action="correct", output="299")
    assert r.status_code == 303 and r.headers["location"] == "/reviews?flash=corrected"
    status = await client.get(f"/v1/predictions/{rid}/review", headers=bearer(caller))
    assert (status.json()["state"], status.json()["output"]) == ("corrected", 299)
    page = (await client.get(f"/reviews/{rid}", headers=HTML)).text
    assert '<pre id="corrected">299</pre>' in page and '<pre id="output">300</pre>' in page


async def test_conflicts_show_a_message_on_the_task_page(client: httpx.AsyncClient, world: World) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.user("rita", ["reviewer"])
    world.user("rob", ["reviewer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    rid = await held(client, caller, 500)
    await shipped(world)

    rita = await sign_in(client, "rita")
    forged = await client.post(f"/reviews/{rid}/claim", data={"csrf_token": "forged"}, headers=HTML)
    assert forged.status_code == 403 and "CSRF" in forged.text and task(world, rid).assignee is None
    r = await client.post(f"/reviews/{rid}/claim", data={"csrf_token": rita}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == f"/reviews/{rid}?flash=claimed"
    page = (await client.get(r.headers["location"], headers=HTML)).text
    assert "You are reviewing this task." in page and ">Release</button>" in page
    assert 'id="assignee">rita</dd>' in page

    rob = await sign_in(client, "rob")
    page = (await client.get(f"/reviews/{rid}", headers=HTML)).text
    assert "<strong>rita</strong> is reviewing this task." in page and ">Take over</button>" in page
    r = await decide(client, rob, rid, action="approve")
    assert r.status_code == 409
    assert flash(r.text) == [f"{rid} is being reviewed by rita; claim it with force to take it over"]
    r = await client.post(f"/reviews/{rid}/claim", data={"csrf_token": rob, "release": "1"}, headers=HTML)
    assert r.status_code == 409 and f"{rid} is held by rita, not rob" in flash(r.text)

    rita = await sign_in(client, "rita")
    r = await decide(client, rita, rid, action="approve")
    assert r.status_code == 303
    rob = await sign_in(client, "rob")
    r = await decide(client, rob, rid, action="reject", comment="too late")
    assert r.status_code == 409
    (message,) = flash(r.text)
    assert message.startswith(f"{rid} was already approved by rita at ")
    assert 'id="decision"' not in r.text and 'id="state">approved</span>' in r.text
    assert task(world, rid).state == "approved"


async def test_an_escalated_task_waits_for_an_approver(client: httpx.AsyncClient, world: World) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.user("rita", ["reviewer"])
    world.user("abe", ["approver"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    rid = await held(client, caller, 500)
    await shipped(world)

    rita = await sign_in(client, "rita")
    r = await decide(client, rita, rid, action="escalate")
    assert r.status_code == 422 and "<li>say why in `comment` when escalating</li>" in r.text
    r = await decide(client, rita, rid, action="escalate", comment="needs the medical director")
    assert r.status_code == 303 and r.headers["location"] == "/reviews?flash=escalated"
    queue_page = (await client.get("/reviews?state=escalated", headers=HTML)).text
    assert len(rows(queue_page, "reviews")) == 1 and 'data-state="escalated"' in queue_page

    page = (await client.get(f"/reviews/{rid}", headers=HTML)).text
    assert 'id="escalated">rita: needs the medical director</dd>' in page
    assert "an approver or the service's owner decides it" in page and 'id="decision"' not in page
    r = await decide(client, rita, rid, action="approve")
    assert r.status_code == 403
    assert flash(r.text) == [f"{rid} was escalated by rita: an approver or the service's owner decides it"]
    assert task(world, rid).state == "escalated"

    abe = await sign_in(client, "abe")
    page = (await client.get(f"/reviews/{rid}", headers=HTML)).text
    assert 'id="decision"' in page and 'value="escalate"' not in page  # already escalated
    r = await decide(client, abe, rid, action="reject", comment="not covered")
    assert r.status_code == 303
    assert (task(world, rid).state, task(world, rid).decided_by) == ("rejected", "abe")


async def test_a_consumer_may_not_open_the_queue(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    rid = await held(client, key, 500)
    await shipped(world)

    await sign_in(client, "carol")
    for path in ("/reviews", f"/reviews/{rid}"):
        r = await client.get(path, headers=HTML)
        assert r.status_code == 403 and "403 · Forbidden" in r.text, path
        assert "carol may not review:read" in r.text and 'href="/reviews"' not in r.text
    assert audited(world, "review.read") == []


async def test_approve_refuses_an_edited_answer_and_next_skips_others_claims(
    client: httpx.AsyncClient, world: World
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    rob = world.user_with_key("rob", ["reviewer"])
    world.user("rita", ["reviewer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    first, claimed, last = [await held(client, caller, x) for x in (150, 160, 170)]
    await shipped(world)
    r = await client.post(f"/v1/reviews/{claimed}/claim", json={}, headers=bearer(rob))
    assert r.status_code == 200
    token = await sign_in(client, "rita")

    # The box holds an edit: approving would silently drop it.
    r = await decide(client, token, first, action="approve", output="299")
    assert r.status_code == 422 and task(world, first).state == "pending"
    assert flash(r.text)[0].startswith("You changed the answer: press Correct")
    assert textarea(r.text, "output") == "299"

    # The model's answer, as the page shows it, approves; the next task is not the one rob holds.
    r = await decide(client, token, first, action="approve", output="300")
    assert r.status_code == 303 and r.headers["location"].startswith(f"/reviews/{last}")
    assert task(world, first).state == "approved"

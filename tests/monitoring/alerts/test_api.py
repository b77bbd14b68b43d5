"""The JSON routes and console pages: CRUD, clear errors with codes, the webhook URL kept secret,
and who may do what (alert:read for staff, alert:manage for admin, owner and operator)."""

from __future__ import annotations

import httpx

from shipyard.audit import service as audit
from shipyard.monitoring.alerts.defaults import DEFAULT_RULES
from tests.factories import World, bearer
from tests.monitoring.alerts.conftest import Receiver
from tests.monitoring.alerts.helpers import alerts_now, calls, email, evaluate, rule

SECRET_URL_PART = "s3cr3t-token"


async def test_rules_crud_with_clear_errors(client: httpx.AsyncClient, world: World) -> None:
    admin = bearer(world.user_with_key("ada", ["admin"]))
    world.service("echo")
    r = await client.post(
        "/v1/alerts/rules",
        json={
            "name": "slow",
            "signal": "p95_latency_ms",
            "threshold": 2,
            "threshold_unit": "slo",
            "service": "echo",
            "window": "10m",
            "for": "5m",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    rule = r.json()
    assert (rule["window_s"], rule["for_s"]) == (600, 300) and rule["created_by"].startswith("key:")
    assert rule["runbook_url"] == "docs/runbooks/slow-replies.md"  # the default runbook base

    bad = [
        ({"name": "x", "signal": "errors", "threshold": 1}, 422, "unknown_signal"),
        ({"name": "x", "signal": "error_rate", "threshold": 1, "threshold_unit": "slo"}, 422, "bad_rule"),
        ({"name": "x", "signal": "error_rate", "threshold": 1, "channels": ["nope"]}, 422, "unknown_channel"),
        ({"name": "x", "signal": "error_rate", "threshold": 1, "service": "ghost"}, 404, "not_found"),
        ({"name": "x", "signal": "spool_backlog", "threshold": 1, "service": "echo"}, 422, "bad_rule"),
        ({"name": "slow", "signal": "error_rate", "threshold": 1}, 409, "rule_exists"),
        ({"name": "x", "signal": "error_rate", "threshold": 1, "window": "soon"}, 422, "invalid_input"),
    ]
    for body, status, code in bad:
        r = await client.post("/v1/alerts/rules", json=body, headers=admin)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
    assert (
        "error_rate"
        in (
            await client.post(
                "/v1/alerts/rules", json={"name": "x", "signal": "errors", "threshold": 1}, headers=admin
            )
        ).json()["detail"]
    )

    r = await client.patch("/v1/alerts/rules/slow", json={"threshold": 3, "enabled": False}, headers=admin)
    assert (r.json()["threshold"], r.json()["enabled"]) == (3, False)
    r = await client.get("/v1/alerts/rules", headers=admin)
    assert [x["name"] for x in r.json()] == ["slow"]
    r = await client.post("/v1/alerts/rules/defaults", headers=admin)
    assert r.status_code == 201 and len(r.json()) == len(DEFAULT_RULES) == 9
    r = await client.post("/v1/alerts/rules/defaults", headers=admin)
    assert r.json() == []  # idempotent
    assert (await client.delete("/v1/alerts/rules/slow", headers=admin)).status_code == 204
    r = await client.get("/v1/alerts/rules/slow", headers=admin)
    assert (r.status_code, r.json()["code"]) == (404, "rule_not_found")
    with world.ctx.uow() as s:
        actions = [e.action for e in audit.list_events(s, audit.AuditFilter(action="alert_rule."), limit=20)]
    assert actions[0] == "alert_rule.delete" and actions[-2:] == ["alert_rule.update", "alert_rule.create"]


async def test_the_webhook_url_never_comes_back(client: httpx.AsyncClient, world: World) -> None:
    admin = bearer(world.user_with_key("ada", ["admin"]))
    url = f"https://hooks.slack.example.com/services/T0/B0/{SECRET_URL_PART}"
    r = await client.post(
        "/v1/alerts/channels", json={"name": "ops", "kind": "webhook", "url": url}, headers=admin
    )
    assert r.status_code == 201, r.text
    assert r.json()["url_hint"] == "https://hooks.slack.example.com/…" and "url" not in r.json()
    r = await client.patch(
        "/v1/alerts/channels/ops", json={"url": url.replace("T0", "T1"), "enabled": False}, headers=admin
    )
    assert r.status_code == 200 and r.json()["enabled"] is False
    listed = await client.get("/v1/alerts/channels", headers=admin)
    with world.ctx.uow() as s:
        trail = [e.after for e in audit.list_events(s, audit.AuditFilter(action="alert_channel."), limit=10)]
    assert SECRET_URL_PART not in r.text + listed.text + str(trail)
    assert trail[0]["url"] == "(replaced)"

    bad = [
        ({"name": "x", "kind": "webhook"}, "bad_channel"),
        ({"name": "x", "kind": "webhook", "url": "ftp://example.com/x"}, "bad_channel"),
        ({"name": "x", "kind": "email", "recipients": []}, "bad_channel"),
        ({"name": "x", "kind": "email", "recipients": ["not an address"]}, "bad_channel"),
        (
            {"name": "x", "kind": "email", "url": "https://example.com", "recipients": ["a@example.com"]},
            "bad_channel",
        ),
    ]
    for body, code in bad:
        r = await client.post("/v1/alerts/channels", json=body, headers=admin)
        assert (r.status_code, r.json()["code"]) == (422, code), (body, r.text)
    r = await client.post(
        "/v1/alerts/rules",
        json={"name": "e", "signal": "error_rate", "threshold": 0.1, "channels": ["ops"]},
        headers=admin,
    )
    r = await client.delete("/v1/alerts/channels/ops", headers=admin)
    assert (r.status_code, r.json()["code"]) == (409, "channel_in_use")


async def test_alerts_silences_and_deliveries_through_the_api(
    client: httpx.AsyncClient, world: World, receiver: Receiver
) -> None:
    admin = bearer(world.user_with_key("ada", ["admin"]))
    analyst = bearer(world.user_with_key("ann", ["analyst"]))
    world.service("echo")
    await client.post(
        "/v1/alerts/channels", json={"name": "ops", "kind": "webhook", "url": receiver.url}, headers=admin
    )
    await client.post(
        "/v1/alerts/rules",
        json={"name": "errors", "signal": "error_rate", "threshold": 0.5, "channels": ["ops"]},
        headers=admin,
    )
    calls(world, "echo", "failed", 2)
    evaluate(world)

    r = await client.get("/v1/alerts", params={"state": "firing"}, headers=analyst)
    (alert,) = r.json()
    assert (alert["rule"], alert["service"], alert["value"], alert["silenced"]) == (
        "errors",
        "echo",
        1.0,
        False,
    )
    assert (await client.get("/v1/alerts", params={"state": "resolved"}, headers=analyst)).json() == []
    r = await client.get("/v1/alerts", params={"state": "burning"}, headers=analyst)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_input")
    r = await client.get(f"/v1/alerts/{alert['id']}", headers=analyst)
    assert r.json()["id"] == alert["id"]
    r = await client.get("/v1/alerts/deliveries", params={"alert_id": alert["id"]}, headers=analyst)
    assert [(d["channel"], d["event"], d["ok"]) for d in r.json()] == [("ops", "firing", True)]
    # The morning dashboard lists it, linked to its page.
    page = (await client.get("/dashboard", headers=analyst)).text
    block = page[page.index('id="alerts-block"') :]
    block = block[: block.index("</section>")]
    assert f'href="/alerts/{alert["id"]}"' in block and "error_rate 1 &gt; 0.5" in block

    r = await client.post(
        "/v1/alerts/silences",
        json={"rule": "errors", "service": "echo", "duration": "2h", "reason": "known"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["active"] and r.json()["rule"] == "errors"
    silence_id = r.json()["id"]
    for body, code in [
        ({"reason": "everything"}, "bad_silence"),
        ({"service": "echo", "reason": "no end"}, "bad_silence"),
        ({"service": "echo", "reason": "past", "ends_at": "2020-01-01T00:00:00Z"}, "bad_silence"),
    ]:
        r = await client.post("/v1/alerts/silences", json=body, headers=admin)
        assert (r.status_code, r.json()["code"]) == (422, code), r.text
    r = await client.post(f"/v1/alerts/silences/{silence_id}/expire", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "ended"
    r = await client.post(f"/v1/alerts/silences/{silence_id}/expire", headers=admin)
    assert (r.status_code, r.json()["code"]) == (409, "silence_ended")
    assert (await client.get("/v1/alerts/silences", headers=analyst)).json() == []
    r = await client.get("/v1/alerts/silences", params={"include_expired": True}, headers=analyst)
    assert [s["id"] for s in r.json()] == [silence_id]

    # Reading is for staff; changing is for admin, owner and operator.
    r = await client.post(f"/v1/alerts/silences/{silence_id}/expire", headers=analyst)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    consumer = bearer(world.user_with_key("cal", ["consumer"]))
    r = await client.get("/v1/alerts", headers=consumer)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    operator = bearer(world.user_with_key("otto", ["operator"]))
    r = await client.post(
        "/v1/alerts/silences", json={"service": "echo", "duration": 60, "reason": "op"}, headers=operator
    )
    assert r.status_code == 201


async def test_console_pages(client: httpx.AsyncClient, world: World) -> None:
    admin = bearer(world.user_with_key("ada", ["admin"]))
    analyst = bearer(world.user_with_key("ann", ["analyst"]))
    world.service("echo")
    r = await client.post("/alerts/rules/defaults", headers=admin)
    assert r.status_code == 303 and r.headers["location"] == "/alerts/rules?flash=defaults"
    email(world, "oncall", ["oncall@example.com"])  # no mail server is set: its delivery fails
    rule(world, "errors-mail", "error_rate", 0.5, channels=["oncall"])
    calls(world, "echo", "failed", 10)
    evaluate(world)

    page = await client.get("/alerts", headers=analyst)
    assert page.status_code == 200 and "high-error-rate" in page.text and "pending" in page.text
    assert 'href="/alerts"' in page.text  # the navigation shows Alerts to staff
    fragment = await client.get("/alerts", headers={**analyst, "HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="alert-rows"')
    alert_id = fragment.text.split('data-alert="')[1].split('"')[0]
    detail = await client.get(f"/alerts/{alert_id}", headers=analyst)
    assert detail.status_code == 200 and "Deliveries" in detail.text
    (mailed,) = [a for a in alerts_now(world) if a.rule == "errors-mail"]
    detail = await client.get(f"/alerts/{mailed.id}", headers=analyst)
    assert "oncall" in detail.text and "no mail server: set SHIPYARD_ALERTS__SMTP__HOST" in detail.text
    missing = await client.get("/alerts/nope", headers=analyst)
    assert missing.status_code == 404

    rules = await client.get("/alerts/rules", headers=analyst)
    assert "slow-replies" in rules.text and "Disable" not in rules.text  # analysts cannot change rules
    r = await client.post("/alerts/rules/slow-replies/enabled", data={"enabled": "false"}, headers=admin)
    assert r.status_code == 303
    assert "Enable" in (await client.get("/alerts/rules", headers=admin)).text

    r = await client.post(
        "/alerts/silences", data={"service": "echo", "duration": "1h", "reason": ""}, headers=admin
    )
    assert r.status_code == 422 and "reason" in r.text
    r = await client.post(
        "/alerts/silences", data={"service": "echo", "duration": "1h", "reason": "maintenance"}, headers=admin
    )
    assert r.status_code == 303
    silences = await client.get("/alerts/silences", headers=admin)
    assert "maintenance" in silences.text and "Expire" in silences.text

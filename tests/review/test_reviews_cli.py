"""`shipyard reviews` through Typer's runner against the test instance's database (SQLite and
PostgreSQL): list, show (audited), decide with the owner's authority, backlog, and bad input."""

from __future__ import annotations

import getpass
import json
from typing import Any

import anyio.to_thread
import httpx
import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from shipyard.audit.models import AuditEvent
from shipyard.cli import common
from shipyard.cli.app import app
from tests.factories import World, bearer

OPERATOR = f"cli:{getpass.getuser()}"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common.console, "width", 250)  # as test_cli.py's COLUMNS=250
    monkeypatch.setattr(common.err, "width", 250)


class Cli:
    def __init__(self, world: World) -> None:
        settings = world.ctx.settings
        self.home = settings.home
        self.env = {"SHIPYARD_DATABASE_URL": settings.database_url}

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(app, ["reviews", *args, "--home", str(self.home)], env=self.env)
        assert result.exit_code == code, (
            f"{args} -> {result.exit_code}\n{result.output}\n{result.exception!r}"
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result


def rows(output: str) -> list[list[str]]:
    """The body rows of a Rich table (its header row is drawn with ┃, the body with │)."""
    return [
        [c.strip() for c in line.strip().strip("│").split("│")] for line in output.splitlines() if "│" in line
    ]


def name(key: str) -> str:
    return f"key:{key[:10]}"


async def invoke(client: httpx.AsyncClient, key: str, slug: str, x: float) -> str:
    r = await client.post(f"/v1/services/{slug}/invoke", json={"inputs": {"x": x}}, headers=bearer(key))
    assert "review" in r.json(), r.text
    request_id: str = r.json()["request_id"]
    return request_id


async def status(client: httpx.AsyncClient, key: str, rid: str) -> dict[str, Any]:
    r = await client.get(f"/v1/predictions/{rid}/review", headers=bearer(key))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def audit(world: World, action: str) -> list[tuple[str, str | None]]:
    with world.ctx.sessions() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
        return [(e.actor, e.target_id) for e in events]


async def setup(client: httpx.AsyncClient, world: World) -> tuple[str, list[str]]:
    """echo holds three low-confidence calls (a minute apart); other queues one sample."""
    caller = world.user_with_key("carol", ["consumer"])
    world.service("echo", output_schema={"type": "number"})
    world.policy("echo", {"review": {"low_confidence": 0.5}})
    world.service("other")
    world.policy("other", {"review": {"sample_rate": 1.0}})
    rids = []
    for x in (200, 300, 400):
        rids.append(await invoke(client, caller, "echo", x))
        world.ctx.clock.advance(minutes=1)  # type: ignore[attr-defined]
    rids.append(await invoke(client, caller, "other", 3))
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    return caller, rids


async def test_list_show_decide_and_backlog(client: httpx.AsyncClient, world: World) -> None:
    caller, (a, b, c, d) = await setup(client, world)
    cli = Cli(world)

    listed = rows(cli("list").output)
    assert [r[:6] for r in listed] == [
        [a, "echo", "pending", "hold", "low_confidence", "confidence 0.4 < 0.5"],
        [b, "echo", "pending", "hold", "low_confidence", "confidence 0.4 < 0.5"],
        [c, "echo", "pending", "hold", "low_confidence", "confidence 0.4 < 0.5"],
        [d, "other", "pending", "queue", "sample", "sampled for a quality check (100%)"],
    ]
    assert [r[6:] for r in listed][0] == ["0.4", "-", "2026-01-01 00:00:00"]
    assert [r[0] for r in rows(cli("list", "--service", "other").output)] == [d]
    assert [r[0] for r in rows(cli("list", "--limit", "2").output)] == [a, b]
    assert cli("list", "--state", "decided").output == "No decided review tasks.\n"

    backlog = rows(cli("backlog").output)
    assert [r[:5] for r in backlog] == [
        ["echo", "3", "3", "0", "2026-01-01 00:00:00"],
        ["other", "1", "0", "0", "2026-01-01 00:03:00"],
    ]

    shown = json.loads(cli("show", a).stdout)
    assert (shown["inputs"], shown["output"], shown["caller"], shown["state"]) == (
        {"x": 200},
        400,
        name(caller),
        "pending",
    )
    assert (shown["outcome"], shown["corrected_output"], shown["comment"]) == ("held_for_review", None, None)
    assert audit(world, "review.read") == [(OPERATOR, a)]  # the read is audited

    out = cli("decide", a, "--approve", "--comment", "checked").stdout
    assert out == f"{a} on echo: approved (the model's answer is released to the caller)\n"
    assert (await status(client, caller, a))["output"] == 400
    out = cli("decide", b, "--correct", "599").stdout
    assert out == f"{b} on echo: corrected (the correction is released to the caller)\n"
    assert (await status(client, caller, b))["output"] == 599
    out = cli("decide", c, "--escalate", "--comment", "ask legal").stdout
    assert out == f"{c} on echo: escalated (the caller still waits)\n"
    # The CLI acts with the instance owner's authority: it decides escalated tasks too.
    assert cli("decide", c, "--reject").stdout == f"{c} on echo: rejected (the caller gets no answer)\n"
    assert (await status(client, caller, c))["state"] == "rejected"
    assert cli("decide", d, "--approve").stdout == f"{d} on other: approved\n"  # queued: nothing withheld

    assert audit(world, "review.approve") == [(OPERATOR, a), (OPERATOR, d)]
    assert audit(world, "review.escalate") == [(OPERATOR, c)]
    assert [r[:3] for r in rows(cli("list", "--state", "decided").output)] == [
        [d, "other", "approved"],
        [c, "echo", "rejected"],
        [b, "echo", "corrected"],
        [a, "echo", "approved"],
    ]
    assert cli("backlog").output == "No open review tasks.\n"
    assert cli("list").output == "No open review tasks.\n"


async def test_bad_input_is_a_clear_error(client: httpx.AsyncClient, world: World) -> None:
    _, (a, b, _, _) = await setup(client, world)
    cli = Cli(world)

    def fails(*args: str) -> str:
        result = cli(*args, code=1)
        assert result.stdout == "" and "Traceback" not in result.stderr
        return " ".join(result.stderr.split())

    assert fails("decide", a) == "error: give exactly one of --approve, --reject, --correct JSON, --escalate"
    assert fails("decide", a, "--approve", "--correct", "1") == (
        "error: give exactly one of --approve, --reject, --correct JSON, --escalate "
        "(got --approve, --correct)"
    )
    assert fails("decide", a, "--correct", "{oops").startswith(
        "error: --correct is not JSON: Expecting property name enclosed in double quotes (line 1 column 2)"
    )
    assert (
        fails("decide", a, "--correct", "null")
        == "error: a correction needs the corrected answer in `output`"
    )
    assert fails("decide", a, "--escalate") == "error: say why in `comment` when escalating"
    assert fails("decide", a, "--correct", '"three"') == (
        "/: 'three' is not of type 'number' "
        "error (schema_violation): the corrected output breaks the echo output schema (1 violation)"
    )
    missing = fails("decide", "req_nope", "--approve")
    assert missing.startswith("error (review_not_found): no review task for 'req_nope'")
    assert fails("show", "req_nope").startswith("error (review_not_found): no review task for 'req_nope'")
    assert fails("list", "--state", "stale").startswith(
        "error: unknown state 'stale'; use one of: open, decided"
    )
    assert fails("list", "--service", "nope") == "error (not_found): no service 'nope'"
    assert audit(world, "review.read") == []  # nothing was read

    # Another reviewer holds b: the CLI says so, and takes it over with --force (both audited).
    rita = world.user_with_key("rita", ["reviewer"])
    r = await client.post(f"/v1/reviews/{b}/claim", json={}, headers=bearer(rita))
    assert r.status_code == 200, r.text
    assert fails("decide", b, "--approve").startswith(
        f"error (review_claimed): {b} is being reviewed by {name(rita)}"
    )
    assert cli("decide", b, "--approve", "--force").stdout.startswith(f"{b} on echo: approved")
    assert audit(world, "review.claim") == [(name(rita), b), (OPERATOR, b)]
    assert fails("decide", b, "--reject").startswith(
        f"error (review_decided): {b} was already approved by {OPERATOR}"
    )


def records(output: str, key: int = 0) -> list[list[str]]:
    """The body rows of a Rich table whose cells may wrap: a line whose `key` cell (one that never
    wraps) is empty goes on the row above it, each cell's lines joined with spaces."""
    joined: list[list[str]] = []
    for line in rows(output):
        if line[key] or not joined:
            joined.append(line)
        else:
            joined[-1] = [f"{a} {b}".strip() for a, b in zip(joined[-1], line, strict=True)]
    return joined


async def test_the_tables_read_whole_at_80_columns(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common.console, "width", 80)
    _, (a, b, c, d) = await setup(client, world)
    cli = Cli(world)

    listed = cli("list").output
    assert max(len(line) for line in listed.splitlines()) <= 80 and "…" not in listed
    assert records(listed) == [
        [a, "echo", "pending", "hold", "confidence 0.4 < 0.5"],
        [b, "echo", "pending", "hold", "confidence 0.4 < 0.5"],
        [c, "echo", "pending", "hold", "confidence 0.4 < 0.5"],
        [d, "other", "pending", "queue", "sampled for a quality check (100%)"],
    ]
    for rid in (a, b, c, d):  # each id whole on one line, to copy from there
        assert any(f"│ {rid} │" in line for line in listed.splitlines()), listed

    world.service("billing-policy-assistant-for-the-claims-desk")
    world.policy("billing-policy-assistant-for-the-claims-desk", {"review": {"sample_rate": 1.0}})
    caller = world.user_with_key("cora", ["consumer"])
    await invoke(client, caller, "billing-policy-assistant-for-the-claims-desk", 1)
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    backlog = cli("backlog").output
    assert max(len(line) for line in backlog.splitlines()) <= 80 and "…" not in backlog
    long_one, echo, other = records(backlog, key=1)
    # The long slug folds over lines (joined here with spaces); the figures and the time stay whole.
    assert long_one[0].replace(" ", "") == "billing-policy-assistant-for-the-claims-desk"
    assert long_one[1:4] == ["1", "0", "0"]
    assert echo[:5] == ["echo", "3", "3", "0", "2026-01-01 00:00:00"]
    assert other[:5] == ["other", "1", "0", "0", "2026-01-01 00:03:00"]

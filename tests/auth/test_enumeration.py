"""Sign-in answers and throttling do not reveal which usernames exist."""

from __future__ import annotations

import httpx

from tests.auth.test_auth_api import login
from tests.factories import World


async def test_unknown_and_real_usernames_are_throttled_alike(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["analyst"])
    slow_after = world.ctx.settings.auth.slow_after
    answers: dict[str, list[tuple[int, str]]] = {}
    for name in ("ada", "nobody-here"):
        answers[name] = []
        for _ in range(slow_after + 1):
            r = await login(client, name, "wrong password!!")
            answers[name].append((r.status_code, r.json()["code"]))
    assert answers["ada"] == answers["nobody-here"]
    assert answers["ada"][-1] == (429, "too_many_attempts")
    assert [c for c, _ in answers["ada"][:slow_after]] == [401] * slow_after
    world.ctx.clock.advance(minutes=1)  # type: ignore[attr-defined]
    ok = await login(client, "ada")
    assert ok.status_code == 200

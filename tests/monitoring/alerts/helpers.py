"""Rules and channels made through the real service functions, and evaluation through the periodic job."""

from __future__ import annotations

from typing import Any

from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.schemas import AlertRead, ChannelCreate, RuleCreate
from tests.factories import World
from tests.monitoring.alerts.conftest import record, ship


def rule(world: World, name: str, signal: str, threshold: float, **kwargs: Any) -> None:
    with world.ctx.uow() as s:
        data = RuleCreate.model_validate({"name": name, "signal": signal, "threshold": threshold, **kwargs})
        alerts.create_rule(s, world.actor(), data, runbook_base="https://runbooks.example.com")


def webhook(world: World, name: str, url: str) -> None:
    with world.ctx.uow() as s:
        alerts.create_channel(
            s,
            world.actor(),
            ChannelCreate(name=name, kind="webhook", url=url),
            secret=world.ctx.settings.secret(),
        )


def email(world: World, name: str, recipients: list[str]) -> None:
    with world.ctx.uow() as s:
        alerts.create_channel(
            s,
            world.actor(),
            ChannelCreate(name=name, kind="email", recipients=recipients),
            secret=world.ctx.settings.secret(),
        )


def evaluate(world: World) -> None:
    """One round of the periodic alert job (it must be due: rounds are 30 s apart)."""
    assert "alerts.evaluate" in world.ctx.periodic.run_due()


def alerts_now(world: World, state: str | None = None) -> list[AlertRead]:
    with world.ctx.uow() as s:
        return alerts.list_alerts(s, state=state)


def calls(world: World, service: str, outcome: str, n: int, **kwargs: Any) -> None:
    """n calls that started just now."""
    ship(world.ctx, [record(service, outcome, world.ctx.clock.now(), **kwargs) for _ in range(n)])

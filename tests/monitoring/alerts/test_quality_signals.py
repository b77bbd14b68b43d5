"""The accuracy signal: labelled predictions in the window, and no value on too few labels."""

from __future__ import annotations

from datetime import timedelta

from shipyard.monitoring.alerts.quality_signals import MIN_LABELLED
from shipyard.review import service as review
from tests.factories import World
from tests.monitoring.alerts.conftest import record, ship
from tests.monitoring.alerts.test_signals import values


def labelled(world: World, slug: str, right: int, wrong: int, minutes_ago: float) -> None:
    at = world.ctx.clock.now() - timedelta(minutes=minutes_ago)
    records = [record(slug, "served", at) for _ in range(right + wrong)]  # every output is 2
    ship(world.ctx, records)
    items = [{"request_id": r["request_id"], "label": 2 if i < right else 3} for i, r in enumerate(records)]
    with world.ctx.uow() as s:
        assert review.upload_labels(s, world.actor(), slug, items).errors == []


def test_accuracy_over_the_window_once_enough_calls_are_labelled(world: World) -> None:
    world.service("echo")
    world.service("quiet")
    labelled(world, "echo", right=18, wrong=6, minutes_ago=30)
    labelled(world, "echo", right=0, wrong=40, minutes_ago=3 * 24 * 60)  # outside a 1-day window
    labelled(world, "quiet", right=0, wrong=MIN_LABELLED - 1, minutes_ago=30)  # too few to judge

    assert values(world, "accuracy", ["echo", "quiet"], window_s=86400) == {"echo": 18 / 24}
    assert values(world, "accuracy", ["echo"], window_s=7 * 86400) == {"echo": 18 / 64}

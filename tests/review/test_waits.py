"""The one wait format of the review queue, shared by the console pages and the CLI."""

from __future__ import annotations

import pytest

from shipyard.review.queue.waits import waited


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (45.9, "45s"),  # truncated, never rounded up to a wait not yet reached
        (59.99, "59s"),
        (60, "1m"),
        (725, "12m 5s"),
        (3599, "59m 59s"),
        (3600, "1h"),
        (3660, "1h 1m"),
        (12000, "3h 20m"),  # the seconds are dropped once the wait is in hours
        (86400, "1d"),
        (2 * 86400 + 4 * 3600 + 59, "2d 4h"),
        (400 * 86400, "400d"),
        (-3, "0s"),  # clocks a little apart: no negative wait
    ],
)
def test_a_wait_reads_in_its_two_largest_units(seconds: float, shown: str) -> None:
    assert waited(seconds) == shown


def test_no_wait_shows_the_placeholder_the_caller_uses() -> None:
    assert waited(None) == "-"
    assert waited(None, missing="—") == "—"
    assert waited(0, missing="—") == "0s"

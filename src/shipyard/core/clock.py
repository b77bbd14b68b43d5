"""An injectable clock, so tests can move time (lockouts, key expiry) without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; we store UTC everywhere, so make that explicit."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)

"""Rollups: build per-minute buckets from recorded predictions with SQL aggregates, compact them into
hours and days, and read them back as series and totals.

Every run recomputes the minute buckets of a recent window (`lookback_minutes`) from the predictions
table and upserts them, then the hours and days that window touches from the finer buckets, then drops
buckets past their retention. Recomputing, not incrementing, is what makes a run idempotent and counts
records that reached the database late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shipyard.core.config import RollupSettings
from shipyard.core.errors import InvalidInput
from shipyard.monitoring.rollups.models import (
    LATENCY_BOUNDS_MS,
    LATENCY_COLUMNS,
    NO_VERSION,
    RESOLUTIONS,
    SUM_COLUMNS,
    RollupBucket,
)
from shipyard.monitoring.rollups.schemas import Bucket, Resolution, Totals
from shipyard.serving.models import Prediction
from shipyard.serving.predictions import slower_than_slo
from shipyard.serving.schemas import OUTCOMES

STEP: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
MAX_POINTS = 500  # an automatic series resolution gives at most this many buckets, when one is kept
_KEY = ("resolution", "service", "version", "start")


def floor(ts: datetime, resolution: str) -> datetime:
    """The start of the bucket of `resolution` that holds `ts` (UTC)."""
    ts = ts.astimezone(UTC)
    if resolution == "minute":
        return ts.replace(second=0, microsecond=0)
    if resolution == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _table() -> Table:
    table = RollupBucket.__table__  # a Table; typed as FromClause
    assert isinstance(table, Table)
    return table


def _truncate(session: Session, column: Any, resolution: str) -> ColumnElement[Any]:
    """SQL for the bucket start of `column` (a UTC timestamp), per dialect."""
    assert resolution in RESOLUTIONS  # inlined into the SQL below
    # Constants inlined, not bound: PostgreSQL matches the GROUP BY to the select list by their text.
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(
            literal_column(f"'{resolution}'"), func.timezone(literal_column("'UTC'"), column)
        )
    pattern = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}
    return func.strftime(literal_column(f"'{pattern[resolution]}'"), column)


def _as_datetime(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _latency_conditions(column: Any) -> list[ColumnElement[bool]]:
    bounds = LATENCY_BOUNDS_MS
    found: list[ColumnElement[bool]] = [column <= bounds[0]]
    found += [and_(column > lo, column <= hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    found.append(column > bounds[-1])
    return found


@dataclass(frozen=True)
class RefreshStats:
    minute: int  # buckets written
    hour: int
    day: int
    deleted: int  # buckets past retention


def _upsert(session: Session, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    table = _table()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={name: stmt.excluded[name] for name in (*SUM_COLUMNS, "latency_max_ms")},
    )
    for at in range(0, len(rows), 500):
        session.execute(stmt, rows[at : at + 500])
    return len(rows)


def _rows(resolution: str, result: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for r in result:
        row = dict(r._mapping)
        row["start"] = _as_datetime(row["start"])
        row["resolution"] = resolution
        rows.append(row)
    return rows


def _from_predictions(
    session: Session, resolution: str, since: datetime, until: datetime | None, slos: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Buckets of `resolution` computed from the predictions that started at or after `since`."""
    p = Prediction
    start = _truncate(session, p.started_at, resolution)
    version = func.coalesce(p.version, NO_VERSION)
    columns: list[Any] = [start.label("start"), p.service.label("service"), version.label("version")]
    columns.append(func.count().label("calls"))
    columns += [_count_if(p.outcome == outcome).label(outcome) for outcome in OUTCOMES]
    columns += [
        _count_if(cond).label(name)
        for name, cond in zip(LATENCY_COLUMNS, _latency_conditions(p.latency_ms), strict=True)
    ]
    columns += [
        func.coalesce(func.sum(p.latency_ms), 0.0).label("latency_sum_ms"),
        func.coalesce(func.max(p.latency_ms), 0.0).label("latency_max_ms"),
        _count_if(slower_than_slo(slos)).label("slow"),
        func.coalesce(func.sum(p.cpu_ms), 0.0).label("cpu_ms"),
        func.coalesce(func.sum(p.tokens_in), 0).label("tokens_in"),
        func.coalesce(func.sum(p.tokens_out), 0).label("tokens_out"),
        func.coalesce(func.sum(p.cost), 0.0).label("cost"),
    ]
    where = [p.started_at >= since]
    if until is not None:
        where.append(p.started_at < until)
    if slos:
        # The (service, started_at) index answers this; a bare time range would scan the whole table.
        where.append(p.service.in_(list(slos)))
    stmt = select(*columns).where(*where).group_by(start, p.service, version)
    return _rows(resolution, session.execute(stmt))


def _from_finer(session: Session, resolution: str, since: datetime) -> list[dict[str, Any]]:
    """Buckets of `resolution` merged from the next finer resolution's buckets, from `since` on."""
    b = RollupBucket
    finer = RESOLUTIONS[RESOLUTIONS.index(resolution) - 1]
    start = _truncate(session, b.start, resolution)
    columns: list[Any] = [start.label("start"), b.service.label("service"), b.version.label("version")]
    columns += [func.sum(getattr(b, name)).label(name) for name in SUM_COLUMNS]
    columns.append(func.max(b.latency_max_ms).label("latency_max_ms"))
    stmt = (
        select(*columns).where(b.resolution == finer, b.start >= since).group_by(start, b.service, b.version)
    )
    return _rows(resolution, session.execute(stmt))


def refresh(
    session: Session, now: datetime, settings: RollupSettings, slos: Mapping[str, int]
) -> RefreshStats:
    """One rollup round: recompute the recent window's buckets, compact them, apply retention.

    `slos` maps each service's slug to its latency SLO in ms (the services to roll up).
    """
    since = now - timedelta(minutes=settings.lookback_minutes)
    minute = _upsert(session, _from_predictions(session, "minute", floor(since, "minute"), None, slos))
    hour = _upsert(session, _from_finer(session, "hour", floor(since, "hour")))
    day = _upsert(session, _from_finer(session, "day", floor(since, "day")))
    return RefreshStats(minute, hour, day, _expire(session, now, settings))


def rebuild(
    session: Session, now: datetime, settings: RollupSettings, slos: Mapping[str, int], since: datetime
) -> RefreshStats:
    """Backfill from `since`: records older than the refresh window (an import, a long outage).

    Each resolution is computed straight from the predictions over the range it is still kept for.
    """
    written = {}
    for resolution, kept in zip(RESOLUTIONS, _retention(settings), strict=True):
        start = floor(max(since, now - kept), resolution)
        written[resolution] = _upsert(session, _from_predictions(session, resolution, start, None, slos))
    return RefreshStats(written["minute"], written["hour"], written["day"], _expire(session, now, settings))


def _retention(settings: RollupSettings) -> tuple[timedelta, timedelta, timedelta]:
    return (
        timedelta(hours=settings.minute_retention_hours),
        timedelta(days=settings.hour_retention_days),
        timedelta(days=settings.day_retention_days),
    )


def _expire(session: Session, now: datetime, settings: RollupSettings) -> int:
    deleted = 0
    for resolution, kept in zip(RESOLUTIONS, _retention(settings), strict=True):
        result = session.execute(
            delete(RollupBucket).where(
                RollupBucket.resolution == resolution, RollupBucket.start < floor(now - kept, resolution)
            )
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


# -- reading -----------------------------------------------------------------------------------------


def resolution_for(
    start: datetime, end: datetime, *, kept: RollupSettings, now: datetime, max_points: int | None = None
) -> Resolution:
    """The finest resolution still kept at `start` (and giving at most `max_points` buckets)."""
    for resolution, retention in zip(RESOLUTIONS, _retention(kept), strict=True):
        if start < floor(now - retention, resolution):
            continue
        if max_points is not None and (end - floor(start, resolution)) / STEP[resolution] > max_points:
            continue
        return resolution  # type: ignore[return-value]
    return "day"


def check_range(start: datetime, end: datetime, resolution: str | None = None) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a time zone (e.g. 2026-01-01T00:00:00Z)", code="bad_time")
    if end <= start:
        raise InvalidInput(
            f"end ({end.isoformat()}) must be after start ({start.isoformat()})", code="bad_range"
        )
    if resolution is not None and resolution not in RESOLUTIONS:
        raise InvalidInput(
            f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}", code="bad_resolution"
        )


def percentile(counts: Sequence[int], q: float, max_ms: float) -> float | None:
    """The q-quantile (0..1) from histogram counts, interpolated linearly within its bucket.

    The same estimate as Prometheus's histogram_quantile, except that it never exceeds the largest
    latency seen (so the unbounded last bucket and a sparse bucket do not inflate it).
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            lo = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
            if i >= len(LATENCY_BOUNDS_MS):
                return max_ms
            hi = LATENCY_BOUNDS_MS[i]
            return min(lo + (hi - lo) * (rank - seen) / count, max_ms)
        seen += count
    return max_ms  # pragma: no cover - the loop always reaches the rank


def _totals(row: Mapping[Any, Any]) -> dict[str, Any]:
    counts = [int(row[name] or 0) for name in LATENCY_COLUMNS]
    max_ms = float(row["latency_max_ms"] or 0.0)
    outcomes = {name: int(row[name] or 0) for name in OUTCOMES}
    return {
        "calls": int(row["calls"] or 0),
        "outcomes": outcomes,
        "errors": outcomes["failed"],
        "slow": int(row["slow"] or 0),
        "latency_buckets": counts,
        "latency_bounds_ms": list(LATENCY_BOUNDS_MS),
        "latency_sum_ms": float(row["latency_sum_ms"] or 0.0),
        "latency_max_ms": max_ms,
        "p50_ms": percentile(counts, 0.50, max_ms),
        "p95_ms": percentile(counts, 0.95, max_ms),
        "p99_ms": percentile(counts, 0.99, max_ms),
        "cpu_ms": float(row["cpu_ms"] or 0.0),
        "tokens_in": int(row["tokens_in"] or 0),
        "tokens_out": int(row["tokens_out"] or 0),
        "cost": float(row["cost"] or 0.0),
    }


def merge(totals: Iterable[Totals]) -> Totals:
    """Totals of several ranges or services together (histograms add, so percentiles stay exact)."""
    row: dict[str, Any] = dict.fromkeys(SUM_COLUMNS, 0)
    row["latency_max_ms"] = 0.0
    for t in totals:
        row["calls"] += t.calls
        for name in OUTCOMES:
            row[name] += t.outcomes.get(name, 0)
        for name, count in zip(LATENCY_COLUMNS, t.latency_buckets, strict=False):
            row[name] += count
        for name in ("latency_sum_ms", "slow", "cpu_ms", "tokens_in", "tokens_out", "cost"):
            row[name] += getattr(t, name)
        row["latency_max_ms"] = max(row["latency_max_ms"], t.latency_max_ms)
    return Totals(**_totals(row))


def _sums() -> list[Any]:
    b = RollupBucket
    columns: list[Any] = [func.sum(getattr(b, name)).label(name) for name in SUM_COLUMNS]
    columns.append(func.max(b.latency_max_ms).label("latency_max_ms"))
    return columns


def series(
    session: Session,
    service: str,
    start: datetime,
    end: datetime,
    *,
    kept: RollupSettings,
    now: datetime,
    resolution: str | None = None,
    version: int | None = None,
) -> tuple[Resolution, list[Bucket]]:
    """Buckets of one service (one version, or all together) that start in [start, end), oldest first.

    Without `resolution`, the finest one still kept at `start` that gives at most MAX_POINTS buckets.
    Empty buckets are left out: a gap in the list is a time with no calls.
    """
    check_range(start, end, resolution)
    res: Resolution = resolution or resolution_for(start, end, kept=kept, now=now, max_points=MAX_POINTS)  # type: ignore[assignment]
    b = RollupBucket
    where = [b.resolution == res, b.service == service, b.start >= floor(start, res), b.start < end]
    if version is not None:
        where.append(b.version == version)
    stmt = select(b.start.label("start"), *_sums()).where(*where).group_by(b.start).order_by(b.start)
    buckets = [
        Bucket(start=row.start, resolution=res, version=version, **_totals(row._mapping))
        for row in session.execute(stmt)
    ]
    return res, buckets


def summaries(
    session: Session,
    services: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    kept: RollupSettings,
    now: datetime,
    version: int | None = None,
) -> dict[str, Totals]:
    """Totals per service over [start, end), from the finest resolution still kept at `start`.

    Ranges align to that resolution's bucket starts. Every service asked for is in the answer.
    """
    check_range(start, end)
    res = resolution_for(start, end, kept=kept, now=now)
    b = RollupBucket
    where = [b.resolution == res, b.service.in_(list(services)), b.start >= floor(start, res), b.start < end]
    if version is not None:
        where.append(b.version == version)
    stmt = select(b.service.label("service"), *_sums()).where(*where).group_by(b.service)
    found = {row.service: Totals(**_totals(row._mapping)) for row in session.execute(stmt)}
    return {name: found.get(name) or empty() for name in services}


def empty() -> Totals:
    """Totals of no calls."""
    return merge([])


def summary(
    session: Session,
    service: str,
    start: datetime,
    end: datetime,
    *,
    kept: RollupSettings,
    now: datetime,
    version: int | None = None,
) -> Totals:
    """Totals of one service over [start, end): calls by outcome, errors, p50/p95/p99, slow, cost."""
    return summaries(session, [service], start, end, kept=kept, now=now, version=version)[service]

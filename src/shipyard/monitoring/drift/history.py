"""Reading stored drift checks: the latest verdict per service, history for charts, and retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shipyard.monitoring.drift.models import DriftFeatureResult, DriftRun
from shipyard.monitoring.drift.schemas import FeatureRead, RunRead, Verdict
from shipyard.registry import service as registry


@dataclass(frozen=True)
class DriftStatus:
    """A service's drift at its latest check: what the alerts and the dashboard read."""

    service: str
    version: int
    run_id: str
    ran_at: datetime
    verdict: Verdict  # ok | drift | insufficient_data
    drift_share: float  # drifted input features over those evaluated
    drifted_features: tuple[str, ...]  # inputs, and `output` / `confidence` when those drifted
    output_drifted: bool | None
    confidence_drifted: bool | None
    findings: int  # data-quality findings in that window
    live_rows: int

    @property
    def drifted(self) -> bool:
        return self.verdict == "drift"


def verdict(run: DriftRun) -> Verdict:
    if run.status != "ok":
        return "insufficient_data"
    return "drift" if run.drifted else "ok"


def features_of(session: Session, run_ids: Sequence[str]) -> dict[str, list[DriftFeatureResult]]:
    found: dict[str, list[DriftFeatureResult]] = {rid: [] for rid in run_ids}
    if run_ids:
        stmt = select(DriftFeatureResult).where(DriftFeatureResult.run_id.in_(list(run_ids)))
        for row in session.scalars(stmt):
            found[row.run_id].append(row)
    return found


def feature_read(row: DriftFeatureResult) -> FeatureRead:
    return FeatureRead(
        role=row.role,
        name=row.name,
        kind=row.kind,
        statistic=row.statistic,
        value=row.value,
        threshold=row.threshold,
        p_value=row.p_value,
        psi=row.psi,
        drifted=row.drifted,
        evaluated=row.evaluated,
        reason=row.reason,
        histogram=row.histogram,
    )


_ROLE_ORDER = {"input": 0, "output": 1, "confidence": 2}


def run_read(run: DriftRun, features: list[DriftFeatureResult] | None = None) -> RunRead:
    ordered = sorted(features or [], key=lambda f: (_ROLE_ORDER.get(f.role, 3), not f.drifted, f.name))
    return RunRead(
        id=run.id,
        service=run.service,
        version=run.version,
        verdict=verdict(run),
        window_start=run.window_start,
        window_end=run.window_end,
        ran_at=run.ran_at,
        trigger=run.trigger,
        live_rows=run.live_rows,
        reference_rows=run.reference_rows,
        reference_set_at=run.reference_set_at,
        drifted=run.drifted,
        drift_share=run.drift_share,
        features_evaluated=run.features_evaluated,
        features_drifted=run.features_drifted,
        output_drifted=run.output_drifted,
        confidence_drifted=run.confidence_drifted,
        findings=run.findings,
        thresholds=run.thresholds,
        features=[feature_read(f) for f in ordered] if features is not None else None,
    )


def runs(session: Session, slug: str, *, limit: int = 100, version: int | None = None) -> list[DriftRun]:
    """The service's runs, newest first."""
    stmt = select(DriftRun).where(DriftRun.service == slug)
    if version is not None:
        stmt = stmt.where(DriftRun.version == version)
    return list(session.scalars(stmt.order_by(DriftRun.ran_at.desc(), DriftRun.id.desc()).limit(limit)))


def latest_runs(session: Session, slug: str) -> list[DriftRun]:
    """The latest run of each version of the service, newest version first."""
    latest: dict[int, DriftRun] = {}
    for run in runs(session, slug, limit=500):
        latest.setdefault(run.version, run)
    return [latest[v] for v in sorted(latest, reverse=True)]


def status_of(session: Session, run: DriftRun) -> DriftStatus:
    drifted = [
        f.name
        for f in session.scalars(
            select(DriftFeatureResult).where(DriftFeatureResult.run_id == run.id, DriftFeatureResult.drifted)
        )
    ]
    return DriftStatus(
        service=run.service,
        version=run.version,
        run_id=run.id,
        ran_at=run.ran_at,
        verdict=verdict(run),
        drift_share=run.drift_share,
        drifted_features=tuple(sorted(drifted)),
        output_drifted=run.output_drifted,
        confidence_drifted=run.confidence_drifted,
        findings=len(run.findings or []),
        live_rows=run.live_rows,
    )


def latest_drift(session: Session, service: str) -> DriftStatus | None:
    """The service's drift at its latest check: of its live version when that has been checked, else
    of the version checked most recently; None when nothing has been checked."""
    latest = latest_runs(session, service)
    if not latest:
        return None
    live_id = registry.get_service(session, service).live_version_id
    chosen = next((r for r in latest if r.version_id == live_id), None)
    if chosen is None:
        chosen = max(latest, key=lambda r: r.ran_at)
    return status_of(session, chosen)


def drift_statuses(session: Session) -> dict[str, DriftStatus]:
    """`latest_drift` of every service that has been checked, by slug (for the dashboard)."""
    slugs = session.scalars(select(DriftRun.service).group_by(DriftRun.service))
    out: dict[str, DriftStatus] = {}
    for slug in sorted(slugs):
        status = latest_drift(session, slug)
        if status is not None:
            out[slug] = status
    return out


def feature_history(
    session: Session, slug: str, version: int, *, limit: int = 200
) -> dict[tuple[str, str], list[tuple[datetime, float | None, bool]]]:
    """Per feature (role, name): (ran_at, score, drifted) of the version's runs, oldest first."""
    recent = [r for r in runs(session, slug, limit=limit, version=version) if r.status == "ok"]
    by_run = {r.id: r.ran_at for r in recent}
    out: dict[tuple[str, str], list[tuple[datetime, float | None, bool]]] = {}
    for run_id, rows in features_of(session, list(by_run)).items():
        for row in rows:
            out.setdefault((row.role, row.name), []).append((by_run[run_id], row.value, row.drifted))
    for points in out.values():
        points.sort(key=lambda p: p[0])
    return out


def prune(session: Session, before: datetime) -> int:
    """Delete runs (and their feature rows) that ran before `before`; how many runs went."""
    old = list(session.scalars(select(DriftRun.id).where(DriftRun.ran_at < before)))
    if not old:
        return 0
    for i in range(0, len(old), 500):
        chunk = old[i : i + 500]
        session.execute(delete(DriftFeatureResult).where(DriftFeatureResult.run_id.in_(chunk)))
        session.execute(delete(DriftRun).where(DriftRun.id.in_(chunk)))
    session.flush()
    return len(old)


def count_runs(session: Session, slug: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(DriftRun).where(DriftRun.service == slug)) or 0
    )

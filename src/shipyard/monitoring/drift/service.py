"""Drift monitoring: reference data per model version, per-service thresholds, and running checks.

References and thresholds are audited when set or replaced, as is a check someone asks for; the
scheduled checks are observations (like predictions) and are stored, not audited.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.core.config import DriftSettings
from shipyard.core.errors import Conflict, InvalidInput, NotFound
from shipyard.monitoring.drift import checks, files
from shipyard.monitoring.drift.frames import Kind, Record, check_kinds
from shipyard.monitoring.drift.models import DriftFeatureResult, DriftReference, DriftRun, DriftSetting
from shipyard.monitoring.drift.reference import StoredReference, build
from shipyard.monitoring.drift.schemas import ReferenceRead, ThresholdsRead, ThresholdsUpdate
from shipyard.monitoring.drift.thresholds import DriftThresholds
from shipyard.registry import service as registry
from shipyard.serving import predictions

log = logging.getLogger(__name__)
# Outcomes whose output and confidence are the model's own answer (a fallback's is not).
MODEL_ANSWERED = frozenset({"served", "abstained", "held_for_review"})


# -- references ----------------------------------------------------------------------------------------


def reference_read(ref: DriftReference) -> ReferenceRead:
    return ReferenceRead(
        service=ref.service,
        version=ref.version,
        rows=ref.rows,
        source=ref.source,
        source_detail=ref.source_detail,
        features=ref.features,
        profile_bytes=ref.profile_bytes,
        set_by=ref.set_by,
        set_at=ref.set_at,
    )


def get_reference(session: Session, slug: str, number: int) -> DriftReference:
    """A version's reference; NotFound when it has none."""
    version = registry.get_version(session, slug, number)
    ref = session.scalar(select(DriftReference).where(DriftReference.version_id == version.id))
    if ref is None:
        raise NotFound(f"{slug} v{number} has no reference data", code="no_reference")
    return ref


def list_references(session: Session, slug: str | None = None) -> list[DriftReference]:
    stmt = select(DriftReference).order_by(DriftReference.service, DriftReference.version)
    if slug is not None:
        stmt = stmt.where(DriftReference.service == slug)
    return list(session.scalars(stmt))


def _summary(ref: DriftReference) -> dict[str, Any]:
    return reference_read(ref).model_dump(mode="json", exclude={"set_at"})


def set_reference(
    session: Session,
    actor: Actor,
    settings: DriftSettings,
    slug: str,
    number: int,
    stored: StoredReference,
    source: str,
    source_detail: dict[str, Any],
) -> DriftReference:
    """Store (or replace) a version's reference profile; audited either way."""
    version = registry.get_version(session, slug, number)
    text = stored.to_json()
    if len(text) > settings.max_profile_bytes:
        raise InvalidInput(
            f"the reference profile is {len(text)} bytes, over the limit of {settings.max_profile_bytes} "
            "(SHIPYARD_MONITORING__DRIFT__MAX_PROFILE_BYTES): profile fewer fields",
            code="reference_too_large",
        )
    ref = session.scalar(select(DriftReference).where(DriftReference.version_id == version.id))
    before = _summary(ref) if ref is not None else None
    if ref is None:
        ref = DriftReference(service=slug, version_id=version.id, version=number)
        session.add(ref)
    ref.features = stored.features
    ref.rows = stored.rows
    ref.source = source
    ref.source_detail = source_detail
    ref.profile = text
    ref.profile_bytes = len(text)
    ref.set_by = actor.name
    ref.set_at = actor.clock.now()
    session.flush()
    action = "drift.reference.replace" if before is not None else "drift.reference.set"
    record(
        session,
        actor,
        action,
        "model_version",
        f"{slug}:{number}",
        service=slug,
        before=before,
        after=_summary(ref),
    )
    return ref


def upload_reference(
    session: Session,
    actor: Actor,
    settings: DriftSettings,
    slug: str,
    number: int,
    path: Path,
    filename: str,
    *,
    fmt: str | None = None,
    output_column: str | None = None,
    confidence_column: str | None = None,
    kinds: dict[str, str] | None = None,
) -> DriftReference:
    """Profile an uploaded CSV or JSONL file of inputs (and optionally outputs and confidences)."""
    service = registry.get_service(session, slug)
    registry.get_version(session, slug, number)
    fmt, rows = files.read(
        path,
        filename,
        fmt,
        schema=service.input_schema,
        output_column=output_column,
        confidence_column=confidence_column,
        limit=settings.reference_max_rows,
    )
    stored = build(
        rows,
        settings,
        input_schema=service.input_schema,
        output_schema=service.output_schema,
        declared=check_kinds(kinds or {}),
    )
    detail = {"file": filename, "truncated": len(rows) >= settings.reference_max_rows}
    return set_reference(session, actor, settings, slug, number, stored, f"upload:{fmt}", detail)


def to_records(observed: list[predictions.Observed]) -> list[Record]:
    """Recorded calls as records: inputs always; output and confidence only when the model answered."""
    return [
        Record(o.inputs, o.output, o.confidence)
        if o.outcome in MODEL_ANSWERED and o.fallback is None
        else Record(o.inputs)
        for o in observed
    ]


def capture_reference(
    session: Session,
    actor: Actor,
    settings: DriftSettings,
    slug: str,
    number: int,
    start: datetime,
    end: datetime,
    kinds: dict[str, Kind] | None = None,
) -> DriftReference:
    """Profile a window of the version's own recorded calls as its reference."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a time zone (e.g. 2026-11-22T09:00:00Z)", code="bad_window")
    if not start < end:
        raise InvalidInput(f"the window must start before it ends ({start} .. {end})", code="bad_window")
    service = registry.get_service(session, slug)
    version = registry.get_version(session, slug, number)
    observed = predictions.window(session, slug, version.id, start, end, limit=settings.reference_max_rows)
    stored = build(
        to_records(observed),
        settings,
        input_schema=service.input_schema,
        output_schema=service.output_schema,
        declared=kinds,
    )
    detail = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "truncated": len(observed) >= settings.reference_max_rows,
    }
    return set_reference(session, actor, settings, slug, number, stored, "capture", detail)


# -- thresholds -------------------------------------------------------------------------------------------


def _overrides(session: Session, slug: str) -> DriftSetting | None:
    return session.get(DriftSetting, slug)


def thresholds_for(session: Session, slug: str) -> DriftThresholds:
    """The thresholds a service's checks use: its own values over the defaults."""
    row = _overrides(session, slug)
    return DriftThresholds(**(row.thresholds if row else {}))


def thresholds_read(session: Session, slug: str) -> ThresholdsRead:
    registry.get_service(session, slug)
    row = _overrides(session, slug)
    return ThresholdsRead(
        service=slug,
        thresholds=asdict(thresholds_for(session, slug)),
        overrides=row.thresholds if row else {},
        updated_by=row.updated_by if row else None,
        updated_at=row.updated_at if row else None,
    )


def set_thresholds(session: Session, actor: Actor, slug: str, data: ThresholdsUpdate) -> ThresholdsRead:
    """Replace the service's own thresholds (fields left out fall back to the defaults); audited."""
    registry.get_service(session, slug)
    overrides = data.model_dump(exclude_none=True)
    DriftThresholds(**overrides)  # refuses bad values with a clear message
    row = _overrides(session, slug)
    before = dict(row.thresholds) if row else {}
    if row is None:
        row = DriftSetting(service=slug)
        session.add(row)
    row.thresholds = overrides
    row.updated_by = actor.name
    row.updated_at = actor.clock.now()
    session.flush()
    record(
        session, actor, "drift.thresholds.set", "service", slug, service=slug, before=before, after=overrides
    )
    return thresholds_read(session, slug)


# -- checks ----------------------------------------------------------------------------------------------


def check_reference(
    session: Session,
    ref: DriftReference,
    settings: DriftSettings,
    start: datetime,
    end: datetime,
    trigger: str,
    now: datetime,
) -> DriftRun:
    """Compare one version's window with its reference and store the run (status ok or insufficient_data)."""
    service = registry.get_service(session, ref.service)
    thresholds = thresholds_for(session, ref.service)
    observed = predictions.window(session, ref.service, ref.version_id, start, end, limit=settings.max_rows)
    run = DriftRun(
        service=ref.service,
        version_id=ref.version_id,
        version=ref.version,
        reference_set_at=ref.set_at,
        reference_rows=ref.rows,
        window_start=start,
        window_end=end,
        ran_at=now,
        trigger=trigger,
        live_rows=len(observed),
        thresholds=asdict(thresholds),
        status="insufficient_data",
        drifted=False,
        drift_share=0.0,
        features_evaluated=0,
        features_drifted=0,
        findings=[],
    )
    session.add(run)
    if len(observed) >= settings.min_rows:
        stored = StoredReference.from_json(ref.profile)
        result = checks.run(stored, to_records(observed), thresholds, service.input_schema)
        run.status = "ok"
        run.drifted = result.drifted
        run.drift_share = result.drift_share
        run.features_evaluated = result.features_evaluated
        run.features_drifted = result.features_drifted
        run.output_drifted = result.output_drifted
        run.confidence_drifted = result.confidence_drifted
        run.findings = result.findings
        session.flush()
        for item in result.features:
            session.add(DriftFeatureResult(run_id=run.id, **asdict(item)))
    session.flush()
    return run


def check_service(
    session: Session, actor: Actor, settings: DriftSettings, slug: str, *, window_s: float | None = None
) -> list[DriftRun]:
    """Check every version of the service that has a reference, over the latest window, now; audited."""
    from datetime import timedelta

    registry.get_service(session, slug)
    refs = list_references(session, slug)
    if not refs:
        raise Conflict(
            f"{slug} has no reference data to compare with: upload some, or capture a window of its calls",
            code="no_reference",
        )
    end = actor.clock.now()
    start = end - timedelta(seconds=window_s or settings.window_s)
    runs = [check_reference(session, ref, settings, start, end, actor.name, end) for ref in refs]
    record(
        session,
        actor,
        "drift.check",
        "service",
        slug,
        service=slug,
        after={"runs": [{"version": r.version, "status": r.status, "drifted": r.drifted} for r in runs]},
    )
    return runs

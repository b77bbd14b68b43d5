"""Feedback on predictions, ground-truth labels, and rolling accuracy per version.

A prediction counts towards accuracy when it has a verdict:
1. a ground-truth label (uploaded): correct when it equals the output, or `output[label_field]`;
2. otherwise the latest feedback that gives one: its correct answer compared the same way, or else
   its flag, `correct` or `wrong` (`unclear`, `outdated` and `out_of_scope` alone give no verdict).
Windows are by prediction time, half-open [start, end).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.core.errors import InvalidInput, NotFound
from shipyard.registry import service as registry
from shipyard.review.models import Feedback, Label, QualitySettings
from shipyard.review.queue import service as review_queue
from shipyard.review.schemas import FeedbackCreate, LabelError, LabelsResult, QualityUpdate
from shipyard.serving import predictions

NOT_RECORDED_HINT = (
    "calls reach the database from the recorder within seconds: retry shortly if the call was just made"
)


# -- feedback ---------------------------------------------------------------------------------------


def prediction_service(session: Session, request_id: str) -> str:
    """The service a recorded prediction belongs to (for the permission check before feedback)."""
    found = predictions.find(session, request_id)
    if found is None:
        raise NotFound(
            f"no recorded prediction {request_id!r}; {NOT_RECORDED_HINT}",
            code="prediction_not_found",
            retry_after=2,
        )
    return found.service


def give_feedback(session: Session, actor: Actor, request_id: str, data: FeedbackCreate) -> Feedback:
    """Record a user's flag (and optional correct answer) on one prediction; audited."""
    found = predictions.find(session, request_id)
    if found is None:
        raise NotFound(
            f"no recorded prediction {request_id!r}; {NOT_RECORDED_HINT}",
            code="prediction_not_found",
            retry_after=2,
        )
    feedback = Feedback(
        request_id=request_id,
        service=found.service,
        version=found.version,
        predicted_at=found.started_at,
        flag=data.flag,
        label=data.label,
        comment=data.comment,
        given_by=actor.name,
        given_by_kind=actor.kind,
        created_at=actor.clock.now(),
    )
    session.add(feedback)
    session.flush()
    # The comment is free text that may name people: it stays in the feedback row, not the audit trail.
    after = {"id": feedback.id, "flag": data.flag, "label": data.label, "comment": data.comment is not None}
    record(session, actor, "feedback.create", "prediction", request_id, service=found.service, after=after)
    return feedback


def list_feedback(session: Session, request_id: str) -> list[Feedback]:
    return list(
        session.scalars(
            select(Feedback).where(Feedback.request_id == request_id).order_by(Feedback.created_at)
        )
    )


# -- labels -----------------------------------------------------------------------------------------


def upload_labels(session: Session, actor: Actor, service: str, items: list[Any]) -> LabelsResult:
    """Store ground-truth labels for `service`'s predictions; bad items are reported, the rest stored."""
    registry.get_service(session, service)
    errors: list[LabelError] = []
    wanted: dict[str, tuple[int, Any]] = {}
    for index, item in enumerate(items):
        rid = item.get("request_id") if isinstance(item, dict) else None
        rid = rid if isinstance(rid, str) else None
        problem = _check_item(item, rid)
        if problem is None and rid in wanted:
            problem = f"request id {rid!r} appears again (first at item {wanted[rid][0]})"
            errors.append(LabelError(index=index, request_id=rid, code="duplicate", message=problem))
            continue
        if problem is not None:
            errors.append(LabelError(index=index, request_id=rid, code="bad_item", message=problem))
            continue
        assert rid is not None
        wanted[rid] = (index, item["label"])
    found = predictions.find_many(session, wanted)
    existing = {
        label.request_id: label
        for label in session.scalars(select(Label).where(Label.request_id.in_(list(found))))
    }
    now = actor.clock.now()
    stored = replaced = 0
    for rid, (index, value) in wanted.items():
        prediction = found.get(rid)
        if prediction is None:
            message = f"no recorded prediction {rid!r}; {NOT_RECORDED_HINT}"
            errors.append(LabelError(index=index, request_id=rid, code="unknown_request_id", message=message))
            continue
        if prediction.service != service:
            message = f"{rid!r} is a prediction of {prediction.service}, not {service}"
            errors.append(LabelError(index=index, request_id=rid, code="other_service", message=message))
            continue
        label = existing.get(rid)
        if label is None:
            session.add(
                Label(
                    request_id=rid,
                    service=service,
                    version=prediction.version,
                    predicted_at=prediction.started_at,
                    label=value,
                    labelled_by=actor.name,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            label.label, label.labelled_by, label.updated_at = value, actor.name, now
            replaced += 1
        stored += 1
    errors.sort(key=lambda e: e.index)
    if stored:
        session.flush()
        ids = [rid for rid in wanted if rid in found and found[rid].service == service]
        after = {"accepted": stored, "replaced": replaced, "rejected": len(errors), "request_ids": ids[:50]}
        record(session, actor, "labels.upload", "service", service, service=service, after=after)
    return LabelsResult(accepted=stored, replaced=replaced, errors=errors)


def _check_item(item: Any, rid: str | None) -> str | None:
    if not isinstance(item, dict):
        return 'each item must be an object {"request_id": ..., "label": ...}'
    unknown = set(item) - {"request_id", "label"}
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}; an item has request_id and label"
    if rid is None or not rid.strip():
        return "request_id is missing or not a string"
    if len(rid) > 64:
        return "request_id is longer than 64 characters"
    if item.get("label") is None:
        return "label is missing or null"
    return None


# -- how outputs are compared -----------------------------------------------------------------------


def label_field(session: Session, service: str) -> str | None:
    settings = session.get(QualitySettings, service)
    return settings.label_field if settings is not None else None


def set_quality(session: Session, actor: Actor, service: str, data: QualityUpdate) -> str | None:
    """Choose what a label is compared with: the whole output, or one field of an object output."""
    registry.get_service(session, service)
    field = data.label_field.strip() if data.label_field else None
    if data.label_field is not None and not field:
        raise InvalidInput("label_field must name a field of the output, or be null", code="bad_label_field")
    settings = session.get(QualitySettings, service)
    before = settings.label_field if settings is not None else None
    if settings is None:
        settings = QualitySettings(service=service, label_field=field, updated_at=actor.clock.now())
        session.add(settings)
    else:
        settings.label_field, settings.updated_at = field, actor.clock.now()
    session.flush()
    record(
        session,
        actor,
        "quality.update",
        "service",
        service,
        service=service,
        before={"label_field": before},
        after={"label_field": field},
    )
    return field


def matches(label: Any, output: Any, field: str | None) -> bool:
    """Whether a label says the output was right: equal JSON values (1 == 1.0, but true != 1)."""
    if field is not None:
        if not isinstance(output, dict) or field not in output:
            return False
        output = output[field]
    if isinstance(label, bool) or isinstance(output, bool):
        return isinstance(label, bool) and isinstance(output, bool) and label is output
    try:
        return bool(label == output)
    except Exception:  # exotic JSON never raises, but a verdict must never take the job down
        return False


# -- accuracy ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccuracyWindow:
    correct: int
    labelled: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@dataclass(frozen=True)
class Verdict:
    request_id: str
    version: int | None
    predicted_at: datetime
    correct: bool


def verdicts(
    session: Session, service: str, start: datetime, end: datetime, *, version: int | None = None
) -> list[Verdict]:
    """Every prediction of `service` made in [start, end) that a label, a review or feedback judges."""
    labels = select(Label).where(
        Label.service == service, Label.predicted_at >= start, Label.predicted_at < end
    )
    given = select(Feedback).where(
        Feedback.service == service, Feedback.predicted_at >= start, Feedback.predicted_at < end
    )
    if version is not None:
        labels = labels.where(Label.version == version)
        given = given.where(Feedback.version == version)
    # (version, predicted_at, label or None, flag verdict or None) per request id; labels win.
    judged: dict[str, tuple[int | None, datetime, Any, bool | None]] = {}
    for fb in session.scalars(given.order_by(Feedback.created_at, Feedback.id)):
        if fb.label is not None:
            judged[fb.request_id] = (fb.version, fb.predicted_at, fb.label, None)
        elif fb.flag in ("correct", "wrong"):
            judged[fb.request_id] = (fb.version, fb.predicted_at, None, fb.flag == "correct")
    # A reviewer's decision outranks a user's flag; an uploaded ground truth outranks both.
    for task in review_queue.decided_since(session, service, start, end):
        if version is not None and task.version != version:
            continue
        if task.state == "corrected":
            judged[task.request_id] = (task.version, task.created_at, task.corrected_output, None)
        else:
            judged[task.request_id] = (task.version, task.created_at, None, task.state == "approved")
    for lb in session.scalars(labels):
        judged[lb.request_id] = (lb.version, lb.predicted_at, lb.label, None)
    field = label_field(session, service)
    outputs = predictions.outputs(session, [rid for rid, j in judged.items() if j[2] is not None])
    found = []
    for rid, (ver, at, label, flag) in judged.items():
        correct = flag if label is None else matches(label, outputs.get(rid), field)
        assert correct is not None
        found.append(Verdict(rid, ver, at, correct))
    return found


def _window(found: Iterable[Verdict]) -> AccuracyWindow:
    items = list(found)
    return AccuracyWindow(correct=sum(v.correct for v in items), labelled=len(items))


def rolling_accuracy(
    session: Session, service: str, *, start: datetime, end: datetime, version: int | None = None
) -> AccuracyWindow:
    """Correct / labelled for `service` (one version, or all) over predictions made in [start, end)."""
    return _window(verdicts(session, service, start, end, version=version))


def accuracy_by_version(
    session: Session, service: str, *, start: datetime, end: datetime
) -> dict[int | None, AccuracyWindow]:
    """`rolling_accuracy` for every version that has a verdict in the window, from one read."""
    return by_version(verdicts(session, service, start, end))


def daily_accuracy(
    session: Session, service: str, *, start: datetime, end: datetime, version: int | None = None
) -> list[tuple[date, int | None, AccuracyWindow]]:
    """Per UTC day of prediction and per version: (day, version, window), in day then version order."""
    return by_day(verdicts(session, service, start, end, version=version))


def by_version(found: Iterable[Verdict]) -> dict[int | None, AccuracyWindow]:
    groups: dict[int | None, list[Verdict]] = defaultdict(list)
    for verdict in found:
        groups[verdict.version].append(verdict)
    return {ver: _window(groups[ver]) for ver in sorted(groups, key=lambda v: v or 0)}


def by_day(found: Iterable[Verdict]) -> list[tuple[date, int | None, AccuracyWindow]]:
    groups: dict[tuple[date, int | None], list[Verdict]] = defaultdict(list)
    for verdict in found:
        groups[(verdict.predicted_at.date(), verdict.version)].append(verdict)
    keys = sorted(groups, key=lambda k: (k[0], k[1] or 0))
    return [(day, ver, _window(groups[(day, ver)])) for day, ver in keys]


def services_with_verdicts(session: Session, start: datetime) -> list[str]:
    """Services with a label or feedback on a prediction made since `start` (for the gauge job)."""
    labelled = select(Label.service).where(Label.predicted_at >= start).distinct()
    flagged = select(Feedback.service).where(Feedback.predicted_at >= start).distinct()
    reviewed = set(review_queue.services_decided_since(session, start))
    return sorted(set(session.scalars(labelled)) | set(session.scalars(flagged)) | reviewed)

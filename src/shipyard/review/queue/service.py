"""The review queue: tasks opened from recorded calls, claimed and decided by people, audited.

A task is opened by the recorder's sink in the same transaction as its prediction (`open_tasks`), so
every held or queued call has exactly one. A decision is a conditional UPDATE on the task's state, so
two reviewers deciding at once cannot both win, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, case, func, select, tuple_, type_coerce, update
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from shipyard.db.base import UTCDateTime
from shipyard.db.inserts import insert_new
from shipyard.registry import service as registry
from shipyard.registry.cache import SchemaValidator
from shipyard.review.queue.models import ReviewTask
from shipyard.review.queue.schemas import (
    DECIDED_STATES,
    OPEN_STATES,
    BacklogRead,
    ClaimCreate,
    DecisionCreate,
    ReviewDetail,
    ReviewRead,
    ReviewStatus,
    StateFilter,
)
from shipyard.serving import predictions

if TYPE_CHECKING:
    from shipyard.serving.models import Prediction

_STATE_OF = {"approve": "approved", "correct": "corrected", "reject": "rejected", "escalate": "escalated"}


# -- opened by the recorder -------------------------------------------------------------------------


def task_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review tasks a batch of spooled prediction records asks for."""
    rows = []
    for r in records:
        review = r.get("review")
        if not review:
            continue
        rows.append(
            {
                "request_id": r["request_id"],
                "service": r["service"],
                "version": r.get("version"),
                "action": review["action"],
                "rule": review["rule"],
                "reason": review["reason"],
                "confidence": r.get("confidence"),
                "state": "pending",
                "created_at": datetime.fromisoformat(r["started_at"]),
            }
        )
    return rows


def open_tasks(conn: Connection, records: Sequence[dict[str, Any]]) -> None:
    """Insert the batch's tasks in the sink's transaction; a task already there (a re-shipped batch)
    is left as it is, decision included."""
    rows = task_rows(records)
    if not rows:
        return
    table = ReviewTask.__table__
    assert isinstance(table, Table)
    conn.execute(insert_new(conn, table, ["request_id"]), rows)


# -- reading ----------------------------------------------------------------------------------------


def not_found(request_id: str) -> NotFound:
    return NotFound(
        f"no review task for {request_id!r}: the call was not sent to review, or it has not reached "
        "the database yet (within seconds of the answer)",
        code="review_not_found",
    )


def find(session: Session, request_id: str) -> ReviewTask | None:
    """A task by request id, for permission checks (no payload)."""
    return session.get(ReviewTask, request_id)


def list_tasks(
    session: Session,
    services: Iterable[str],
    *,
    state: StateFilter = "open",
    limit: int = 50,
    before: datetime | None = None,
    before_id: str | None = None,
    action: str | None = None,
) -> list[ReviewTask]:
    """Tasks of the given services, oldest first when open (the queue's order), newest first otherwise.

    Pages by (created_at, request_id): pass the last task's as `before` and `before_id`, so tasks made
    in the same instant are neither skipped nor repeated at a page boundary.
    """
    stmt = select(ReviewTask).where(ReviewTask.service.in_(list(services)))
    if state == "open":
        stmt = stmt.where(ReviewTask.state.in_(OPEN_STATES))
    elif state == "decided":
        stmt = stmt.where(ReviewTask.state.in_(DECIDED_STATES))
    elif state != "all":
        stmt = stmt.where(ReviewTask.state == state)
    if action is not None:
        stmt = stmt.where(ReviewTask.action == action)
    oldest_first = state in ("open", *OPEN_STATES)
    if before is not None:
        key = tuple_(ReviewTask.created_at, ReviewTask.request_id)
        if before_id is None:
            after = ReviewTask.created_at > before if oldest_first else ReviewTask.created_at < before
        else:
            after = key > (before, before_id) if oldest_first else key < (before, before_id)
        stmt = stmt.where(after)
    if oldest_first:
        order = (ReviewTask.created_at.asc(), ReviewTask.request_id.asc())
    else:
        order = (ReviewTask.created_at.desc(), ReviewTask.request_id.desc())
    return list(session.scalars(stmt.order_by(*order).limit(limit)))


@dataclass(frozen=True)
class TaskWithCall:
    task: ReviewTask
    call: Prediction


def get_task(session: Session, actor: Actor, request_id: str) -> TaskWithCall:
    """A task with its call's input and output; the read is audited."""
    task = session.get(ReviewTask, request_id)
    call = predictions.find(session, request_id)
    if task is None or call is None:
        raise not_found(request_id)
    record(session, actor, "review.read", "prediction", request_id, service=task.service)
    return TaskWithCall(task, call)


def detail(found: TaskWithCall) -> ReviewDetail:
    """The task with its call, as the API, the console and the CLI show it."""
    task, call = found.task, found.call
    return ReviewDetail.model_validate(
        ReviewRead.model_validate(task).model_dump()
        | {
            "caller": call.caller,
            "inputs": call.inputs,
            "output": call.output,
            "outcome": call.outcome,
            "corrected_output": task.corrected_output,
            "comment": task.comment,
        }
    )


def next_open(
    session: Session, services: Iterable[str], *, after: str | None = None, reviewer: str | None = None
) -> ReviewTask | None:
    """The oldest pending task of the services, other than `after`, that no reviewer but `reviewer`
    has claimed (for "decide and go to the next")."""
    stmt = select(ReviewTask).where(ReviewTask.service.in_(list(services)), ReviewTask.state == "pending")
    if reviewer is not None:
        stmt = stmt.where(ReviewTask.assignee.is_(None) | (ReviewTask.assignee == reviewer))
    if after is not None:
        stmt = stmt.where(ReviewTask.request_id != after)
    return session.scalars(stmt.order_by(ReviewTask.created_at, ReviewTask.request_id).limit(1)).first()


def released(session: Session, request_ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
    """(state, released answer) per reviewed call: the model's answer once approved, the reviewer's
    once corrected, nothing while pending or when rejected."""
    found: dict[str, tuple[str, Any]] = {}
    for start in range(0, len(request_ids), 500):  # bounded IN lists
        chunk = list(request_ids[start : start + 500])
        tasks = list(session.scalars(select(ReviewTask).where(ReviewTask.request_id.in_(chunk))))
        approved = predictions.find_many(session, [t.request_id for t in tasks if t.state == "approved"])
        for task in tasks:
            output = None
            if task.state == "approved" and task.request_id in approved:
                output = approved[task.request_id].output
            elif task.state == "corrected":
                output = task.corrected_output
            found[task.request_id] = (task.state, output)
    return found


def caller_status(session: Session, request_id: str) -> ReviewStatus:
    """The decision as the caller may see it: the released answer, never the reviewer's comment."""
    task = session.get(ReviewTask, request_id)
    if task is None:
        raise not_found(request_id)
    state, output = released(session, [request_id])[request_id]
    return ReviewStatus(
        request_id=task.request_id,
        service=task.service,
        action=task.action,
        state=state,
        decided=state in DECIDED_STATES,
        output=output,
        decided_at=task.decided_at,
    )


def model_output(session: Session, request_id: str) -> Any:
    """The answer the model gave on a reviewed call (unaudited: for comparing with a reviewer's edit)."""
    call = predictions.find(session, request_id)
    return call.output if call is not None else None


def caller_of(session: Session, request_id: str) -> tuple[str, str, str] | None:
    """(service, caller name, caller kind) of a reviewed call, for the caller's own status check."""
    task = session.get(ReviewTask, request_id)
    call = predictions.find(session, request_id)
    if task is None or call is None:
        return None
    return task.service, call.caller, call.caller_kind


def backlog(session: Session, now: datetime, services: Iterable[str] | None = None) -> list[BacklogRead]:
    """Open tasks per service: how many, how many callers wait, how long the oldest has waited."""
    is_held = ReviewTask.action == "hold"
    held = func.sum(case((is_held, 1), else_=0))
    escalated = func.sum(case((ReviewTask.state == "escalated", 1), else_=0))
    # type_coerce: an aggregate would lose the column's UTC decorator (SQLite stores naive values).
    oldest = type_coerce(func.min(ReviewTask.created_at), UTCDateTime())
    # min() skips the NULLs the CASE gives queued tasks: the oldest held one, NULL when none is held.
    held_oldest = type_coerce(func.min(case((is_held, ReviewTask.created_at))), UTCDateTime())
    stmt = (
        select(ReviewTask.service, func.count(), held, escalated, oldest, held_oldest)
        .where(ReviewTask.state.in_(OPEN_STATES))
        .group_by(ReviewTask.service)
        .order_by(ReviewTask.service)
    )
    if services is not None:
        stmt = stmt.where(ReviewTask.service.in_(list(services)))
    rows = []
    for service, count, n_held, n_escalated, oldest_at, held_oldest_at in session.execute(stmt):
        rows.append(
            BacklogRead(
                service=service,
                open=count,
                held=int(n_held or 0),
                escalated=int(n_escalated or 0),
                oldest_at=oldest_at,
                oldest_age_s=_age_s(oldest_at, now),
                held_oldest_at=held_oldest_at,
                held_oldest_age_s=_age_s(held_oldest_at, now),
            )
        )
    return rows


def _age_s(since: datetime | None, now: datetime) -> float | None:
    return max((now - since).total_seconds(), 0.0) if since is not None else None


def decided_since(session: Session, service: str, start: datetime, end: datetime) -> list[ReviewTask]:
    """Decided tasks on predictions made in [start, end): the review verdicts accuracy counts."""
    return list(
        session.scalars(
            select(ReviewTask).where(
                ReviewTask.service == service,
                ReviewTask.state.in_(DECIDED_STATES),
                ReviewTask.created_at >= start,
                ReviewTask.created_at < end,
            )
        )
    )


def services_decided_since(session: Session, start: datetime) -> list[str]:
    stmt = select(ReviewTask.service).where(
        ReviewTask.state.in_(DECIDED_STATES), ReviewTask.created_at >= start
    )
    return list(session.scalars(stmt.distinct()))


# -- deciding ---------------------------------------------------------------------------------------


def claim(session: Session, actor: Actor, request_id: str, data: ClaimCreate) -> ReviewTask:
    """Take an open task (so two reviewers do not work on it), or give it back; audited."""
    task = session.get(ReviewTask, request_id)
    if task is None:
        raise not_found(request_id)
    if task.state not in OPEN_STATES:
        raise Conflict(f"{request_id} was already {task.state} by {task.decided_by}", code="review_decided")
    if data.release:
        stmt = update(ReviewTask).where(ReviewTask.request_id == request_id)
        if not data.force:
            stmt = stmt.where(ReviewTask.assignee == actor.name)
        if session.execute(stmt.values(assignee=None)).rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(
                f"{request_id} is held by {task.assignee}, not {actor.name}", code="review_claimed"
            )
        action, assignee = "review.release", None
    else:
        stmt = update(ReviewTask).where(
            ReviewTask.request_id == request_id, ReviewTask.state.in_(OPEN_STATES)
        )
        if not data.force:
            stmt = stmt.where((ReviewTask.assignee.is_(None)) | (ReviewTask.assignee == actor.name))
        if session.execute(stmt.values(assignee=actor.name)).rowcount == 0:  # type: ignore[attr-defined]
            session.refresh(task)
            raise Conflict(
                f"{request_id} is being reviewed by {task.assignee}; pass force to take it over",
                code="review_claimed",
            )
        action, assignee = "review.claim", actor.name
    record(
        session,
        actor,
        action,
        "prediction",
        request_id,
        service=task.service,
        before={"assignee": task.assignee},
        after={"assignee": assignee},
    )
    session.refresh(task)
    return task


def decide(
    session: Session, actor: Actor, request_id: str, data: DecisionCreate, *, may_decide_escalated: bool
) -> ReviewTask:
    """Approve, correct, reject or escalate one open task; audited with the change it makes.

    An escalated task is decided only by someone who `may_decide_escalated` (approvers, owners, admins).
    """
    task = session.get(ReviewTask, request_id)
    if task is None:
        raise not_found(request_id)
    if task.state in DECIDED_STATES:
        raise Conflict(
            f"{request_id} was already {task.state} by {task.decided_by} "
            f"at {task.decided_at:%Y-%m-%d %H:%M} UTC",
            code="review_decided",
        )
    if task.state == "escalated" and not may_decide_escalated:
        raise Forbidden(
            f"{request_id} was escalated by {task.escalated_by}: "
            "an approver or the service's owner decides it",
            code="review_escalated",
        )
    if task.assignee not in (None, actor.name) and task.state == "pending":
        raise Conflict(
            f"{request_id} is being reviewed by {task.assignee}; claim it with force to take it over",
            code="review_claimed",
        )
    if data.action == "correct":
        _check_correction(session, task.service, data.output)
    values: dict[str, Any] = {"state": _STATE_OF[data.action], "assignee": None}
    if data.action == "escalate":
        values |= {"escalated_by": actor.name, "escalation_note": data.comment}
    else:
        values |= {"decided_by": actor.name, "decided_at": actor.clock.now(), "comment": data.comment}
        if data.action == "correct":
            values["corrected_output"] = data.output
    before = task.state
    stmt = (
        update(ReviewTask)
        .where(ReviewTask.request_id == request_id, ReviewTask.state == before)
        .values(**values)
    )
    if session.execute(stmt).rowcount == 0:  # type: ignore[attr-defined]
        session.refresh(task)
        raise Conflict(f"{request_id} was {task.state} by {task.decided_by} meanwhile", code="review_decided")
    # The comment and the correction may name people: they stay in the task row, not the audit trail.
    after = {
        "state": values["state"],
        "action": task.action,
        "rule": task.rule,
        "comment": data.comment is not None,
        "corrected": data.action == "correct",
    }
    record(
        session,
        actor,
        f"review.{data.action}",
        "prediction",
        request_id,
        service=task.service,
        before={"state": before},
        after=after,
    )
    session.refresh(task)
    return task


def _check_correction(session: Session, slug: str, output: Any) -> None:
    schema = registry.get_service(session, slug).output_schema
    if schema is None:
        return
    violations = SchemaValidator(schema).errors(output)
    if violations:
        raise InvalidInput(
            f"the corrected output breaks the {slug} output schema "
            f"({len(violations)} violation{'s' if len(violations) > 1 else ''})",
            code="schema_violation",
            errors=violations,
        )

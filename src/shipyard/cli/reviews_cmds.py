"""`shipyard reviews`: the review queue from the command line: list, show, decide, backlog.

The CLI talks to the database with the instance owner's authority, like the other admin commands: it
sees every service's queue and may decide escalated tasks. Every read of a call and every decision is
audited under the CLI's actor (`cli:<login>`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import typer
from rich.table import Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for

if TYPE_CHECKING:
    from shipyard.review.queue.models import ReviewTask

reviews_app = typer.Typer(
    help="The human review queue (with the instance owner's authority: every service, escalated "
    "tasks included).",
    no_args_is_help=True,
)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


@reviews_app.command("list")
def reviews_list(
    service: str | None = typer.Option(None, "--service", help="One service (default: every service)."),
    state: str = typer.Option(
        "open",
        help="open (pending and escalated), decided, all, or one state: pending, escalated, "
        "approved, corrected, rejected.",
    ),
    limit: int = typer.Option(50, min=1, max=500, help="At most this many tasks."),
    home: Path | None = HomeOption,
) -> None:
    """Review tasks, no payloads: open ones oldest first (the order to work them in), others newest
    first."""
    from shipyard.registry import service as registry
    from shipyard.review.queue import service as queue
    from shipyard.review.queue.schemas import STATE_FILTERS, StateFilter

    if state not in STATE_FILTERS:
        _fail(f"unknown state {state!r}; use one of: {', '.join(STATE_FILTERS)}")
    with session_for(home) as (_, session):
        if service is not None:
            services = [registry.get_service(session, service).slug]
        else:
            services = [s.slug for s in registry.list_services(session)]
        tasks = queue.list_tasks(session, services, state=cast(StateFilter, state), limit=limit)
        table = _tasks_table(tasks, wide=console.width >= WIDE) if tasks else None
    if table is None:
        console.print(f"No {state} review tasks" + (f" for {service}." if service else "."))
        return
    console.print(table)


# Under this many columns `reviews list` leaves out the rule (the reason says it), the confidence, the
# assignee and the creation time (`reviews show ID` has them all), so that what is left reads whole.
WIDE = 120


def _tasks_table(tasks: Sequence[ReviewTask], *, wide: bool) -> Table:
    table = Table()
    # Ids are copied from here whole: never cut, never wrapped.
    table.add_column("request id", no_wrap=True, min_width=max(len(t.request_id) for t in tasks))
    table.add_column("service", overflow="fold", ratio=1)
    table.add_column("state", no_wrap=True)
    table.add_column("action", no_wrap=True)
    if wide:
        table.add_column("rule", no_wrap=True)
    table.add_column("reason", ratio=2)
    if wide:
        table.add_column("confidence", no_wrap=True)
        table.add_column("assignee", overflow="fold", ratio=1)
        table.add_column("created (UTC)", no_wrap=True)
    for t in tasks:
        cells = [t.request_id, t.service, t.state, t.action]
        if wide:
            cells.append(t.rule)
        cells.append(t.reason)
        if wide:
            cells.append("-" if t.confidence is None else f"{t.confidence:.3g}")
            cells.append(t.assignee or "-")
            cells.append(_when(t.created_at))
        table.add_row(*cells)
    return table


@reviews_app.command("show")
def reviews_show(request_id: str, home: Path | None = HomeOption) -> None:
    """One task with its call's input and the model's output, as JSON. The read is audited (the
    payload may name people)."""
    from shipyard.review.queue import service as queue

    with session_for(home) as (_, session):
        detail = queue.detail(queue.get_task(session, cli_actor(), request_id))
    console.print_json(detail.model_dump_json())


@reviews_app.command("decide")
def reviews_decide(
    request_id: str,
    approve: bool = typer.Option(False, "--approve", help="The model's answer stands."),
    reject: bool = typer.Option(False, "--reject", help="The answer is wrong; nothing is released."),
    correct: str | None = typer.Option(
        None, "--correct", help="Replace the answer with this JSON (checked against the output schema)."
    ),
    escalate: bool = typer.Option(False, "--escalate", help="Hand it to an approver (needs --comment)."),
    comment: str | None = typer.Option(None, "--comment", "-m", help="Why; kept with the task."),
    force: bool = typer.Option(
        False, "--force", help="Take the task over from the reviewer who claimed it (audited)."
    ),
    home: Path | None = HomeOption,
) -> None:
    """Approve, correct, reject or escalate one open task; for a held call this releases the answer to
    its caller. Give exactly one of --approve, --reject, --correct JSON, --escalate.

    Runs with the instance owner's authority, so it may decide escalated tasks too. Audited.
    """
    from pydantic import ValidationError

    from shipyard.core.errors import InvalidInput
    from shipyard.review.queue import service as queue
    from shipyard.review.queue.schemas import ClaimCreate, DecisionCreate

    chosen = [
        name
        for name, given in (
            ("--approve", approve),
            ("--reject", reject),
            ("--correct", correct is not None),
            ("--escalate", escalate),
        )
        if given
    ]
    if len(chosen) != 1:
        _fail(
            "give exactly one of --approve, --reject, --correct JSON, --escalate"
            + (f" (got {', '.join(chosen)})" if chosen else "")
        )
    body: dict[str, Any] = {
        "action": {
            "--approve": "approve",
            "--reject": "reject",
            "--correct": "correct",
            "--escalate": "escalate",
        }[chosen[0]],
        "comment": comment,
    }
    if correct is not None:
        try:
            body["output"] = json.loads(correct)
        except json.JSONDecodeError as exc:
            _fail(
                f"--correct is not JSON: {exc.msg} (line {exc.lineno} column {exc.colno}); quote a "
                "string answer as JSON, e.g. '\"specialist\"'"
            )
    try:
        data = DecisionCreate.model_validate(body)
    except ValidationError as exc:
        _fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))
    actor = cli_actor()
    with session_for(home) as (_, session):
        if force:
            task = queue.find(session, request_id)
            if task is not None and task.assignee not in (None, actor.name):
                queue.claim(session, actor, request_id, ClaimCreate(force=True))
        try:
            task = queue.decide(session, actor, request_id, data, may_decide_escalated=True)
        except InvalidInput as exc:
            for violation in exc.extra.get("errors", []):
                err.print(f"  {violation['loc']}: {violation['message']}", highlight=False, markup=False)
            raise
        state, service, held = task.state, task.service, task.action == "hold"
    console.print(
        f"{request_id} on {service}: [bold]{state}[/bold]{_FOR_CALLER.get(state, '') if held else ''}"
    )


# What a decision means for the caller of a held call.
_FOR_CALLER = {
    "approved": " (the model's answer is released to the caller)",
    "corrected": " (the correction is released to the caller)",
    "rejected": " (the caller gets no answer)",
    "escalated": " (the caller still waits)",
}


@reviews_app.command("backlog")
def reviews_backlog(home: Path | None = HomeOption) -> None:
    """Open tasks per service: how many, how many callers wait (held), escalated, and the oldest one's
    wait."""
    from shipyard.core.clock import Clock
    from shipyard.review.queue import service as queue
    from shipyard.review.queue.waits import waited

    table = Table()
    table.add_column("service", overflow="fold", ratio=1)  # a long slug folds; the figures stay whole
    for header in ("open", "held", "escalated"):
        table.add_column(header, no_wrap=True, justify="right")
    table.add_column("oldest since (UTC)", no_wrap=True)
    table.add_column("oldest waiting", no_wrap=True)
    with session_for(home) as (_, session):
        rows = queue.backlog(session, Clock().now())
    for r in rows:
        table.add_row(
            r.service, str(r.open), str(r.held), str(r.escalated), _when(r.oldest_at), waited(r.oldest_age_s)
        )
    if not rows:
        console.print("No open review tasks.")
        return
    console.print(table)

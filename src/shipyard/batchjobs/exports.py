"""Exports of a job's results (read back from the recorded predictions) and of its dead letters.

Both stream in pages, as CSV or JSONL lines, so a million-row job never sits in memory. Each export
carries payloads, so it is audited like any other read of recorded predictions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shipyard.audit.service import Actor, record
from shipyard.batchjobs import service as jobs
from shipyard.batchjobs.models import BatchJob, DeadLetter, RowAttempt
from shipyard.batchjobs.schemas import DL_RESOLVED
from shipyard.core.errors import InvalidInput
from shipyard.review.queue import service as review_queue
from shipyard.serving.models import Prediction

PAGE = 500
EXPORT_FORMATS = ("csv", "jsonl")
RESULT_FIELDS = ("row", "request_id", "outcome", "output", "confidence", "error_code", "review_state")
DEAD_LETTER_FIELDS = ("row", "status", "error_code", "reason", "attempts", "request_id", "inputs", "raw")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
NOT_RECORDED = "pending"  # scored, but the record has not reached the database yet (seconds)


def check_format(fmt: str) -> str:
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; use csv or jsonl", code="bad_format")
    return fmt


def audit_export(session: Session, actor: Actor, job: BatchJob, what: str, fmt: str) -> None:
    record(
        session,
        actor,
        "batch_job.export",
        "batch_job",
        job.id,
        service=job.service,
        after={"what": what, "format": fmt},
    )


def results(session: Session, job: BatchJob) -> Iterator[dict[str, Any]]:
    """One entry per row scored so far: the recorded outcome of its latest attempt."""
    done = min(job.next_row - 1, job.total_rows)
    for first in range(1, done + 1, PAGE):
        last = min(first + PAGE - 1, done)
        attempts = dict(
            session.execute(
                select(RowAttempt.row_number, RowAttempt.attempt).where(
                    RowAttempt.job_id == job.id, RowAttempt.row_number.between(first, last)
                )
            ).all()
        )
        letters = {
            dl.row_number: dl
            for dl in session.scalars(
                select(DeadLetter).where(
                    DeadLetter.job_id == job.id, DeadLetter.row_number.between(first, last)
                )
            )
        }
        ids: dict[int, str | None] = {}
        for row in range(first, last + 1):
            dl = letters.get(row)
            ids[row] = dl.request_id if dl is not None else jobs.request_id(job.id, row, attempts.get(row, 0))
        wanted = [rid for rid in ids.values() if rid]
        found = {
            p.request_id: p
            for p in session.scalars(select(Prediction).where(Prediction.request_id.in_(wanted)))
        }
        reviewed = review_queue.released(
            session, [rid for rid, p in found.items() if p.outcome == "held_for_review"]
        )
        for row in range(first, last + 1):
            rid, dl = ids[row], letters.get(row)
            prediction = found.get(rid) if rid else None
            if prediction is not None:
                entry = {
                    "row": row,
                    "request_id": rid,
                    "outcome": prediction.outcome,
                    "output": prediction.output,
                    "confidence": prediction.confidence,
                    "error_code": prediction.error_code,
                    "review_state": None,
                }
                if prediction.outcome == "held_for_review":
                    # A held answer is the reviewer's to release: none until decided, then theirs.
                    state, output = reviewed.get(prediction.request_id, ("pending", None))
                    entry |= {"output": output, "confidence": None, "review_state": state}
                yield entry
            else:
                resolved = dl is not None and dl.status == DL_RESOLVED
                yield {
                    "row": row,
                    "request_id": rid,
                    "outcome": dl.error_code if dl is not None and not resolved else NOT_RECORDED,
                    "output": None,
                    "confidence": None,
                    "error_code": dl.error_code if dl is not None and not resolved else None,
                    "review_state": None,
                }


def dead_letter_rows(session: Session, job: BatchJob) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        page = jobs.dead_letters(session, job.id, after_row=after, limit=PAGE)
        for dl in page:
            yield {
                "row": dl.row_number,
                "status": dl.status,
                "error_code": dl.error_code,
                "reason": dl.reason,
                "attempts": dl.attempts,
                "request_id": dl.request_id,
                "inputs": dl.inputs,
                "raw": dl.raw,
            }
        if len(page) < PAGE:
            return
        after = page[-1].row_number


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list | bool):
        return orjson.dumps(value).decode()
    return value


def lines(entries: Iterator[dict[str, Any]], fmt: str, fields: tuple[str, ...]) -> Iterator[str]:
    """CSV (with a header; nested values as JSON) or JSONL, one line at a time."""
    if fmt == "jsonl":
        for entry in entries:
            yield orjson.dumps(entry).decode() + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for entry in entries:
        writer.writerow([_cell(entry.get(f)) for f in fields])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def stream(factory: sessionmaker[Session], job_id: str, what: str, fmt: str) -> Iterator[str]:
    """An export in its own session, for a streamed response that outlives the request's unit of work."""
    with factory() as session:
        job = jobs.get_job(session, job_id)
        if what == "results":
            yield from lines(results(session, job), fmt, RESULT_FIELDS)
        else:
            yield from lines(dead_letter_rows(session, job), fmt, DEAD_LETTER_FIELDS)

"""The job runner: one per process, on the server's event loop, next to live traffic.

It claims one job at a time (see leases.py), reads its file from the checkpoint, and scores rows
through the same invoke path as live calls (schema, policy, recorder), a few at a time so live traffic
keeps priority: when the invoke path sheds or rate-limits a row, the runner backs off and tries again.
After each chunk it checkpoints the next row and the counts; a job whose runner died is taken over
when its lease expires and resumes from the checkpoint. A paused service pauses the job, without
dead-lettering anything; the job resumes when the service does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from shipyard.auth.principal import Principal
from shipyard.batchjobs import formats, leases
from shipyard.batchjobs import service as jobs
from shipyard.batchjobs.leases import Claimed, NewLetter, Progress, RetriedLetter
from shipyard.batchjobs.schemas import CANCELLED, FAILED, PAUSED, QUEUED, RUNNING, UNPARSABLE
from shipyard.batchjobs.scoring import Blocked, Failed, RowScorer, Scored, blocked_reason
from shipyard.core.errors import Forbidden, ShipyardError, Unavailable
from shipyard.core.ids import new_id
from shipyard.web.context import AppContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _End:
    state: str  # done | paused | stopped | cancelled | lost
    reason: str | None = None


class JobRunner:
    def __init__(self, ctx: AppContext, *, only_job: str | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.jobs
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{new_id()[-8:]}"
        self.only_job = only_job  # the CLI runs just the job it submitted
        self.current: str | None = None  # the job being worked on
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._job_stop = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def launch(cls, ctx: AppContext, *, only_job: str | None = None) -> JobRunner | None:
        """Start on the running event loop; None outside one (a process with no loop runs no jobs)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None
        runner = cls(ctx, only_job=only_job)
        runner.start()
        return runner

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._main(), name="shipyard-jobs")
        self.ctx.bus.subscribe("registry", self.wake)  # a resumed service resumes its paused jobs

    def wake(self) -> None:
        """Look for work now. Thread-safe: called after commits and by the change bus."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, grace_s: float = 15.0) -> None:
        """Take no more rows, let calls in flight finish, checkpoint, and hand the job back."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._job_stop.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _main(self) -> None:
        while not self._stopping:
            job = None
            try:
                job = await self._claim_one()
            except Exception as exc:  # the database is down: look again later
                log.warning("batch jobs: could not look for work: %s", exc)
            if job is not None:
                await self._run_guarded(job)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)

    async def _claim_one(self) -> Claimed | None:
        now = self.ctx.clock.now()
        found = await anyio.to_thread.run_sync(leases.candidates, self.ctx.sessions, now, self.only_job)
        for job_id, slug, status in found:
            if status == PAUSED:
                with contextlib.suppress(ShipyardError):  # a missing service fails the job once claimed
                    if blocked_reason(await self.ctx.service_config(slug)):
                        continue
            claimed = await anyio.to_thread.run_sync(
                leases.claim, self.ctx.sessions, job_id, self.owner, now, self.settings.lease_s
            )
            if claimed is not None:
                return claimed
        return None

    async def _let_go(self, job: Claimed, status: str, error: str | None = None) -> None:
        await anyio.to_thread.run_sync(
            leases.let_go, self.ctx.sessions, job.id, self.owner, self.ctx.clock.now(), status, error
        )

    async def _run_guarded(self, job: Claimed) -> None:
        self.current = job.id
        self._job_stop = asyncio.Event()
        if self._stopping:
            self._job_stop.set()
        beat = asyncio.create_task(self._heartbeat(job.id))
        try:
            end = await self._run(job)
            if end.state in ("paused", "stopped", "cancelled"):
                await self._let_go(job, PAUSED if end.state == "paused" else QUEUED, end.reason)
        except Unavailable as exc:  # the database went away: the lease lapses and a runner resumes later
            log.warning("batch job %s: giving up the job for now: %s", job.id, exc.detail)
        except ShipyardError as exc:
            await self._let_go(job, FAILED, f"{exc.code}: {exc.detail}")
        except Exception as exc:
            log.exception("batch job %s failed unexpectedly", job.id)
            with contextlib.suppress(Exception):
                await self._let_go(job, FAILED, f"internal_error: {type(exc).__name__}: {exc}")
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            self.current = None

    async def _run(self, job: Claimed) -> _End:
        principal = await anyio.to_thread.run_sync(self._principal, job)
        config = await self.ctx.service_config(job.service)
        if not principal.can("service:invoke", service=job.service, service_owner=config.owner_id):
            raise Forbidden(f"{principal.name} may no longer invoke {job.service}", code="forbidden")
        path = await anyio.to_thread.run_sync(self.ctx.store.path_for, job.input_sha256, "file")
        scorer = RowScorer(self.ctx, job, principal, self.owner, self._job_stop)
        end = await self._main_pass(job, scorer, path)
        while end.state == "done":
            end = await self._retry_pass(job, scorer)
            if end.state != "done":
                break
            verdict = await anyio.to_thread.run_sync(
                leases.finish, self.ctx.sessions, job.id, self.owner, self.ctx.clock.now()
            )
            if verdict != "more":
                return _End("lost" if verdict == "lost" else "finished")
        return end

    def _principal(self, job: Claimed) -> Principal:
        with self.ctx.sessions() as session:
            return jobs.principal_for(session, job.run_as, self.ctx.clock)

    async def _heartbeat(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                status = await anyio.to_thread.run_sync(
                    leases.heartbeat,
                    self.ctx.sessions,
                    job_id,
                    self.owner,
                    self.ctx.clock.now(),
                    self.settings.lease_s,
                )
            except Exception as exc:
                log.warning("batch job %s: could not renew the lease: %s", job_id, exc)
                continue
            if status != RUNNING:  # cancelled, or another runner holds it now
                self._job_stop.set()
                return

    async def _checkpoint(self, job: Claimed, progress: Progress) -> str | None:
        return await anyio.to_thread.run_sync(
            leases.checkpoint,
            self.ctx.sessions,
            job.id,
            self.owner,
            self.ctx.clock.now(),
            self.settings.lease_s,
            progress,
        )

    @staticmethod
    def _after_checkpoint(status: str | None) -> _End | None:
        if status is None:
            return _End("lost")
        if status == CANCELLED:
            return _End("cancelled")
        return None

    async def _main_pass(self, job: Claimed, scorer: RowScorer, path: Path) -> _End:
        config = await self.ctx.service_config(job.service)
        with formats.open_rows(
            path, job.input_format, config.input_schema, start_row=job.next_row, start_offset=job.next_offset
        ) as rows:
            while True:
                if self._job_stop.is_set():
                    return _End("stopped")
                chunk = await anyio.to_thread.run_sync(
                    lambda: list(itertools.islice(rows, self.settings.chunk_rows))
                )
                if not chunk:
                    return _End("done")
                attempts = await anyio.to_thread.run_sync(
                    leases.attempts_for, self.ctx.sessions, job.id, chunk[0].number, chunk[-1].number
                )
                todo = [(r.number, r.inputs, attempts.get(r.number, 0)) for r in chunk if r.error is None]
                scored = dict(zip((t[0] for t in todo), await scorer.score_all(todo), strict=True))
                progress, halted = Progress(), None
                for row in chunk:
                    outcome = scored.get(row.number)
                    if row.error is not None:
                        progress.letters.append(NewLetter(row.number, UNPARSABLE, row.error, raw=row.raw))
                    elif isinstance(outcome, Scored):
                        progress.succeeded += 1
                        progress.fallback += outcome.outcome == "fallback"
                    elif isinstance(outcome, Failed):
                        progress.letters.append(
                            NewLetter(
                                row.number,
                                outcome.code,
                                outcome.reason,
                                inputs=row.inputs,
                                request_id=outcome.request_id,
                                last_attempt=outcome.attempt,
                            )
                        )
                    else:  # blocked or stopped: the checkpoint stays before this row
                        halted = outcome
                        break
                    progress.next_row, progress.next_offset = row.number + 1, row.end
                end = self._after_checkpoint(await self._checkpoint(job, progress))
                if end is not None:
                    return end
                if isinstance(halted, Blocked):
                    return _End("paused", halted.reason)
                if halted is not None:
                    return _End("stopped")

    async def _retry_pass(self, job: Claimed, scorer: RowScorer) -> _End:
        while True:
            if self._job_stop.is_set():
                return _End("stopped")
            letters = await anyio.to_thread.run_sync(
                leases.retrying_letters, self.ctx.sessions, job.id, self.settings.chunk_rows
            )
            if not letters:
                return _End("done")
            todo = [(row, inputs, last + 1) for row, inputs, last in letters]
            outcomes = await scorer.score_all(todo, letter=True)
            progress, halted = Progress(), None
            for (row, _, _), outcome in zip(todo, outcomes, strict=True):
                if isinstance(outcome, Scored):
                    progress.retried.append(
                        RetriedLetter(
                            row,
                            True,
                            outcome.request_id,
                            outcome.attempt,
                            fallback=outcome.outcome == "fallback",
                        )
                    )
                elif isinstance(outcome, Failed):
                    progress.retried.append(
                        RetriedLetter(
                            row,
                            False,
                            outcome.request_id or "",
                            outcome.attempt,
                            error_code=outcome.code,
                            reason=outcome.reason,
                        )
                    )
                else:
                    halted = outcome
            end = self._after_checkpoint(await self._checkpoint(job, progress))
            if end is not None:
                return end
            if isinstance(halted, Blocked):
                return _End("paused", halted.reason)
            if halted is not None:
                return _End("stopped")

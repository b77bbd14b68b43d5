"""What this process knows about a service's runtimes right now: breakers, lanes, worker processes."""

from __future__ import annotations

import os
from dataclasses import asdict

from shipyard.audit.service import Actor, record
from shipyard.core.errors import NotFound
from shipyard.registry.cache import ServiceConfig, VersionConfig
from shipyard.serving.breaker import CircuitBreaker
from shipyard.serving.schemas import BreakerRead, RecorderRead, RuntimeRead, VersionRuntimeRead
from shipyard.web.context import AppContext


def known_versions(config: ServiceConfig) -> list[VersionConfig]:
    """The live version first, then the versions in the fallback chain."""
    versions = [config.live] if config.live else []
    versions += [v for v in (config.fallback_versions or {}).values() if v not in versions]
    return versions


def runtime_view(ctx: AppContext, config: ServiceConfig) -> RuntimeRead:
    isolation = ctx.runtimes.stats()
    versions = []
    for version in known_versions(config):
        breaker = ctx.breakers.get(version.id) or CircuitBreaker(config.policy.breaker)
        stats = [lane.stats() for lane in ctx.lanes.for_version(version.id)]
        batches = sum(s.batches_total for s in stats)
        versions.append(
            VersionRuntimeRead(
                version=version.number,
                role="live" if config.live is not None and version.id == config.live.id else "fallback",
                loaded=ctx.runtimes.peek(config, version) is not None,
                breaker=BreakerRead(**asdict(breaker.snapshot())),
                in_flight=sum(s.in_flight for s in stats),
                queued=sum(s.queued for s in stats),
                shed_total=sum(s.shed_total for s in stats),
                max_concurrency=config.policy.concurrency.max_concurrency,
                max_queue=config.policy.concurrency.max_queue,
                batching=config.policy.batching.enabled and version.supports_batching,
                batches_total=batches,
                mean_batch_size=round(sum(s.batched_items_total for s in stats) / batches, 2)
                if batches
                else None,
                isolation=isolation.get(version.id),
            )
        )
    started = ctx.started
    return RuntimeRead(
        service=config.slug,
        pid=os.getpid(),
        versions=versions,
        recorder=RecorderRead(
            backlog_records=ctx.spool.backlog() if started else 0,
            backlog_bytes=ctx.spool.backlog_bytes() if started else 0,
            cap_bytes=ctx.settings.recorder.max_spool_bytes,
            shipping_error=ctx.shipper.last_error if started else None,
            last_trouble=ctx.recorder_trouble,
        ),
    )


def reset_breaker(ctx: AppContext, actor: Actor, config: ServiceConfig, number: int) -> None:
    """Close a version's breaker in this process by hand, on the record (call from a worker thread)."""
    versions = {v.number: v for v in known_versions(config)}
    if number not in versions:
        raise NotFound(f"{config.slug} v{number} is neither live nor in the fallback chain")
    breaker = ctx.breakers.get(versions[number].id)
    before = breaker.state if breaker is not None else "closed"
    if breaker is not None:
        breaker.reset()
    with ctx.uow() as session:
        record(
            session,
            actor,
            "breaker.reset",
            "service",
            config.slug,
            service=config.slug,
            before={"version": number, "state": before},
            after={"version": number, "state": "closed"},
        )

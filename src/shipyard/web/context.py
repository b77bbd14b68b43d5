"""Everything a process holds for its lifetime: settings, database, caches, spool, runtimes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shipyard.auth.cache import PrincipalCache
from shipyard.auth.oidc import OIDCVerifier
from shipyard.core.clock import Clock
from shipyard.core.config import Settings
from shipyard.core.errors import Unavailable
from shipyard.db.changes import ChangeBus
from shipyard.db.engine import make_engine
from shipyard.db.periodic import PeriodicRunner
from shipyard.db.session import make_sessionmaker, unit_of_work
from shipyard.monitoring import jobs, metrics
from shipyard.monitoring.tracing import Tracing
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.cache import ServiceCache, ServiceConfig, live_configs
from shipyard.serving import slots
from shipyard.serving.breaker import STATE_VALUES, CircuitBreaker
from shipyard.serving.lanes import LaneSet
from shipyard.serving.policy import BreakerPolicy
from shipyard.serving.recorder import make_sink
from shipyard.serving.runtimes import RuntimePool
from shipyard.serving.shipper import Shipper
from shipyard.serving.slots import SpoolSlot
from shipyard.serving.spool import Spool

if TYPE_CHECKING:  # imported for real only where used: the runner imports this module
    from shipyard.assistants.policy.live import LiveCorpus
    from shipyard.batchjobs.runner import JobRunner
    from shipyard.guard.ratelimit import RateLimiter

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    bus: ChangeBus
    principals: PrincipalCache
    services: ServiceCache
    store: ArtifactStore
    runtimes: RuntimePool
    http: httpx.AsyncClient
    oidc: OIDCVerifier | None = None
    tracing: Tracing = field(default_factory=Tracing)  # spans of the invoke path; a no-op unless exported
    started: bool = field(default=False)
    # Per process: one breaker per model version, one admission lane per version and event loop.
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    lanes: LaneSet = field(init=False)
    recorder_trouble: str | None = field(default=None, init=False)  # last spool-full/disk error
    _recorder_trouble_logged: float = field(default=0.0, init=False)
    _limiter: RateLimiter | None = field(default=None, init=False)
    jobs: JobRunner | None = field(default=None, init=False)  # set by start() when jobs are enabled
    # The policy corpus, built on first use: it needs the `assistant` extra, which the core install lacks.
    _corpus: LiveCorpus | None = field(default=None, init=False)
    _corpus_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    # Labels for the state gauges: version id -> (service slug, version number)
    _version_labels: dict[str, tuple[str, int]] = field(default_factory=dict, init=False)
    # Set by start(): this process's spool slot, its spool and the shipper draining it.
    spool: Spool = field(init=False)
    shipper: Shipper = field(init=False)
    _slot: SpoolSlot | None = field(default=None, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    model_threads: ThreadPoolExecutor = field(init=False)
    # Control-plane jobs (rollups, drift, alerts): each runs in one process per interval, see db/periodic.
    periodic: PeriodicRunner = field(init=False)
    # Blocking HTTP for the periodic jobs' thread (alert webhooks); `http` belongs to the event loop.
    # A transport, not a client: a client logs each request's URL, and a webhook URL is a secret.
    sync_transport: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport, init=False)

    @classmethod
    def build(
        cls, settings: Settings, clock: Clock | None = None, http: httpx.AsyncClient | None = None
    ) -> AppContext:
        clock = clock or Clock()
        tracing = Tracing.from_settings(settings.tracing)  # first: a missing exporter fails before any I/O
        engine = make_engine(settings.database_url)
        bus = ChangeBus()
        sessions = make_sessionmaker(engine, bus=bus)
        store = ArtifactStore(settings.artifacts_dir)
        http = http or httpx.AsyncClient(timeout=10)
        oidc = OIDCVerifier(settings.auth.oidc, http, clock) if settings.auth.oidc.enabled else None
        ctx = cls(
            settings=settings,
            clock=clock,
            engine=engine,
            sessions=sessions,
            bus=bus,
            principals=PrincipalCache(clock),
            services=ServiceCache(sessions),
            store=store,
            runtimes=RuntimePool(store),
            http=http,
            oidc=oidc,
            tracing=tracing,
        )
        ctx.lanes = LaneSet(lambda: ctx.model_threads)
        ctx.periodic = PeriodicRunner(sessions, clock, tick_s=settings.monitoring.tick_s)
        jobs.register(ctx)
        metrics.watch(ctx)
        bus.subscribe("auth", ctx.principals.invalidate)
        bus.subscribe("registry", ctx.services.invalidate)
        bus.subscribe("registry", ctx.warm_in_background)
        bus.subscribe("documents", ctx._documents_changed)
        ctx.runtimes.host = ctx.host_resources
        return ctx

    @property
    def corpus(self) -> LiveCorpus:
        """The policy documents this process answers from (and the vault and embedder uploads use)."""
        with self._corpus_lock:
            if self._corpus is None:
                try:
                    from shipyard.assistants.policy.live import LiveCorpus
                except ImportError as exc:
                    raise Unavailable(
                        f"policy documents need the assistant extra ({exc.name} is missing): "
                        "pip install 'shipyard[assistant]'",
                        code="assistant_not_installed",
                    ) from exc
                settings = self.settings
                self._corpus = LiveCorpus.for_home(
                    self.sessions, settings.documents_dir, settings.secret(), settings.assistant
                )
            return self._corpus

    def host_resources(self) -> dict[str, object]:
        """What in-process models may ask of this process (see LoadSpec.host)."""
        return {"corpus": lambda: self.corpus, "settings": self.settings, "http": self.http}

    def _settle_documents(self, every_s: float = 3600.0) -> None:
        """Put policy versions whose effective date has come into force: at start, then hourly."""
        from shipyard.audit.service import Actor
        from shipyard.documents import service as documents

        while not self._stopping.is_set():
            try:
                with self.uow() as session:
                    for doc in documents.settle_all(session, Actor.system("shipyard-settle", self.clock)):
                        log.info("policy %s version %s is now %s", doc.doc_key, doc.version, doc.status)
            except Exception as exc:  # the database may be down; the next round tries again
                log.warning("could not settle policy document versions: %s", exc)
            self._stopping.wait(every_s)

    def _documents_changed(self) -> None:
        if self._corpus is not None:  # nothing to rebuild until something has used it
            self._corpus.invalidate_and_rebuild()

    def warm_in_background(self) -> None:
        """Pre-load every live version off the request path (at start, and when one is made live)."""

        def warm() -> None:
            try:
                with self.sessions() as session:
                    configs = live_configs(session)
            except Exception as exc:
                log.warning("could not list live versions to pre-load: %s", exc)
                return
            self.runtimes.warm(configs)

        self._background(warm, "shipyard-warm")

    def _background(self, target: Callable[..., None], name: str, *args: object) -> None:
        """A daemon thread that stop() waits for, so none holds a connection past dispose()."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _spool_at(self, directory: Path) -> tuple[Spool, Shipper]:
        rec = self.settings.recorder
        spool = Spool(directory, fsync=rec.fsync, segment_bytes=rec.segment_bytes)
        shipper = Shipper(
            spool, make_sink(self.sessions), batch=rec.ship_batch, interval_s=rec.ship_interval_ms / 1000
        )
        return spool, shipper

    def _ship_orphan(self, directory: Path) -> None:
        spool, shipper = self._spool_at(directory)
        spool.open()
        shipper.start()
        shipper.stop(drain=True, timeout_s=60)
        spool.close()

    def start(self) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.settings.serving.threads
        self.model_threads = ThreadPoolExecutor(
            self.settings.serving.threads, thread_name_prefix="shipyard-model"
        )
        self._slot = slots.claim(self.settings.spool_dir)
        self.spool, self.shipper = self._spool_at(self._slot.path)
        self.spool.open()
        self.shipper.start()
        self._background(slots.drain_orphans, "shipyard-orphans", self.settings.spool_dir, self._ship_orphan)
        self.bus.start(self.sessions, self.settings.cache.poll_seconds, self.settings.redis_url)
        self.warm_in_background()
        self._background(self._settle_documents, "shipyard-settle")
        if self.settings.monitoring.periodic_jobs:
            self._background(self.periodic.loop, "shipyard-periodic", self._stopping)
        if metrics.MULTIPROCESS:  # the other workers' scrapes read this one's state gauges from its files
            every = self.settings.monitoring.state_refresh_s
            self._background(metrics.sample_state, "shipyard-metrics", self._stopping, every)
        if self.settings.jobs.enabled:  # batch jobs run on this event loop, beside live traffic
            from shipyard.batchjobs.runner import JobRunner

            self.jobs = JobRunner.launch(self)
        self.started = True

    async def stop(self) -> None:
        self._stopping.set()
        if self.started:
            if self.jobs is not None:
                await self.jobs.stop()
            self.bus.stop()
            for thread in self._threads:
                thread.join(timeout=30)
            self.shipper.stop(drain=True)
            self.spool.close()
            if self._slot is not None:
                self._slot.release()
            self.lanes.close()
            self.model_threads.shutdown(wait=False, cancel_futures=True)
            self.runtimes.close()
            self.started = False
        metrics.unwatch(self)
        self.tracing.shutdown()
        if self._limiter is not None:
            await self._limiter.close()
            self._limiter = None
        await self.http.aclose()
        self.sync_transport.close()
        self.engine.dispose()

    @contextmanager
    def uow(self) -> Iterator[Session]:
        """One unit of work: the route or command that opens it owns the transaction."""
        with unit_of_work(self.sessions) as session:
            yield session

    async def service_config(self, slug: str) -> ServiceConfig:
        config = self.services.peek(slug)
        if config is None:
            config = await anyio.to_thread.run_sync(self.services.load, slug)
        return config

    def breaker(self, service: str, version_id: str, number: int, policy: BreakerPolicy) -> CircuitBreaker:
        breaker = self.breakers.get(version_id)
        if breaker is None:
            breaker = self.breakers[version_id] = CircuitBreaker(policy, label=f"{service} v{number}")
            self._version_labels[version_id] = (service, number)
        elif breaker.policy is not policy and breaker.policy != policy:
            breaker.policy = policy  # keeps its state; new thresholds apply from the next call
        return breaker

    def metric_samples(self) -> list[tuple[str, dict[str, str], float]]:
        """State gauges for /metrics: breakers, lanes and the spool of this process."""
        samples: list[tuple[str, dict[str, str], float]] = []
        for version_id, breaker in list(self.breakers.items()):
            service, number = self._version_labels[version_id]
            labels = {"service": service, "version": str(number)}
            samples.append(("shipyard_breaker_state", labels, STATE_VALUES[breaker.state]))
            lanes = self.lanes.for_version(version_id)
            stats = [lane.stats() for lane in lanes]
            samples.append(("shipyard_lane_in_flight", labels, sum(s.in_flight for s in stats)))
            samples.append(("shipyard_lane_queued", labels, sum(s.queued for s in stats)))
        if self.started:
            samples.append(("shipyard_spool_backlog_records", {}, self.spool.backlog()))
            samples.append(("shipyard_spool_backlog_bytes", {}, self.spool.backlog_bytes()))
        return samples

    @property
    def limiter(self) -> RateLimiter:
        """Per-caller rate limits: shared through Redis when configured, per process otherwise."""
        if self._limiter is None:
            from shipyard.guard.ratelimit import RateLimiter

            self._limiter = RateLimiter(self.settings.redis_url, clock=self.clock)
        return self._limiter

    def note_recorder_trouble(self, reason: str, *, served: bool) -> None:
        """The spool could not take a record: say so loudly, but not once per call."""
        self.recorder_trouble = reason
        now = time.monotonic()
        if now - self._recorder_trouble_logged >= 60:
            self._recorder_trouble_logged = now
            what = "answering calls without a record" if served else "refusing calls that must be recorded"
            log.error("recorder full: %s (on_recorder_full policy): %s", what, reason)

    def recorder_recovered(self) -> None:
        if self.recorder_trouble is not None:
            log.warning("recorder: records are being written again")
            self.recorder_trouble = None

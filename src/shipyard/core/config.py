"""One settings object, read from SHIPYARD_* environment variables, built once and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "dev", "development", "test", "xxx"}


class OIDCSettings(BaseModel):
    """SSO by bearer tokens: JWTs checked against the issuer's JWKS."""

    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None  # default: discovered from {issuer}/.well-known/openid-configuration
    algorithms: list[str] = ["RS256", "ES256"]
    username_claim: str = "preferred_username"
    roles_claim: str = "roles"
    # Maps an identity-provider role or group name to Shipyard roles.
    role_map: dict[str, list[str]] = Field(default_factory=dict)
    jwks_cache_seconds: int = 300
    leeway_seconds: int = 30

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


class AuthSettings(BaseModel):
    session_hours: float = 12.0
    cookie_secure: bool = True  # relaxed automatically for http://127.0.0.1 in development
    # Failed sign-ins: from `slow_after` failures on, each attempt must wait 2^(n - slow_after) s;
    # at `lock_after` the account is locked for `lock_minutes`.
    slow_after: int = 3
    lock_after: int = 10
    lock_minutes: float = 15.0
    oidc: OIDCSettings = Field(default_factory=OIDCSettings)


class ServingSettings(BaseModel):
    default_timeout_ms: int = 5000
    max_body_bytes: int = 1_048_576
    # Model artifacts and batch job files (POST .../versions, .../jobs); spooled to disk, not memory.
    max_upload_bytes: int = 1024 * 1024 * 1024
    threads: int = 40  # worker threads for model calls
    load_timeout_s: float = 120.0  # a cold model load may take this long before callers get 503


class RecorderSettings(BaseModel):
    spool_dir: Path | None = None  # default: {home}/spool
    fsync: bool = True
    ship_batch: int = 500
    ship_interval_ms: int = 200
    segment_bytes: int = 16 * 1024 * 1024
    # Unshipped records beyond this (the database has been down a long while) count as a full spool:
    # each service's policy then refuses calls or answers them unrecorded. 0: no cap but the disk.
    max_spool_bytes: int = 1024 * 1024 * 1024


class CacheSettings(BaseModel):
    # Without Redis, each process polls the database for changes this often.
    poll_seconds: float = 1.0


class JobSettings(BaseModel):
    """Batch scoring jobs: how each process's runner claims, paces and checkpoints them."""

    enabled: bool = True  # run jobs in this process (an API-only worker can leave them to others)
    poll_s: float = Field(2.0, gt=0)  # how often an idle runner looks for a job
    lease_s: float = Field(30.0, gt=0)  # a runner that stops renewing its claim this long loses the job
    chunk_rows: int = Field(100, ge=1)  # rows between checkpoints
    concurrency: int = Field(4, ge=1, le=64)  # a job's calls in flight at once, so live traffic goes first
    backoff_initial_s: float = Field(0.5, gt=0)  # first wait after a shed / rate-limited / unavailable row
    backoff_max_s: float = Field(30.0, gt=0)
    # A row refused this many times by a fault (breaker open, endpoint down, ...) becomes a dead letter;
    # shedding and rate limits are waited out however long they last.
    max_failing_tries: int = Field(20, ge=1)
    pickup_wait_s: float = Field(3.0, ge=0)  # `jobs submit --wait`: then the CLI runs the job itself


class DriftSettings(BaseModel):
    """Scheduled drift and data-quality checks of live inputs against each version's reference data."""

    interval_s: float = Field(900.0, gt=0)  # how often the check runs (once across all workers)
    window_s: float = Field(3600.0, gt=0)  # the live window compared: the last hour by default
    min_rows: int = Field(200, ge=1)  # fewer recorded calls in the window: no verdict, "insufficient data"
    max_rows: int = Field(50_000, ge=1)  # the newest calls of a window that are compared
    retention_days: float = Field(90.0, gt=0)  # stored runs older than this are deleted
    reference_max_rows: int = Field(200_000, ge=1)  # rows read from a reference file or window
    reference_min_rows: int = Field(50, ge=1)  # fewer rows make a reference too thin to judge against
    # Sorted values kept per numeric feature (KS and Wasserstein are exact up to this many): with
    # max_features this bounds a stored profile at about 110 KB per numeric feature.
    reference_sample: int = Field(10_000, ge=10_000)
    max_features: int = Field(200, ge=1)
    text_components: int = Field(8, ge=1, le=64)  # dimensions of the text embedding compared per text field
    max_profile_bytes: int = Field(16 * 1024 * 1024, ge=1024)


class RollupSettings(BaseModel):
    """Per-minute metric buckets built from recorded predictions, compacted into hours and days."""

    every_s: float = Field(60.0, gt=0)  # how often the rollup job runs
    # Each run recomputes the minute buckets of this recent window, so records that reach the database
    # late (the spool ships in batches, and holds records while the database is down) are counted.
    lookback_minutes: int = Field(120, ge=1)
    minute_retention_hours: float = Field(48.0, gt=0)
    hour_retention_days: float = Field(90.0, gt=0)
    day_retention_days: float = Field(730.0, gt=0)

    @model_validator(mode="after")
    def _sources_outlive_the_window(self) -> RollupSettings:
        # Hours are recomputed from minutes, and days from hours, over the window's first hour and day.
        if self.minute_retention_hours * 60 < self.lookback_minutes + 60:
            raise ValueError(
                "monitoring.rollups.minute_retention_hours must cover lookback_minutes plus one hour "
                f"(lookback {self.lookback_minutes} min needs at least "
                f"{(self.lookback_minutes + 60) / 60:g} h)"
            )
        if self.hour_retention_days * 24 * 60 < self.lookback_minutes + 24 * 60:
            raise ValueError(
                "monitoring.rollups.hour_retention_days must cover lookback_minutes plus one day "
                f"(lookback {self.lookback_minutes} min needs at least "
                f"{(self.lookback_minutes + 1440) / 1440:g} days)"
            )
        return self


class Price(BaseModel):
    """What one model's tokens cost, in `monitoring.currency` per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class MonitoringSettings(BaseModel):
    """Monitoring: background jobs (rollups, drift checks, alert evaluation), metrics and call cost."""

    # Run the periodic jobs in this process's background thread; each job still runs in only one
    # process per interval (a lease in the database), so every worker may leave this on.
    periodic_jobs: bool = True
    tick_s: float = Field(5.0, gt=0)  # how often the thread looks for a due job
    drift: DriftSettings = Field(default_factory=DriftSettings)
    rollups: RollupSettings = Field(default_factory=RollupSettings)
    # Token prices by the model name a runtime reports, e.g. {"gpt-4o-mini": {"input_per_million":
    # 0.15, "output_per_million": 0.6}}. A model without a price has its tokens counted, no cost.
    prices: dict[str, Price] = Field(default_factory=dict)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")  # what `cost` is in (ISO 4217)
    # With several worker processes, how often each one writes its state gauges (breakers, lanes,
    # spool backlog) for the others' scrapes: a gauge in /metrics is at most this old.
    state_refresh_s: float = Field(1.0, gt=0)
    # The accuracy gauges (shipyard_accuracy): labelled predictions of this many days, refreshed this often.
    accuracy_window_days: float = Field(7.0, gt=0)
    accuracy_every_s: float = Field(300.0, gt=0)
    # The review backlog gauges (shipyard_review_*): open tasks and their age, refreshed this often.
    review_backlog_every_s: float = Field(30.0, gt=0)


class TracingSettings(BaseModel):
    """OpenTelemetry spans of the invoke path, exported over OTLP/HTTP; off while no endpoint is set."""

    # The collector's traces URL, e.g. http://otel-collector:4318/v1/traces (needs the `otel` extra).
    otlp_endpoint: str | None = None
    service_name: str = "shipyard"  # the resource's service.name, as trace backends list it
    # Share of new traces kept; a call that arrives with a traceparent follows its caller's decision.
    sample_ratio: float = Field(1.0, ge=0, le=1)
    headers: dict[str, SecretStr] = Field(default_factory=dict)  # e.g. an API key the collector wants
    timeout_s: float = Field(10.0, gt=0)  # per export request

    @property
    def enabled(self) -> bool:
        return bool(self.otlp_endpoint)


class SmtpSettings(BaseModel):
    """The mail server alert e-mails are sent through (stdlib smtplib)."""

    host: str | None = None  # unset: e-mail channels fail their deliveries with a clear error
    port: int = Field(587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "shipyard@localhost"  # the From address
    starttls: bool = True  # upgrade a plain connection with STARTTLS (port 587)
    ssl: bool = False  # implicit TLS from the first byte (port 465); overrides starttls
    timeout_s: float = Field(10.0, gt=0)


class AlertSettings(BaseModel):
    """Alert evaluation and notification delivery (see docs/alerts.md)."""

    enabled: bool = True  # evaluate rules in the periodic job
    evaluate_every_s: float = Field(30.0, gt=0)
    # A firing alert is notified once, then again every repeat interval while it keeps firing.
    repeat_interval_s: float = Field(4 * 3600.0, gt=0)
    delivery_attempts: int = Field(4, ge=1, le=20)  # per notification per evaluation round
    delivery_backoff_s: float = Field(1.0, ge=0)  # wait before the 2nd attempt; doubles each time
    delivery_backoff_max_s: float = Field(30.0, ge=0)
    delivery_timeout_s: float = Field(10.0, gt=0)
    # Where rules' default runbook links point: the runbook pages of docs/, wherever you publish them.
    runbook_base_url: str = "docs/runbooks"  # e.g. https://wiki.example.com/shipyard/runbooks
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)


class AssistantSettings(BaseModel):
    """The policy assistant: OCR of scanned uploads and the optional generation endpoint."""

    ocr_dpi: int = Field(200, ge=72, le=600)  # scans are rendered at this resolution for tesseract
    ocr_workers: int = Field(2, ge=1, le=32)  # pages OCR'd at once
    ocr_min_confidence: float = Field(0.75, ge=0, le=1)  # below it, a page is reported as hard to read
    # PyTorch threads for the embedding model. A question is a few dozen tokens: one thread answers it
    # in ~20 ms, while two threads on a busy 2-core machine spin-wait on each other (~200 ms).
    embedder_threads: int = Field(1, ge=1, le=64)
    # Documents of these topics are kept, shown and audited like any other, but never answered from:
    # the assistant answers from insurers' billing policies, not from a memo or a press release that
    # was uploaded beside them.
    out_of_scope_topics: list[str] = Field(default_factory=lambda: ["other"])
    # Generation through any OpenAI-compatible endpoint (e.g. http://llm:8000/v1); off when unset.
    llm_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_ms: int = Field(8000, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", env_nested_delimiter="__", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = Path(".shipyard")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    auth: AuthSettings = Field(default_factory=AuthSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    recorder: RecorderSettings = Field(default_factory=RecorderSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'shipyard.db'}"
        if self.recorder.spool_dir is None:
            self.recorder.spool_dir = self.home / "spool"
        if self.secret_key is None:
            key_file = self.home / "secret.key"
            if key_file.exists():
                self.secret_key = SecretStr(key_file.read_text().strip())
        if self.env == "production":
            secret = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(secret) < 32 or secret.lower() in _PLACEHOLDERS:
                raise ValueError(
                    "SHIPYARD_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
        return self

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def documents_dir(self) -> Path:
        return self.home / "documents"

    @property
    def spool_dir(self) -> Path:
        assert self.recorder.spool_dir is not None
        return self.recorder.spool_dir

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def secret(self) -> str:
        if self.secret_key is None:
            raise ValueError(f"no secret key: run `shipyard init` or set SHIPYARD_SECRET_KEY ({self.home})")
        return self.secret_key.get_secret_value()

"""Creating and reusing an embedded instance: a folder with the SQLite database, secret, spool and
artifacts; the admin user; the example services."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shipyard.audit.service import Actor
from shipyard.auth import service as auth
from shipyard.auth.models import User
from shipyard.auth.principal import Principal
from shipyard.auth.schemas import KeyCreate, UserCreate
from shipyard.core.config import Settings
from shipyard.db.engine import make_engine
from shipyard.db.migrate import upgrade
from shipyard.db.session import make_sessionmaker, unit_of_work
from shipyard.registry import service as registry
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.models import Service
from shipyard.registry.schemas import ServiceCreate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InitResult:
    settings: Settings
    created: bool  # False when an existing instance was reused
    admin: str
    admin_password: str | None  # only when the admin was created now
    examples: list[str]


def ensure_secret(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    key_file = home / "secret.key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))


def init_instance(settings: Settings, *, admin: str = "admin", examples: bool = True) -> InitResult:
    """Idempotent: migrate, create the admin if there are no users, register missing examples."""
    if settings.is_sqlite:
        ensure_secret(settings.home)
        settings = Settings.model_validate(settings.model_dump(exclude={"secret_key"}))  # reads the key
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    actor = Actor.system("shipyard-init")
    password = None
    made: list[str] = []
    try:
        with unit_of_work(factory) as session:
            created = not session.scalar(select(func.count()).select_from(User))
            if created:
                _, password = auth.create_user(
                    session, actor, UserCreate(username=admin, display_name="Administrator", roles=["admin"])
                )
        if examples:
            store = ArtifactStore(settings.artifacts_dir)
            made = register_examples(factory, actor, store, admin)
            made += register_assistant(settings, factory, actor, store, admin)
    finally:
        engine.dispose()
    return InitResult(settings, created, admin, password, made)


def register_examples(factory: object, actor: Actor, store: ArtifactStore, owner: str) -> list[str]:
    """Register claims-triage (trained now on the seeded synthetic generator) if it is missing."""
    from shipyard.assistants.claims_triage import CLAIMS_TRIAGE, INPUT_SCHEMA, OUTPUT_SCHEMA, train
    from shipyard.serving.policy import RuntimePolicy

    with unit_of_work(factory) as session:  # type: ignore[arg-type]
        if session.scalar(select(Service.id).where(Service.slug == CLAIMS_TRIAGE["slug"])):
            return []
        registry.create_service(
            session,
            actor,
            ServiceCreate(
                **CLAIMS_TRIAGE,
                owner=owner,
                input_schema=INPUT_SCHEMA,
                output_schema=OUTPUT_SCHEMA,
                latency_slo_ms=200,
                timeout_ms=2000,
                # When the model fails, a person looks at the claim instead of the caller getting an error.
                policy=RuntimePolicy.model_validate(
                    {
                        "fallbacks": [
                            {
                                "kind": "fixed",
                                "output": "specialist",
                                "message": "The model could not answer; routed to a specialist for review.",
                            }
                        ],
                        # An uncertain routing decision goes out, and a person checks it afterwards.
                        "review": {"low_confidence": 0.6, "action": "queue"},
                    }
                ),
            ),
        )
        registry.register_object(
            session,
            actor,
            store,
            CLAIMS_TRIAGE["slug"],
            train(),
            description="HistGradientBoosting on 6,000 synthetic claims (seed 7)",
            make_live=True,
        )
    return [CLAIMS_TRIAGE["slug"]]


def register_assistant(
    settings: Settings, factory: sessionmaker[Session], actor: Actor, store: ArtifactStore, owner: str
) -> list[str]:
    """Register the billing-policy-assistant when the assistant extra is installed."""
    try:
        from shipyard.assistants.policy import setup
        from shipyard.assistants.policy.live import LiveCorpus  # noqa: F401  # the extra is present
    except ImportError as exc:
        log.info("not registering the policy assistant: %s (pip install 'shipyard[assistant]')", exc)
        return []
    return setup.register(settings, factory, actor, store, owner)


def issue_key(
    settings: Settings,
    username: str,
    name: str,
    roles: list[str],
    services: list[str] | None = None,
    expires_in_days: float | None = 30,
    actor: Actor | None = None,
) -> str:
    """Create an API key for a user from the command line; returns the secret."""
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            user = auth.get_user(session, username)
            caller = Principal(
                id=user.id, name=user.username, kind="user", roles=frozenset(user.roles), user_id=user.id
            )
            _, secret = auth.create_key(
                session,
                actor or Actor.system("shipyard-cli"),
                caller,
                KeyCreate(name=name, roles=roles, services=services, expires_in_days=expires_in_days),
            )
            return secret
    finally:
        engine.dispose()

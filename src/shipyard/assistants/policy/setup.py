"""Registering the billing-policy-assistant service on an instance (by `shipyard init` and `demo`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shipyard.assistants.policy.calibration import Calibration
from shipyard.assistants.policy.definition import INPUT_SCHEMA, OUTPUT_SCHEMA, SERVICE, SLUG
from shipyard.audit.service import Actor
from shipyard.core.config import Settings
from shipyard.db.session import unit_of_work
from shipyard.registry import service as registry
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.models import Service
from shipyard.registry.schemas import ServiceCreate, VersionCreate
from shipyard.serving.policy import RuntimePolicy

if TYPE_CHECKING:
    from shipyard.assistants.policy.live import LiveCorpus

ENTRYPOINT = "shipyard.assistants.policy.runtime:PolicyAssistant"

# When the assistant itself fails, staff get a plain "cannot answer now" rather than an error page.
FALLBACK_ANSWER = {
    "answered": False,
    "answer": (
        "The assistant cannot answer right now. Check the policy documents or ask the billing policy desk."
    ),
    "citations": [],
    "reason": "the assistant failed; this is the service's fixed fallback answer",
    "snapshot": "none",
    "retrieved": [],
}


def is_registered(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return session.scalar(select(Service.id).where(Service.slug == SLUG)) is not None


def register(
    settings: Settings,
    factory: sessionmaker[Session],
    actor: Actor,
    store: ArtifactStore,
    owner: str | None,
    corpus: LiveCorpus | None = None,
) -> list[str]:
    """Create the service and make version 1 live, if the service is missing. Loads the embedder."""
    if is_registered(factory):
        return []
    from shipyard.assistants.policy.live import LiveCorpus

    corpus = corpus or LiveCorpus.for_home(
        factory, settings.documents_dir, settings.secret(), settings.assistant
    )
    with unit_of_work(factory) as session:
        registry.create_service(
            session,
            actor,
            ServiceCreate(
                **SERVICE,
                owner=owner,
                input_schema=INPUT_SCHEMA,
                output_schema=OUTPUT_SCHEMA,
                latency_slo_ms=500,
                timeout_ms=15000,  # room for an optional generation endpoint; extractive answers take ms
                policy=RuntimePolicy.model_validate(
                    {
                        "fallbacks": [
                            {"kind": "fixed", "output": FALLBACK_ANSWER, "message": FALLBACK_ANSWER["answer"]}
                        ]
                    }
                ),
            ),
        )
        registry.register_version(
            session,
            actor,
            store,
            SLUG,
            VersionCreate(
                loader="callable",
                entrypoint=ENTRYPOINT,
                returns_confidence=True,
                # The calibration goes into the version, so the version answers the same after an upgrade.
                config={"init_kwargs": {"calibration": Calibration.load().to_dict()}},
                description="Hybrid BM25 + MiniLM retrieval, extractive cited answers, calibrated abstention",
                make_live=True,
            ),
            host={"corpus": corpus, "settings": settings},
            timeout_s=60,
        )
    return [SLUG]

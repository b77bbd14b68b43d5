"""Batch job tests run with a runner that polls often, checkpoints every few rows and backs off briefly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.core.config import JobSettings, Settings
from tests.batchjobs import models

FAST_JOBS = JobSettings(
    poll_s=0.05,
    lease_s=5.0,
    chunk_rows=5,
    concurrency=4,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    max_failing_tries=3,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"jobs": FAST_JOBS})


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    models.reset()
    yield
    models.GATE.set()  # never leave a model thread waiting
    models.reset()

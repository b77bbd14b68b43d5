"""The real MiniLM embedder, loaded once per test session, and an index over the fixture passages."""

from __future__ import annotations

import pytest

from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import PolicyIndex, embed_passages
from tests.assistants.policy.fixtures import PASSAGES


@pytest.fixture(scope="session")
def embedder(shared_embedder: Embedder) -> Embedder:
    """The test session's one embedder (tests/conftest.py): loading it takes seconds."""
    return shared_embedder


@pytest.fixture(scope="session")
def index(embedder: Embedder) -> PolicyIndex:
    return PolicyIndex.build(PASSAGES, embed_passages(embedder, PASSAGES))

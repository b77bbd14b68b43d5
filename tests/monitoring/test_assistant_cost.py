"""The policy assistant's generation endpoint reports token usage: it lands on the prediction, priced."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shipyard.assistants.policy.definition import SLUG
from shipyard.core.config import Settings
from tests.assistants.policy.test_service import MRI_SPEED, ask, llm, recorded, staff
from tests.factories import World
from tests.llm_server import FakeLLM

__all__ = ["llm", "staff"]  # fixtures, used by name


@pytest.fixture
def settings(db_url: str, tmp_path: Path, llm: FakeLLM) -> Settings:
    return Settings(
        env="test",
        home=tmp_path / "home",
        database_url=db_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        assistant={"llm_url": llm.url, "llm_model": "fake-1", "llm_timeout_ms": 2000},
        monitoring={
            "periodic_jobs": False,
            "prices": {"fake-1": {"input_per_million": 1, "output_per_million": 4}},
        },
    )  # type: ignore[arg-type]


async def test_generated_answers_record_their_tokens_and_cost(
    client: httpx.AsyncClient, world: World, staff: str, llm: FakeLLM
) -> None:
    world.version(
        SLUG,
        "shipyard.assistants.policy.runtime:PolicyAssistant",
        make_live=True,
        config={"init_kwargs": {"generate": True}},
    )
    llm.mode = "ok"
    body = await ask(client, staff, MRI_SPEED)
    assert body["output"]["generation"]["status"] == "generated"

    row = await recorded(world, body["request_id"])

    # FakeLLM reports 100 prompt and 20 completion tokens, under the model it was asked for.
    assert (row.tokens_in, row.tokens_out) == (100, 20)
    assert row.cost == pytest.approx((100 * 1 + 20 * 4) / 1e6)
    assert row.cpu_ms is not None and row.cpu_ms > 0  # retrieval and embedding ran in process

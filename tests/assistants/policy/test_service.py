"""The billing-policy-assistant as a Shipyard service: cited answers from the version in force,
evidence on record, abstention, the OpenAI-compatible route, and generation with its fallback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import openai
import pytest
from sqlalchemy import select

from shipyard.assistants.policy import setup
from shipyard.assistants.policy.answer import ABSTAIN_TEXT
from shipyard.assistants.policy.definition import SLUG
from shipyard.core.config import Settings
from shipyard.serving.models import Prediction
from tests.documents.test_documents_api import MRI_2024, MRI_2025, PT_2024, upload
from tests.factories import World, bearer
from tests.llm_server import FakeLLM
from tests.web.test_pages import HTML, sign_in

MRI_SPEED = (
    "Within how many business days are Northwind Health prior authorization requests "
    "for a lumbar spine MRI decided?"
)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM(slow_s=2.0)
    yield server
    server.down()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, llm: FakeLLM) -> Settings:
    return Settings(
        env="test",
        home=tmp_path / "home",
        database_url=db_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        assistant={"llm_url": llm.url, "llm_model": "fake-1", "llm_timeout_ms": 500},
    )  # type: ignore[arg-type]


@pytest.fixture
async def staff(client: httpx.AsyncClient, world: World, corpus: Any) -> str:
    """An owner who loaded two versions of the MRI policy, and the assistant registered and live."""
    key = world.user_with_key("sam", ["owner"])
    for name, text, version, day in (
        ("mri-2024.md", MRI_2024, "2024.1", "2024-01-01"),
        ("mri-2025.md", MRI_2025, "2025.1", "2025-01-01"),
    ):
        reply = await upload(client, key, name, text, doc_key="nwh-mri", version=version, effective_date=day)
        assert reply.status_code == 201, reply.text
    ctx = world.ctx
    await anyio.to_thread.run_sync(
        lambda: setup.register(ctx.settings, ctx.sessions, world.actor(), ctx.store, "sam", corpus)
    )
    return key


async def ask(client: httpx.AsyncClient, key: str, question: str) -> dict[str, Any]:
    reply = await client.post(
        f"/v1/services/{SLUG}/invoke", json={"inputs": {"question": question}}, headers=bearer(key)
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def recorded(world: World, request_id: str) -> Prediction:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    with world.ctx.sessions() as s:
        row = s.scalar(select(Prediction).where(Prediction.request_id == request_id))
    assert row is not None
    return row


async def test_answers_from_the_version_in_force_and_records_the_evidence(
    client: httpx.AsyncClient, world: World, staff: str
) -> None:
    body = await ask(client, staff, MRI_SPEED)
    out = body["output"]
    assert (body["outcome"], out["answered"]) == ("served", True)
    assert out["citations"] and {(c["doc_key"], c["version"]) for c in out["citations"]} == {
        ("nwh-mri", "2025.1")
    }
    assert any("2 business days" in c["quote"] for c in out["citations"])
    assert all(
        r["version"] == "2025.1" for r in out["retrieved"] if r["doc_key"] == "nwh-mri"
    )  # never the old one
    # The quote is an exact span of the cited passage, so the answer can be checked against the source.
    cited = out["citations"][0]
    passages = (
        await client.get(f"/v1/documents/{cited['document_id']}/passages", headers=bearer(staff))
    ).json()
    source = next(p["text"] for p in passages if p["id"] == cited["passage_id"])
    assert source[cited["start"] : cited["end"]] == cited["quote"]
    # The record names the corpus snapshot and every retrieved passage with its version and scores.
    snapshot = (await client.get("/v1/corpus", headers=bearer(staff))).json()["snapshot"]
    row = await recorded(world, body["request_id"])
    assert row.output["snapshot"] == snapshot and row.outcome == "served"
    assert row.output["retrieved"] == out["retrieved"] and {"score", "bm25", "dense", "page"} <= set(
        out["retrieved"][0]
    )
    assert row.confidence == body["confidence"]


async def test_abstains_and_says_so(client: httpx.AsyncClient, world: World, staff: str) -> None:
    body = await ask(client, staff, "Does Northwind Health cover acupuncture for chronic migraine?")
    out = body["output"]
    assert (body["outcome"], out["answered"], out["answer"]) == ("abstained", False, ABSTAIN_TEXT)
    assert out["citations"] == [] and out["closest"] and "threshold" in out["reason"]
    row = await recorded(world, body["request_id"])
    assert row.outcome == "abstained"


async def test_the_index_follows_uploads_without_a_restart(
    client: httpx.AsyncClient, world: World, staff: str
) -> None:
    question = "How many physical therapy visits per year does Northwind Health cover?"
    before = await ask(client, staff, question)
    assert before["outcome"] == "abstained"
    await upload(client, staff, "pt.md", PT_2024, topic="therapy/pt", effective_date="2024-01-01")
    after = await ask(client, staff, question)
    assert after["outcome"] == "served", after["output"]["reason"]
    assert any("20 visits" in c["quote"] for c in after["output"]["citations"])
    assert after["output"]["snapshot"] != before["output"]["snapshot"]


async def test_documents_outside_the_assistants_scope_are_stored_but_never_quoted(
    client: httpx.AsyncClient, world: World, staff: str
) -> None:
    # the same text that answers once filed as a therapy policy (above), filed under topic "other"
    question = "How many physical therapy visits per year does Northwind Health cover?"
    before = await ask(client, staff, question)
    reply = await upload(client, staff, "pt.md", PT_2024, topic="Other", effective_date="2024-01-01")
    assert reply.status_code == 201, reply.text
    assert reply.json()["document"]["status"] == "active"  # kept and listed like any document
    after = await ask(client, staff, question)
    assert after["outcome"] == "abstained", after["output"]["reason"]
    assert after["output"]["snapshot"] != before["output"]["snapshot"]  # the set of documents changed
    shown = after["output"]["retrieved"] + after["output"]["closest"]
    assert all(r["doc_key"] == "nwh-mri" for r in shown), "an out-of-scope passage was shown"
    # the supervisor's page says so beside the document
    world.user("sue", ["owner"])
    await sign_in(client, "sue")
    listed = (await client.get("/documents", headers=HTML)).text
    marked = re.findall(r'<tr data-document="([^"]+)"[^>]*>(?:(?!</tr>).)*data-out-of-scope', listed, re.S)
    assert marked == [reply.json()["document"]["id"]]
    detail = (await client.get(f"/documents/{marked[0]}", headers=HTML)).text
    assert "data-out-of-scope" in detail and "answers never come from it" in detail


async def test_a_rule_only_the_superseded_version_states_is_not_answered_from_it(
    client: httpx.AsyncClient, world: World, staff: str
) -> None:
    pt_2023 = (
        PT_2024 + "\nAquatic therapy in a heated pool is covered for up to 8 sessions per calendar year.\n"
    )
    for name, text, version, day in (
        ("pt-2023.md", pt_2023, "2023.1", "2023-01-01"),
        ("pt-2024.md", PT_2024, "2024.1", "2024-01-01"),
    ):
        reply = await upload(
            client,
            staff,
            name,
            text,
            doc_key="nwh-pt",
            version=version,
            topic="therapy/pt",
            effective_date=day,
        )
        assert reply.status_code == 201, reply.text
    body = await ask(
        client, staff, "How many aquatic therapy pool sessions a year does Northwind Health cover?"
    )
    out = body["output"]
    assert (out["superseded"]["doc_key"], out["superseded"]["version"]) == ("nwh-pt", "2023.1")
    assert out["superseded"]["coverage_gap"] > 0
    assert (body["outcome"], out["citations"]) == ("abstained", [])
    assert "no longer in force (nwh-pt v2023.1" in out["reason"]
    # the old version is evidence only: never retrieved for quoting, never shown as a closest passage
    assert all(r["version"] != "2023.1" for r in out["retrieved"])
    assert all(c["version"] != "2023.1" for c in out["closest"])
    # a rule both versions state is answered from the one in force, with no superseded signal to speak of
    same = (
        await ask(client, staff, "How many physical therapy visits per year does Northwind Health cover?")
    )["output"]
    assert same["answered"] and {c["version"] for c in same["citations"]} == {"2024.1"}
    assert same["superseded"]["coverage_gap"] <= 0


async def test_the_official_openai_client_can_ask(app: Any, world: World, staff: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        client = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=staff, http_client=http)
        reply = await client.chat.completions.create(
            model=SLUG,
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": MRI_SPEED}],
        )
        text = reply.choices[0].message.content or ""
        assert "2 business days" in text and "Sources:" in text and "version 2025.1" in text
        extra = reply.model_extra or {}
        assert extra["shipyard"]["outcome"] == "served" and extra["shipyard"]["request_id"]
        stream = await client.chat.completions.create(
            model=SLUG, messages=[{"role": "user", "content": MRI_SPEED}], stream=True
        )
        chunks = [c.choices[0].delta.content or "" async for c in stream]
        assert "2 business days" in "".join(chunks)
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-service", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.UnprocessableEntityError):
            await client.chat.completions.create(
                model=SLUG, messages=[{"role": "system", "content": "no question"}]
            )


async def test_generation_is_used_when_the_provider_answers_and_skipped_when_it_does_not(
    client: httpx.AsyncClient, world: World, staff: str, llm: FakeLLM
) -> None:
    world.version(
        SLUG,
        "shipyard.assistants.policy.runtime:PolicyAssistant",
        make_live=True,
        config={"init_kwargs": {"generate": True}},
    )
    llm.mode = "ok"
    good = (await ask(client, staff, MRI_SPEED))["output"]
    assert good["generation"]["status"] == "generated" and good["answer"].startswith(
        "According to the policy"
    )
    assert "[1]" in good["answer"] and good["citations"]
    prompt = llm.requests[-1]["messages"][-1]["content"]
    assert "2 business days" in prompt  # the provider is given the retrieved passages, nothing else
    for mode, why in (
        ("error", "answered 500"),
        ("slow", "did not answer in time"),
        ("uncited", "cites no passage"),
    ):
        llm.mode = mode
        out = (await ask(client, staff, MRI_SPEED))["output"]
        assert (out["generation"]["status"], out["answered"]) == ("fallback", True), mode
        assert (
            why in out["generation"]["error"] and "2 business days" in out["answer"]
        )  # the extractive answer
    llm.down()
    try:
        out = (await ask(client, staff, MRI_SPEED))["output"]
        # After repeated failures the breaker stops waiting on the provider at all.
        assert out["generation"]["status"] in {"fallback", "skipped"} and "2 business days" in out["answer"]
    finally:
        llm.up()
        llm.mode = "ok"


async def test_bad_insurers_are_refused_without_opening_the_breaker(
    client: httpx.AsyncClient, world: World, staff: str
) -> None:
    for _ in range(7):  # more than the breaker's threshold of consecutive failures
        reply = await client.post(
            f"/v1/services/{SLUG}/invoke",
            json={"inputs": {"question": MRI_SPEED, "insurer": "Nowhere Mutual"}},
            headers=bearer(staff),
        )
        assert (reply.status_code, reply.json()["code"]) == (422, "unknown_insurer")
        assert "Northwind Health" in reply.json()["detail"]
    assert (await ask(client, staff, MRI_SPEED))["outcome"] == "served"


async def test_an_unreadable_corpus_falls_back_and_a_stale_one_still_answers(
    client: httpx.AsyncClient, world: World, staff: str, corpus: Any
) -> None:
    from shipyard.documents.vault import DocumentVault

    assert (await ask(client, staff, MRI_SPEED))["outcome"] == "served"
    # The instance secret changed: passages no longer decrypt. The last snapshot keeps answering...
    corpus.vault = DocumentVault(
        world.ctx.settings.documents_dir, "another-secret-that-is-long-enough-012345"
    )
    corpus.invalidate()
    assert (await ask(client, staff, MRI_SPEED))["outcome"] == "served"
    # ...and with no snapshot to fall back on, the service's fixed answer says it cannot answer now.
    corpus._state = None
    body = await ask(client, staff, MRI_SPEED)
    assert (body["outcome"], body["fallback"]["cause"]) == ("fallback", "corpus_unreadable")
    assert body["output"]["answered"] is False and "cannot answer right now" in body["output"]["answer"]


async def test_process_isolation_is_refused_for_the_assistant(client: httpx.AsyncClient, staff: str) -> None:
    reply = await client.put(
        f"/v1/services/{SLUG}/policy", json={"isolation": {"mode": "process"}}, headers=bearer(staff)
    )
    assert (reply.status_code, reply.json()["code"]) == (422, "bad_policy")
    assert "cannot run in a separate process" in reply.json()["detail"]
    assert (await ask(client, staff, MRI_SPEED))["outcome"] == "served"  # the policy in force is unchanged


async def test_the_version_carries_its_calibration(
    client: httpx.AsyncClient, world: World, staff: str
) -> None:
    from shipyard.assistants.policy.calibration import Calibration
    from shipyard.core.errors import InvalidInput

    versions = (await client.get(f"/v1/services/{SLUG}/versions", headers=bearer(staff))).json()
    stored = versions[0]["config"]["init_kwargs"]["calibration"]
    assert stored == Calibration.load().to_dict()  # a refit shipped file will not change version 1
    with pytest.raises(InvalidInput, match="init_kwargs.calibration"):
        world.version(SLUG, setup.ENTRYPOINT, config={"init_kwargs": {"calibration": {"features": []}}})

"""Uploading policy documents: versions supersede, duplicates are reported, reads are audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.documents import service as documents
from shipyard.documents.models import DocumentPassage
from tests.factories import World, bearer

pytestmark = pytest.mark.usefixtures("corpus")

MRI_2024 = """# Northwind Health: Advanced imaging — MRI

## Prior authorization

Prior authorization is required for MRI of the lumbar spine (CPT 72148, 72149, 72158).
Requests are submitted through the provider portal and decided within 3 business days.

## Conservative therapy

Six weeks of conservative therapy must precede a lumbar MRI unless red-flag symptoms are present.
"""
MRI_2025 = MRI_2024.replace("within 3 business days", "within 2 business days").replace(
    "Six weeks", "Four weeks"
)
PT_2024 = """# Northwind Health: Physical therapy

Physical therapy is covered for up to 20 visits per calendar year. Visits beyond 20 need a
medical necessity review with progress notes. Group therapy sessions count as one visit each.
"""


def form(**fields: str) -> dict[str, str]:
    return {"insurer": "Northwind Health", "topic": "imaging/mri"} | fields


async def upload(
    client: httpx.AsyncClient, key: str, name: str, text: str | bytes, **fields: str
) -> httpx.Response:
    body = text.encode() if isinstance(text, str) else text
    return await client.post(
        "/v1/documents", files={"file": (name, body)}, data=form(**fields), headers=bearer(key)
    )


def audit(world: World, action: str) -> list[AuditEvent]:
    with world.ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_a_new_version_supersedes_and_the_snapshot_changes(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("sam", ["owner"])
    first = await upload(
        client, key, "mri-2024.md", MRI_2024, doc_key="nwh-mri", version="2024.1", effective_date="2024-01-01"
    )
    assert first.status_code == 201, first.text
    v1 = first.json()["document"]
    assert (v1["status"], v1["format"], v1["title"]) == (
        "active",
        "markdown",
        "Northwind Health: Advanced imaging — MRI",
    )
    assert v1["passages"] >= 2
    before = (await client.get("/v1/corpus", headers=bearer(key))).json()

    second = await upload(
        client, key, "mri-2025.md", MRI_2025, doc_key="nwh-mri", version="2025.1", effective_date="2025-01-01"
    )
    assert second.status_code == 201, second.text
    assert second.json()["superseded"] == [v1["id"]]
    versions = (await client.get("/v1/documents", params={"doc_key": "nwh-mri"}, headers=bearer(key))).json()
    assert [(d["version"], d["status"]) for d in versions] == [("2025.1", "active"), ("2024.1", "superseded")]
    assert versions[1]["superseded_by"] == second.json()["document"]["id"]
    after = (await client.get("/v1/corpus", headers=bearer(key))).json()
    assert after["snapshot"] != before["snapshot"] and after["active_documents"] == 1
    assert [e.target_id for e in audit(world, "document.status")] == [v1["id"]]

    # Withdrawn in error: the previous version is in force again, and the snapshot is the old one.
    withdrawn = await client.post(
        f"/v1/documents/{second.json()['document']['id']}/withdraw",
        json={"reason": "published in error"},
        headers=bearer(key),
    )
    assert withdrawn.json()["status"] == "withdrawn"
    again = (await client.get("/v1/corpus", headers=bearer(key))).json()
    assert again["snapshot"] == before["snapshot"]
    assert again["by_status"] == {"active": 1, "withdrawn": 1}

    # Withdrawn by mistake: the same file and version can be uploaded again, and are in force again.
    fixed = await upload(
        client, key, "mri-2025.md", MRI_2025, doc_key="nwh-mri", version="2025.1", effective_date="2025-01-01"
    )
    assert (fixed.status_code, fixed.json()["document"]["status"]) == (201, "active")
    assert fixed.json()["superseded"] == [v1["id"]]


async def test_an_older_or_future_version_does_not_take_over(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("sam", ["owner"])
    await upload(
        client, key, "mri-2025.md", MRI_2025, doc_key="nwh-mri", version="2025.1", effective_date="2025-01-01"
    )
    late = await upload(
        client, key, "mri-2024.md", MRI_2024, doc_key="nwh-mri", version="2024.1", effective_date="2024-01-01"
    )
    assert late.json()["document"]["status"] == "superseded"  # uploaded late, but older
    future = await upload(
        client,
        key,
        "mri-2099.md",
        MRI_2025 + "\nNew rule.\n",
        doc_key="nwh-mri",
        version="2099.1",
        effective_date="2099-01-01",
    )
    assert future.json()["document"]["status"] == "pending"  # not in force until its day
    world.ctx.clock.advance(days=365 * 80)  # type: ignore[attr-defined]  # the FrozenClock
    with world.ctx.uow() as s:  # what the server's hourly settle does
        changed = documents.settle_all(s, world.actor())
    assert [(d.version, d.status) for d in changed] == [("2025.1", "superseded"), ("2099.1", "active")]


async def test_duplicates_are_reported_not_indexed_twice(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("sam", ["owner"])
    first = await upload(client, key, "mri.md", MRI_2024, effective_date="2024-01-01")
    assert first.status_code == 201
    same = await upload(client, key, "copy-of-mri.md", MRI_2024, effective_date="2024-01-01")
    assert same.status_code == 200
    assert (same.json()["outcome"], same.json()["duplicate_of"]["id"]) == (
        "duplicate",
        first.json()["document"]["id"],
    )
    # The same text laid out differently (here: other spacing) is the same document.
    retyped = await upload(
        client,
        key,
        "mri-spaced.md",
        MRI_2024.replace("\n\n", "\n\n\n").replace(" ", "  "),
        effective_date="2024-01-01",
    )
    assert retyped.json()["outcome"] == "duplicate"
    # Nearly the same text under another policy key: kept, reported, not indexed.
    near = await upload(
        client,
        key,
        "mri-draft.md",
        MRI_2024 + "\nReviewed annually.\n",
        doc_key="nwh-mri-draft",
        effective_date="2024-02-01",
    )
    assert near.status_code == 201
    doc = near.json()["document"]
    assert doc["status"] == "duplicate" and doc["duplicate_of"] == first.json()["document"]["id"]
    assert [p["code"] for p in near.json()["problems"]] == ["near_duplicate"]
    assert doc["passages"] == 0
    corpus = (await client.get("/v1/corpus", headers=bearer(key))).json()
    assert corpus["active_documents"] == 1


async def test_passages_are_encrypted_and_every_read_is_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("sam", ["owner"])
    reader = world.user_with_key("rita", ["consumer"])
    doc = (
        await upload(client, key, "pt.md", PT_2024, topic="therapy/pt", effective_date="2024-01-01")
    ).json()["document"]
    with world.ctx.sessions() as s:
        stored = list(s.scalars(select(DocumentPassage.text)))
    assert stored and all(b"visits" not in blob for blob in stored)
    passages = await client.get(f"/v1/documents/{doc['id']}/passages", headers=bearer(reader))
    assert any("20 visits" in p["text"] for p in passages.json())
    file = await client.get(f"/v1/documents/{doc['id']}/file", headers=bearer(reader))
    assert file.content == PT_2024.encode()
    reads = audit(world, "document.read")
    assert [e.after["what"] for e in reads] == ["passages", "file"]
    assert all(e.actor.startswith("key:") and e.target_id == doc["id"] for e in reads)


async def test_bad_uploads_say_what_is_wrong(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("sam", ["owner"])
    consumer = world.user_with_key("rita", ["consumer"])
    refused = await upload(client, consumer, "pt.md", PT_2024, effective_date="2024-01-01")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    meta = await client.post(
        "/v1/documents",
        files={"file": ("pt.md", PT_2024.encode())},
        data={"effective_date": "soon"},
        headers=bearer(key),
    )
    body: dict[str, Any] = meta.json()
    assert (meta.status_code, body["code"]) == (422, "bad_document_meta")
    assert {e["loc"] for e in body["errors"]} == {"insurer", "topic", "effective_date"}
    junk = await upload(
        client, key, "scan.png", b"\x89PNG\r\n\x1a\n" + bytes(64), effective_date="2024-01-01"
    )
    assert (junk.status_code, junk.json()["code"]) == (422, "unsupported_format")
    empty = await upload(client, key, "empty.txt", b"", effective_date="2024-01-01")
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_document")
    bogus = await client.get("/v1/documents", params={"status": "bogus"}, headers=bearer(key))
    assert (bogus.status_code, bogus.json()["code"]) == (422, "bad_status")
    no_file = await client.post("/v1/documents", data=form(effective_date="2024-01-01"), headers=bearer(key))
    assert (no_file.status_code, no_file.json()["code"]) == (422, "no_file")


async def test_the_retired_corpus_holds_superseded_and_withdrawn_versions(
    client: httpx.AsyncClient, world: World, corpus: Any
) -> None:
    key = world.user_with_key("sam", ["owner"])
    ids = {}
    for name, text, version, day in (
        ("mri-2024.md", MRI_2024, "2024.1", "2024-01-01"),
        ("mri-2025.md", MRI_2025, "2025.1", "2025-01-01"),
    ):
        reply = await upload(client, key, name, text, doc_key="nwh-mri", version=version, effective_date=day)
        ids[version] = reply.json()["document"]["id"]

    def versions() -> tuple[set[tuple[str, str]], set[tuple[str, str]], str]:
        with world.ctx.sessions() as s:
            active = documents.active_corpus(s, corpus.vault)
            retired = documents.retired_corpus(s, corpus.vault)
        assert retired.embeddings.shape == (len(retired.passages), active.embeddings.shape[1])
        texts = " ".join(p.text for p in retired.passages)
        return (
            {(p.doc_key, p.version) for p in active.passages},
            {(p.doc_key, p.version) for p in retired.passages},
            texts,
        )

    active, retired, texts = versions()
    assert active == {("nwh-mri", "2025.1")} and retired == {("nwh-mri", "2024.1")}
    assert "within 3 business days" in texts  # decrypted, as the old version said it
    await client.post(
        f"/v1/documents/{ids['2025.1']}/withdraw", json={"reason": "error"}, headers=bearer(key)
    )
    active, retired, texts = versions()
    assert active == {("nwh-mri", "2024.1")} and retired == {("nwh-mri", "2025.1")}

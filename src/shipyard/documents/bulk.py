"""Loading many files at once (a folder, the demo corpus): read in parallel, store in order.

Reading (extraction, OCR, embeddings) runs on a small thread pool, since OCR is subprocesses and the
embedder releases the GIL; storing stays in the given order, one short transaction per file, because
order decides which version of a policy supersedes which. One bad file is reported, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from shipyard.audit.service import Actor
from shipyard.core.errors import ShipyardError
from shipyard.db.session import unit_of_work
from shipyard.documents import service as documents
from shipyard.documents.extract import OcrOptions
from shipyard.documents.ingest import Encoder, Prepared, prepare
from shipyard.documents.schemas import DocumentMeta, UploadResult
from shipyard.documents.vault import DocumentVault


@dataclass(frozen=True)
class Item:
    path: Path
    meta: DocumentMeta
    withdraw: str | None = None  # withdraw right after storing, with this reason


@dataclass(frozen=True)
class Outcome:
    item: Item
    result: UploadResult | None
    error: ShipyardError | None
    seconds: float


def ingest_many(
    factory: sessionmaker[Session],
    actor: Actor,
    vault: DocumentVault,
    encode: Encoder,
    items: Sequence[Item],
    *,
    ocr: OcrOptions | None = None,
    workers: int = 2,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Read and store every item; each outcome says what happened to its file."""

    def read(item: Item) -> tuple[Prepared, float]:
        t0 = time.perf_counter()
        return prepare(
            item.path.read_bytes(), item.path.name, item.meta, encode, ocr=ocr
        ), time.perf_counter() - t0

    outcomes = []
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="shipyard-ingest") as pool:
        futures: list[Future[tuple[Prepared, float]]] = [pool.submit(read, item) for item in items]
        for item, future in zip(items, futures, strict=True):
            outcome = _store(factory, actor, vault, item, future)
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    return outcomes


def _store(
    factory: sessionmaker[Session],
    actor: Actor,
    vault: DocumentVault,
    item: Item,
    future: Future[tuple[Prepared, float]],
) -> Outcome:
    try:
        prepared, seconds = future.result()
    except ShipyardError as exc:
        return Outcome(item, None, exc, 0.0)
    except OSError as exc:
        return Outcome(item, None, ShipyardError(f"cannot read {item.path}: {exc}", code="unreadable"), 0.0)
    try:
        with unit_of_work(factory) as session:
            result = documents.store(session, actor, vault, prepared)
            if item.withdraw and result.document is not None:
                documents.withdraw(session, actor, result.document.id, item.withdraw)
                result.document = documents.to_read(session, documents.get(session, result.document.id))
    except ShipyardError as exc:
        return Outcome(item, None, exc, seconds)
    return Outcome(item, result, None, seconds)

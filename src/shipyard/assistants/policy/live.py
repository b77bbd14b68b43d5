"""The corpus a serving process answers from: the active passages, indexed in memory, kept current.

Beside them, the passages of superseded and withdrawn versions are indexed apart (`CorpusState.retired`):
they only tell the confidence model that an old version answers a question better; they are never
quoted or cited. Documents whose topic is out of the assistant's scope (`out_of_scope_topics`, by
default "other") are left out of both.

One `LiveCorpus` per process. It rebuilds its index when the `documents` change topic fires (an
upload or withdrawal here or in another worker), in the background so calls keep being answered from
the previous snapshot meanwhile; a call that finds the index stale and no rebuild running rebuilds it
itself. Every answer names the snapshot it came from.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import Headed, IndexedPassage, PolicyIndex, embed_passages
from shipyard.core.config import AssistantSettings
from shipyard.documents import service as documents
from shipyard.documents.extract import OcrOptions
from shipyard.documents.vault import DocumentVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusState:
    """One built snapshot: its id, its index (None while no document is active), and how much is in it.

    `retired` indexes the superseded and withdrawn versions' passages (None when there are none), for
    the superseded-version signal only.
    """

    snapshot_id: str
    index: PolicyIndex | None
    documents: int
    passages: int
    retired: PolicyIndex | None = None

    @property
    def insurers(self) -> frozenset[str]:
        return self.index.insurers if self.index is not None else frozenset()


class LiveCorpus:
    """The process's view of the active documents, plus the embedder that uploads and questions share."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: DocumentVault,
        *,
        embedder: Embedder | None = None,
        ocr: OcrOptions | None = None,
        out_of_scope_topics: Sequence[str] = (),
    ) -> None:
        self._sessions = sessions
        self.out_of_scope = frozenset(t.casefold() for t in out_of_scope_topics)
        self.vault = vault
        self.embedder = embedder or Embedder()
        self.ocr = ocr or OcrOptions()
        self._state: CorpusState | None = None
        self._generation = 0  # bumped by every change notice
        self._built_generation = -1
        self._lock = threading.Lock()  # one rebuild at a time

    @classmethod
    def for_home(
        cls, sessions: sessionmaker[Session], documents_dir: Path, secret: str, settings: AssistantSettings
    ) -> LiveCorpus:
        ocr = OcrOptions(
            dpi=settings.ocr_dpi, workers=settings.ocr_workers, min_confidence=settings.ocr_min_confidence
        )
        embedder = Embedder(torch_threads=settings.embedder_threads)
        return cls(
            sessions,
            DocumentVault(documents_dir, secret),
            embedder=embedder,
            ocr=ocr,
            out_of_scope_topics=settings.out_of_scope_topics,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode(texts)

    def embed_passages(self, passages: Sequence[Headed]) -> np.ndarray:
        """Passage vectors for ingestion, from the same text the index searches."""
        return embed_passages(self.embedder, passages)

    def invalidate(self) -> None:
        """A change notice: the next `current()` (or the background rebuild) reads the corpus again."""
        self._generation += 1

    def invalidate_and_rebuild(self) -> None:
        """The change-bus callback: mark stale, rebuild off the caller's thread."""
        self.invalidate()
        threading.Thread(target=self._rebuild_quietly, name="shipyard-corpus", daemon=True).start()

    def _rebuild_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # the next call retries; until then the previous snapshot answers
            log.exception("rebuilding the policy corpus index failed")

    def refresh(self) -> CorpusState:
        """Rebuild now if anything changed since the last build; return the current state."""
        with self._lock:
            generation = self._generation
            if self._state is not None and self._built_generation == generation:
                return self._state
            with self._sessions() as session:
                snap = documents.active_corpus(session, self.vault)
                retired = documents.retired_corpus(session, self.vault)
            state = _build(snap, retired, self.out_of_scope)
            self._state, self._built_generation = state, generation
            log.info(
                "policy corpus %s: %d active documents, %d passages",
                state.snapshot_id,
                state.documents,
                state.passages,
            )
            return state

    def current(self) -> CorpusState:
        """The snapshot to answer from: the latest built one, rebuilt first if it is stale and idle."""
        state = self._state
        if state is not None and (self._built_generation == self._generation or self._lock.locked()):
            return state  # fresh, or a rebuild is under way: answer from the previous snapshot
        try:
            return self.refresh()
        except Exception:
            if state is None:
                raise
            # The database is down or a document no longer reads: keep answering from the last
            # snapshot (its id is on every answer) and try again on the next call.
            log.warning(
                "could not rebuild the policy corpus; answering from %s", state.snapshot_id, exc_info=True
            )
            return state


def _build(
    snap: documents.CorpusSnapshot, retired: documents.CorpusSnapshot | None, out_of_scope: frozenset[str]
) -> CorpusState:
    index = _index(snap, out_of_scope)
    return CorpusState(
        snap.snapshot_id,
        index,
        snap.documents,
        len(index) if index is not None else 0,
        _index(retired, out_of_scope) if retired else None,
    )


def _index(snap: documents.CorpusSnapshot, out_of_scope: frozenset[str]) -> PolicyIndex | None:
    # The store's CorpusPassage and the index's IndexedPassage carry the same fields: the documents
    # domain does not import the assistant's types.
    rows = [i for i, p in enumerate(snap.passages) if p.topic.casefold() not in out_of_scope]
    passages = [IndexedPassage(**asdict(snap.passages[i])) for i in rows]
    return PolicyIndex.build(passages, snap.embeddings[rows]) if passages else None

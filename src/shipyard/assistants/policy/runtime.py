"""The billing-policy-assistant's model: retrieve from the live corpus, answer with citations, or abstain.

Registered as a `callable` model version (`shipyard.assistants.policy.runtime:PolicyAssistant`), so the
service gets sign-in, validation, recording, fallbacks and monitoring like any other. It needs the
serving process's corpus (`host["corpus"]`), so it runs in process, not in an isolated one.

Everything needed to reproduce or explain an answer goes into its output, and so into the recorded
prediction: the corpus snapshot, every retrieved passage with its document, version and scores, the
decision and its reason, and the cited spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from shipyard.assistants.policy.answer import ABSTAIN_TEXT, Answer, Citation, answer_question
from shipyard.assistants.policy.calibration import Calibration
from shipyard.assistants.policy.generate import Generator
from shipyard.assistants.policy.insurers import detect_insurer
from shipyard.assistants.policy.live import LiveCorpus
from shipyard.assistants.policy.retrieve import Hit, retrieve
from shipyard.assistants.policy.sentences import SentenceVectors
from shipyard.assistants.policy.superseded import NO_SIGNAL, SupersededSignal, superseded_signal
from shipyard.core.errors import InvalidInput, ModelFailed, ShipyardError
from shipyard.registry.loaders.base import Usage


class PolicyAssistant:
    """One loaded version of the assistant; thread-safe (the corpus and embedder lock what they must)."""

    def __init__(
        self,
        host: Mapping[str, Any],
        *,
        k: int = 8,
        threshold: float | None = None,
        generate: bool = False,
        calibration: Mapping[str, Any] | None = None,
    ) -> None:
        """`calibration`: the fitted confidence model, as stored in the version's config (so a Shipyard
        upgrade that refits the shipped one does not change a registered version's answers); default:
        the one shipped with this Shipyard."""
        corpus = host.get("corpus")
        if corpus is None:
            raise InvalidInput(
                "the policy assistant answers from the serving process's documents: run it in process "
                "(runtime policy isolation mode 'thread')"
            )
        self._corpus: LiveCorpus = corpus() if callable(corpus) else corpus
        self._k = k
        try:
            self._calibration = Calibration.from_dict(calibration) if calibration else Calibration.load()
        except ValueError as exc:
            raise InvalidInput(f"init_kwargs.calibration: {exc}") from exc
        self._threshold = self._calibration.threshold if threshold is None else threshold
        settings = host.get("settings")
        llm = getattr(getattr(settings, "assistant", None), "llm_url", None)
        self._generator = Generator(settings.assistant) if generate and llm and settings is not None else None
        self._sentences = SentenceVectors(self._corpus.encode)
        self._corpus.embedder.load()  # ten seconds now, at load time, rather than on the first question

    def predict(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        question = str(inputs["question"]).strip()
        try:
            state = self._corpus.current()
        except ShipyardError as exc:  # e.g. passages that no longer decrypt: the service's fallback answers
            raise ModelFailed(
                f"the policy corpus cannot be read: {exc.detail}", code="corpus_unreadable"
            ) from exc
        named = inputs.get("insurer")
        insurer = _known(named, state.insurers) if named else detect_insurer(question, state.insurers)
        if state.index is None:  # nothing in force: nothing to answer from
            return _nothing_active(state.snapshot_id, insurer)
        vector = self._corpus.encode([question])[0]
        hits = retrieve(state.index, question, vector, insurer=insurer, k=self._k)
        signal = (
            superseded_signal(state.index, state.retired, hits[0].query_terms, vector, insurer=insurer)
            if hits
            else NO_SIGNAL
        )
        answer = answer_question(
            question,
            hits,
            threshold=self._threshold,
            calibration=self._calibration,
            similarity=partial(self._sentences.similarity, vector),
            superseded=signal,
        )
        output: dict[str, Any] = {
            "answered": answer.answered,
            "answer": answer.text if answer.answered else ABSTAIN_TEXT,
            "citations": [_citation(c, i, state_hits=hits) for i, c in enumerate(answer.citations, 1)],
            "reason": answer.reason,
            "insurer": insurer,
            "snapshot": state.snapshot_id,
            "retrieved": [_retrieved(h) for h in hits],
            "closest": []
            if answer.answered
            else [_closest(h, i) for i, h in enumerate(answer.closest[:3], 1)],
            "superseded": _superseded(signal),
            "generation": None,
        }
        result: dict[str, Any] = {
            "output": output,
            "confidence": answer.confidence,
            "abstained": not answer.answered,
        }
        if answer.answered and self._generator is not None:
            usage = self._generate(question, answer, output)
            if usage is not None:  # recorded with the call as tokens and cost (monitoring/cost.py)
                result["usage"] = {
                    "tokens_in": usage.tokens_in,
                    "tokens_out": usage.tokens_out,
                    "model": usage.model,
                }
        return result

    def _generate(self, question: str, answer: Answer, output: dict[str, Any]) -> Usage | None:
        """Let the configured LLM phrase the answer from the cited passages; keep ours if it fails."""
        assert self._generator is not None
        cited = [c.quote for c in answer.citations]
        result = self._generator.generate(question, cited)
        output["generation"] = result.record()
        if result.status == "generated" and result.text:
            output["answer"] = result.text
        return result.usage

    def close(self) -> None:
        if self._generator is not None:
            self._generator.close()


def _nothing_active(snapshot: str, insurer: str | None) -> dict[str, Any]:
    output = {
        "answered": False,
        "answer": ABSTAIN_TEXT,
        "citations": [],
        "reason": "no policy document is active",
        "insurer": insurer,
        "snapshot": snapshot,
        "retrieved": [],
        "closest": [],
        "superseded": None,
        "generation": None,
    }
    return {"output": output, "confidence": 0.0, "abstained": True}


def _known(named: str, insurers: frozenset[str]) -> str:
    """The caller's insurer, matched leniently against the corpus; unknown ones are refused by name."""
    for insurer in insurers:
        if insurer.casefold() == named.strip().casefold():
            return insurer
    found = detect_insurer(named, insurers)
    if found is None:
        known = ", ".join(sorted(insurers)) or "none yet"
        raise InvalidInput(
            f"no active policies for insurer {named!r} (insurers: {known})", code="unknown_insurer"
        )
    return found


def _citation(c: Citation, n: int, *, state_hits: list[Hit]) -> dict[str, Any]:
    hit = next((h for h in state_hits if h.passage.passage_id == c.passage_id), None)
    return {
        "n": n,
        "passage_id": c.passage_id,
        "document_id": c.document_id,
        "doc_key": c.doc_key,
        "version": c.version,
        "title": c.title,
        "insurer": hit.passage.insurer if hit else None,
        "effective_date": hit.passage.effective_date.isoformat() if hit else None,
        "page": c.page,
        "quote": c.quote,
        "start": c.start,
        "end": c.end,
    }


def _superseded(signal: SupersededSignal) -> dict[str, Any] | None:
    """The best-matching retired version and how much better it matches: evidence, never a citation."""
    p = signal.passage
    if p is None:
        return None
    return {
        "passage_id": p.passage_id,
        "doc_key": p.doc_key,
        "version": p.version,
        "page": p.page,
        "coverage_gap": round(signal.coverage_gap, 6),
        "dense_gap": round(signal.dense_gap, 6),
    }


def _retrieved(h: Hit) -> dict[str, Any]:
    p = h.passage
    return {
        "rank": h.rank,
        "passage_id": p.passage_id,
        "document_id": p.document_id,
        "doc_key": p.doc_key,
        "version": p.version,
        "insurer": p.insurer,
        "page": p.page,
        "score": round(float(h.score), 6),
        "bm25": round(float(h.bm25), 6),
        "dense": round(float(h.dense), 6),
    }


def _closest(h: Hit, n: int) -> dict[str, Any]:
    p = h.passage
    return {
        "n": n,
        "passage_id": p.passage_id,
        "document_id": p.document_id,
        "doc_key": p.doc_key,
        "version": p.version,
        "title": p.title,
        "insurer": p.insurer,
        "effective_date": p.effective_date.isoformat(),
        "page": p.page,
        "quote": p.text,
        "start": 0,
        "end": len(p.text),
    }

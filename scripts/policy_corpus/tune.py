"""Fit the policy assistant's confidence calibration and abstention threshold on the corpus's dev split.

    .venv/bin/python scripts/policy_corpus/tune.py                  # fit on dev, write calibration.json
    .venv/bin/python scripts/policy_corpus/tune.py --report-test    # also print the test figures
    .venv/bin/python scripts/policy_corpus/tune.py --compare        # retrieval variants on dev, no fitting

Loads the shipped corpus through the real extractor (OCR included), indexes the active, non-duplicate
documents (and, apart, the superseded and withdrawn ones, as the service does: compared with the
question for the superseded-version features, never cited), answers the dev questions, fits a logistic
regression on "this answer is right", picks the threshold on out-of-fold probabilities, and prints the
evaluation figures. Test questions are never used for fitting: with --report-test they are only scored
with what dev produced.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from shipyard.assistants.policy.answer import FEATURES, Answer, answer_question, draft_answer  # noqa: E402
from shipyard.assistants.policy.calibration import SHIPPED_PATH, Calibration, fit_calibration  # noqa: E402
from shipyard.assistants.policy.calibration import reliability as reliability_table  # noqa: E402
from shipyard.assistants.policy.corpus import CORPUS_DIR, load_manifest, load_questions  # noqa: E402
from shipyard.assistants.policy.embedder import Embedder  # noqa: E402
from shipyard.assistants.policy.index import IndexedPassage, PolicyIndex, embed_passages  # noqa: E402
from shipyard.assistants.policy.insurers import detect_insurer  # noqa: E402
from shipyard.assistants.policy.retrieve import DEFAULT_FUSION, Fusion, Hit, retrieve  # noqa: E402
from shipyard.assistants.policy.sentences import SentenceVectors  # noqa: E402
from shipyard.assistants.policy.superseded import superseded_signal  # noqa: E402
from shipyard.core.config import AssistantSettings  # noqa: E402
from shipyard.documents.extract import extract, split_passages  # noqa: E402

CACHE = Path.home() / ".cache" / "shipyard-policy-tune"
K = 8


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


@dataclass
class Outcome:
    """One question through embed, retrieve and draft, scored against its label."""

    question: Any
    hits: list[Hit]
    features: dict[str, float]
    correct: bool  # the drafted answer would count as right if it were given
    seconds: float
    forced: bool = False  # abstains whatever the confidence (it names an insurer with no policies)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def load_passages(statuses: Sequence[str] = ("active",)) -> tuple[list[IndexedPassage], set[str]]:
    """Passages of the non-duplicate documents in `statuses` via the real extractor (cached), and their refs.

    The manifest's version chains say which versions the store holds as superseded or withdrawn.
    """
    # as the service indexes them: no duplicates, nothing of a topic outside the assistant's scope
    out_of_scope = {t.casefold() for t in AssistantSettings().out_of_scope_topics}
    docs = [
        d
        for d in load_manifest()
        if d.expected_status in statuses and d.duplicate_of is None and d.topic.casefold() not in out_of_scope
    ]
    active = {f"{d.doc_key}@{d.version}" for d in docs}
    digest = hashlib.sha256()
    for d in docs:
        digest.update(d.file.encode() + (CORPUS_DIR / "documents" / d.file).read_bytes())
    cache = CACHE / f"passages-{digest.hexdigest()[:16]}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes()), active
    passages: list[IndexedPassage] = []
    for d in docs:
        extracted = extract((CORPUS_DIR / "documents" / d.file).read_bytes(), Path(d.file).name)
        if not extracted.usable:
            say(f"  skipped {d.file}: {[p.message for p in extracted.problems]}")
            continue
        effective = d.effective_date
        if not isinstance(effective, date):
            effective = date.fromisoformat(effective)
        for p in split_passages(extracted):
            passages.append(
                IndexedPassage(
                    passage_id=f"{d.doc_key}@{d.version}#{p.index}",
                    document_id=d.file,
                    doc_key=d.doc_key,
                    version=d.version,
                    title=d.title,
                    insurer=d.insurer,
                    topic=d.topic,
                    effective_date=effective,
                    page=p.page,
                    text=p.text,
                    heading=p.heading,
                    kind=str(p.kind),
                )
            )
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(passages))
    return passages, active


def load_embeddings(embedder: Embedder, passages: Sequence[IndexedPassage]) -> np.ndarray:
    """Passage embeddings, cached by passage content."""
    key = hashlib.sha256("\x00".join(f"{p.heading}\x01{p.text}" for p in passages).encode()).hexdigest()
    cache = CACHE / f"embeddings-{key[:16]}.npy"
    if cache.exists():
        return np.load(cache)
    vectors = embed_passages(embedder, passages)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def is_correct(question: Any, citations: Sequence[Any]) -> bool:
    """The evaluation's rule: right doc_key and version cited, and the quotes hold every evidence phrase."""
    if not question.answerable or not citations:
        return False
    right_doc = any((c.doc_key, c.version) == (question.doc_key, question.version) for c in citations)
    quoted = _norm(" ".join(c.quote for c in citations))
    return right_doc and all(_norm(e) in quoted for e in question.evidence)


def run(
    index: PolicyIndex,
    embedder: Embedder,
    questions: Sequence[Any],
    fusion: Fusion,
    sentences: SentenceVectors | None = None,
    retired: PolicyIndex | None = None,
) -> list[Outcome]:
    """Embed, retrieve and draft each question, timing the three together."""
    sentences = sentences or SentenceVectors(embedder.encode)
    out: list[Outcome] = []
    for q in questions:
        t0 = time.perf_counter()
        insurer = detect_insurer(q.question, index.insurers)
        vector = embedder.encode([q.question])[0]
        hits = retrieve(index, q.question, vector, insurer=insurer, k=K, fusion=fusion)
        signal = superseded_signal(index, retired, hits[0].query_terms, vector, insurer=insurer)
        draft = draft_answer(
            q.question, hits, similarity=partial(sentences.similarity, vector), superseded=signal
        )
        seconds = time.perf_counter() - t0
        features = draft.features if draft else dict.fromkeys(FEATURES, 0.0)
        correct = draft is not None and is_correct(q, draft.citations)
        forced = draft is None or draft.unknown_insurer is not None
        out.append(Outcome(q, hits, features, correct, seconds, forced))
    return out


def retrieval_line(outcomes: Sequence[Outcome]) -> str:
    """Hit@1 and hit@5 of the gold doc_key@version and page, and how often the draft is right."""
    answerable = [o for o in outcomes if o.question.answerable]
    at1 = at5 = 0
    for o in answerable:
        gold = (o.question.doc_key, o.question.version, o.question.page)
        found = [(h.passage.doc_key, h.passage.version, h.passage.page) for h in o.hits]
        at1 += int(bool(found) and found[0] == gold)
        at5 += int(gold in found[:5])
    n = max(len(answerable), 1)
    drafted = sum(o.correct for o in answerable)
    return f"hit@1 {at1 / n:.3f}  hit@5 {at5 / n:.3f}  draft right {drafted / n:.3f}  (n={len(answerable)})"


def figures(
    outcomes: Sequence[Outcome], probabilities: Sequence[float], threshold: float
) -> dict[str, float]:
    """Accuracy and abstention precision and recall when answers below `threshold` abstain."""
    answerable = [bool(o.question.answerable) for o in outcomes]
    answered = [p >= threshold for p in probabilities]
    right = sum(a and o.correct for a, o in zip(answered, outcomes, strict=True))
    abstained = sum(not a for a in answered)
    true_abstain = sum(not a and not ok for a, ok in zip(answered, answerable, strict=True))
    return {
        "accuracy": right / max(answerable.count(True), 1),
        "abstention_precision": true_abstain / abstained if abstained else 1.0,
        "abstention_recall": true_abstain / max(answerable.count(False), 1),
    }


def choose_threshold(outcomes: Sequence[Outcome], runs: Sequence[Sequence[float]]) -> float:
    """The threshold whose worst figure (accuracy, abstention precision, recall) is best on average over
    the out-of-fold runs (one per fold seed: a single split of 222 questions moves it by chance); then
    their sum."""

    def merit(t: float) -> tuple[float, float]:
        worst = [min(figures(outcomes, p, t).values()) for p in runs]
        total = [sum(figures(outcomes, p, t).values()) for p in runs]
        return statistics.fmean(worst), statistics.fmean(total)

    candidates = sorted({round(p, 3) for run in runs for p in run} | {0.5})
    return max(candidates, key=merit)


FOLD_SEEDS = (7, 1, 2, 3, 4, 5)


def out_of_fold(outcomes: Sequence[Outcome], folds: int = 5, seed: int = 7) -> list[float]:
    """Each question's probability from a calibration fitted without it (0 where it must abstain)."""
    rows = [o.features for o in outcomes]
    labels = [int(o.correct) for o in outcomes]
    probabilities = [0.0] * len(rows)
    order = np.random.default_rng(seed).permutation(len(rows))
    for f in range(folds):
        held = set(order[f::folds].tolist())
        train = [i for i in range(len(rows)) if i not in held and not outcomes[i].forced]
        model = fit_calibration([rows[i] for i in train], [labels[i] for i in train], features=FEATURES)
        for i in held:
            probabilities[i] = 0.0 if outcomes[i].forced else model.probability(rows[i])
    return probabilities


def report(
    name: str,
    outcomes: Sequence[Outcome],
    calibration: Calibration,
    active: set[str],
    index: PolicyIndex,
    embedder: Embedder,
    retired: PolicyIndex | None = None,
) -> None:
    """The figures with the fitted calibration and threshold, as the service would answer."""
    answers: list[Answer] = []
    seconds: list[float] = []
    sentences = SentenceVectors(embedder.encode)
    for o in outcomes:
        # timed as the service runs it: embed, retrieve, answer (unit vectors made on first use, as there)
        t0 = time.perf_counter()
        text = o.question.question
        insurer = detect_insurer(text, index.insurers)
        vector = embedder.encode([text])[0]
        hits = retrieve(index, text, vector, insurer=insurer, k=K)
        signal = superseded_signal(index, retired, hits[0].query_terms, vector, insurer=insurer)
        answers.append(
            answer_question(
                text,
                hits,
                threshold=calibration.threshold,
                calibration=calibration,
                similarity=partial(sentences.similarity, vector),
                superseded=signal,
            )
        )
        seconds.append(time.perf_counter() - t0)
    f = figures(outcomes, [a.confidence for a in answers], calibration.threshold)
    answered = [(a, o) for a, o in zip(answers, outcomes, strict=True) if a.answered]
    right_docs = sum(
        all((c.doc_key, c.version) == (o.question.doc_key, o.question.version) for c in a.citations)
        for a, o in answered
    )
    superseded = sum(any(f"{c.doc_key}@{c.version}" not in active for c in a.citations) for a, _ in answered)
    ms = sorted(s * 1000 for s in seconds)
    n_answerable = sum(bool(o.question.answerable) for o in outcomes)
    say(
        f"\n== {name}: {len(outcomes)} questions, {n_answerable} answerable, "
        f"threshold {calibration.threshold:.3f}"
    )
    say(f"accuracy on answerable   {f['accuracy']:.3f}")
    say(f"abstention precision     {f['abstention_precision']:.3f}")
    say(f"abstention recall        {f['abstention_recall']:.3f}")
    say(f"citation correctness     {right_docs / max(len(answered), 1):.3f} ({len(answered)} answered)")
    say(f"superseded citations     {superseded}")
    say(f"latency p50 / p95        {statistics.median(ms):.1f} ms / {ms[int(0.95 * (len(ms) - 1))]:.1f} ms")
    say(f"retrieval                {retrieval_line(outcomes)}")
    failures: dict[str, list[str]] = {}
    for a, o in zip(answers, outcomes, strict=True):
        q = o.question
        if q.answerable and not a.answered:
            kind = "abstained on answerable"
        elif q.answerable and not o.correct:
            kind = "answered wrong"
        elif not q.answerable and a.answered:
            kind = "answered unanswerable"
        else:
            continue
        failures.setdefault(f"{kind} / {q.category}", []).append(q.id)
    for key, ids in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        say(f"  failure {key}: {len(ids)} ({', '.join(ids[:8])})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--report-test", action="store_true", help="also score the test split (never fit on it)"
    )
    parser.add_argument("--compare", action="store_true", help="compare fusion variants on dev and stop")
    parser.add_argument("--output", type=Path, default=SHIPPED_PATH, help="where to write the calibration")
    parser.add_argument("--verbose", action="store_true", help="print every dev question's outcome")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    passages, active = load_passages()
    embedder = Embedder()
    embeddings = load_embeddings(embedder, passages)
    t1 = time.perf_counter()
    index = PolicyIndex.build(passages, embeddings)
    build_ms = (time.perf_counter() - t1) * 1000
    say(f"{len(passages)} passages from {len(active)} active documents, index built in {build_ms:.0f} ms")
    old_passages, old_refs = load_passages(("superseded", "withdrawn"))
    retired = PolicyIndex.build(old_passages, load_embeddings(embedder, old_passages))
    say(f"{len(old_passages)} passages from {len(old_refs)} superseded or withdrawn documents, indexed apart")
    say(f"(loading, extraction and embedding took {t1 - t0:.1f} s)")
    questions = load_questions()
    dev = [q for q in questions if q.split == "dev"]
    embedder.encode(["warm up"])

    if args.compare:
        for fusion in (
            Fusion("rrf", 1, 1, 0),
            Fusion("rrf", 1, 1, 1),
            Fusion("rrf", 1, 1, 2),
            Fusion("linear", 0.5, 0.5, 0),
            Fusion("linear", 0.4, 0.6, 0.5),
            Fusion("linear", 0.3, 0.7, 0.3),
        ):
            say(f"{fusion}: {retrieval_line(run(index, embedder, dev, fusion))}")
        return 0

    outcomes = run(index, embedder, dev, DEFAULT_FUSION, retired=retired)
    runs = [out_of_fold(outcomes, seed=seed) for seed in FOLD_SEEDS]
    threshold = choose_threshold(outcomes, runs)
    oof = runs[0]
    oof_figures = {
        k: statistics.fmean(figures(outcomes, p, threshold)[k] for p in runs)
        for k in figures(outcomes, oof, threshold)
    }
    table = reliability_table(oof, [int(o.correct) for o in outcomes], bins=5)
    fitted = [o for o in outcomes if not o.forced]
    calibration = fit_calibration(
        [o.features for o in fitted],
        [int(o.correct) for o in fitted],
        features=FEATURES,
        threshold=threshold,
        meta={
            "fitted_on": "dev",
            "questions": len(fitted),
            "passages": len(passages),
            "fusion": repr(DEFAULT_FUSION),
            "out_of_fold": {k: round(v, 4) for k, v in oof_figures.items()},
            "reliability_out_of_fold": [{k: round(v, 4) for k, v in b.items()} for b in table],
        },
    )
    calibration.save(args.output)
    say(f"wrote {args.output}")
    say("\nreliability on dev (out-of-fold probabilities, first fold seed): predicted vs observed")
    for b in table:
        say(
            f"  [{b['low']:.1f}, {b['high']:.1f})  n={int(b['count']):3d}  "
            f"predicted {b['predicted']:.2f}  observed {b['observed']:.2f}"
        )
    say(
        f"out-of-fold at the threshold (mean over {len(FOLD_SEEDS)} fold seeds): "
        + ", ".join(f"{k} {v:.3f}" for k, v in oof_figures.items())
    )
    report("dev (fitted on these)", outcomes, calibration, active, index, embedder, retired)
    if args.verbose:
        for o in outcomes:
            p = calibration.probability(o.features)
            say(
                f"  {o.question.id} answerable={o.question.answerable} right={o.correct} p={p:.2f} "
                f"{o.question.question}"
            )
    if args.report_test:
        test = [q for q in questions if q.split == "test"]
        test_outcomes = run(index, embedder, test, DEFAULT_FUSION, retired=retired)
        report("test", test_outcomes, calibration, active, index, embedder, retired)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

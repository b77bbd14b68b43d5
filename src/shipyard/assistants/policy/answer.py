"""Extractive answers: the best sentences or table rows of the top passages, quoted verbatim and cited."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from shipyard.assistants.policy.calibration import Calibration
from shipyard.assistants.policy.insurers import detect_insurer, insurer_like_names
from shipyard.assistants.policy.retrieve import Hit, WeightedTerm
from shipyard.assistants.policy.segments import Unit, split_units
from shipyard.assistants.policy.superseded import NO_SIGNAL, SUPERSEDED_FEATURES, SupersededSignal
from shipyard.assistants.policy.terms import is_code, tokenize
from shipyard.assistants.policy.verdict import yes_or_no

ABSTAIN_TEXT = "The active policies do not answer this."
# passages of the answering insurer whose sentences compete for the quote
CANDIDATE_PASSAGES = 5
MAX_QUOTES = 3
# a further sentence of the same passage is quoted when it adds this much of the question's weight
EXTRA_GAIN = 0.12
# another unit of the same policy version scoring this close to the best is quoted as well (on dev, 0.9
# left the answering sentence out more often; 0.75 found it a little more often but abstained worse)
NEAR_TIE = 0.8
_FOLLOW_ON_RE = re.compile(
    r"^(?:this|these|that|those|such|it|they|however|unless|except|but|if|when)\b", re.I
)

# What the calibration reads. Chosen on dev by out-of-fold figures averaged over six fold seeds: the best
# passage's fused score, the heaviest concept it lacks, the cosine margin to the second passage and the
# answering passage's rank added nothing once the rest were there (worst figure 0.781 without them,
# 0.754 with them), so they are not computed.
FEATURES: tuple[str, ...] = (
    "top_dense",
    "top_bm25",
    "top_coverage",
    "answer_coverage",
    "context_coverage",
    "insurer_named",
    "unknown_terms",
    "value_missing",
    "answer_dense",
    *SUPERSEDED_FEATURES,
)

# cosine similarity of the question with each unit text (MiniLM, `sentences.SentenceVectors`)
UnitSimilarity = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Citation:
    """Where a quote comes from; `quote == passage.text[start:end]` of the cited passage."""

    passage_id: str
    document_id: str
    doc_key: str
    version: str
    title: str
    page: int
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """An answer with its quotes and calibrated confidence, or an abstention with the closest passages."""

    answered: bool
    text: str
    citations: list[Citation]
    confidence: float
    reason: str
    closest: list[Hit]
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Draft:
    """The answer that would be given, before the confidence decides whether it is."""

    hit: Hit
    units: tuple[Unit, ...]
    citations: tuple[Citation, ...]
    text: str
    features: dict[str, float]
    missing: tuple[str, ...]
    unknown_insurer: str | None = None


def _coverage(terms: Sequence[WeightedTerm], present: set[str]) -> float:
    total = sum(t.weight for t in terms)
    if total == 0.0:
        return 0.0
    return sum(t.weight for t in terms if t.term.satisfied_by(present)) / total


def _tokens(text: str) -> set[str]:
    return set(tokenize(text))


def _self_describing(row: str) -> bool:
    """A row written as "Header: value | Header: value" needs no header row beside it."""
    return ": " in row


def _pick_units(hit: Hit, terms: Sequence[WeightedTerm], units: list[Unit], best: int) -> list[Unit]:
    """The best unit plus what it needs: the table header, a list after a colon, a follow-on sentence,
    or another sentence that covers question terms the best one misses."""
    text = hit.passage.text
    chosen = [best]
    first = units[best]
    if first.row and best > 0 and units[0].row and not _self_describing(text[first.start : first.end]):
        chosen.append(0)  # the header row says what the columns are
    if text[first.start : first.end].rstrip().endswith(":"):
        chosen.extend(range(best + 1, min(best + 1 + MAX_QUOTES, len(units))))
    elif best + 1 < len(units) and _FOLLOW_ON_RE.match(text[units[best + 1].start : units[best + 1].end]):
        chosen.append(best + 1)
    present = set().union(*(_tokens(text[units[i].start : units[i].end]) for i in chosen))
    while len(set(chosen)) < MAX_QUOTES:
        base = _coverage(terms, present)
        gains = [
            (_coverage(terms, present | _tokens(text[u.start : u.end])) - base, i)
            for i, u in enumerate(units)
            if i not in chosen
        ]
        if not gains:
            break
        gain, i = max(gains)
        if gain < EXTRA_GAIN:
            break
        chosen.append(i)
        present |= _tokens(text[units[i].start : units[i].end])
    return [units[i] for i in sorted(set(chosen))[: MAX_QUOTES + 1]]


# What kind of value a question asks for, and how a sentence that gives one looks.
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(asks, re.IGNORECASE), re.compile(gives, re.IGNORECASE))
    for asks, gives in (
        (
            r"\b(?:how long|how soon|how recent|how quickly|how often|deadline|time limit|turnaround|"
            r"timely|when)\b",
            r"\b\d+\s*(?:calendar |business |working )?(?:days?|weeks?|months?|years?|hours?)\b",
        ),
        (r"\bhow many\b|\blimit\b|\bmaximum\b|\bcap\b", r"\b\d+\b"),
        (r"\bage\b|\bhow old\b", r"\baged?\b|\byears? (?:of age|old)\b|\b\d+ (?:and|or) (?:older|younger)\b"),
        (r"\bhow much\b|\bcost\b|\bfee\b|\brate\b|\bprice\b", r"\$\s?\d"),
        (r"\bfax\b|\bphone\b|\bcall\b|\baddress\b|\bwhere\b", r"\d{3}-\d{4}\b|\bPO Box\b|\bportal\b"),
        (r"\bmodifier\b", r"\bmodifier\b"),
    )
)
# How a unit is scored: a weighted sum of these, the weights set by hand and checked on the dev
# questions (a softmax ranker fitted on these and on the unit's position, kind and cosine rank did no
# better there out of fold: the answering unit first for 0.82-0.84 of answerable questions, against
# 0.85 by hand).
UNIT_FEATURES: tuple[str, ...] = (
    "coverage",  # the IDF-weighted share of the question's concepts in the unit
    "context_coverage",  # the same with the passage's heading and title
    "passage_score",  # the passage's retrieval score relative to the best
    "cosine",  # MiniLM cosine of the unit with the question ("deadline" vs "must be requested within")
    "value_type",  # the question asks for a duration, count, age, amount or contact and the unit has one
    "codes",  # the share of the billing codes the question names that the unit names
)
UNIT_WEIGHTS: tuple[float, ...] = (0.5, 0.3, 0.2, 0.5, 0.1, 0.2)


def _expected_values(question: str) -> list[re.Pattern[str]]:
    return [gives for asks, gives in _ANSWER_TYPES if asks.search(question)]


@dataclass(frozen=True)
class _Candidate:
    score: float
    pool_index: int
    unit_index: int
    cosine: float = 0.0


def unit_features(
    question: str, pool: Sequence[Hit], top_score: float, similarity: UnitSimilarity | None
) -> tuple[np.ndarray, list[tuple[int, int]], list[list[Unit]]]:
    """Every unit of the pool's passages as a row of UNIT_FEATURES, with its (passage, unit) indices."""
    terms = pool[0].query_terms
    expected = _expected_values(question)
    asked_codes = {t for t in tokenize(question) if is_code(t)}
    split = [split_units(hit.passage.text, kind=hit.passage.kind) for hit in pool]
    where = [(h, u) for h, units in enumerate(split) for u in range(len(units))]
    texts = [pool[h].passage.text[split[h][u].start : split[h][u].end] for h, u in where]
    cosines = similarity(texts) if similarity is not None and texts else np.zeros(len(texts))
    contexts = [_tokens(f"{hit.passage.heading or ''} {hit.passage.title}") for hit in pool]
    rows = np.zeros((len(texts), len(UNIT_FEATURES)))
    for i, ((h, _), text) in enumerate(zip(where, texts, strict=True)):
        present = _tokens(text)
        rows[i] = (
            _coverage(terms, present),
            _coverage(terms, present | contexts[h]),
            pool[h].score / top_score,
            float(cosines[i]),
            1.0 if expected and any(p.search(text) for p in expected) else 0.0,
            len(asked_codes & present) / len(asked_codes) if asked_codes else 0.0,
        )
    return rows, where, split


def _candidates(
    question: str, pool: Sequence[Hit], top_score: float, similarity: UnitSimilarity | None
) -> list[tuple[_Candidate, list[Unit]]]:
    """Every unit of the pool's passages with its score under UNIT_WEIGHTS."""
    rows, where, split = unit_features(question, pool, top_score, similarity)
    scores = rows @ np.asarray(UNIT_WEIGHTS)
    cosine = UNIT_FEATURES.index("cosine")
    return [
        (_Candidate(float(scores[i]), h, u, float(rows[i, cosine])), split[h])
        for i, (h, u) in enumerate(where)
    ]


def _same_version(a: Hit, b: Hit) -> bool:
    return (a.passage.doc_key, a.passage.version) == (b.passage.doc_key, b.passage.version)


def draft_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    similarity: UnitSimilarity | None = None,
    superseded: SupersededSignal = NO_SIGNAL,
) -> Draft | None:
    """The best quotable answer in the hits (from one insurer only), with its confidence features.

    `similarity` scores unit texts against the question (MiniLM cosine); without it, units are chosen
    by their terms alone and the `answer_dense` feature falls back to the passage's cosine.
    `superseded` compares the question with versions no longer in force (features only: the quotes
    come from `hits` alone).
    """
    if not hits:
        return None
    named = detect_insurer(question, {h.passage.insurer for h in hits})
    insurer = named or hits[0].passage.insurer
    # never quote two insurers in one answer: only the named one's (or the best hit's) passages compete
    pool = [h for h in hits if h.passage.insurer == insurer][:CANDIDATE_PASSAGES]
    terms = hits[0].query_terms
    top_score = hits[0].score if hits[0].score > 0 else 1.0
    scored = _candidates(question, pool, top_score, similarity)
    if not scored:
        return None
    scored.sort(key=lambda c: -c[0].score)
    best, units = scored[0]
    hit = pool[best.pool_index]
    picked: list[tuple[Hit, Unit]] = [(hit, u) for u in _pick_units(hit, terms, units, best.unit_index)]
    # a near tie from the same policy version is quoted too, from the same passage or another: the row
    # and the sentence that both speak to the question, rather than a coin toss between them
    taken = {(id(h), u.start) for h, u in picked}
    for candidate, other_units in scored[1:]:
        if len(picked) >= MAX_QUOTES or candidate.score < NEAR_TIE * best.score:
            break
        other = pool[candidate.pool_index]
        unit = other_units[candidate.unit_index]
        if _same_version(other, hit) and (id(other), unit.start) not in taken:
            picked.append((other, unit))
            taken.add((id(other), unit.start))
    # read in order: the best passage first, and within a passage its units as they stand in the text
    first_seen = {id(h): i for i, h in reversed(list(enumerate(h for h, _ in picked)))}
    picked.sort(key=lambda hu: (first_seen[id(hu[0])], hu[1].start))
    passage = hit.passage
    citations = tuple(
        Citation(
            passage_id=h.passage.passage_id,
            document_id=h.passage.document_id,
            doc_key=h.passage.doc_key,
            version=h.passage.version,
            title=h.passage.title,
            page=h.passage.page,
            quote=h.passage.text[u.start : u.end],
            start=u.start,
            end=u.end,
        )
        for h, u in picked
    )
    quoted = set().union(*(_tokens(c.quote) for c in citations))
    quoted_text = " ".join(c.quote for c in citations)
    expected = _expected_values(question)
    context = _tokens(f"{passage.heading or ''} {passage.title}")
    whole = set(_tokens(passage.text)) | context
    missing = [t for t in terms if not t.term.satisfied_by(whole)]
    features = {
        "top_dense": hits[0].dense,
        "top_bm25": math.log1p(max(hits[0].bm25, 0.0)),
        "top_coverage": hits[0].coverage,
        "answer_coverage": _coverage(terms, quoted),
        "context_coverage": _coverage(terms, quoted | context),
        "insurer_named": 1.0 if named is not None else 0.0,
        # question concepts no active passage mentions at all ("upright MRI", "Meadowbrook")
        "unknown_terms": float(sum(not t.in_index for t in terms)),
        # the question asks for a duration, count, age, amount or contact and the quotes hold none
        "value_missing": 1.0 if expected and not any(p.search(quoted_text) for p in expected) else 0.0,
        # how close the chosen sentence itself is to the question, not just its passage
        "answer_dense": best.cosine if similarity is not None else hit.dense,
        **superseded.features,
    }
    return Draft(
        hit=hit,
        units=tuple(u for _, u in picked),
        citations=citations,
        text=_compose(question, citations, plain=not missing),
        features=features,
        missing=tuple(t.term.word or t.term.token for t in missing),
        unknown_insurer=_unknown_insurer(question, hits),
    )


def _unknown_insurer(question: str, hits: Sequence[Hit]) -> str | None:
    """An insurer-like name in the question whose distinctive words no active passage contains."""
    unknown = {t.term.token for t in hits[0].query_terms if not t.in_index}
    for words in insurer_like_names(question, {h.passage.insurer for h in hits}):
        if all(tokenize(w) and tokenize(w)[0] in unknown for w in words):
            return " ".join(w.capitalize() for w in words)
    return None


def _compose(question: str, citations: Sequence[Citation], *, plain: bool) -> str:
    """The quotes with their markers and source; "Yes."/"No." first only when the passage holds every
    concept of the question (`plain`) and the quote affirms or denies it in so many words."""
    quotes = " ".join(f"\u201c{_flat(c.quote)}\u201d [{n}]" for n, c in enumerate(citations, 1))
    first = citations[0]
    source = f"{first.title}, version {first.version}, page {first.page}"
    verdict = yes_or_no(question, " ".join(c.quote for c in citations)) if plain else None
    prefix = f"{verdict} " if verdict else ""
    return f"{prefix}{quotes}\n\u2014 {source}"


def _flat(text: str) -> str:
    return " ".join(text.split())


def answer_question(
    question: str,
    hits: Sequence[Hit],
    *,
    threshold: float,
    calibration: Calibration,
    similarity: UnitSimilarity | None = None,
    superseded: SupersededSignal = NO_SIGNAL,
) -> Answer:
    """Answer from the hits with quotes and citations, or abstain when the calibrated confidence is low."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    closest = list(hits)
    draft = draft_answer(question, hits, similarity=similarity, superseded=superseded)
    if draft is None:
        return Answer(False, ABSTAIN_TEXT, [], 0.0, "no passage was retrieved", closest)
    coverage = draft.features["context_coverage"]
    missing = f"; not found: {', '.join(draft.missing)}" if draft.missing else ""
    if superseded.notable:
        missing += f"; {superseded.describe()}"
    where = f"{draft.hit.passage.doc_key} v{draft.hit.passage.version} p. {draft.hit.passage.page}"
    if draft.unknown_insurer is not None:
        reason = f"the question names {draft.unknown_insurer}, and no active policy mentions that insurer"
        return Answer(False, ABSTAIN_TEXT, [], 0.0, reason, closest, dict(draft.features))
    confidence = calibration.probability(draft.features)
    if confidence < threshold:
        reason = (
            f"confidence {confidence:.2f} < threshold {threshold:.2f}: the best passage ({where}) "
            f"covers {coverage:.0%} of the question's terms{missing}"
        )
        return Answer(False, ABSTAIN_TEXT, [], confidence, reason, closest, dict(draft.features))
    reason = (
        f"confidence {confidence:.2f} \u2265 threshold {threshold:.2f}: quoted from {where}, "
        f"covering {coverage:.0%} of the question's terms{missing}"
    )
    return Answer(True, draft.text, list(draft.citations), confidence, reason, closest, dict(draft.features))

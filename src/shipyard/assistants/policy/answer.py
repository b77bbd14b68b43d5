"""Extractive answers: the best sentences or table rows of the top passages, quoted verbatim and cited."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from shipyard.assistants.policy.calibration import Calibration
from shipyard.assistants.policy.insurers import detect_insurer
from shipyard.assistants.policy.retrieve import Hit, WeightedTerm
from shipyard.assistants.policy.segments import Unit, split_units
from shipyard.assistants.policy.terms import tokenize

ABSTAIN_TEXT = "The active policies do not answer this."
# passages of the answering insurer whose sentences compete for the quote
CANDIDATE_PASSAGES = 5
MAX_QUOTES = 3
# a further sentence of the same passage is quoted when it adds this much of the question's weight
EXTRA_GAIN = 0.12
_FOLLOW_ON_RE = re.compile(
    r"^(?:this|these|that|those|such|it|they|however|unless|except|but|if|when)\b", re.I
)

FEATURES: tuple[str, ...] = (
    "top_score",
    "top_dense",
    "top_bm25",
    "top_coverage",
    "answer_coverage",
    "context_coverage",
    "missing_weight",
    "dense_margin",
    "insurer_named",
    "answer_rank",
)


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


def _coverage(terms: Sequence[WeightedTerm], present: set[str]) -> float:
    total = sum(t.weight for t in terms)
    if total == 0.0:
        return 0.0
    return sum(t.weight for t in terms if t.term.satisfied_by(present)) / total


def _tokens(text: str) -> set[str]:
    return set(tokenize(text))


def _pick_units(hit: Hit, terms: Sequence[WeightedTerm], units: list[Unit], best: int) -> list[Unit]:
    """The best unit plus what it needs: the table header, a list after a colon, a follow-on sentence,
    or another sentence that covers question terms the best one misses."""
    text = hit.passage.text
    chosen = [best]
    first = units[best]
    if first.row and best > 0 and units[0].row:
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


def draft_answer(question: str, hits: Sequence[Hit]) -> Draft | None:
    """The best quotable answer in the hits (from one insurer only), with its confidence features."""
    if not hits:
        return None
    named = detect_insurer(question, {h.passage.insurer for h in hits})
    insurer = named or hits[0].passage.insurer
    # never quote two insurers in one answer: only the named one's (or the best hit's) passages compete
    pool = [h for h in hits if h.passage.insurer == insurer][:CANDIDATE_PASSAGES]
    terms = hits[0].query_terms
    top_score = hits[0].score if hits[0].score > 0 else 1.0
    best: tuple[float, int, int, list[Unit]] | None = None
    for h_index, hit in enumerate(pool):
        units = split_units(hit.passage.text, kind=hit.passage.kind)
        context = _tokens(f"{hit.passage.heading or ''} {hit.passage.title}")
        for u_index, unit in enumerate(units):
            present = _tokens(hit.passage.text[unit.start : unit.end])
            score = (
                0.5 * _coverage(terms, present)
                + 0.3 * _coverage(terms, present | context)
                + 0.2 * hit.score / top_score
            )
            if best is None or score > best[0]:
                best = (score, h_index, u_index, units)
    if best is None:
        return None
    _, h_index, u_index, units = best
    hit = pool[h_index]
    chosen = _pick_units(hit, terms, units, u_index)
    passage = hit.passage
    citations = tuple(
        Citation(
            passage_id=passage.passage_id,
            document_id=passage.document_id,
            doc_key=passage.doc_key,
            version=passage.version,
            title=passage.title,
            page=passage.page,
            quote=passage.text[u.start : u.end],
            start=u.start,
            end=u.end,
        )
        for u in chosen
    )
    quoted = set().union(*(_tokens(c.quote) for c in citations))
    context = _tokens(f"{passage.heading or ''} {passage.title}")
    whole = set(_tokens(passage.text)) | context
    missing = [t for t in terms if not t.term.satisfied_by(whole)]
    features = {
        "top_score": hits[0].score,
        "top_dense": hits[0].dense,
        "top_bm25": math.log1p(max(hits[0].bm25, 0.0)),
        "top_coverage": hits[0].coverage,
        "answer_coverage": _coverage(terms, quoted),
        "context_coverage": _coverage(terms, quoted | context),
        "missing_weight": max((t.weight for t in missing), default=0.0),
        "dense_margin": hits[0].dense - hits[1].dense if len(hits) > 1 else hits[0].dense,
        "insurer_named": 1.0 if named is not None else 0.0,
        "answer_rank": float(hit.rank),
    }
    return Draft(
        hit=hit,
        units=tuple(chosen),
        citations=citations,
        text=_compose(question, citations),
        features=features,
        missing=tuple(t.term.word or t.term.token for t in missing),
    )


def _compose(question: str, citations: Sequence[Citation]) -> str:
    quotes = " ".join(f"\u201c{_flat(c.quote)}\u201d [{n}]" for n, c in enumerate(citations, 1))
    first = citations[0]
    source = f"{first.title}, version {first.version}, page {first.page}"
    verdict = yes_or_no(question, " ".join(c.quote for c in citations))
    prefix = f"{verdict} " if verdict else ""
    return f"{prefix}{quotes}\n\u2014 {source}"


def _flat(text: str) -> str:
    return " ".join(text.split())


_QUESTION_AUX_RE = re.compile(r"^\s*(?:does|do|is|are|can|will|would|should|must|may|has|have)\b", re.I)
_PREDICATES: tuple[tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(r"\b(?:requir\w*|need\w*|prior auth\w*|pre-?cert\w*|referral)\b", re.I),
        re.compile(r"\b(?:is|are) required\b|\brequires?\b|\bmust (?:be )?obtain", re.I),
        re.compile(
            r"\b(?:is|are) not required\b|\bdo(?:es)? not require\b|\bno (?:\w+ ){0,3}(?:is|are) required\b"
            r"|\bnot (?:be )?subject to\b"
            r"|\bwithout (?:a |an )?(?:prior authorization|referral|precertification)",
            re.I,
        ),
    ),
    (
        re.compile(r"\bcover(?:ed|s|age)?\b|\bpay\b|\breimburs\w*", re.I),
        re.compile(
            r"\b(?:is|are) covered\b|\bcovers\b|\b(?:is|are) a covered\b|\beligible for coverage\b", re.I
        ),
        re.compile(
            r"\b(?:is|are) not covered\b|\bdo(?:es)? not cover\b|\bexcluded\b|\bnot (?:a )?covered\b"
            r"|\bnon-?covered\b|\bnot eligible\b",
            re.I,
        ),
    ),
)


def yes_or_no(question: str, quoted: str) -> str | None:
    """ "Yes." or "No." when a yes/no question's predicate is plainly affirmed or denied by the quote."""
    if not _QUESTION_AUX_RE.match(question):
        return None
    for asks, yes, no in _PREDICATES:
        if not asks.search(question):
            continue
        said_no = no.search(quoted) is not None
        # "is not required" also contains "required": count a yes only where no denial is written
        said_yes = yes.search(no.sub(" ", quoted)) is not None
        if said_no != said_yes:
            return "No." if said_no else "Yes."
        return None
    return None


def answer_question(
    question: str, hits: Sequence[Hit], *, threshold: float, calibration: Calibration
) -> Answer:
    """Answer from the hits with quotes and citations, or abstain when the calibrated confidence is low."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    closest = list(hits)
    draft = draft_answer(question, hits)
    if draft is None:
        return Answer(False, ABSTAIN_TEXT, [], 0.0, "no passage was retrieved", closest)
    confidence = calibration.probability(draft.features)
    coverage = draft.features["context_coverage"]
    missing = f"; not found: {', '.join(draft.missing)}" if draft.missing else ""
    where = f"{draft.hit.passage.doc_key} v{draft.hit.passage.version} p. {draft.hit.passage.page}"
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

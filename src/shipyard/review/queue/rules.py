"""Which calls go to a person: the service's review policy applied to one answered call.

Runs on the hot path, so it reads only the call and the cached policy: no database, and restricted
terms are compiled once per list of terms.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from shipyard.serving.policy import ReviewPolicy

# Input nesting and text walked when looking for restricted terms: enough for any real request, and a
# hostile one cannot make the check expensive.
_MAX_DEPTH = 8
_MAX_TEXT = 200_000


@dataclass(frozen=True)
class ReviewRequest:
    """Why a call goes to review, and whether its answer is held back meanwhile."""

    action: Literal["hold", "queue"]
    rule: Literal["low_confidence", "restricted_term", "abstained", "sample"]
    reason: str

    def as_record(self) -> dict[str, str]:
        return {"action": self.action, "rule": self.rule, "reason": self.reason}


@functools.lru_cache(maxsize=256)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words, so "ct" does not match "contract"; longest first, so a phrase wins over its words.
    # Any run of whitespace between a phrase's words matches, as text wraps and people double-space.
    ordered = sorted({" ".join(t.casefold().split()) for t in terms if t.strip()}, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, t.split(" "))) for t in ordered)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif depth < _MAX_DEPTH and isinstance(value, dict):
        for item in value.values():
            yield from _texts(item, depth + 1)
    elif depth < _MAX_DEPTH and isinstance(value, list):
        for item in value:
            yield from _texts(item, depth + 1)


def restricted_term(policy: ReviewPolicy, inputs: Any) -> str | None:
    """The first restricted term found in the input's text, or None."""
    if not policy.restricted_terms:
        return None
    pattern = _pattern(tuple(policy.restricted_terms))
    seen = 0
    for text in _texts(inputs):
        text = text[: _MAX_TEXT - seen]
        found = pattern.search(text)
        if found:
            return " ".join(found.group(0).casefold().split())
        seen += len(text)
        if seen >= _MAX_TEXT:
            break
    return None


def decide(
    policy: ReviewPolicy,
    inputs: Any,
    confidence: float | None,
    outcome: str,
    *,
    draw: float | None = None,
) -> ReviewRequest | None:
    """Whether an answered call (outcome served, fallback or abstained) goes to review, and how.

    `draw` is the sample's random number in [0, 1); tests pass one, calls draw their own.
    """
    if not policy.active or outcome not in ("served", "fallback", "abstained"):
        return None
    term = restricted_term(policy, inputs)
    if term is not None:
        return ReviewRequest(policy.action, "restricted_term", f"the input mentions {term!r}")
    if outcome == "abstained":
        if policy.queue_abstentions:
            return ReviewRequest("queue", "abstained", "the model abstained")
        return None  # an abstention already says it does not know; low confidence is its reason
    threshold = policy.low_confidence
    if threshold is not None and confidence is not None and confidence < threshold:
        return ReviewRequest(policy.action, "low_confidence", f"confidence {confidence:.3g} < {threshold:g}")
    if policy.sample_rate and (random.random() if draw is None else draw) < policy.sample_rate:
        return ReviewRequest("queue", "sample", f"sampled for a quality check ({policy.sample_rate:.0%})")
    return None

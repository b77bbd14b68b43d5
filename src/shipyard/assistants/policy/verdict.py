"""A "Yes." or "No." before the quotes, only where the quoted text says so in so many words."""

from __future__ import annotations

import re

_QUESTION_AUX_RE = re.compile(r"^\s*(?:does|do|is|are|can|will|would|should|must|may|has|have)\b", re.I)
_NEGATION = r"(?:not|no longer|never|n't)\s+(?:\w+\s+){0,2}?"
# conditions make a sentence a "yes, but": it is quoted without a verdict
_HEDGE_RE = re.compile(
    r"\b(?:unless|except|only|if|when|after|until|beyond|first|up to|more than|over|once|provided)\b", re.I
)


def _row_flag(label: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A table cell such as "Prior authorization required: Yes" (rows read "Header: value | ...")."""
    cell = rf"\b{label}[^|:\n]{{0,30}}:\s*"
    return re.compile(cell + r"yes\b", re.I), re.compile(cell + r"no\b", re.I)


_AUTH_ROW_YES, _AUTH_ROW_NO = _row_flag(r"(?:prior authorization|authorization|prior auth|precertification)")
_COVER_ROW_YES, _COVER_ROW_NO = _row_flag(r"(?:covered|coverage)")

# (what the question asks about, the quote affirming it, the quote denying it)
_PREDICATES: tuple[tuple[re.Pattern[str], tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]], ...] = (
    (
        re.compile(r"\b(?:requir\w*|need\w*|prior auth\w*|pre-?cert\w*|referral|PA)\b", re.I),
        (
            re.compile(r"\b(?:is|are) required\b|\brequires?\b|\bmust (?:be )?obtain", re.I),
            _AUTH_ROW_YES,
        ),
        (
            re.compile(rf"\b{_NEGATION}(?:requir\w*|need\w*)", re.I),
            re.compile(r"\bno (?:\w+ ){0,3}(?:is|are) (?:required|needed)\b", re.I),
            re.compile(r"\bnot (?:be )?subject to\b", re.I),
            re.compile(r"\bwithout (?:a |an )?(?:prior authorization|referral|precertification)", re.I),
            _AUTH_ROW_NO,
        ),
    ),
    (
        re.compile(r"\bcover(?:ed|s|age)?\b|\bpay\b|\breimburs\w*", re.I),
        (
            re.compile(r"\b(?:is|are) (?:a )?covered\b|\bcovers\b|\beligible for coverage\b", re.I),
            _COVER_ROW_YES,
        ),
        (
            re.compile(rf"\b{_NEGATION}(?:a )?(?:cover\w*|eligible|payable)", re.I),
            re.compile(r"\bexcluded\b|\bnon-?covered\b|\bexclusions?\b", re.I),
            _COVER_ROW_NO,
        ),
    ),
)


def yes_or_no(question: str, quoted: str) -> str | None:
    """ "Yes." or "No." when a yes/no question's predicate is plainly affirmed or denied by the quote."""
    if not _QUESTION_AUX_RE.match(question):
        return None
    for asks, affirm, deny in _PREDICATES:
        if not asks.search(question):
            continue
        said_no = any(p.search(quoted) for p in deny)
        # "is not required" also contains "required": look for a yes only where no denial is written
        rest = quoted
        for p in deny:
            rest = p.sub(" ", rest)
        said_yes = any(p.search(rest) for p in affirm)
        if said_no == said_yes or _HEDGE_RE.search(quoted):
            return None
        return "No." if said_no else "Yes."
    return None

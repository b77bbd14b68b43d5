"""Tokenising for BM25: stopwords, a light stemmer, billing codes and code ranges, query synonyms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Question words and glue that say nothing about which passage answers; domain words stay in.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below between both
    but by can could did do does doing done during each either else etc ever every few for from further
    get gets got had has have having he her here hers him his how i if in into is it its itself just
    let may me might more most much must my need needs no nor not of off on once only or other our ours
    out over own per please same shall she should so some such than that the their theirs them then there
    these they this those through thus to too under until up upon us very was we were what whatever when
    where whether which while who whom whose why will with within would yes you your
    """.split()
)

# Words that frame a question rather than say what it is about ("what does the policy say about ...").
QUESTION_WORDS: frozenset[str] = frozenset(
    """
    say says said tell know many allow allowed allows needed anything something policy policies rule rules
    guideline guidelines state states mention mentions apply applies long take takes use using vs versus
    see ok okay still anymore keep actually currently right thing things someone somebody anyone
    """.split()
)
# "don't", "isn't", "what's": the pieces left after the apostrophe
_CONTRACTION_RE = re.compile(r"(?i)n['’]t\b|['’](?:s|re|ve|ll|d|m)\b")

# Abbreviations billing staff type, expanded at query time only: in a policy text "PA" may just as well be
# a physician assistant, so documents are never rewritten.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "pt": ("physical therapy",),
    "ot": ("occupational therapy",),
    "st": ("speech therapy",),
    "slp": ("speech language pathology", "speech therapy"),
    "dme": ("durable medical equipment",),
    "mri": ("magnetic resonance imaging",),
    "ct": ("computed tomography",),
    "pet": ("positron emission tomography",),
    "pa": ("prior authorization",),
    "auth": ("authorization",),
    "preauth": ("prior authorization",),
    "preauthorization": ("prior authorization",),
    "precert": ("prior authorization", "precertification"),
    "precertification": ("prior authorization",),
    "snf": ("skilled nursing facility",),
    "er": ("emergency",),
    "ed": ("emergency department",),
    "oon": ("out of network",),
    "cob": ("coordination of benefits",),
    "back": ("lumbar",),
    "rx": ("prescription",),
    "pos": ("place of service",),
    "dos": ("date of service",),
    "dx": ("diagnosis",),
    "abd": ("abdomen",),
    "eob": ("explanation of benefits",),
    "hh": ("home health",),
    # the words staff use for what the policies name otherwise
    "patient": ("member",),
    "telephone": ("audio",),
    "one": ("single",),
    "psych": ("psychological",),
    "eval": ("evaluation",),
    "routine": ("standard",),
    "urgent": ("expedited",),
    "child": ("pediatric",),
    "kid": ("pediatric",),
    "doctor": ("physician",),
    "paid": ("pay",),
    "fix": ("repair",),
    "copay": ("cost share", "copayment"),
    "turnaround": ("decision",),
}

# Applied before SYNONYMS so that "prior auth" or "pre-cert" expand as one unit.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bprior[\s-]+auth\b", "prior authorization"),
        (r"\bpre[\s-]+cert(?:ification)?\b", "precert"),
        (r"\bpre[\s-]+auth(?:orization)?\b", "preauth"),
        (r"\bpre[\s-]*approv(?:al|ed)?\b", "preauth"),
        (r"\blow(?:er)?[\s-]+back\b", "lumbar"),
    )
)

# CPT (72148, 0075T), HCPCS Level II (E0601) and ICD-10 (M54.5) codes stay whole and unstemmed.
_CODE = r"(?:\d{5}|\d{4}[a-z]|[a-z]\d{4})"
# the lookahead lets the engine skip most positions quickly: a code starts with a digit or letter+digits
_RANGE_RE = re.compile(rf"(?<![a-z0-9])(?=[a-z]?\d{{4}})({_CODE})\s*(?:-|–|—|to|through|thru)\s*({_CODE})\b")
_TOKEN_RE = re.compile(r"[a-z]\d{2}\.\d{1,4}[a-z]?|[a-z0-9]+")
_CODE_RE = re.compile(rf"{_CODE}|[a-z]\d{{2}}\.\d{{1,4}}[a-z]?")
_CODE_PARTS_RE = re.compile(r"^([a-z]?)(\d+)([a-z]?)$")
# A range wider than this is a chapter heading, not a list of codes anyone means individually.
MAX_RANGE_SPAN = 1000

_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("izations", "iz"),
    ("ization", "iz"),
    ("ations", "at"),
    ("ation", "at"),
    ("ments", ""),
    ("ment", ""),
    ("clusions", "clud"),
    ("clusion", "clud"),
    ("erage", "er"),
    ("ities", ""),
    ("ity", ""),
    ("ies", "y"),
    ("ing", ""),
    ("ed", ""),
    ("es", "e"),
    ("s", ""),
)


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Strip one common English suffix so that "authorized", "authorization" and "authorizes" meet."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("ss", "us", "is")):
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def is_code(token: str) -> bool:
    """True for a CPT, HCPCS or ICD-10 looking token."""
    return _CODE_RE.fullmatch(token) is not None


def tokenize(text: str) -> list[str]:
    """Lower-case, drop stopwords, stem words, keep codes whole."""
    return [_term(raw) for raw in _TOKEN_RE.findall(text.lower()) if raw not in STOPWORDS]


@lru_cache(maxsize=1 << 16)
def _term(raw: str) -> str:
    return stem(raw) if raw.isalpha() else raw


@dataclass(frozen=True)
class CodeRange:
    """A code range such as 72141-72158, kept so a code inside it can find the passage."""

    prefix: str
    low: int
    high: int
    suffix: str
    first: str
    last: str

    def contains(self, code: str) -> bool:
        """True when the code has the same shape and lies between the endpoints."""
        parts = _CODE_PARTS_RE.match(code)
        if parts is None or parts.group(1) != self.prefix or parts.group(3) != self.suffix:
            return False
        return len(parts.group(2)) == len(self.first) - len(self.prefix) - len(self.suffix) and (
            self.low <= int(parts.group(2)) <= self.high
        )


def code_ranges(text: str) -> list[CodeRange]:
    """The code ranges written in a text ("72141-72158", "E0601 through E0604")."""
    ranges: list[CodeRange] = []
    for match in _RANGE_RE.finditer(text.lower()):
        first, last = match.group(1), match.group(2)
        a, b = _CODE_PARTS_RE.match(first), _CODE_PARTS_RE.match(last)
        if a is None or b is None or len(first) != len(last):
            continue
        if a.group(1) != b.group(1) or a.group(3) != b.group(3):
            continue
        low, high = int(a.group(2)), int(b.group(2))
        if 0 < high - low <= MAX_RANGE_SPAN:
            ranges.append(CodeRange(a.group(1), low, high, a.group(3), first, last))
    return ranges


@dataclass(frozen=True)
class QueryTerm:
    """One concept of a question: satisfied when all tokens of any one alternative are present."""

    token: str
    alternatives: tuple[tuple[str, ...], ...]
    word: str = ""

    def tokens(self) -> set[str]:
        """Every token that can stand for this concept."""
        return {t for alt in self.alternatives for t in alt}

    def satisfied_by(self, present: set[str] | frozenset[str]) -> bool:
        """True when some alternative is wholly in `present`."""
        return any(all(t in present for t in alt) for alt in self.alternatives)


def query_terms(question: str, *, drop: set[str] | frozenset[str] = frozenset()) -> list[QueryTerm]:
    """The question's concepts with synonym alternatives, without stopwords and the tokens in `drop`."""
    text = _CONTRACTION_RE.sub(" ", question)
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    terms: dict[str, QueryTerm] = {}
    for raw in _TOKEN_RE.findall(text.lower()):
        if (raw in STOPWORDS or raw in QUESTION_WORDS or len(raw) == 1) and raw not in SYNONYMS:
            continue
        token = raw if not raw.isalpha() else stem(raw)
        if token in drop or token in terms:
            continue
        alternatives: list[tuple[str, ...]] = [(token,)]
        for expansion in SYNONYMS.get(raw, ()):
            alternatives.append(tuple(tokenize(expansion)))
        terms[token] = QueryTerm(token, tuple(alternatives), raw)
    return list(terms.values())

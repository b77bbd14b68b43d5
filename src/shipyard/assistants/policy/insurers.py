"""Which insurer a question names: full name, distinctive word, acronym ("NWH") or a small typo."""

from __future__ import annotations

import re
from collections.abc import Iterable

from shipyard.assistants.policy.terms import STOPWORDS, SYNONYMS

# Words many insurer names share; on their own they name nobody.
GENERIC_WORDS: frozenset[str] = frozenset(
    """
    health healthcare insurance insurer care plan plans mutual inc co company corp corporation group
    assurance life medical benefit benefits network partners alliance system systems services service
    association of the and
    """.split()
)
_NAME_GLUE = frozenset({"of", "the", "and"})
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9&]*")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, giving up (returning limit + 1) once it must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _typo_limit(word: str) -> int:
    return 0 if len(word) < 5 else 1 if len(word) < 8 else 2


def _is_acronym_of(acronym: str, words: list[str]) -> bool:
    """True when the acronym splits into one chunk per word, each starting with that word's initial
    and otherwise picking letters of the word in order ("nwh" for northwind health)."""
    if not words:
        return acronym == ""
    word = words[0]
    for cut in range(1, len(acronym) - len(words) + 2):
        chunk = acronym[:cut]
        if chunk[0] != word[0]:
            return False
        if _is_subsequence(chunk[1:], word[1:]) and _is_acronym_of(acronym[cut:], words[1:]):
            return True
    return False


def _is_subsequence(needle: str, haystack: str) -> bool:
    letters = iter(haystack)
    return all(c in letters for c in needle)


def _score(insurer: str, original: list[str], lowered: list[str], text: str) -> tuple[float, set[str]]:
    """How plainly the question names the insurer, and the question words that name it."""
    name_words = [w.lower() for w in _WORD_RE.findall(insurer)]
    if not name_words:
        return 0.0, set()
    if re.search(r"\b" + r"\s+".join(re.escape(w) for w in name_words) + r"\b", text):
        return 4.0 + len(name_words), set(name_words)
    best = 0.0
    words: set[str] = set()
    distinctive = [w for w in name_words if w not in GENERIC_WORDS and len(w) >= 3]
    # adjacent pairs too, so "North Wind" still finds Northwind
    candidates = [(o, w) for o, w in zip(original, lowered, strict=True)]
    candidates += [(a + b, x + y) for (a, x), (b, y) in zip(candidates, candidates[1:], strict=False)]
    for word in distinctive:
        for orig, cand in candidates:
            if cand == word:
                best = max(best, 3.0)
                words.update(_parts(cand, lowered))
            elif len(word) >= 5:
                # lower-case near misses only for long words: "submit" must not find "Summit"
                limit = _typo_limit(word) if orig[:1].isupper() or len(cand) >= 8 else 0
                if limit and _edit_distance(cand, word, limit) <= limit:
                    best = max(best, 2.0)
                    words.update(_parts(cand, lowered))
    initials = [w for w in name_words if w not in _NAME_GLUE]
    if len(initials) < 2:
        return best, words
    for orig, low in zip(original, lowered, strict=True):
        # upper case marks an acronym; typed in lower case it must be longer to stand out from words
        if low in SYNONYMS or low in STOPWORDS or not (orig.isupper() and len(orig) >= 2 or len(orig) >= 3):
            continue
        if len(low) <= 6 and _is_acronym_of(low, initials):
            best = max(best, 3.0)
            words.add(low)
    return best, words


def _parts(candidate: str, lowered: list[str]) -> set[str]:
    """The question words a candidate was made of (itself, or the adjacent pair joined into it)."""
    if candidate in lowered:
        return {candidate}
    out: set[str] = set()
    for a, b in zip(lowered, lowered[1:], strict=False):
        if candidate == a + b:
            out.update((a, b))
    return out


def insurer_mentions(question: str, insurer: str) -> set[str]:
    """The lower-cased question words that name the insurer ("nwh", "northwnd"), for dropping from queries."""
    original = _WORD_RE.findall(question)
    lowered = [w.lower() for w in original]
    return _score(insurer, original, lowered, " ".join(lowered))[1]


def detect_insurer(question: str, insurers: Iterable[str]) -> str | None:
    """The insurer, out of `insurers`, that the question names, or None when it names none of them."""
    original = _WORD_RE.findall(question)
    lowered = [w.lower() for w in original]
    text = " ".join(lowered)
    scored = sorted(
        ((_score(name, original, lowered, text)[0], name) for name in set(insurers)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not scored or scored[0][0] == 0.0:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        # two insurers named equally well ("Blue Cross" when both Blue Cross plans exist): say neither
        return None
    return scored[0][1]


# "Ironwood Health Partners", "Meadowbrook Care": capitalised words ending the way insurer names end
_NAME_ENDINGS = (
    r"Health(?:\s+(?:Plan|Partners|Alliance|Network|System))?|Healthcare|Care|Insurance|Assurance|Mutual|"
    r"Partners|Alliance|Benefits"
)
_INSURER_LIKE_RE = re.compile(rf"\b((?:[A-Z][a-z]+\s+){{1,3}}(?:{_NAME_ENDINGS}))\b")


def insurer_like_names(question: str, insurers: Iterable[str]) -> list[list[str]]:
    """Insurer-looking names in the question that are none of `insurers`, as their distinctive words
    ("Meadowbrook Care" gives ["meadowbrook"]); the caller decides whether those words are unknown."""
    known = set(insurers)
    out: list[list[str]] = []
    for match in _INSURER_LIKE_RE.finditer(question):
        name = match.group(1)
        if detect_insurer(name, known) is not None:
            continue
        words = [w.lower() for w in name.split()]
        distinctive = [w for w in words if w not in GENERIC_WORDS and w not in STOPWORDS]
        if distinctive:
            out.append(distinctive)
    return out

"""Question ids and the dev/test split: about 40% dev, stratified by category and insurer, by fact.

The split of the first question set (`frozen`, 273 questions) is fixed: its test part is the held-out set
the figures are reported on. Questions written later (`added`) all go to dev, after the frozen ones, and
may not be about a fact (an overlapping passage of the same version) that a test question is about.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from model import Q, normalise
from validate import CorpusError, fact_groups

SEED = 20250301
DEV_SHARE = 0.4


def assign_splits(frozen: list[Q], added: Sequence[Q] = ()) -> list[dict[str, Any]]:
    """The question rows as written to questions.jsonl, with ids and splits (every added one in dev)."""
    split_of = _frozen_splits(frozen)
    test_passages = [
        (q.ref, normalise(q.passage or ""))
        for q, split in zip(frozen, split_of, strict=True)
        if split == "test" and q.ref
    ]
    for q in added:
        if q.ref is None:
            continue
        mine = normalise(q.passage or "")
        for ref, theirs in test_passages:
            if ref == q.ref and _overlap(mine, theirs):
                raise CorpusError(
                    f"added question {q.question!r}: its passage overlaps a test question's passage "
                    f"in {ref}; added questions go to dev and must be about other facts"
                )
    splits = [*split_of, *["dev"] * len(added)]
    return [_row(i, q, split) for i, (q, split) in enumerate(zip([*frozen, *added], splits, strict=True))]


def _overlap(a: str, b: str) -> bool:
    """Two passages of one version speak of the same fact: one holds the other, or they share a sentence."""
    if a in b or b in a:
        return True
    sentences = {s.strip() for s in re.split(r"(?<=[.;:])\s+", a) if len(s.strip()) > 20}
    return any(s in b for s in sentences)


def _frozen_splits(questions: list[Q]) -> list[str]:
    """The original assignment, stratified by category and insurer, one split per fact."""
    groups = fact_groups(questions)
    members: defaultdict[str, list[int]] = defaultdict(list)
    for i, key in groups.items():
        members[key].append(i)
    strata: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for key, idx in members.items():
        first = questions[idx[0]]
        stratum = (first.category, first.insurer or "-")
        if key not in strata[stratum]:
            strata[stratum].append(key)
    rng = random.Random(SEED)
    split_of: dict[str, str] = {}
    carry = 0.0
    for stratum in sorted(strata):
        keys = strata[stratum]
        rng.shuffle(keys)
        size = sum(len(members[k]) for k in keys)
        wanted = DEV_SHARE * size + carry
        dev = 0
        for key in keys:
            n = len(members[key])
            if dev + n <= wanted + 0.5:
                split_of[key] = "dev"
                dev += n
            else:
                split_of[key] = "test"
        carry = wanted - dev
    return [split_of[groups[i]] for i in range(len(questions))]


def _row(i: int, q: Q, split: str) -> dict[str, Any]:
    return {
        "id": f"q{i + 1:03d}",
        "question": q.question,
        "insurer": q.insurer,
        "answerable": q.ref is not None,
        "answer": q.answer,
        "evidence": list(q.evidence),
        "doc_key": q.ref.split("@")[0] if q.ref else None,
        "version": q.ref.split("@")[1] if q.ref else None,
        "page": q.page,
        "passage": q.passage,
        "category": q.category,
        "split": split,
        "trap": q.trap,
        "note": q.note,
    }

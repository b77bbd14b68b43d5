"""Question ids and the dev/test split: about 40% dev, stratified by category and insurer, by fact."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from model import Q
from validate import fact_groups

SEED = 20250301
DEV_SHARE = 0.4


def assign_splits(questions: list[Q]) -> list[dict[str, Any]]:
    """The question rows as written to questions.jsonl, with ids and splits."""
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
    rows = []
    for i, q in enumerate(questions):
        rows.append(
            {
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
                "split": split_of[groups[i]],
                "trap": q.trap,
                "note": q.note,
            }
        )
    return rows

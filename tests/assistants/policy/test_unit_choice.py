"""Which sentence or row of the retrieved passages is quoted: the unit features and near ties."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from shipyard.assistants.policy.answer import UNIT_FEATURES, draft_answer, unit_features
from shipyard.assistants.policy.index import PolicyIndex
from shipyard.assistants.policy.retrieve import Hit, weighted_terms
from shipyard.assistants.policy.terms import query_terms
from tests.assistants.policy.fixtures import NORTHWIND, PASSAGES

TELEHEALTH = (
    "Northwind Health covers real-time video visits when the same service would be covered in person. "
    "Bill telehealth with place of service 10 when the member is at home. "
    "Audio-only visits are covered for behavioral health only and must carry modifier 93. "
    "Home sleep test G0399 does not require prior authorization."
)


def _pool(question: str, *texts: str) -> list[Hit]:
    """One hit per text, scored alike, as retrieval would hand them to the answer step."""
    base = next(p for p in PASSAGES if p.insurer == NORTHWIND)
    passages = [replace(base, passage_id=f"p{n}", text=t, heading=None) for n, t in enumerate(texts)]
    index = PolicyIndex.build(passages, np.eye(len(passages), 8, dtype=np.float32))
    terms = tuple(weighted_terms(index, question, insurer=NORTHWIND))
    return [Hit(p, 1.0, 1.0, 0.5, rank, 0.5, terms) for rank, p in enumerate(passages, 1)]


def _column(question: str, name: str, *texts: str) -> dict[str, float]:
    pool = _pool(question, *texts)
    rows, where, split = unit_features(question, pool, 1.0, None)
    column = UNIT_FEATURES.index(name)
    return {
        pool[h].passage.text[split[h][u].start : split[h][u].end]: float(rows[i, column])
        for i, (h, u) in enumerate(where)
    }


def test_a_unit_naming_the_asked_code_is_told_apart() -> None:
    codes = _column("Does Northwind need PA for a home sleep test G0399?", "codes", TELEHEALTH)
    assert codes["Home sleep test G0399 does not require prior authorization."] == 1.0
    assert all(v == 0.0 for text, v in codes.items() if "G0399" not in text)


def test_a_near_tie_in_the_same_passage_is_quoted_beside_the_best() -> None:
    text = (
        "Ambulance transport to the nearest appropriate facility is covered. "
        "Ambulance transport between facilities is covered when the first cannot treat the member."
    )
    draft = draft_answer("Is ambulance transport covered?", _pool("Is ambulance transport covered?", text))
    assert draft is not None
    assert [c.quote for c in draft.citations] == [
        "Ambulance transport to the nearest appropriate facility is covered.",
        "Ambulance transport between facilities is covered when the first cannot treat the member.",
    ]


def test_staff_words_find_the_policy_words() -> None:
    spellings = {
        t.token: t.alternatives for t in query_terms("Can the patient use a telephone visit for one unit?")
    }
    assert ("member",) in spellings["patient"]
    assert ("audio",) in spellings["telephon"]
    assert ("singl",) in spellings["one"]


def test_quotes_of_one_passage_read_in_the_order_of_the_text() -> None:
    text = (
        "Ambulance transport between facilities is covered when the first cannot treat the member. "
        "Ambulance transport to the nearest appropriate facility is covered."
    )
    question = "Is ambulance transport to the nearest facility covered?"
    draft = draft_answer(question, _pool(question, text))
    assert draft is not None and len(draft.citations) == 2
    assert [c.start for c in draft.citations] == sorted(c.start for c in draft.citations)

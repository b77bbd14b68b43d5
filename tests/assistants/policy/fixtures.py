"""A dozen passages from two fictional insurers, small enough to read, for the retrieval tests."""

from __future__ import annotations

from datetime import date

from shipyard.assistants.policy.index import IndexedPassage

NORTHWIND = "Northwind Health"
CONTOSO = "Contoso Care"


def _nw(n: int, page: int, text: str, heading: str | None, kind: str = "text") -> IndexedPassage:
    return IndexedPassage(
        passage_id=f"nw-imaging-{n}",
        document_id="doc-nw-imaging-2024",
        doc_key="northwind-medical-policy",
        version="2024.2",
        title="Northwind Health Medical Policy Manual",
        insurer=NORTHWIND,
        topic="utilization management",
        effective_date=date(2024, 7, 1),
        page=page,
        text=text,
        heading=heading,
        kind=kind,
    )


def _cc(n: int, page: int, text: str, heading: str | None, kind: str = "text") -> IndexedPassage:
    return IndexedPassage(
        passage_id=f"cc-benefits-{n}",
        document_id="doc-cc-benefits-3",
        doc_key="contoso-benefit-guide",
        version="3",
        title="Contoso Care Provider Benefit Guide",
        insurer=CONTOSO,
        topic="benefits",
        effective_date=date(2025, 1, 1),
        page=page,
        text=text,
        heading=heading,
        kind=kind,
    )


PASSAGES: list[IndexedPassage] = [
    _nw(
        1,
        3,
        "Prior authorization is required for MRI of the lumbar spine (CPT 72148, 72149, 72158). Requests "
        "must document at least six weeks of conservative treatment, such as physical therapy or "
        "anti-inflammatory medication, unless red-flag symptoms are present.",
        "Lumbar spine MRI",
    ),
    _nw(
        2,
        4,
        "A CT scan of the head without contrast (CPT 70450) does not require prior authorization when it is "
        "ordered in the emergency department.",
        "Head CT",
    ),
    _nw(
        3,
        5,
        "Service | Visits per calendar year | Authorization\n"
        "Physical therapy | 20 | Required after visit 12\n"
        "Occupational therapy | 20 | Required after visit 12\n"
        "Speech therapy | 30 | Not required",
        "Rehabilitation therapy visit limits",
        kind="table",
    ),
    _nw(
        4,
        7,
        "CPAP devices (E0601) are covered as durable medical equipment once a sleep study confirms "
        "obstructive sleep apnea. Rental is covered for the first 90 days. Continued coverage requires "
        "documented use of at least 4 hours per night on 70% of nights.",
        "Sleep apnea equipment",
    ),
    _nw(
        5,
        3,
        "MRI of the cervical and thoracic spine (CPT 72141-72147) requires prior authorization through the "
        "imaging benefit manager.",
        "Cervical and thoracic spine MRI",
    ),
    _nw(
        6,
        9,
        "Claims must be filed within 90 days of the date of service. Corrected claims are accepted up to 180 "
        "days after the original denial.",
        "Timely filing",
    ),
    _cc(
        1,
        12,
        "Contoso Care does not require prior authorization for an MRI of the lumbar spine (CPT 72148) "
        "when it is ordered by an in-network orthopedic surgeon. All other ordering providers must obtain "
        "precertification.",
        "Advanced imaging",
    ),
    _cc(
        2,
        14,
        "Physical therapy is limited to 30 visits per calendar year. No referral is needed for in-network "
        "therapists.",
        "Outpatient rehabilitation",
    ),
    _cc(3, 20, "The timely filing limit is 120 days from the date of service.", "Claims submission"),
    _cc(
        4,
        16,
        "Code | Description | Prior authorization\n"
        "E0601 | CPAP device | Required\n"
        "E0470 | Bilevel device without backup rate | Required\n"
        "A7030 | Full face mask | Not required",
        "Durable medical equipment",
        kind="table",
    ),
    _cc(
        5,
        18,
        "Bariatric surgery is covered for members with a body mass index of 40 or more, or 35 or more with a "
        "serious comorbidity, after six months of supervised weight management.",
        "Bariatric surgery",
    ),
    _cc(6, 22, "Acupuncture and massage therapy are not covered under any Contoso Care plan.", "Exclusions"),
]

"""Cedar Valley Health Plan: medical policies and provider rules (fictional)."""

# ruff: noqa: E501 - prose data: sentences and notes are not split to fit the line length

from __future__ import annotations

from dataclasses import replace

from model import Bullets, Doc, H, P, Page, Table, doc_maker

CVHP = "Cedar Valley Health Plan"
DIR = "cedar-valley-health-plan"

_PA_LIST: Page = (
    H("How to request"),
    P(
        "Cedar Valley Health Plan requires prior authorization for the services below. Send requests to the Cedar "
        "Valley utilization management team through the CV Connect portal or by fax to 1-877-555-0110."
    ),
    P(
        "Cedar Valley decides standard requests within 14 calendar days and expedited requests within 72 hours."
    ),
    H("Services and codes"),
    Table(
        ("Code", "Service", "Prior authorization"),
        (
            ("70450", "CT head without contrast", "No"),
            ("70551", "MRI brain without contrast", "Yes"),
            ("72148", "MRI lumbar spine without contrast", "Yes"),
            ("73721", "MRI knee without contrast", "Yes"),
            ("74177", "CT abdomen and pelvis with contrast", "No"),
            ("71271", "Low-dose CT lung cancer screening", "No"),
            ("78815", "PET/CT, skull base to mid-thigh", "Yes"),
            ("95806", "Home sleep apnea test", "No"),
            ("95810", "Attended polysomnography", "Yes"),
            ("E0601", "CPAP device", "Yes"),
            ("43644", "Laparoscopic gastric bypass", "Yes"),
            ("43775", "Laparoscopic sleeve gastrectomy", "Yes"),
            ("J1745", "Infliximab, 10 mg", "Yes"),
            ("81162", "BRCA1 and BRCA2 full sequence and deletion/duplication analysis", "Yes"),
            ("A0428", "Non-emergency ambulance, basic life support", "Yes"),
            ("97110", "Physical therapy, therapeutic exercise", "No"),
        ),
    ),
    P(
        "Emergency care, observation stays and services given during an inpatient admission do not require "
        "prior authorization."
    ),
)


def _imaging(version: str) -> tuple[Page, ...]:
    new = version == "2025.2"
    lumbar = (
        P(
            "Lumbar spine MRI for low back pain requires documentation of at least 6 weeks of conservative "
            "therapy, such as physical therapy, chiropractic care or medication, unless red-flag symptoms are "
            "present."
        )
        if new
        else P("Lumbar spine MRI is approved for low back pain with radiculopathy or with red-flag symptoms.")
    )
    blocks: list[H | P | Bullets | Table] = [
        H("Prior authorization"),
        P(
            "Cedar Valley requires prior authorization for outpatient MRI of the brain, spine and joints and for "
            "PET/CT. CT of the head, chest, abdomen and pelvis does not require prior authorization. Imaging in the "
            "emergency department or during an inpatient stay never requires prior authorization."
        ),
        H("Spine MRI"),
        lumbar,
    ]
    if not new:
        blocks.append(H("Cardiac MRI"))
        blocks.append(
            P("Cardiac MRI (CPT 75561) is approved only after review by a Cedar Valley cardiologist.")
        )
    if new:
        blocks.append(
            P(
                "Effective August 1, 2025, every MRI request must include the ordering provider's clinical notes "
                "from the last 30 days."
            )
        )
    blocks += [
        H("Breast MRI"),
        P(
            "Screening breast MRI (CPT 77049) is covered once a year for members with a lifetime breast cancer "
            "risk of 20 percent or higher, or with a known BRCA1 or BRCA2 mutation."
        ),
        H("CT colonography"),
        P(
            "Screening CT colonography (CPT 74263) is covered for members aged 45 to 75 once every 5 years, as an "
            "alternative to colonoscopy."
        ),
        H("Repeat studies"),
        P(
            "A repeat MRI of the same body region within 6 months requires review by a Cedar Valley radiologist."
            if new
            else "A repeat MRI of the same body region within 6 months is approved only for a new injury."
        ),
    ]
    return (tuple(blocks),)


def _pt(version: str) -> tuple[Page, ...]:
    if version == "2023.1":
        return (
            (
                H("Coverage"),
                P("Members may receive up to 25 physical therapy visits per calendar year."),
                P("Occupational therapy has its own limit of 25 visits per calendar year."),
                P("Physical therapy does not require prior authorization."),
                H("Billing"),
                P("Bill physical therapy with modifier GP and occupational therapy with modifier GO."),
            ),
        )
    return (
        (
            H("Coverage"),
            P("Members may receive up to 35 physical therapy visits per calendar year."),
            P("Occupational therapy has its own limit of 35 visits per calendar year."),
            P(
                "A referral from the member's primary care provider is required before the first physical therapy "
                "visit of an episode of care. Physical therapy does not require prior authorization."
            ),
            H("After joint replacement"),
            P(
                "After a total knee or total hip replacement, 12 additional physical therapy visits are available "
                "within 120 days of the surgery. These visits do not count toward the annual limit."
            ),
        ),
        (
            H("Billing"),
            P("Bill physical therapy with modifier GP and occupational therapy with modifier GO."),
            P(
                "Group therapy (CPT 97150) is paid as one visit per day whatever the number of participants, and "
                "only when the group has no more than 4 members."
            ),
            H("Not covered"),
            Bullets(
                (
                    "therapy for general fitness or sports conditioning",
                    "maintenance therapy once goals are met or progress stops",
                    "work hardening programs (CPT 97545)",
                )
            ),
        ),
    )


def _claims(version: str) -> tuple[Page, ...]:
    if version == "2022.1":
        return (
            (
                H("Timely filing"),
                P("Claims must be filed within 365 days of the date of service."),
                P("Corrected claims must also be filed within 365 days of the date of service."),
                H("Where to send claims"),
                P(
                    "Submit electronic claims with payer ID 77341. Mail paper claims to Cedar Valley Health Plan "
                    "Claims, PO Box 2250, Millbrook, OR 97045."
                ),
            ),
        )
    return (
        (
            H("Timely filing"),
            P(
                "Participating providers must file claims within 180 days of the date of service. Non-participating "
                "providers must file within 365 days of the date of service."
            ),
            P("For inpatient stays, the filing period starts on the discharge date."),
            P(
                "Corrected claims must be received within 180 days of the date the original claim was paid. Use "
                "frequency code 7 and include the original claim number."
            ),
            P(
                "When Cedar Valley is the secondary payer, file within 180 days of the date on the primary "
                "payer's explanation of benefits and attach a copy of it."
            ),
        ),
        (
            H("Electronic and paper claims"),
            P("Cedar Valley's electronic payer ID is 77341."),
            P(
                "Paper claims must be on original red-ink CMS-1500 (02/12) or UB-04 forms. Photocopied or "
                "black-and-white forms are returned without processing."
            ),
            H("Clean claims"),
            P(
                "Cedar Valley pays or denies clean claims within 30 days of receipt and pays interest on clean "
                "claims paid later than that."
            ),
        ),
    )


_APPEALS: Page = (
    H("Two steps"),
    P(
        "Cedar Valley has two steps for contesting a claim decision: a claim dispute, which is an informal "
        "reconsideration, and a formal appeal. A formal appeal may be filed only after a claim dispute has been "
        "decided."
    ),
    Table(
        ("Step", "Deadline to file", "Decision time", "How to submit"),
        (
            ("Claim dispute", "90 days from the remittance date", "30 calendar days", "CV Connect portal"),
            (
                "Formal appeal",
                "60 days from the claim dispute decision",
                "30 calendar days",
                "CV Connect portal or mail",
            ),
            ("Expedited appeal (pre-service)", "As soon as possible", "72 hours", "Phone 1-877-555-0123"),
            (
                "External review",
                "4 months from the final appeal decision",
                "45 days",
                "Through the state insurance department",
            ),
        ),
    ),
    H("Medical necessity appeals"),
    P(
        "Appeals of medical necessity denials are reviewed by a physician in the same or a similar specialty who "
        "was not involved in the original decision."
    ),
    P(
        "The ordering provider may ask for a peer-to-peer conversation within 14 days of a medical necessity "
        "denial by calling 1-877-555-0124."
    ),
    H("Mailing address"),
    P("Cedar Valley Health Plan, Appeals Unit, PO Box 2260, Millbrook, OR 97045."),
)


def _bariatric() -> tuple[Page, ...]:
    return (
        (
            H("Prior authorization"),
            P(
                "Laparoscopic sleeve gastrectomy (CPT 43775) and laparoscopic Roux-en-Y gastric bypass (CPT 43644) "
                "require prior authorization."
            ),
            H("Criteria"),
            P(
                "The member must be 18 years or older and have a body mass index (BMI) of 40 or higher, or a BMI of "
                "35 or higher with at least one obesity-related condition such as type 2 diabetes, high blood "
                "pressure or obstructive sleep apnea."
            ),
            P(
                "The member must have taken part in a physician-supervised weight management program for at least 6 "
                "consecutive months within the 2 years before the request."
            ),
        ),
        (
            H("Other requirements"),
            P(
                "A psychological evaluation by a licensed mental health professional is required within 12 months "
                "before surgery."
            ),
            P("Surgery must be performed at a Cedar Valley designated bariatric center of excellence."),
            H("Not covered"),
            P("Adjustable gastric banding (CPT 43770) is not covered."),
        ),
    )


_AMBULANCE: Page = (
    H("Emergency transport"),
    P("Emergency ambulance transport does not require prior authorization."),
    H("Non-emergency transport"),
    P(
        "Non-emergency ambulance transport requires prior authorization and a physician certification statement "
        "signed before the transport."
    ),
    P(
        "Cedar Valley covers non-emergency ambulance transport only when the member is bed-confined: unable to get "
        "up from bed without help, unable to walk, and unable to sit in a chair or wheelchair."
    ),
    H("Codes"),
    Table(
        ("HCPCS", "Service", "Prior authorization"),
        (
            ("A0427", "Advanced life support, emergency", "No"),
            ("A0429", "Basic life support, emergency", "No"),
            ("A0426", "Advanced life support, non-emergency", "Yes"),
            ("A0428", "Basic life support, non-emergency", "Yes"),
            ("A0430", "Fixed-wing air ambulance", "Yes, unless emergency"),
            ("A0431", "Rotary-wing air ambulance", "No"),
            ("A0998", "Ambulance response and treatment, no transport", "No"),
        ),
    ),
    H("Treatment without transport"),
    P(
        "When paramedics treat the member at the scene and no transport follows, bill A0998, which Cedar Valley pays at 50 percent of the base rate."
    ),
    H("Air mileage"),
    P("Bill air mileage with A0435 for fixed-wing and A0436 for rotary-wing transport, per statute mile."),
)

_CHIRO: Page = (
    H("Coverage"),
    P(
        "Cedar Valley covers chiropractic manipulation (CPT 98940 to 98942) for up to 18 visits per calendar year "
        "for members aged 12 and older. No prior authorization is needed."
    ),
    P("Chiropractic X-rays are covered only when needed to rule out a fracture or other contraindication."),
)

_DME: tuple[Page, ...] = (
    (
        H("General"),
        P(
            "Equipment must be prescribed by a treating provider and supplied by a Cedar Valley contracted DME "
            "supplier. Items marked Yes below require prior authorization."
        ),
        Table(
            ("HCPCS", "Item", "Prior authorization", "Quantity limit"),
            (
                ("E0601", "CPAP device", "Yes", "1 device per 5 years"),
                ("A7030", "Full face mask", "No", "1 per 3 months"),
                ("A7038", "Disposable filter", "No", "2 per month"),
                ("E0784", "External insulin pump", "Yes", "1 per 4 years"),
                ("A9276", "Continuous glucose monitor sensor, 1 day supply", "No", "30 per month"),
                ("E1390", "Oxygen concentrator", "Yes", "Rental, 36 months"),
                ("E0260", "Hospital bed, semi-electric", "Yes", "1 per 5 years"),
                ("K0001", "Standard manual wheelchair", "No", "1 per 5 years"),
                ("E0114", "Crutches, underarm, pair", "No", "1 pair per 3 years"),
            ),
            widths=(16, 54, 26, 32),
        ),
    ),
    (
        H("CPAP"),
        P(
            "A CPAP device (E0601) is rented for 10 months, after which it belongs to the member. Rental continues "
            "after the third month only if the member used the device at least 4 hours a night on 70 percent of "
            "nights during a 30-day period."
        ),
        H("Oxygen"),
        P(
            "Home oxygen is covered when the member's oxygen saturation is 88 percent or lower at rest, during "
            "exercise or during sleep, measured within 30 days before the order."
        ),
        H("Not covered"),
        Bullets(
            (
                "bathroom safety equipment such as grab bars and shower chairs",
                "air conditioners, humidifiers and air purifiers",
                "equipment for use only outside the home, such as a second wheelchair for travel",
            )
        ),
    ),
)

_INFUSION: Page = (
    H("Prior authorization"),
    P(
        "Cedar Valley requires prior authorization for the drugs marked Yes below, whatever the site of care. "
        "Cedar Valley has no site-of-care program: infusion in a hospital outpatient department is covered at the "
        "contracted rate."
    ),
    Table(
        ("HCPCS", "Drug", "Billing unit", "Prior authorization", "Authorization period"),
        (
            ("J1745", "Infliximab", "10 mg", "Yes", "12 months"),
            ("Q5103", "Infliximab-dyyb (biosimilar)", "10 mg", "Yes", "12 months"),
            ("J2350", "Ocrelizumab", "1 mg", "Yes", "12 months"),
            ("J3380", "Vedolizumab", "1 mg", "Yes", "6 months, then 12 months"),
            ("J1569", "Immune globulin, intravenous", "500 mg", "Yes", "6 months"),
            ("J9312", "Rituximab", "10 mg", "Yes", "6 months"),
            ("J0897", "Denosumab", "1 mg", "No", "Not applicable"),
        ),
    ),
    H("Preferred biosimilar"),
    P(
        "For infliximab, Cedar Valley prefers the biosimilar infliximab-dyyb (Q5103). The reference product (J1745) "
        "is approved only after a trial of the biosimilar, or when the biosimilar is not tolerated."
    ),
    H("Administration and waste"),
    P(
        "Bill infusion administration with CPT 96365 for the first hour and 96366 for each additional hour, on the "
        "same claim as the drug."
    ),
    P(
        "Bill any discarded amount of a single-dose vial on a separate line with modifier JW. When nothing is "
        "discarded, append modifier JZ to the drug line."
    ),
)

_SLEEP: Page = (
    H("Testing"),
    P("Home sleep apnea testing (CPT 95800, 95806 or HCPCS G0399) does not require prior authorization."),
    P(
        "In-lab polysomnography (CPT 95810, 95811) requires prior authorization. It is approved for members under "
        "18, and for adults when home testing is negative but clinical suspicion remains high."
    ),
    H("CPAP"),
    P(
        "Cedar Valley approves CPAP when the apnea-hypopnea index (AHI) is 15 or more events per hour, or 5 to 14 "
        "events per hour with excessive daytime sleepiness, high blood pressure or heart disease."
    ),
    H("Other treatments"),
    P(
        "A custom oral appliance (E0486) is covered for mild to moderate obstructive sleep apnea, or when CPAP is "
        "not tolerated."
    ),
    P(
        "Hypoglossal nerve stimulation (CPT 64582) requires prior authorization. It is approved for members aged "
        "22 and older with an AHI between 15 and 65 and a BMI under 35 who could not tolerate CPAP."
    ),
)

_PRESS: Page = (
    P(
        "RIVERTON - Cedar Valley Health Plan today opened a member service center at 410 Main Street in Riverton. "
        "Members can get help with ID cards, find a doctor and ask questions about their benefits in person."
    ),
    P(
        "The center is open Monday through Saturday from 9 a.m. to 6 p.m. and has free parking behind the building. "
        "Staff speak English, Spanish and Vietnamese."
    ),
    P(
        '"Our members told us they wanted someone to talk to face to face," said Dana Whitfield, Cedar Valley\'s '
        "chief member experience officer. A grand opening celebration with a health fair is planned for May 3."
    ),
    H("About Cedar Valley Health Plan"),
    P(
        "Cedar Valley Health Plan is a not-for-profit health plan serving 240,000 members in the Cedar Valley region."
    ),
)


_doc = doc_maker(DIR, CVHP)


IMAGING_TITLE = "Advanced Imaging: CT and MRI"
PT_TITLE = "Physical Therapy and Occupational Therapy"
CLAIMS_TITLE = "Claims Filing Requirements"

_sleep = _doc(
    "cvhp-sleep-apnea-2025.txt",
    "cvhp-sleep",
    "Diagnosis and Treatment of Obstructive Sleep Apnea",
    "sleep/sleep-study",
    "2025.1",
    "2025-05-01",
    "txt",
    (_SLEEP,),
    policy_number="CVHP-MP-35",
)

DOCS: list[Doc] = [
    _doc(
        "cvhp-chiropractic-2021.md",
        "cvhp-chiro",
        "Chiropractic Care",
        "chiropractic",
        "2021.1",
        "2021-01-01",
        "md",
        (_CHIRO,),
        policy_number="CVHP-MP-31",
        withdrawn=True,
        notes="Withdrawn without replacement; no active Cedar Valley document states a chiropractic visit limit.",
    ),
    _doc(
        "cvhp-claims-2022.txt",
        "cvhp-claims",
        CLAIMS_TITLE,
        "admin/claims-submission",
        "2022.1",
        "2022-01-01",
        "txt",
        _claims("2022.1"),
        policy_number="CVHP-PR-05",
    ),
    _doc(
        "cvhp-pt-2023.txt",
        "cvhp-pt",
        PT_TITLE,
        "therapy/physical-therapy",
        "2023.1",
        "2023-01-01",
        "txt",
        _pt("2023.1"),
        policy_number="CVHP-MP-21",
    ),
    _doc(
        "cvhp-bariatric-2023-scan.pdf",
        "cvhp-bariatric",
        "Bariatric Surgery",
        "surgery/bariatric",
        "2023.1",
        "2023-09-01",
        "pdf",
        _bariatric(),
        engine="scan-poor",
        policy_number="CVHP-MP-44",
        notes="Poor scan: page 1 at 200 dpi, page 2 at 100 dpi with heavy noise and blur (tesseract mean word confidence about 70, about 40% of words below 80).",
    ),
    _doc(
        "cvhp-imaging-2024.docx",
        "cvhp-imaging",
        IMAGING_TITLE,
        "imaging/ct-mri",
        "2024.1",
        "2024-01-01",
        "docx",
        _imaging("2024.1"),
        engine="docx",
        policy_number="CVHP-MP-11",
    ),
    _doc(
        "cvhp-claims-2024-scan.pdf",
        "cvhp-claims",
        CLAIMS_TITLE,
        "admin/claims-submission",
        "2024.1",
        "2024-03-01",
        "pdf",
        _claims("2024.1"),
        engine="scan",
        policy_number="CVHP-PR-05",
        supersedes="cvhp-claims@2022.1",
        notes="Scanned paper copy. Timely filing 365 -> 180 days for participating providers; corrected claims 180 days from payment.",
    ),
    _doc(
        "cvhp-ambulance-2024.html",
        "cvhp-ambulance",
        "Ambulance and Medical Transport",
        "transport/ambulance",
        "2024.1",
        "2024-07-01",
        "html",
        (_AMBULANCE,),
        policy_number="CVHP-MP-61",
    ),
    _doc(
        "cvhp-pa-list-2025.html",
        "cvhp-pa-list",
        "Services Requiring Prior Authorization",
        "admin/prior-auth-list",
        "2025.1",
        "2025-01-01",
        "html",
        (_PA_LIST,),
        policy_number="CVHP-PR-01",
    ),
    _doc(
        "cvhp-appeals-2025.docx",
        "cvhp-appeals",
        "Provider Disputes and Appeals",
        "admin/appeals",
        "2025.1",
        "2025-01-01",
        "docx",
        (_APPEALS,),
        engine="docx",
        policy_number="CVHP-PR-07",
    ),
    _doc(
        "cvhp-pt-2025.pdf",
        "cvhp-pt",
        PT_TITLE,
        "therapy/physical-therapy",
        "2025.1",
        "2025-01-01",
        "pdf",
        _pt("2025.1"),
        engine="fpdf",
        policy_number="CVHP-MP-21",
        supersedes="cvhp-pt@2023.1",
        notes="Visit limit 25 -> 35; primary care referral now required; extra visits after joint replacement.",
    ),
    _doc(
        "cvhp-dme-2025.pdf",
        "cvhp-dme",
        "Durable Medical Equipment and Supplies",
        "dme",
        "2025.1",
        "2025-01-01",
        "pdf",
        _DME,
        engine="fpdf",
        policy_number="CVHP-MP-52",
    ),
    _doc(
        "cvhp-infusion-2025.md",
        "cvhp-infusion",
        "Infusion Therapy and Provider-Administered Drugs",
        "infusion-therapy",
        "2025.1",
        "2025-01-01",
        "md",
        (_INFUSION,),
        policy_number="CVHP-MP-71",
        text_wrap=100,
    ),
    _doc(
        "cvhp-press-release-riverton.html",
        "cvhp-press-riverton",
        "Cedar Valley Health Plan Opens Member Service Center in Riverton",
        "other",
        "2025.04",
        "2025-04-15",
        "html",
        (_PRESS,),
        out_of_scope=True,
        meta=("News release | For immediate release | April 15, 2025",),
        notes="Out of scope: press release.",
    ),
    _sleep,
    replace(
        _sleep,
        file=f"{DIR}/cvhp-sleep-apnea-2025-webcopy.txt",
        meta=(
            "Cedar Valley Health Plan provider website | Policy number CVHP-MP-35",
            "Version 2025.1",
            "Effective date: May 1, 2025",
        ),
        near_duplicate_of=f"{DIR}/cvhp-sleep-apnea-2025.txt",
        text_wrap=70,
        notes="Near duplicate: the same policy printed from the website, with a changed header line and different line wrapping.",
    ),
    _doc(
        "cvhp-imaging-2025.docx",
        "cvhp-imaging",
        IMAGING_TITLE,
        "imaging/ct-mri",
        "2025.2",
        "2025-08-01",
        "docx",
        _imaging("2025.2"),
        engine="docx",
        policy_number="CVHP-MP-11",
        supersedes="cvhp-imaging@2024.1",
        notes="Adds a 6-week conservative therapy prerequisite for lumbar MRI and requires recent clinical notes with every MRI request.",
    ),
]

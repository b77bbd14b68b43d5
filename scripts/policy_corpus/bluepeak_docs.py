"""Bluepeak Assurance: clinical and reimbursement policies (fictional)."""

# ruff: noqa: E501 - prose data: sentences and notes are not split to fit the line length

from __future__ import annotations

from dataclasses import replace

from model import Bullets, Doc, H, P, Page, Table, doc_maker

BPA = "Bluepeak Assurance"
DIR = "bluepeak-assurance"


def _pa_list(version: str) -> tuple[Page, ...]:
    new = version == "2025.1"
    rows = [
        ("70450", "CT head or brain without contrast", "No" if new else "Yes"),
        ("70551", "MRI brain without contrast", "Yes"),
        ("71271", "Low-dose CT lung cancer screening", "No"),
        ("72141", "MRI cervical spine without contrast", "Yes"),
        ("72148", "MRI lumbar spine without contrast", "Yes"),
        ("73721", "MRI knee (lower extremity joint) without contrast", "Yes"),
        ("74177", "CT abdomen and pelvis with contrast", "Yes"),
        ("75574", "Coronary CT angiography", "Yes"),
        ("78815", "PET/CT, skull base to mid-thigh", "Yes"),
        ("95806", "Home sleep apnea test", "No"),
        ("95810", "Attended polysomnography", "Yes"),
        ("E0601", "CPAP device", "No"),
        ("E0470", "Bilevel respiratory assist device", "Yes"),
        ("81162", "BRCA1 and BRCA2 full sequence and deletion/duplication analysis", "Yes"),
    ]
    if new:
        rows.append(("81432", "Hereditary breast cancer panel, at least 10 genes", "Yes"))
    rows += [
        ("A0426", "Non-emergency ambulance, advanced life support", "Yes"),
        ("A0428", "Non-emergency ambulance, basic life support", "Yes"),
        ("J1745", "Infliximab, 10 mg", "Yes"),
        ("J2350", "Ocrelizumab, 1 mg", "Yes"),
    ]
    intro = P(
        "Bluepeak Assurance requires prior authorization for the services below for commercial and Bluepeak "
        "Medicare Advantage members. Submit requests through the Bluepeak Provider Center or call 1-800-555-0199. "
        "Bluepeak does not accept prior authorization requests by fax."
    )
    blocks: list[H | P | Bullets | Table] = [
        H("About this list"),
        intro,
        P(
            "Emergency services and services during an inpatient stay that began as an emergency admission do not "
            "need prior authorization. Authorization is not a guarantee of payment; the member must be eligible on "
            "the date of service."
        ),
        H("Codes"),
        Table(("CPT/HCPCS", "Service", "Prior authorization required"), tuple(rows), widths=(1.2, 4, 1.8)),
    ]
    if new:
        blocks += [
            H("What changed on January 1, 2025"),
            P(
                "Head CT without contrast (70450) was removed from the list and no longer requires prior "
                "authorization. The hereditary breast cancer panel (81432) was added."
            ),
        ]
    return (tuple(blocks),)


_IMAGING: tuple[Page, ...] = (
    (
        H("Scope"),
        P(
            "Bluepeak Assurance manages outpatient advanced imaging through its imaging review program. Prior "
            "authorization is required for the CT, MRI and PET codes marked Yes in the Prior Authorization List "
            "(BPA-RP-001). Imaging performed in an emergency department, during an inpatient stay or in "
            "observation status does not require prior authorization."
        ),
        H("Lumbar spine MRI"),
        P(
            "For low back pain, lumbar spine MRI is approved after 4 weeks of provider-directed conservative care "
            "that has not relieved symptoms. Conservative care includes physical therapy, chiropractic treatment, "
            "or medication with a documented follow-up visit."
        ),
        P(
            "Red-flag findings permit imaging without conservative care: cauda equina symptoms, a progressive "
            "neurological deficit, fever with suspected infection, a history of cancer with new back pain, or "
            "trauma with suspected fracture."
        ),
    ),
    (
        H("Brain MRI and head CT"),
        P(
            "Brain MRI for headache is approved when the headache is new in a member older than 50, is sudden and "
            "severe (thunderclap), or comes with abnormal neurological findings. Imaging is not approved for "
            "uncomplicated migraine."
        ),
        H("Cardiac imaging"),
        P(
            "Coronary CT angiography (CPT 75574) is approved for members with stable chest pain and an "
            "intermediate risk of coronary artery disease. Coronary calcium scoring (CPT 75571) is not covered."
        ),
        H("PET/CT"),
        P(
            "PET/CT (CPT 78815) is approved for the initial staging of a biopsy-proven cancer and for restaging "
            "after treatment. PET/CT is not approved for cancer surveillance in members without symptoms."
        ),
    ),
    (
        H("Site of service"),
        P(
            "Outpatient MRI and CT must be performed at a freestanding imaging center when one is available within "
            "30 miles of the member's home. Hospital outpatient imaging requires a documented clinical reason, "
            "such as the need for sedation."
        ),
        H("Decision timeframes"),
        P(
            "Bluepeak decides standard imaging requests within 5 business days and urgent requests within 72 hours."
        ),
        H("Billing"),
        P(
            "When different providers perform the technical and professional parts of a study, bill the technical "
            "component with modifier TC and the professional component with modifier 26."
        ),
    ),
)


def _lcs(version: str) -> tuple[Page, ...]:
    new = version == "2025.1"
    who = (
        "Annual lung cancer screening with low-dose CT (CPT 71271) is covered for members aged 50 to 80 who have a "
        "20 pack-year smoking history and who currently smoke or quit within the past 15 years."
        if new
        else "Annual lung cancer screening with low-dose CT (CPT 71271) is covered for members aged 55 to 80 who "
        "have a 30 pack-year smoking history and who currently smoke or quit within the past 15 years."
    )
    blocks: list[H | P | Bullets | Table] = [
        H("Coverage"),
        P(who),
        P(
            "Before the first screening, the member must have a shared decision-making visit with a physician or "
            "advanced practice provider (HCPCS G0296)."
        ),
        P(
            "Lung cancer screening is a preventive service: it does not require prior authorization, and members "
            "pay no cost share for it."
        ),
        H("When screening stops"),
        P(
            "Screening stops once the member has not smoked for 15 years, or develops a health problem that "
            "substantially limits life expectancy or the ability to have lung surgery."
        ),
    ]
    if new:
        blocks += [
            H("Claims"),
            P(
                "Claims for 71271 must include diagnosis code Z87.891 (personal history of nicotine dependence) or "
                "a code from category F17.21 (nicotine dependence, cigarettes)."
            ),
        ]
    return (tuple(blocks),)


_PT: Page = (
    H("Visit limits"),
    P(
        "Physical therapy and occupational therapy share a combined limit of 25 visits per calendar year. Speech "
        "therapy has a separate limit of 20 visits per calendar year."
    ),
    P(
        "Habilitative therapy for members under age 19 with a developmental delay is not subject to these visit "
        "limits."
    ),
    P("A visit is one date of service by one therapy discipline, however many codes are billed that day."),
    H("Prior authorization"),
    P(
        "No prior authorization is needed for the first 8 visits of each therapy discipline in a calendar year. "
        "Visit 9 and later require prior authorization through the Bluepeak Provider Center."
    ),
    H("Modifiers"),
    P(
        "Append modifier GP for physical therapy, GO for occupational therapy and GN for speech-language pathology "
        "to every therapy line."
    ),
    H("Codes and units"),
    Table(
        ("Code", "Description", "Billing unit", "Separately payable"),
        (
            ("97161", "PT evaluation, low complexity", "Per evaluation", "Yes"),
            ("97110", "Therapeutic exercise", "Each 15 minutes", "Yes"),
            ("97112", "Neuromuscular re-education", "Each 15 minutes", "Yes"),
            ("97140", "Manual therapy", "Each 15 minutes", "Yes"),
            ("97530", "Therapeutic activities", "Each 15 minutes", "Yes"),
            ("97035", "Ultrasound therapy", "Each 15 minutes", "No"),
            ("97010", "Hot or cold packs", "Per session", "No"),
            ("G0283", "Electrical stimulation, unattended", "Per session", "Yes"),
        ),
    ),
)


def _chiro(version: str) -> tuple[Page, ...]:
    limit = {"2022.1": 12, "2023.1": 20, "2024.1": 20}[version]
    blocks: list[H | P | Bullets | Table] = [
        H("Coverage"),
        P(
            f"Chiropractic manipulative treatment (CMT, CPT 98940, 98941 and 98942) is covered for up to {limit} "
            "visits per calendar year when it treats an acute or chronic musculoskeletal condition and the member "
            "is improving."
        ),
    ]
    if version == "2024.1":
        blocks.append(
            P(
                "Effective July 1, 2024, chiropractic manipulative treatment no longer requires prior "
                "authorization. Instead, the treating chiropractor must document a treatment plan with measurable "
                "goals and review it at least every 12 visits."
            )
        )
        blocks.append(
            P(
                "Extraspinal manipulation (CPT 98943) is covered only together with spinal manipulation on the same "
                "date and counts toward the same visit limit."
            )
        )
    else:
        blocks.append(
            P(
                "Prior authorization is required starting with the 7th chiropractic visit in a calendar year. "
                "Request it through the Bluepeak Provider Center before the 7th visit."
            )
        )
    blocks += [
        H("Modifiers"),
        P(
            "Append modifier AT to CMT when the member is receiving active, corrective treatment. CMT billed "
            "without the AT modifier is considered maintenance therapy and is denied."
        ),
        P(
            "An evaluation and management service on the same day as CMT is payable only with modifier 25 and when "
            "the record shows a significant, separately identifiable evaluation."
        ),
        H("Not covered"),
    ]
    excluded = ["maintenance therapy", "treatment of conditions other than musculoskeletal conditions"]
    if version != "2024.1":
        excluded.append("massage therapy (CPT 97124) performed in a chiropractic office")
    blocks.append(Bullets(tuple(excluded)))
    return (tuple(blocks),)


_CLAIMS: tuple[Page, ...] = (
    (
        H("Timely filing"),
        P(
            "Bluepeak Assurance must receive initial claims within 120 days of the date of service. The filing "
            "limits for every type of submission are in the table below."
        ),
        Table(
            ("Submission", "Filing limit"),
            (
                ("Initial professional claim", "120 days from the date of service"),
                ("Initial inpatient facility claim", "120 days from the discharge date"),
                (
                    "Corrected or replacement claim (frequency code 7)",
                    "180 days from the date of the original payment",
                ),
                ("Void or cancel (frequency code 8)", "180 days from the date of the original payment"),
                (
                    "Claim with Bluepeak as secondary payer",
                    "120 days from the date of the primary payer's EOB",
                ),
            ),
            widths=(1, 1),
        ),
        P(
            "Bluepeak waives the filing limit when the delay was caused by Bluepeak, or when the member gave wrong "
            "insurance information. Submit the claim with proof within 60 days of learning of the member's "
            "Bluepeak coverage."
        ),
    ),
    (
        H("How to submit"),
        P(
            "Bluepeak's electronic payer ID is 61425. Paper claims on the CMS-1500 (professional) or UB-04 "
            "(facility) form go to Bluepeak Assurance Claims, PO Box 9820, Lakeport, CO 80911."
        ),
        H("Drug claims"),
        P(
            "Report the national drug code (NDC) on every line billed with a J code, in the 11-digit 5-4-2 format "
            "with the N4 qualifier, followed by the unit of measure and quantity."
        ),
        H("Corrected claims"),
        P(
            "A corrected claim must carry frequency code 7 and the original Bluepeak claim number. A claim paid more "
            "than 12 months ago cannot be corrected; submit an appeal instead."
        ),
    ),
)


def _appeals(version: str) -> tuple[Page, ...]:
    new = version == "2025.1"
    deadline = 120 if new else 180
    how = (
        P(
            "Appeals must be submitted through the Bluepeak Provider Center. Bluepeak no longer accepts appeals by "
            "fax or mail."
        )
        if new
        else P(
            "Appeals may be submitted through the Bluepeak Provider Center, faxed to 1-800-555-0177, or mailed to "
            "Bluepeak Assurance Appeals, PO Box 9830, Lakeport, CO 80911."
        )
    )
    page1: Page = (
        H("Filing an appeal"),
        P(
            f"A first-level provider appeal must be filed within {deadline} days of the date on the denial notice. "
            "A second-level appeal must be filed within 60 days of the date of the first-level decision."
        ),
        how,
        H("Decision timeframes"),
        P(
            "Bluepeak decides first-level appeals within 30 calendar days and second-level appeals within 45 "
            "calendar days. Appeals of urgent pre-service denials are expedited and decided within 72 hours."
        ),
    )
    page2: Page = (
        H("What to include"),
        P(
            "Include the claim number, the denial reason code, a letter explaining why the decision should change, "
            "and the supporting medical records."
        ),
        P(
            "A timely filing denial can be appealed only with proof of timely submission, such as a clearinghouse "
            "acceptance report dated within the filing limit."
        ),
        H("Retro-authorization"),
        P(
            "When prior authorization was not obtained because the member's Bluepeak coverage was not known at the "
            "time of service, a retro-authorization request may be submitted within 14 days of learning of the "
            "coverage."
        ),
    )
    return (page1, page2)


_INFUSION: tuple[Page, ...] = (
    (
        H("Policy"),
        P(
            "Bluepeak Assurance requires specialty infusion drugs to be given in the least costly clinically "
            "appropriate setting: the member's home, a physician office or an ambulatory infusion center. "
            "Infusions in a hospital outpatient department require site-of-care review."
        ),
        P("The site-of-care requirement applies to members aged 13 and older."),
        H("Drugs in scope"),
        Bullets(
            (
                "infliximab (J1745) and its biosimilars (Q5103, Q5104)",
                "ocrelizumab (J2350)",
                "vedolizumab (J3380)",
                "natalizumab (J2323)",
                "immune globulin, intravenous (J1569)",
            )
        ),
    ),
    (
        H("When a hospital outpatient setting is approved"),
        P(
            "The first two doses of a new drug may be given in a hospital outpatient department without site-of-care "
            "review."
        ),
        P(
            "After that, hospital outpatient infusion is approved for up to 6 months when the member had a severe "
            "reaction to a previous infusion, has unstable heart or lung disease, or lives more than 50 miles from "
            "an alternative site."
        ),
        H("How to request"),
        P(
            "Request site-of-care review with the drug's prior authorization request in the Bluepeak Provider "
            "Center. Bluepeak decides site-of-care requests within 5 business days."
        ),
    ),
    (
        H("Home infusion billing"),
        P(
            "Home infusion therapy is billed with a per diem S code for the therapy, which includes supplies, "
            "pharmacy services and care coordination. Nursing visits are billed separately with CPT 99601 for the "
            "first 2 hours and 99602 for each additional hour."
        ),
        P("The drug itself is billed on a separate line with its J code and the NDC."),
    ),
)

_TELEHEALTH: Page = (
    H("Coverage"),
    P(
        "Bluepeak Assurance covers telehealth services delivered by real-time audio and video when the same "
        "service would be covered in person."
    ),
    P("Audio-only services are covered for behavioral health only and must be billed with modifier 93."),
    H("Billing"),
    P(
        "Bill every telehealth service with place of service 02, wherever the member is located, and append "
        "modifier 95. Bluepeak pays telehealth at the non-facility rate."
    ),
    P(
        "Telehealth visits have the same cost share as office visits, except behavioral health telehealth visits, "
        "which have no copay."
    ),
    H("Virtual check-ins and therapy"),
    P("Virtual check-ins (HCPCS G2012) are covered for established patients, once every 7 days."),
    P(
        "Physical, occupational and speech therapy may be delivered by telehealth and count toward the therapy "
        "visit limits."
    ),
    H("Consent"),
    P(
        "The provider must obtain and document the member's verbal or written consent before each telehealth service."
    ),
)

_IT_NOTICE: Page = (
    P(
        "All Bluepeak staff must change their network password by Friday, March 14, 2025. Accounts with a password "
        "older than 90 days will be locked on March 17."
    ),
    H("Password rules"),
    Bullets(
        (
            "at least 14 characters",
            "no reuse of your last 10 passwords",
            "a passphrase of four or more words is recommended",
        )
    ),
    P(
        "To change your password, press Ctrl+Alt+Delete on a Bluepeak laptop and choose Change a password. For help, "
        "call the IT Service Desk at extension 4357."
    ),
)


_doc = doc_maker(DIR, BPA)


PA_TITLE = "Prior Authorization List"
CHIRO_TITLE = "Chiropractic Services"
APPEALS_TITLE = "Provider Claim Appeals"
LCS_TITLE = "Lung Cancer Screening with Low-Dose CT"

_telehealth = _doc(
    "bpa-telehealth-2024.html",
    "bpa-telehealth",
    "Telehealth and Virtual Care",
    "telehealth",
    "2024.1",
    "2024-09-01",
    "html",
    (_TELEHEALTH,),
    policy_number="BPA-RP-050",
)

DOCS: list[Doc] = [
    _doc(
        "bpa-chiro-2022.docx",
        "bpa-chiro",
        CHIRO_TITLE,
        "chiropractic",
        "2022.1",
        "2022-01-01",
        "docx",
        _chiro("2022.1"),
        engine="docx",
        policy_number="BPA-CP-330",
    ),
    _doc(
        "bpa-chiro-2023.docx",
        "bpa-chiro",
        CHIRO_TITLE,
        "chiropractic",
        "2023.1",
        "2023-01-01",
        "docx",
        _chiro("2023.1"),
        engine="docx",
        policy_number="BPA-CP-330",
        supersedes="bpa-chiro@2022.1",
        notes="Visit limit 12 -> 20.",
    ),
    _doc(
        "bpa-lung-screening-2023.txt",
        "bpa-lcs",
        LCS_TITLE,
        "imaging/ct",
        "2023.1",
        "2023-01-01",
        "txt",
        _lcs("2023.1"),
        policy_number="BPA-CP-125",
    ),
    _doc(
        "bpa-appeals-2023.pdf",
        "bpa-appeals",
        APPEALS_TITLE,
        "admin/appeals",
        "2023.1",
        "2023-01-01",
        "pdf",
        _appeals("2023.1"),
        engine="fpdf",
        policy_number="BPA-RP-020",
    ),
    _doc(
        "bpa-pa-list-2024.docx",
        "bpa-pa-list",
        PA_TITLE,
        "admin/prior-auth-list",
        "2024.1",
        "2024-01-01",
        "docx",
        _pa_list("2024.1"),
        engine="docx",
        policy_number="BPA-RP-001",
    ),
    _doc(
        "bpa-claims-2024.pdf",
        "bpa-claims",
        "Claim Submission, Timely Filing and Corrected Claims",
        "admin/claims-submission",
        "2024.1",
        "2024-01-01",
        "pdf",
        _CLAIMS,
        engine="reportlab",
        policy_number="BPA-RP-010",
    ),
    _doc(
        "bpa-rehab-therapy-2024.md",
        "bpa-pt",
        "Outpatient Rehabilitation: Physical, Occupational and Speech Therapy",
        "therapy/physical-therapy",
        "2024.1",
        "2024-04-01",
        "md",
        (_PT,),
        policy_number="BPA-CP-210",
    ),
    _doc(
        "bpa-infusion-site-of-care-2024-scan.pdf",
        "bpa-infusion",
        "Site of Care for Specialty Infusion Drugs",
        "infusion-therapy",
        "2024.1",
        "2024-05-01",
        "pdf",
        _INFUSION,
        engine="scan",
        policy_number="BPA-CP-410",
        notes="Scanned paper copy: image-only pages at 200 dpi, no text layer.",
    ),
    _doc(
        "bpa-chiro-2024.docx",
        "bpa-chiro",
        CHIRO_TITLE,
        "chiropractic",
        "2024.1",
        "2024-07-01",
        "docx",
        _chiro("2024.1"),
        engine="docx",
        policy_number="BPA-CP-330",
        supersedes="bpa-chiro@2023.1",
        notes="Prior authorization dropped; treatment plan required; the massage exclusion was dropped.",
    ),
    _doc(
        "bpa-imaging-2024.pdf",
        "bpa-imaging",
        "Advanced Diagnostic Imaging: CT, MRI and PET",
        "imaging/ct-mri",
        "2024.2",
        "2024-07-01",
        "pdf",
        _IMAGING,
        engine="fpdf",
        policy_number="BPA-CP-120",
    ),
    _telehealth,
    replace(
        _telehealth,
        file=f"{DIR}/bpa-telehealth-2024-provider-manual.md",
        format="md",
        meta=(
            "Bluepeak Assurance Provider Manual, chapter 7 | Policy number BPA-RP-050",
            "Version 2024.1",
            "Effective date: September 1, 2024",
        ),
        near_duplicate_of=f"{DIR}/bpa-telehealth-2024.html",
        text_wrap=96,
        notes="Near duplicate: the same policy re-typeset as a provider-manual chapter (Markdown), with a changed header line.",
    ),
    _doc(
        "bpa-pa-list-2025.docx",
        "bpa-pa-list",
        PA_TITLE,
        "admin/prior-auth-list",
        "2025.1",
        "2025-01-01",
        "docx",
        _pa_list("2025.1"),
        engine="docx",
        policy_number="BPA-RP-001",
        supersedes="bpa-pa-list@2024.1",
        notes="70450 head CT no longer needs prior authorization; 81432 added.",
    ),
    _doc(
        "bpa-lung-screening-2025.pdf",
        "bpa-lcs",
        LCS_TITLE,
        "imaging/ct",
        "2025.1",
        "2025-01-01",
        "pdf",
        _lcs("2025.1"),
        engine="reportlab",
        policy_number="BPA-CP-125",
        supersedes="bpa-lcs@2023.1",
        notes="Eligibility widened: age 55 -> 50, 30 -> 20 pack-years; diagnosis codes required on claims.",
    ),
    _doc(
        "bpa-it-password-notice.txt",
        "bpa-it-notice",
        "IT Service Desk Notice: Quarterly Password Change",
        "other",
        "2025.03",
        "2025-03-03",
        "txt",
        (_IT_NOTICE,),
        out_of_scope=True,
        meta=("Bluepeak Assurance internal communication", "From: IT Service Desk"),
        notes="Out of scope: internal IT notice.",
    ),
    _doc(
        "bpa-appeals-2025.pdf",
        "bpa-appeals",
        APPEALS_TITLE,
        "admin/appeals",
        "2025.1",
        "2025-04-01",
        "pdf",
        _appeals("2025.1"),
        engine="fpdf",
        policy_number="BPA-RP-020",
        supersedes="bpa-appeals@2023.1",
        notes="First-level appeal window 180 -> 120 days; portal only (no fax or mail).",
    ),
]

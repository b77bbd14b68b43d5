"""Northwind Health: medical and administrative policies (fictional)."""

# ruff: noqa: E501 - prose data: sentences and notes are not split to fit the line length

from __future__ import annotations

from model import Bullets, Doc, H, P, Page, Table, doc_maker

NWH = "Northwind Health"
DIR = "northwind-health"

_PA_INTRO: Page = (
    H("Purpose"),
    P(
        "This list identifies the main outpatient services that require prior authorization for Northwind Health "
        "commercial and Northwind Advantage members. A medical policy may require prior authorization for more "
        "codes in its own tables; where it does, the medical policy applies."
    ),
    H("How to request prior authorization"),
    P(
        "Submit requests through the Northwind Provider Portal or by fax to 1-888-555-0142. Include the CPT or "
        "HCPCS code, the ICD-10-CM diagnosis codes, the ordering provider's NPI and the clinical notes that "
        "support the request. Decision timeframes are described in the medical policy for each service."
    ),
    P(
        "Services on this list that are performed without an approved authorization are denied as provider "
        "liability, and the member may not be billed for them."
    ),
    H("Reading the tables"),
    P(
        "A code marked Yes requires prior authorization for every outpatient date of service. A code marked No "
        "does not require prior authorization. Emergency services never require prior authorization."
    ),
)


def _pa_list(version: str) -> tuple[Page, ...]:
    new = version == "2025.1"
    imaging = Table(
        ("CPT code", "Description", "Prior authorization required"),
        (
            ("70450", "CT head or brain without contrast", "No"),
            ("70551", "MRI brain without contrast", "Yes"),
            ("70553", "MRI brain without contrast, followed by contrast", "Yes"),
            ("71250", "CT chest without contrast", "No"),
            ("71271", "Low-dose CT for lung cancer screening", "No"),
            ("72141", "MRI cervical spine without contrast", "Yes"),
            ("72148", "MRI lumbar spine without contrast", "Yes"),
            ("72158", "MRI lumbar spine without and with contrast", "Yes"),
            (
                "73721",
                "MRI lower extremity joint (for example, knee) without contrast",
                "No" if new else "Yes",
            ),
            ("74177", "CT abdomen and pelvis with contrast", "No" if new else "Yes"),
            ("74178", "CT abdomen and pelvis without and with contrast", "Yes"),
            ("75574", "CT angiography of the heart (coronary CTA)", "Yes"),
            ("78815", "PET/CT imaging, skull base to mid-thigh", "Yes"),
        ),
        widths=(18, 62, 30),
    )
    other_rows = [
        ("95806", "Home sleep apnea test, unattended", "No"),
        ("95810", "Polysomnography, attended in a sleep laboratory", "Yes"),
        ("E0601", "CPAP device", "No"),
        ("E0470", "Bilevel respiratory assist device without backup rate", "Yes"),
    ]
    if new:
        other_rows.append(("E0486", "Oral appliance for obstructive sleep apnea, custom fabricated", "Yes"))
    other_rows += [
        ("K0823", "Power wheelchair, group 2 standard", "Yes"),
        ("81162", "BRCA1 and BRCA2 full sequence and deletion/duplication analysis", "Yes"),
        ("A0426", "Ambulance, advanced life support, non-emergency", "Yes"),
        ("A0428", "Ambulance, basic life support, non-emergency", "Yes"),
        ("43644", "Laparoscopic gastric bypass (Roux-en-Y)", "Yes"),
        ("J1745", "Infliximab injection, 10 mg", "Yes"),
    ]
    other = Table(
        ("Code", "Description", "Prior authorization required"), tuple(other_rows), widths=(18, 62, 30)
    )
    changes: Page = ()
    if new:
        changes = (
            H("Changes in this version"),
            P(
                "Effective January 1, 2025, CT of the abdomen and pelvis with contrast (74177) and MRI of a lower "
                "extremity joint (73721) no longer require prior authorization. The custom oral appliance for "
                "sleep apnea (E0486) was added to the list."
            ),
        )
    therapy = P(
        "Physical therapy visits follow the visit thresholds in the Physical Therapy Services policy (NWH-MP-210); "
        "they are not listed here by code."
    )
    return (
        _PA_INTRO,
        (H("Advanced imaging"), imaging),
        (H("Sleep, equipment, genetic testing, transport, surgery and drugs"), other, therapy, *changes),
    )


def _mri(version: str) -> tuple[Page, ...]:
    new = version == "2025.1"
    lumbar_extra = (
        (
            P(
                "Requests for lumbar spine MRI must state the type of conservative therapy and its start and end "
                "dates; a request without these dates is returned as incomplete."
            ),
        )
        if new
        else ()
    )
    knee = (
        P(
            "Knee MRI (CPT 73721) no longer requires prior authorization. The ordering provider must still document a physical examination and knee X-rays taken within the past 60 days "
            "in the medical record."
        )
        if new
        else P(
            "Knee MRI (CPT 73721) requires prior authorization. It is approved when a meniscal or ligament tear is "
            "suspected after a physical examination and knee X-rays taken within the past 60 days are "
            "non-diagnostic."
        )
    )
    upright = (
        ()
        if new
        else (
            H("Upright and positional MRI"),
            P("Upright (weight-bearing) or positional MRI is considered investigational and is not covered."),
        )
    )
    requesting = (
        P(
            "Submit requests through the Northwind Provider Portal. Fax requests to 1-888-555-0142 are accepted "
            "until December 31, 2025. Standard requests are decided within 7 calendar days of receipt; urgent "
            "requests are decided within 72 hours."
        )
        if new
        else P(
            "Requests may be faxed to Northwind Utilization Management at 1-888-555-0142 or submitted through the "
            "Northwind Provider Portal. Standard requests are decided within 15 calendar days of receipt; urgent "
            "requests are decided within 72 hours."
        )
    )
    return (
        (
            H("Policy"),
            P(
                "Northwind Health considers MRI of the spine and joints medically necessary when the criteria in "
                "this policy are met. Prior authorization is required for the MRI codes marked Yes in the Prior "
                "Authorization Code List (NWH-ADM-001)."
            ),
            H("Lumbar spine MRI (CPT 72148, 72149, 72158)"),
            P(
                "For low back pain without red-flag symptoms, lumbar spine MRI is approved only after at least 6 "
                "weeks of conservative therapy within the past 6 months. Conservative therapy means physical "
                "therapy, chiropractic care, a home exercise program directed by a clinician, or prescription "
                "anti-inflammatory medication."
            ),
            P("Red-flag symptoms allow lumbar MRI without a trial of conservative therapy:"),
            Bullets(
                (
                    "new bowel or bladder dysfunction or saddle anesthesia (suspected cauda equina syndrome)",
                    "progressive motor weakness",
                    "suspected spinal infection, such as fever with back pain after a recent procedure",
                    "known or suspected cancer",
                    "significant trauma or suspected fracture",
                )
            ),
            *lumbar_extra,
        ),
        (
            H("Cervical spine MRI (CPT 72141, 72142, 72156)"),
            P(
                "Cervical spine MRI for neck pain requires 6 weeks of conservative therapy unless the member has "
                "radiculopathy with a progressive neurological deficit or signs of myelopathy."
            ),
            H("Knee MRI"),
            knee,
            *upright,
            H("Brain MRI (CPT 70551, 70553)"),
            P(
                "Brain MRI is approved for new neurological deficits, suspected multiple sclerosis, seizures, or "
                "headache with red-flag features. Brain MRI is not approved for chronic headache with a normal "
                "neurological examination."
            ),
        ),
        (
            H("Requesting prior authorization"),
            requesting,
            H("Repeat imaging"),
            P(
                "A repeat MRI of the same body region within 12 months is approved only when there is a new injury, "
                "a significant change in symptoms, or planned surgery."
            ),
            H("Coding"),
            P(
                "Bill one unit per study. A study done without and with contrast must be billed with the combined "
                "code (for example, 72158) rather than two separate codes."
            ),
        ),
    )


def _pt(version: str) -> tuple[Page, ...]:
    limit, auth_from, free = {"2023.1": (20, 0, 0), "2024.1": (20, 13, 12), "2025.1": (30, 21, 20)}[version]
    coverage = P(
        "Northwind Health covers outpatient physical therapy (PT) to restore function lost to illness, injury or "
        "surgery when the member's condition is expected to improve significantly within a predictable period."
    )
    separate = (
        "Visits for occupational therapy and speech therapy are counted separately."
        if version == "2025.1"
        else "Occupational therapy visits are counted separately."
    )
    limits = P(f"Members are limited to {limit} physical therapy visits per calendar year. {separate}")
    if auth_from:
        auth = P(
            f"Prior authorization is required starting with the {auth_from}st visit in a calendar year. The first "
            f"{free} visits, including the initial evaluation, do not require prior authorization."
            if auth_from == 21
            else f"Prior authorization is required starting with the {auth_from}th visit in a calendar year. The "
            f"first {free} visits, including the initial evaluation, do not require prior authorization."
        )
    else:
        auth = P(
            "Prior authorization is required for every physical therapy visit after the initial evaluation. The "
            "initial evaluation (CPT 97161, 97162 or 97163) does not require prior authorization."
        )
    maintenance = P(
        "Maintenance therapy, provided when the member's function is no longer improving, is not covered."
    )
    gp = P("All physical therapy claim lines must carry the GP modifier.")
    if version == "2023.1":
        return ((H("Coverage"), coverage, H("Visit limits"), limits, auth, H("Exclusions"), maintenance, gp),)
    units = Table(
        ("CPT code", "Service", "Billing unit"),
        (
            ("97161-97163", "Physical therapy evaluation (low, moderate, high complexity)", "Per evaluation"),
            ("97164", "Physical therapy re-evaluation", "Per evaluation"),
            ("97110", "Therapeutic exercise", "Each 15 minutes"),
            ("97112", "Neuromuscular re-education", "Each 15 minutes"),
            ("97140", "Manual therapy techniques", "Each 15 minutes"),
            ("97530", "Therapeutic activities", "Each 15 minutes"),
            ("97113", "Aquatic therapy with therapeutic exercise", "Each 15 minutes"),
            ("97010", "Hot or cold packs", "Bundled, not separately payable"),
        ),
        widths=(22, 58, 30),
    )
    plan = (
        P(
            "A plan of care signed by the referring physician or nurse practitioner must be on file within 30 days "
            "of the initial evaluation. Visits after day 30 without a signed plan of care are denied."
        )
        if version == "2025.1"
        else P("The treating therapist must keep a written plan of care with measurable goals in the record.")
    )
    page1: Page = (
        H("Coverage"),
        coverage,
        H("Visit limits and prior authorization"),
        limits,
        auth,
        H("Plan of care"),
        plan,
        P(
            "A re-evaluation (CPT 97164) is covered once every 30 days, or sooner when there is a significant change "
            "in the member's condition."
        ),
    )
    exclusions = [maintenance]
    if version == "2025.1":
        exclusions.append(P("Dry needling (CPT 20560 and 20561) is not covered."))
    page2: Page = (
        H("Billing"),
        gp,
        P(
            "Timed codes are billed in 15-minute units based on the total timed minutes of the visit; a single "
            "unit requires at least 8 minutes."
        ),
        units,
        H("Exclusions"),
        *exclusions,
    )
    return (page1, page2)


def _claims(version: str) -> tuple[Page, ...]:
    new = version == "2025.1"
    rows = (
        ("Initial claim, participating provider", "90 days" if new else "180 days", "Date of service"),
        ("Initial claim, non-participating provider", "180 days" if new else "365 days", "Date of service"),
        ("Inpatient facility claim", "90 days" if new else "180 days", "Discharge date"),
        (
            "Corrected claim or void (frequency code 7 or 8)",
            "120 days" if new else "180 days",
            "Date of the original remittance advice",
        ),
        ("Northwind as secondary payer", "90 days", "Date of the primary payer's explanation of benefits"),
    )
    window = "90" if new else "180"
    blocks: list[H | P | Table | Bullets] = [
        H("Electronic claims"),
        P(
            "Submit professional (837P) and institutional (837I) claims through any clearinghouse using "
            "Northwind Health payer ID 47198."
        ),
        H("Paper claims"),
        P(
            "Mail paper claims on a CMS-1500 or UB-04 form to Northwind Health Claims, PO Box 4410, Bellmont, WA "
            "98009."
        ),
    ]
    if new:
        blocks.append(
            P(
                "Paper claims are no longer accepted after October 1, 2025, except from providers with an approved "
                "paper-claim exemption."
            )
        )
    else:
        blocks.append(P("During a clearinghouse outage, Northwind accepts claims by fax at 1-888-555-0166."))
    blocks += [
        H("Timely filing"),
        P(
            f"Participating providers must submit initial claims within {window} days of the date of service. "
            "The filing limits for each type of submission are below."
        ),
        Table(("Submission", "Filing limit", "Counted from"), rows),
        P(
            "An accepted clearinghouse acknowledgment (277CA report) showing the claim was received within the "
            "filing limit is accepted as proof of timely filing."
        ),
        P(
            "Claims received after the filing limit are denied, and the member may not be billed for the denied "
            "amount."
        ),
        H("Corrected claims"),
        P(
            "Send a corrected claim with frequency code 7 and the original Northwind claim number in box 22 of the "
            "CMS-1500 (or form locator 64 of the UB-04). Do not send a corrected claim as a new claim; duplicates "
            "are denied."
        ),
    ]
    return (tuple(blocks),)


def _appeals() -> tuple[Page, ...]:
    return (
        (
            H("1. Overview"),
            P(
                "Northwind Health has two levels of provider appeal for denied claims. A level 1 reconsideration "
                "must be requested within 180 days of the date on the remittance advice. A level 2 appeal must be "
                "requested within 60 days of the date of the level 1 decision letter."
            ),
            P(
                "Member appeals and grievances follow the process in the member's evidence of coverage and are not "
                "described here."
            ),
            H("2. What can be appealed"),
            Bullets(
                (
                    "denials for lack of medical necessity",
                    "denials for missing or expired prior authorization",
                    "coding and bundling edits",
                    "timely filing denials, when the provider has proof of timely submission",
                )
            ),
        ),
        (
            H("3. How to submit"),
            P(
                "Submit the Provider Appeal Form (NWH-F-220) through the Northwind Provider Portal, or mail it to "
                "Northwind Health Provider Appeals, PO Box 4420, Bellmont, WA 98009. Include the claim number, the "
                "reason the decision should change and any supporting medical records."
            ),
            H("4. Decision timeframes"),
            P(
                "Northwind decides level 1 reconsiderations within 30 calendar days and level 2 appeals within 45 "
                "calendar days of receipt."
            ),
            P("Requests for medical records during an appeal are covered in section 5."),
        ),
        (
            H("7. Expedited appeals"),
            P(
                "An appeal of a pre-service denial is expedited when waiting for a standard decision could "
                "seriously jeopardize the member's life, health or ability to regain maximum function. Expedited "
                "appeals are decided within 72 hours, and the request may be made by phone at 1-888-555-0150."
            ),
            H("8. External review"),
            P(
                "After a level 2 appeal upholds a medical necessity denial, the member, or the provider acting for "
                "the member, may request an external review by an independent review organization within 4 months "
                "of the final decision."
            ),
        ),
    )


def _sleep() -> tuple[Page, ...]:
    return (
        (
            H("Home sleep apnea testing"),
            P(
                "Home sleep apnea testing (HSAT) is the preferred first test for adults aged 18 and older with "
                "suspected obstructive sleep apnea. HSAT is billed with CPT 95806 or HCPCS G0399 and does not "
                "require prior authorization."
            ),
            P(
                "A face-to-face evaluation by the ordering provider that documents snoring, witnessed apneas or "
                "daytime sleepiness (an Epworth Sleepiness Scale score above 10) must come before the test."
            ),
            H("Attended polysomnography"),
            P(
                "An attended in-laboratory polysomnogram (CPT 95810) or split-night study (CPT 95811) requires "
                "prior authorization. It is approved when home testing was negative, inconclusive or technically "
                "inadequate, or when the member has a serious comorbidity such as moderate to severe COPD, heart "
                "failure, neuromuscular disease or chronic opioid use."
            ),
        ),
        (
            H("Titration and repeat studies"),
            P(
                "An attended CPAP titration study is approved once after a diagnosis of obstructive sleep apnea, "
                "and only when auto-adjusting CPAP has failed or cannot be used."
            ),
            P(
                "Repeat sleep testing is covered after a weight change of at least 10 percent of body weight, or "
                "when symptoms return despite regular CPAP use."
            ),
            H("Not covered"),
            P(
                "The multiple sleep latency test (CPT 95805) for insomnia alone and actigraphy (CPT 95803) as a "
                "stand-alone diagnostic test are not covered."
            ),
        ),
    )


_DME: Page = (
    H("General requirements"),
    P(
        "Durable medical equipment (DME) must be ordered by a treating provider, be medically necessary, and be "
        "supplied by a Northwind-contracted DME supplier. Equipment that is mainly for convenience, such as a "
        "second wheelchair for a vacation home, is not covered."
    ),
    H("CPAP adherence"),
    P(
        "A CPAP device (E0601) is rented for 13 months, after which it is considered purchased. Rental after the "
        "first 90 days continues only with documented adherence: use on at least 70 percent of nights, for at "
        "least 4 hours per night, during a consecutive 30-day period."
    ),
    H("Equipment table"),
    Table(
        ("HCPCS", "Item", "Prior authorization", "Rental or purchase", "Replacement"),
        (
            ("E0601", "CPAP device", "No", "Rental, capped at 13 months", "Every 5 years"),
            ("A7030", "Full face mask", "No", "Purchase", "1 per 3 months"),
            ("A7034", "Nasal mask interface", "No", "Purchase", "1 per 3 months"),
            (
                "E0470",
                "Bilevel device without backup rate",
                "Yes",
                "Rental, capped at 13 months",
                "Every 5 years",
            ),
            (
                "E0260",
                "Hospital bed, semi-electric, with mattress",
                "Yes",
                "Rental, capped at 13 months",
                "Every 5 years",
            ),
            ("K0001", "Standard manual wheelchair", "No", "Rental, capped at 13 months", "Every 5 years"),
            ("K0823", "Power wheelchair, group 2 standard", "Yes", "Purchase", "Every 5 years"),
            ("E0143", "Walker, folding, wheeled", "No", "Purchase", "Every 5 years"),
            ("E0114", "Crutches, underarm, pair", "No", "Purchase", "Every 3 years"),
        ),
    ),
    H("Repairs"),
    P(
        "Repairs to member-owned equipment are covered when the repair costs less than replacement. Repairs to "
        "rented equipment are the supplier's responsibility."
    ),
)

_TELEHEALTH: Page = (
    H("Covered telehealth services"),
    P(
        "Northwind Health covers real-time video visits at the same rate as in-person visits when the service is "
        "on Northwind's telehealth code list and the same service would be covered in person."
    ),
    H("Place of service and modifiers"),
    P(
        "Bill telehealth with place of service 10 when the member is at home and place of service 02 when the "
        "member is anywhere else, and append modifier 95 to each telehealth line."
    ),
    P("The originating site facility fee (Q3014) is not payable when the member is at home."),
    H("Provider requirements"),
    P(
        "The provider must be located in the United States and licensed in the state where the member is located "
        "at the time of the visit."
    ),
    H("Remote patient monitoring"),
    P(
        "Remote patient monitoring (CPT 99453, 99454, 99457) is covered for members with hypertension, heart "
        "failure or diabetes. The device supply code (99454) is payable only when at least 16 days of readings are "
        "recorded in a 30-day period."
    ),
    H("Portal messages"),
    P(
        "Online digital evaluation services through the patient portal (CPT 99421, 99422, 99423) are covered for "
        "established patients, and members pay no cost share for them."
    ),
)

_PHE: Page = (
    H("Background"),
    P(
        "This temporary policy relaxes Northwind Health telehealth rules during the federal COVID-19 public health "
        "emergency. It remains in effect until the end of the public health emergency."
    ),
    H("Temporary rules"),
    Bullets(
        (
            "Northwind pays for audio-only telephone visits (CPT 99441, 99442, 99443) at the same rate as office "
            "visits.",
            "New patients may be seen by telehealth without a prior in-person visit.",
            "Member cost share is waived for telehealth visits related to COVID-19 testing or treatment.",
            "Claims for services covered by this policy must include modifier CR.",
        )
    ),
)

_GENETIC: Page = (
    H("Policy"),
    P(
        "Prior authorization is required for every hereditary cancer genetic test in the table below. Tests must "
        "be performed by a laboratory contracted with Northwind Health."
    ),
    H("Genetic counseling"),
    P(
        "Pre-test genetic counseling by a certified genetic counselor or a medical geneticist is required before "
        "BRCA1 and BRCA2 testing, and the counseling note must be included with the request."
    ),
    H("Who may be tested"),
    P(
        "BRCA1 and BRCA2 testing is covered for members with a personal history of breast cancer diagnosed at age "
        "45 or younger, ovarian cancer at any age, male breast cancer, or pancreatic cancer, and for members with a "
        "known BRCA variant in a close blood relative."
    ),
    P(
        "When a familial variant is already known, the single-site test for that variant must be used instead of "
        "full sequencing."
    ),
    H("Covered tests"),
    Table(
        ("CPT code", "Test", "Prior authorization", "Limit"),
        (
            (
                "81162",
                "BRCA1 and BRCA2 full sequence and deletion/duplication analysis",
                "Yes",
                "Once per lifetime",
            ),
            ("81163", "BRCA1 and BRCA2 full sequence analysis", "Yes", "Once per lifetime"),
            ("81215", "BRCA1 known familial variant", "Yes", "Once per lifetime"),
            ("81432", "Hereditary breast cancer panel, at least 10 genes", "Yes", "Once per lifetime"),
            ("81435", "Hereditary colon cancer panel, at least 10 genes", "Yes", "Once per lifetime"),
            ("81292", "MLH1 full sequence analysis (Lynch syndrome)", "Yes", "Once per lifetime"),
            ("81479", "Unlisted molecular pathology procedure", "Yes", "Reviewed case by case"),
        ),
    ),
    H("Not covered"),
    P("Direct-to-consumer genetic tests ordered without a treating provider are not covered."),
)

_AMBULANCE: Page = (
    H("Emergency ground transport"),
    P(
        "Emergency ground ambulance transport (A0427 advanced life support, A0429 basic life support) does not "
        "require prior authorization. Transport is covered to the nearest hospital that can treat the member's "
        "condition."
    ),
    H("Non-emergency ground transport"),
    P(
        "Non-emergency ground ambulance transport (A0426, A0428) requires prior authorization. For a hospital "
        "discharge to a skilled nursing facility, the request may be submitted up to 2 business days after the "
        "transport."
    ),
    H("Mileage and modifiers"),
    P(
        "Mileage is billed with A0425 per loaded mile; only miles traveled with the member on board are payable. "
        "Origin and destination modifiers (for example, RH for residence to hospital) are required on every "
        "transport line."
    ),
    H("Air ambulance"),
    P(
        "Air ambulance (A0430 fixed wing, A0431 rotary wing) is covered only when ground transport would endanger "
        "the member's life or health, or the pickup point cannot be reached by ground. Non-emergency air "
        "transport requires prior authorization."
    ),
    H("Not covered"),
    P("Wheelchair van and taxi transport are not covered under the medical benefit."),
)

_MENU: Page = (
    P("Campus Cafe, Building C, ground floor. Open 7:00 a.m. to 2:30 p.m., Monday to Friday."),
    H("Daily specials"),
    Bullets(
        (
            "Monday: roast chicken with herbed potatoes; tomato basil soup",
            "Tuesday: beef and bean burritos; black bean soup",
            "Wednesday: vegetable lasagna; minestrone",
            "Thursday: teriyaki salmon with rice; miso soup",
            "Friday: fish tacos with mango slaw; vegetarian chili",
        )
    ),
    H("Every day"),
    P("Salad bar, deli sandwiches made to order, fresh fruit and yogurt parfaits. Coffee refills are free."),
)


_doc = doc_maker(DIR, NWH)


PA_TITLE = "Prior Authorization Code List: Outpatient Services"
MRI_TITLE = "Magnetic Resonance Imaging (MRI) of the Spine, Joints and Brain"
PT_TITLE = "Physical Therapy Services"
CLAIMS_TITLE = "Claims Submission and Timely Filing"

DOCS: list[Doc] = [
    _doc(
        "nwh-phe-telehealth-2020.txt",
        "nwh-phe-telehealth",
        "Temporary Telehealth Flexibilities During the COVID-19 Public Health Emergency",
        "telehealth",
        "2020.2",
        "2020-04-01",
        "txt",
        (_PHE,),
        policy_number="NWH-TMP-2020-03",
        withdrawn=True,
        notes="Withdrawn without replacement when the public health emergency ended; only this document mentions audio-only visits and modifier CR.",
    ),
    _doc(
        "nwh-pt-2023.docx",
        "nwh-pt",
        PT_TITLE,
        "therapy/physical-therapy",
        "2023.1",
        "2023-01-01",
        "docx",
        _pt("2023.1"),
        engine="docx",
        policy_number="NWH-MP-210",
    ),
    _doc(
        "nwh-claims-2023.html",
        "nwh-claims",
        CLAIMS_TITLE,
        "admin/claims-submission",
        "2023.1",
        "2023-01-01",
        "html",
        _claims("2023.1"),
        policy_number="NWH-ADM-010",
    ),
    _doc(
        "nwh-mri-2023.pdf",
        "nwh-mri",
        MRI_TITLE,
        "imaging/mri",
        "2023.2",
        "2023-07-01",
        "pdf",
        _mri("2023.2"),
        engine="reportlab",
        policy_number="NWH-MP-104",
        notes="Says knee MRI needs prior authorization, standard decisions in 15 days, and upright MRI is not covered.",
    ),
    _doc(
        "nwh-pa-list-2024.pdf",
        "nwh-pa-list",
        PA_TITLE,
        "admin/prior-auth-list",
        "2024.1",
        "2024-01-01",
        "pdf",
        _pa_list("2024.1"),
        engine="fpdf",
        policy_number="NWH-ADM-001",
    ),
    _doc(
        "nwh-pt-2024.pdf",
        "nwh-pt",
        PT_TITLE,
        "therapy/physical-therapy",
        "2024.1",
        "2024-01-01",
        "pdf",
        _pt("2024.1"),
        engine="fpdf",
        policy_number="NWH-MP-210",
        supersedes="nwh-pt@2023.1",
    ),
    _doc(
        "nwh-ambulance-2024.txt",
        "nwh-ambulance",
        "Ambulance Transport",
        "transport/ambulance",
        "2024.1",
        "2024-01-01",
        "txt",
        (_AMBULANCE,),
        policy_number="NWH-MP-701",
    ),
    _doc(
        "nwh-sleep-2024-scan.pdf",
        "nwh-sleep",
        "Sleep Studies for Adults",
        "sleep/sleep-study",
        "2024.1",
        "2024-02-01",
        "pdf",
        _sleep(),
        engine="scan",
        policy_number="NWH-MP-305",
        notes="Scanned paper copy: image-only pages at 200 dpi, no text layer.",
    ),
    _doc(
        "nwh-appeals-2024.pdf",
        "nwh-appeals",
        "Provider Appeals and Reconsiderations",
        "admin/appeals",
        "2024.1",
        "2024-06-01",
        "pdf",
        _appeals(),
        engine="fpdf",
        policy_number="NWH-ADM-020",
        missing_pages=(3,),
        notes="Page 3 of 4 (sections 5 and 6) is missing from the file; the footers jump from 'Page 2 of 4' to 'Page 4 of 4'.",
    ),
    _doc(
        "nwh-dme-2024.md",
        "nwh-dme",
        "Durable Medical Equipment",
        "dme",
        "2024.2",
        "2024-10-01",
        "md",
        (_DME,),
        policy_number="NWH-MP-402",
        text_wrap=100,
    ),
    _doc(
        "nwh-pa-list-2025.pdf",
        "nwh-pa-list",
        PA_TITLE,
        "admin/prior-auth-list",
        "2025.1",
        "2025-01-01",
        "pdf",
        _pa_list("2025.1"),
        engine="fpdf",
        policy_number="NWH-ADM-001",
        supersedes="nwh-pa-list@2024.1",
        notes="74177 and 73721 no longer need prior authorization; E0486 added.",
    ),
    _doc(
        "nwh-pt-2025.pdf",
        "nwh-pt",
        PT_TITLE,
        "therapy/physical-therapy",
        "2025.1",
        "2025-01-01",
        "pdf",
        _pt("2025.1"),
        engine="fpdf",
        policy_number="NWH-MP-210",
        supersedes="nwh-pt@2024.1",
        notes="Visit limit 20 -> 30; prior authorization from visit 21 instead of 13; signed plan of care within 30 days; dry needling excluded.",
    ),
    _doc(
        "NWH_PT_Policy_FINAL.pdf",
        "nwh-pt",
        PT_TITLE,
        "therapy/physical-therapy",
        "2025.1",
        "2025-01-01",
        "pdf",
        _pt("2025.1"),
        engine="fpdf",
        policy_number="NWH-MP-210",
        supersedes="nwh-pt@2024.1",
        copy_of="northwind-health/nwh-pt-2025.pdf",
        notes="Exact duplicate (same bytes) of nwh-pt-2025.pdf, as saved from an email attachment.",
    ),
    _doc(
        "nwh-telehealth-2025.html",
        "nwh-telehealth",
        "Telehealth Services",
        "telehealth",
        "2025.1",
        "2025-01-01",
        "html",
        (_TELEHEALTH,),
        policy_number="NWH-MP-510",
    ),
    _doc(
        "nwh-genetic-2025.docx",
        "nwh-genetic",
        "Genetic Testing for Hereditary Cancer",
        "genetic-testing",
        "2025.1",
        "2025-02-01",
        "docx",
        (_GENETIC,),
        engine="docx",
        policy_number="NWH-MP-615",
    ),
    _doc(
        "nwh-mri-2025.pdf",
        "nwh-mri",
        MRI_TITLE,
        "imaging/mri",
        "2025.1",
        "2025-03-01",
        "pdf",
        _mri("2025.1"),
        engine="reportlab",
        policy_number="NWH-MP-104",
        supersedes="nwh-mri@2023.2",
        notes="Knee MRI no longer needs prior authorization; standard decisions in 7 days (was 15); lumbar requests must give therapy dates; the upright MRI exclusion was dropped.",
    ),
    _doc(
        "nwh-campus-cafe-menu.txt",
        "nwh-cafe-menu",
        "Campus Cafe Weekly Menu: June 2-6, 2025",
        "other",
        "2025-w23",
        "2025-06-02",
        "txt",
        (_MENU,),
        out_of_scope=True,
        meta=("Northwind Health employee services",),
        notes="Out of scope: staff cafeteria menu.",
    ),
    _doc(
        "nwh-claims-2025.html",
        "nwh-claims",
        CLAIMS_TITLE,
        "admin/claims-submission",
        "2025.1",
        "2025-07-01",
        "html",
        _claims("2025.1"),
        policy_number="NWH-ADM-010",
        supersedes="nwh-claims@2023.1",
        notes="Timely filing 180 -> 90 days for participating providers; corrected claims 180 -> 120 days; paper claims end October 1, 2025.",
    ),
]

"""More labelled questions, written after the first set was split: every one of them goes to dev.

The first 273 questions keep their ids and their split; the test part of them is the held-out set. These
were written from the documents (not from the test questions) to give the calibration more to learn from,
especially unanswerable questions whose rule exists only in an old version, or whose detail the active
policy does not state, and paraphrases that share few words with the passage. `splits.py` refuses an
answerable one whose passage overlaps a test question's passage.
"""

# ruff: noqa: E501 - prose data: sentences and notes are not split to fit the line length

from __future__ import annotations

from model import A, Q, U

N = "Northwind Health"
B = "Bluepeak Assurance"
C = "Cedar Valley Health Plan"

NWH_PA = "nwh-pa-list@2025.1"
NWH_MRI = "nwh-mri@2025.1"
NWH_PT = "nwh-pt@2025.1"
NWH_CLAIMS = "nwh-claims@2025.1"
NWH_APPEALS = "nwh-appeals@2024.1"
NWH_SLEEP = "nwh-sleep@2024.1"
NWH_DME = "nwh-dme@2024.2"
NWH_TELE = "nwh-telehealth@2025.1"
NWH_GEN = "nwh-genetic@2025.1"
NWH_AMB = "nwh-ambulance@2024.1"

BPA_PA = "bpa-pa-list@2025.1"
BPA_IMG = "bpa-imaging@2024.2"
BPA_LCS = "bpa-lcs@2025.1"
BPA_PT = "bpa-pt@2024.1"
BPA_CHIRO = "bpa-chiro@2024.1"
BPA_CLAIMS = "bpa-claims@2024.1"
BPA_APPEALS = "bpa-appeals@2025.1"
BPA_INF = "bpa-infusion@2024.1"
BPA_TELE = "bpa-telehealth@2024.1"

CV_PA = "cvhp-pa-list@2025.1"
CV_IMG = "cvhp-imaging@2025.2"
CV_PT = "cvhp-pt@2025.1"
CV_CLAIMS = "cvhp-claims@2024.1"
CV_APPEALS = "cvhp-appeals@2025.1"
CV_BAR = "cvhp-bariatric@2023.1"
CV_AMB = "cvhp-ambulance@2024.1"
CV_DME = "cvhp-dme@2025.1"
CV_INF = "cvhp-infusion@2025.1"
CV_SLEEP = "cvhp-sleep@2025.1"

_NWH_MRI_REQ = "Fax requests to 1-888-555-0142 are accepted until December 31, 2025."
_NWH_DECIDE = "Standard requests are decided within 7 calendar days of receipt; urgent requests are decided within 72 hours."
_NWH_REPEAT = "A repeat MRI of the same body region within 12 months is approved only when there is a new injury, a significant change in symptoms, or planned surgery."

NORTHWIND: list[Q] = [
    A("How quickly does Northwind turn around a routine MRI authorization?", N, NWH_MRI, 3, _NWH_DECIDE, "7 calendar days", "Within 7 calendar days of receipt.", "paraphrase"),
    A("We did the lumbar MRI without and then with contrast for a Northwind patient. Can I bill the two codes separately?", N, NWH_MRI, 3, "A study done without and with contrast must be billed with the combined code (for example, 72158) rather than two separate codes.", "combined code", "No. Bill the combined code, for example 72158."),
    A("Will Northwind approve a brain MRI for long-standing headaches when the neuro exam is normal?", N, NWH_MRI, 2, "Brain MRI is not approved for chronic headache with a normal neurological examination.", "not approved for chronic headache", "No."),
    A("Northwind PT: how many minutes do I need before I can bill one unit of therapeutic exercise?", N, NWH_PT, 2, "Timed codes are billed in 15-minute units based on the total timed minutes of the visit; a single unit requires at least 8 minutes.", "at least 8 minutes", "At least 8 minutes."),
    A("Can we charge Northwind separately for hot packs?", N, NWH_PT, 2, "97010 Hot or cold packs Bundled, not separately payable", "bundled, not separately payable", "No, 97010 is bundled.", "table"),
    A("A Northwind patient has plateaued in PT. Can we keep billing the sessions?", N, NWH_PT, 2, "Maintenance therapy, provided when the member's function is no longer improving, is not covered.", "maintenance therapy", "No, maintenance therapy is not covered.", "paraphrase"),
    A("What is the billing unit for aquatic therapy with Northwind?", N, NWH_PT, 2, "97113 Aquatic therapy with therapeutic exercise Each 15 minutes", "97113", "Each 15 minutes (97113).", "table"),
    A("Where do I mail a paper UB-04 for Northwind?", N, NWH_CLAIMS, 1, "Mail paper claims on a CMS-1500 or UB-04 form to Northwind Health Claims, PO Box 4410, Bellmont, WA 98009.", "po box 4410", "Northwind Health Claims, PO Box 4410, Bellmont, WA 98009."),
    A("Northwind is secondary. How long after the primary's EOB do we have to file?", N, NWH_CLAIMS, 1, "Northwind as secondary payer 90 days Date of the primary payer's explanation of benefits", ("northwind as secondary payer", "90 days"), "90 days from the primary payer's EOB.", "table"),
    A("Northwind denied our claim as late. Can we send the balance to the patient?", N, NWH_CLAIMS, 1, "Claims received after the filing limit are denied, and the member may not be billed for the denied amount.", "member may not be billed for the denied amount", "No.", "paraphrase"),
    A("Which box does the original claim number go in on a corrected Northwind CMS-1500?", N, NWH_CLAIMS, 1, "Send a corrected claim with frequency code 7 and the original Northwind claim number in box 22 of the CMS-1500 (or form locator 64 of the UB-04).", "box 22", "Box 22 (form locator 64 on the UB-04)."),
    A("How long do we have to send Northwind a corrected claim?", N, NWH_CLAIMS, 1, "Corrected claim or void (frequency code 7 or 8) 120 days Date of the original remittance advice", "120 days", "120 days from the original remittance advice.", "version-diff", trap="nwh-claims@2023.1"),
    A("How long do we have to ask Northwind for a second-level appeal?", N, NWH_APPEALS, 1, "A level 2 appeal must be requested within 60 days of the date of the level 1 decision letter.", "within 60 days", "Within 60 days of the level 1 decision letter.", "paraphrase"),
    A("Which form do I use to appeal a Northwind denial?", N, NWH_APPEALS, 2, "Submit the Provider Appeal Form (NWH-F-220) through the Northwind Provider Portal, or mail it to Northwind Health Provider Appeals, PO Box 4420, Bellmont, WA 98009.", "nwh-f-220", "The Provider Appeal Form NWH-F-220."),
    A("How long will Northwind take to decide a level 2 appeal?", N, NWH_APPEALS, 2, "Northwind decides level 1 reconsiderations within 30 calendar days and level 2 appeals within 45 calendar days of receipt.", "45 calendar days", "45 calendar days."),
    A("Northwind upheld the medical necessity denial at level 2. What's left, and how long do we have?", N, NWH_APPEALS, 3, "After a level 2 appeal upholds a medical necessity denial, the member, or the provider acting for the member, may request an external review by an independent review organization within 4 months of the final decision.", "within 4 months", "An external review, within 4 months of the final decision.", "paraphrase"),
    A("What has to happen before a Northwind home sleep test is done?", N, NWH_SLEEP, 1, "A face-to-face evaluation by the ordering provider that documents snoring, witnessed apneas or daytime sleepiness (an Epworth Sleepiness Scale score above 10) must come before the test.", "face-to-face evaluation", "A face-to-face evaluation documenting snoring, witnessed apneas or daytime sleepiness.", "scanned"),
    A("When will Northwind pay for a second sleep study?", N, NWH_SLEEP, 2, "Repeat sleep testing is covered after a weight change of at least 10 percent of body weight, or when symptoms return despite regular CPAP use.", "10 percent of body weight", "After a 10 percent weight change, or when symptoms return despite CPAP.", "scanned"),
    A("The member's own walker broke. Does Northwind pay to fix it?", N, NWH_DME, 1, "Repairs to member-owned equipment are covered when the repair costs less than replacement.", "costs less than replacement", "Yes, when the repair costs less than replacement.", "paraphrase"),
    A("Which place of service for a Northwind video visit when the patient is at home?", N, NWH_TELE, 1, "Bill telehealth with place of service 10 when the member is at home and place of service 02 when the member is anywhere else, and append modifier 95 to each telehealth line.", "place of service 10", "Place of service 10."),
    A("Do Northwind members owe anything for e-visits through the portal?", N, NWH_TELE, 1, "Online digital evaluation services through the patient portal (CPT 99421, 99422, 99423) are covered for established patients, and members pay no cost share for them.", "no cost share", "No cost share."),
    A("Does Northwind want counseling documented before BRCA testing?", N, NWH_GEN, 1, "Pre-test genetic counseling by a certified genetic counselor or a medical geneticist is required before BRCA1 and BRCA2 testing, and the counseling note must be included with the request.", "counseling note", "Yes, and the counseling note goes with the request."),
    A("The patient's sister carries a known BRCA mutation. Which test does Northwind want us to order?", N, NWH_GEN, 1, "When a familial variant is already known, the single-site test for that variant must be used instead of full sequencing.", "single-site test", "The single-site test for that variant.", "paraphrase"),
    A("How many times will Northwind pay for a hereditary colon cancer panel?", N, NWH_GEN, 1, "81435 Hereditary colon cancer panel, at least 10 genes Yes Once per lifetime", ("81435", "once per lifetime"), "Once per lifetime.", "table"),
    A("How late can we get Northwind auth for a non-emergency transport from the hospital to a nursing facility?", N, NWH_AMB, 1, "For a hospital discharge to a skilled nursing facility, the request may be submitted up to 2 business days after the transport.", "2 business days", "Up to 2 business days after the transport."),
    A("Does Northwind pay for a wheelchair van?", N, NWH_AMB, 1, "Wheelchair van and taxi transport are not covered under the medical benefit.", "wheelchair van", "No."),
    A("Does a plain chest CT need auth with Northwind?", N, NWH_PA, 2, "71250 CT chest without contrast No", "71250", "No.", "table"),
    A("NWH infliximab J1745, auth or not?", N, NWH_PA, 3, "J1745 Infliximab injection, 10 mg Yes", "j1745", "Yes.", "table"),
    # unanswerable
    U("Will Northwind pay for a stand-up MRI?", N, "superseded-only", "Only the superseded 2023 MRI policy speaks of upright or positional MRI.", ("upright", "positional"), trap="nwh-mri@2023.2"),
    U("Does Northwind still pay phone-only visits at the office visit rate?", N, "superseded-only", "Only the withdrawn public-health-emergency policy covered audio-only visits.", ("audio-only", "99441"), trap="nwh-phe-telehealth@2020.2"),
    U("What modifier goes on Northwind claims for COVID-related telehealth?", N, "superseded-only", "The CR modifier rule was in the withdrawn emergency policy only.", ("covid",), trap="nwh-phe-telehealth@2020.2"),
    U("Is there a backup fax number for Northwind claims when our clearinghouse is down?", N, "superseded-only", "The outage fax line was in the 2023 claims policy only.", ("outage", "1-888-555-0166"), trap="nwh-claims@2023.1"),
    U("Can a brand-new Northwind patient have their first visit by video?", N, "superseded-only", "Only the withdrawn emergency policy allowed new patients by telehealth without an in-person visit.", ("new patients",), trap="nwh-phe-telehealth@2020.2"),
    U("What's the copay for a Northwind PT visit?", N, "not-stated", "No Northwind policy states a therapy copay.", ("copay",)),
    U("How many OT visits a year does Northwind allow?", N, "not-stated", "The PT policy only says OT visits are counted separately; it gives no OT limit.", ("occupational therapy visits per",), scope="nwh-pt"),
    U("How many speech therapy visits per year does Northwind cover?", N, "not-stated", "Speech therapy is only said to be counted separately; no limit is given.", ("speech therapy visits per",), scope="nwh-pt"),
    U("How long does Northwind take to decide a genetic testing authorization?", N, "not-stated", "The genetic testing policy gives no decision timeframe.", ("days", "hours"), scope="nwh-genetic"),
    U("What is Northwind's turnaround on an ambulance prior auth?", N, "not-stated", "The ambulance policy gives no decision timeframe.", ("decided", "decision"), scope="nwh-ambulance"),
    U("How long does Northwind take to approve a PT authorization past visit 20?", N, "not-stated", "The PT policy gives no decision timeframe.", ("decided", "calendar days", "business days"), scope="nwh-pt"),
    U("Does Northwind require a referral for physical therapy?", N, "not-stated", "Northwind's PT policy says nothing about referrals (Cedar Valley's does).", ("referral",), scope="nwh-pt"),
    U("How often will Northwind replace CPAP tubing?", N, "not-stated", "The DME table lists masks, not tubing.", ("tubing",)),
    U("Does Northwind cover hearing aids?", N, "not-covered", "No policy mentions hearing aids.", ("hearing aid",)),
    U("Do we need a Northwind auth for a sinus CT, 70486?", N, "not-covered", "No code list mentions sinus CT.", ("70486", "sinus")),
    U("Does Northwind require prior authorization for cardiac rehab?", N, "not-covered", "No policy mentions cardiac rehabilitation.", ("cardiac rehab",)),
]

BLUEPEAK: list[Q] = [
    A("If Bluepeak approves the auth, are we guaranteed to get paid?", B, BPA_PA, 1, "Authorization is not a guarantee of payment; the member must be eligible on the date of service.", "not a guarantee of payment", "No; the member must also be eligible on the date of service.", "paraphrase"),
    A("Is Ocrevus on Bluepeak's auth list?", B, BPA_PA, 1, "J2350 Ocrelizumab, 1 mg Yes", "j2350", "Yes, ocrelizumab (J2350) requires prior authorization.", "table"),
    A("Bluepeak patient came in through the ER and got admitted. Do the inpatient services need auth?", B, BPA_PA, 1, "Emergency services and services during an inpatient stay that began as an emergency admission do not need prior authorization.", "emergency admission", "No.", "paraphrase"),
    A("Bluepeak: MRI for a patient with a typical migraine?", B, BPA_IMG, 2, "Imaging is not approved for uncomplicated migraine.", "uncomplicated migraine", "Not approved."),
    A("Will Bluepeak pay for a coronary calcium score?", B, BPA_IMG, 2, "Coronary calcium scoring (CPT 75571) is not covered.", "75571", "No."),
    A("How long does Bluepeak take on a routine imaging auth?", B, BPA_IMG, 3, "Bluepeak decides standard imaging requests within 5 business days and urgent requests within 72 hours.", "5 business days", "5 business days."),
    A("Which diagnosis code has to be on a Bluepeak lung screening claim?", B, BPA_LCS, 1, "Claims for 71271 must include diagnosis code Z87.891 (personal history of nicotine dependence) or a code from category F17.21 (nicotine dependence, cigarettes).", "z87.891", "Z87.891 or a code from F17.21."),
    A("Bluepeak child with a developmental delay: do the therapy visit caps apply?", B, BPA_PT, 1, "Habilitative therapy for members under age 19 with a developmental delay is not subject to these visit limits.", "not subject to these visit limits", "No."),
    A("If a Bluepeak patient gets exercise and manual therapy on the same day, is that two visits?", B, BPA_PT, 1, "A visit is one date of service by one therapy discipline, however many codes are billed that day.", "one date of service", "No, one visit.", "paraphrase"),
    A("What happens if we bill Bluepeak chiropractic manipulation without the AT modifier?", B, BPA_CHIRO, 1, "CMT billed without the AT modifier is considered maintenance therapy and is denied.", "without the at modifier", "It is treated as maintenance and denied."),
    A("What's Bluepeak's filing limit on an inpatient facility claim?", B, BPA_CLAIMS, 1, "Initial inpatient facility claim 120 days from the discharge date", "120 days from the discharge date", "120 days from discharge.", "table"),
    A("How do I report the NDC on a Bluepeak drug claim?", B, BPA_CLAIMS, 2, "Report the national drug code (NDC) on every line billed with a J code, in the 11-digit 5-4-2 format with the N4 qualifier, followed by the unit of measure and quantity.", "n4 qualifier", "11-digit 5-4-2 format with the N4 qualifier, then unit and quantity."),
    A("The patient gave us the wrong insurance and we just found out it's Bluepeak. Is the claim too late?", B, BPA_CLAIMS, 1, "Bluepeak waives the filing limit when the delay was caused by Bluepeak, or when the member gave wrong insurance information.", "waives the filing limit", "Bluepeak waives the limit; file with proof within 60 days.", "paraphrase"),
    A("What should go in the packet for a Bluepeak appeal?", B, BPA_APPEALS, 2, "Include the claim number, the denial reason code, a letter explaining why the decision should change, and the supporting medical records.", "denial reason code", "Claim number, denial reason code, a letter and the medical records."),
    A("How long will Bluepeak take on a first-level appeal?", B, BPA_APPEALS, 1, "Bluepeak decides first-level appeals within 30 calendar days and second-level appeals within 45 calendar days.", "30 calendar days", "30 calendar days."),
    A("Does the Bluepeak site-of-care rule apply to a 10-year-old?", B, BPA_INF, 1, "The site-of-care requirement applies to members aged 13 and older.", "13 and older", "No, it applies from age 13.", "scanned"),
    A("Can the first doses of a new infusion drug be given at the hospital for Bluepeak?", B, BPA_INF, 2, "The first two doses of a new drug may be given in a hospital outpatient department without site-of-care review.", "first two doses", "Yes, the first two doses.", "scanned"),
    A("How is home infusion nursing time billed to Bluepeak?", B, BPA_INF, 3, "Nursing visits are billed separately with CPT 99601 for the first 2 hours and 99602 for each additional hour.", "99601", "99601 for the first 2 hours, 99602 for each additional hour.", "scanned"),
    A("Does Bluepeak cover telephone-only visits?", B, BPA_TELE, 1, "Audio-only services are covered for behavioral health only and must be billed with modifier 93.", "behavioral health only", "Only for behavioral health, with modifier 93.", "paraphrase"),
    A("Bluepeak telehealth: what place of service when the patient is at home?", B, BPA_TELE, 1, "Bill every telehealth service with place of service 02, wherever the member is located, and append modifier 95.", "place of service 02", "02, wherever the member is."),
    A("What consent do we need for a Bluepeak telehealth visit?", B, BPA_TELE, 1, "The provider must obtain and document the member's verbal or written consent before each telehealth service.", "verbal or written consent", "Verbal or written consent before each service."),
    # unanswerable
    U("Does Bluepeak cover massage therapy done in a chiropractic office?", B, "superseded-only", "Only the superseded chiropractic versions mention massage (97124).", ("massage", "97124"), trap="bpa-chiro@2023.1"),
    U("Bluepeak: is the 97124 exclusion still in the chiro policy?", B, "superseded-only", "The massage exclusion was dropped in 2024.1.", ("97124",), trap="bpa-chiro@2023.1"),
    U("Is there an age limit for chiropractic adjustments with Bluepeak?", B, "not-stated", "The chiropractic policy states no age limit.", ("aged", "years of age", "older"), scope="bpa-chiro"),
    U("How many extra therapy visits does Bluepeak give after a joint replacement?", B, "not-stated", "Bluepeak's therapy policy has no joint replacement rule (Cedar Valley's does).", ("joint replacement",)),
    U("What's the copay for a Bluepeak physical therapy visit?", B, "not-stated", "The therapy policy states no cost share.", ("copay", "cost share"), scope="bpa-pt"),
    U("How long does Bluepeak take to decide a therapy authorization?", B, "not-stated", "The therapy policy gives no decision timeframe.", ("decide", "business days"), scope="bpa-pt"),
    U("Do Bluepeak paper claims have to be on red-ink forms?", B, "not-stated", "Bluepeak states no form colour rule (Cedar Valley does).", ("red-ink", "red ink")),
    U("How long is a CPAP rented with Bluepeak before it's purchased?", B, "not-stated", "Bluepeak has no DME rental policy.", ("rented", "rental")),
    U("Does Bluepeak cover a gastric sleeve?", B, "not-stated", "No Bluepeak policy mentions bariatric surgery.", ("43775", "sleeve", "bariatric")),
    U("What's Bluepeak's rule for hospital beds at home?", B, "not-stated", "No Bluepeak policy mentions hospital beds.", ("hospital bed",)),
    U("Does Harborview Mutual need an auth for a knee MRI?", None, "unknown-insurer", "Harborview Mutual is not an insurer in the corpus.", ("harborview",)),
    U("What is the guest Wi-Fi password at the Bluepeak office?", None, "out-of-scope", "Not a billing policy question, and no document gives it.", ("wi-fi", "wifi")),
]

CEDAR: list[Q] = [
    A("How fast does Cedar Valley decide an expedited auth?", C, CV_PA, 1, "Cedar Valley decides standard requests within 14 calendar days and expedited requests within 72 hours.", "expedited requests within 72 hours", "Within 72 hours."),
    A("Cedar Valley member needs another MRI of the same knee four months later. What happens?", C, CV_IMG, 1, "A repeat MRI of the same body region within 6 months requires review by a Cedar Valley radiologist.", "radiologist", "It requires review by a Cedar Valley radiologist.", "version-diff", trap="cvhp-imaging@2024.1"),
    A("Does Cedar Valley need a PCP referral before PT starts?", C, CV_PT, 1, "A referral from the member's primary care provider is required before the first physical therapy visit of an episode of care.", "primary care provider", "Yes, before the first visit of an episode of care.", "version-diff", trap="cvhp-pt@2023.1"),
    A("Is work hardening covered by Cedar Valley?", C, CV_PT, 2, "work hardening programs (CPT 97545)", "97545", "No."),
    A("For a Cedar Valley inpatient stay, when does the filing clock start?", C, CV_CLAIMS, 1, "For inpatient stays, the filing period starts on the discharge date.", "discharge date", "On the discharge date.", "scanned"),
    A("Cedar Valley is secondary. What's our deadline?", C, CV_CLAIMS, 1, "When Cedar Valley is the secondary payer, file within 180 days of the date on the primary payer's explanation of benefits and attach a copy of it.", "secondary payer", "180 days from the primary payer's EOB.", "scanned"),
    A("What number do we call for a Cedar Valley peer-to-peer?", C, CV_APPEALS, 1, "The ordering provider may ask for a peer-to-peer conversation within 14 days of a medical necessity denial by calling 1-877-555-0124.", "1-877-555-0124", "1-877-555-0124, within 14 days of the denial."),
    A("How long do we have to dispute a Cedar Valley claim decision?", C, CV_APPEALS, 1, "Claim dispute 90 days from the remittance date 30 calendar days CV Connect portal", "90 days from the remittance date", "90 days from the remittance date.", "table"),
    A("Where do I mail a Cedar Valley appeal?", C, CV_APPEALS, 1, "Cedar Valley Health Plan, Appeals Unit, PO Box 2260, Millbrook, OR 97045.", "po box 2260", "Appeals Unit, PO Box 2260, Millbrook, OR 97045."),
    A("How long a supervised diet program does Cedar Valley want before bariatric surgery?", C, CV_BAR, 1, "The member must have taken part in a physician-supervised weight management program for at least 6 consecutive months within the 2 years before the request.", "6 consecutive months", "At least 6 consecutive months within the last 2 years.", "scanned"),
    A("What does Cedar Valley pay when EMS treats on scene and nobody is transported?", C, CV_AMB, 1, "When paramedics treat the member at the scene and no transport follows, bill A0998, which Cedar Valley pays at 50 percent of the base rate.", "50 percent of the base rate", "A0998 at 50 percent of the base rate.", "paraphrase"),
    A("Besides the auth, what paperwork does Cedar Valley need for a non-emergency ambulance?", C, CV_AMB, 1, "Non-emergency ambulance transport requires prior authorization and a physician certification statement signed before the transport.", "physician certification statement", "A physician certification statement signed before the transport."),
    A("How many CGM sensors a month will Cedar Valley cover?", C, CV_DME, 1, "A9276 Continuous glucose monitor sensor, 1 day supply No 30 per month", "30 per month", "30 per month.", "table"),
    A("What oxygen level qualifies a Cedar Valley member for home oxygen?", C, CV_DME, 2, "Home oxygen is covered when the member's oxygen saturation is 88 percent or lower at rest, during exercise or during sleep, measured within 30 days before the order.", "88 percent or lower", "88 percent or lower."),
    A("How often will Cedar Valley replace an insulin pump?", C, CV_DME, 1, "E0784 External insulin pump Yes 1 per 4 years", "1 per 4 years", "Once every 4 years.", "table"),
    A("Nothing was wasted from the vial. What modifier goes on the Cedar Valley drug line?", C, CV_INF, 1, "When nothing is discarded, append modifier JZ to the drug line.", "modifier jz", "JZ."),
    A("How long is a Cedar Valley rituximab approval good for?", C, CV_INF, 1, "J9312 Rituximab 10 mg Yes 6 months", ("j9312", "6 months"), "6 months.", "table"),
    A("What AHI does Cedar Valley require to approve CPAP?", C, CV_SLEEP, 1, "Cedar Valley approves CPAP when the apnea-hypopnea index (AHI) is 15 or more events per hour, or 5 to 14 events per hour with excessive daytime sleepiness, high blood pressure or heart disease.", "15 or more events per hour", "15 or more, or 5 to 14 with symptoms or comorbidities."),
    A("Does Cedar Valley cover a custom mouthguard for sleep apnea?", C, CV_SLEEP, 1, "A custom oral appliance (E0486) is covered for mild to moderate obstructive sleep apnea, or when CPAP is not tolerated.", "e0486", "Yes, for mild to moderate OSA or when CPAP is not tolerated.", "paraphrase"),
    A("Can a child get an in-lab sleep study with Cedar Valley?", C, CV_SLEEP, 1, "It is approved for members under 18, and for adults when home testing is negative but clinical suspicion remains high.", "members under 18", "Yes, it is approved for members under 18 (with prior authorization)."),
    # unanswerable
    U("Does Cedar Valley cap chiropractic adjustments per year?", C, "superseded-only", "Only the withdrawn chiropractic policy gave a visit limit.", ("98940", "chiropractic manipulation"), trap="cvhp-chiro@2021.1"),
    U("Are chiro X-rays covered by Cedar Valley?", C, "superseded-only", "Only the withdrawn chiropractic policy covered chiropractic X-rays.", ("chiropractic x-rays", "x-rays"), trap="cvhp-chiro@2021.1"),
    U("Who reviews a cardiac MRI request at Cedar Valley?", C, "superseded-only", "Only the superseded 2024 imaging policy had the cardiologist review of cardiac MRI.", ("75561", "cardiac mri", "cardiologist"), trap="cvhp-imaging@2024.1"),
    U("How often can a Cedar Valley member get a new nasal mask?", C, "not-stated", "Cedar Valley's DME table lists the full face mask only.", ("a7034", "nasal mask")),
    U("Does Cedar Valley pay for dry needling?", C, "not-stated", "No Cedar Valley policy mentions dry needling (Northwind's does).", ("dry needling", "20560")),
    U("Which modifier does Cedar Valley want on speech therapy lines?", C, "not-stated", "Cedar Valley's therapy policy covers PT and OT only.", ("speech",)),
    U("How is home infusion billed to Cedar Valley?", C, "not-stated", "Cedar Valley has no home infusion billing rule (Bluepeak does).", ("per diem", "home infusion")),
    U("How many days do we have to ask Cedar Valley for a retro auth?", C, "not-stated", "Cedar Valley states no retro-authorization rule.", ("retro",)),
    U("How many PT visits are covered after a shoulder replacement with Cedar Valley?", C, "not-stated", "The extra visits are for knee and hip replacement only.", ("shoulder",)),
    U("Does Cedar Valley cover LASIK?", C, "not-covered", "No policy mentions refractive eye surgery.", ("lasik", "refractive")),
    U("Is allergy testing 95004 subject to Cedar Valley prior auth?", C, "not-covered", "No policy mentions allergy testing.", ("95004", "allergy")),
    U("Does Summit Ridge Health require a prior auth for a sleep study?", None, "unknown-insurer", "Summit Ridge Health is not an insurer in the corpus.", ("summit ridge",)),
    U("Is the Riverton member service center open on Sundays?", None, "out-of-scope", "A press release question; it gives weekday hours only, and no Sunday hours.", ("sunday",)),
]

NO_INSURER: list[Q] = [
    A("Which payer uses electronic payer ID 61425?", None, BPA_CLAIMS, 2, "Bluepeak's electronic payer ID is 61425.", "61425", "Bluepeak Assurance.", "no-insurer"),
    A("Whose policy covers hypoglossal nerve stimulation?", None, CV_SLEEP, 1, "Hypoglossal nerve stimulation (CPT 64582) requires prior authorization.", "hypoglossal nerve stimulation", "Cedar Valley Health Plan's; it requires prior authorization.", "no-insurer"),
    A("Which insurer requires original red-ink claim forms?", None, CV_CLAIMS, 2, "Paper claims must be on original red-ink CMS-1500 (02/12) or UB-04 forms.", "red-ink", "Cedar Valley Health Plan.", "no-insurer"),
]

QUESTIONS: list[Q] = NORTHWIND + BLUEPEAK + CEDAR + NO_INSURER

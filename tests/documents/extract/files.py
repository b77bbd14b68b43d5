"""Real test documents, built in memory: text PDFs, scans, DOCX, HTML, Markdown and plain text."""

from __future__ import annotations

import io
import random
import zipfile

import docx
from docx.enum.text import WD_BREAK
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

INSURER = "Acme Health"
KEY_SENTENCE = "Prior authorization is required for all advanced imaging services"

PAGE_ONE = [
    "Advanced imaging services require prior authorization before the service is rendered. Claims "
    "submitted without an approved authorization number will be denied as provider liability and "
    "cannot be billed to the member.",
    "Emergency department imaging is exempt from this requirement when the member is evaluated in the "
    "emergency room or admitted as an inpatient on the same day.",
]
PAGE_TWO = [
    "The ordering provider requests authorization through the provider portal at least five business "
    "days before the scheduled date of service.",
]
TABLE = [
    ("Code", "Service", "Prior authorization"),
    ("72148", "MRI lumbar spine without contrast", "Required"),
    ("70450", "CT head without contrast", "Not required"),
    ("78815", "PET imaging skull base to mid-thigh", "Required"),
]
PAGE_THREE = [
    "Retrospective authorization is not available except when the member's eligibility could not be "
    "verified at the time of service. Requests must include the clinical notes that support medical "
    "necessity and the reason authorization was not obtained in advance.",
]


SECTIONS = [
    "Wheelchairs need a face-to-face evaluation within six months before the order.",
    "Oxygen equipment needs qualifying blood gas results taken while the member was at rest.",
    "Continuous glucose monitors are covered for members who use insulin every day.",
    "Hospital beds are rented, never bought, and the rental stops after thirteen months.",
]


class _Pdf(FPDF):
    """An fpdf2 document with a running header and a "Page N of M" footer."""

    def __init__(self, total: int | None, numbers: list[int] | None = None, header: bool = True) -> None:
        super().__init__(format="letter")
        self.total = total
        self.numbers = numbers
        self.with_header = header
        self.set_auto_page_break(True, margin=25)
        self.set_title("Imaging Prior Authorization Policy")

    def header(self) -> None:
        if self.with_header:
            self.set_font("Helvetica", size=8)
            self.cell(0, 6, f"{INSURER} - Billing Policy BP-12 (Imaging)", new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

    def footer(self) -> None:
        if self.total is None:
            return
        number = self.numbers[self.page_no() - 1] if self.numbers else self.page_no()
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"Page {number} of {self.total}", align="C")

    def heading(self, text: str, size: int = 14) -> None:
        self.set_font("Helvetica", "B", size)
        self.cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def para(self, text: str) -> None:
        self.set_font("Helvetica", size=11)
        self.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def table_of(self, rows: list[tuple[str, str, str]]) -> None:
        self.set_font("Helvetica", size=10)
        with self.table(col_widths=(20, 60, 30)) as table:
            for row in rows:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        self.ln(4)


def text_pdf() -> bytes:
    """Three pages with "Page N of 3" footers, a running header, headings and a table on page 2."""
    pdf = _Pdf(total=3)
    pdf.add_page()
    pdf.heading("Imaging Prior Authorization Policy", 16)
    pdf.heading("1. Scope")
    for text in PAGE_ONE:
        pdf.para(text)
    pdf.add_page()
    pdf.heading("2. Requesting authorization")
    for text in PAGE_TWO:
        pdf.para(text)
    pdf.table_of(TABLE)
    pdf.add_page()
    pdf.heading("3. Retrospective requests")
    for text in PAGE_THREE:
        pdf.para(text)
    return bytes(pdf.output())


def numbered_pdf(numbers: list[int], total: int) -> bytes:
    """One page per printed number, each with a "Page N of total" footer and text of its own."""
    pdf = _Pdf(total=total, numbers=numbers)
    for number in numbers:
        pdf.add_page()
        pdf.heading(f"Section {number}")
        pdf.para(SECTIONS[(number - 1) % len(SECTIONS)])
    return bytes(pdf.output())


def pdf_with_blank_page() -> bytes:
    """Three pages; the middle one has nothing on it at all."""
    pdf = _Pdf(total=None, header=False)
    pdf.add_page()
    pdf.para(PAGE_ONE[0])
    pdf.add_page()
    pdf.add_page()
    pdf.para(PAGE_THREE[0])
    return bytes(pdf.output())


def pdf_of_paragraphs(title: str, paragraphs: list[str], per_page: int = 3, meta_title: str = "") -> bytes:
    """A plain PDF with a heading and paragraphs, page-numbered "Page N of M" in the footer."""
    pages = [paragraphs[i : i + per_page] for i in range(0, len(paragraphs), per_page)]
    pdf = _Pdf(total=len(pages), header=False)
    pdf.set_title(meta_title)
    pdf.set_auto_page_break(False)
    for i, chunk in enumerate(pages):
        pdf.add_page()
        if i == 0:
            pdf.heading(title)
        for text in chunk:
            pdf.para(text)
    return bytes(pdf.output())


def pdf_with_hyphenation() -> bytes:
    """Lines broken by hand inside words, as typesetters do."""
    pdf = _Pdf(total=None, header=False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in [
        "Claims for durable medical equipment need prior authoriza-",
        "tion from the plan. Self-",
        "funded groups may waive this requirement for non-",
        "emergency rentals under thirteen months in total.",
    ]:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def encrypted_pdf(user_password: str) -> bytes:
    """The three-page PDF, encrypted with AES-256 (an empty user password opens without asking)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf())))
    writer.encrypt(user_password, "owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- scans -----------------------------------------------------------------------------------------

SCAN_PAGES = [
    [
        "Imaging Policy",
        "",
        f"{KEY_SENTENCE},",
        "including MRI and CT scans, before the service is rendered.",
        "",
        "Claims submitted without an approved authorization number will",
        "be denied as provider liability.",
    ],
    [
        "Emergency imaging is exempt from this requirement when the",
        "member is evaluated in the emergency room.",
    ],
    [
        "Retrospective authorization is not available except when the",
        "member's eligibility could not be verified at the time of service.",
    ],
]


def scan_image(lines: list[str], footer: str | None, dpi: int = 200) -> Image.Image:
    """A letter-size page image with the lines typed on it, as a scanner would produce at `dpi`."""
    image = Image.new("L", (int(8.5 * dpi), int(11 * dpi)), 255)
    draw = ImageDraw.Draw(image)
    body = ImageFont.load_default(size=int(12 / 72 * dpi))
    title = ImageFont.load_default(size=int(20 / 72 * dpi))
    y = dpi
    for i, line in enumerate(lines):
        font = title if i == 0 and len(lines) > 3 else body
        if line:
            draw.text((dpi, y), line, fill=0, font=font)
        y += int((font.size if hasattr(font, "size") else 12) * 1.6)
    if footer:
        draw.text((int(3.8 * dpi), int(10.2 * dpi)), footer, fill=0, font=body)
    return image


def scanned_pdf(pages: int = 2) -> bytes:
    """Page images only, no text layer, each with a "Page N of M" footer typed on the image."""
    images = [scan_image(SCAN_PAGES[i], f"Page {i + 1} of {pages}") for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return out.getvalue()


def low_resolution_scan() -> bytes:
    """One page scanned at 50 dpi with a few specks of dirt: OCR reads it, but unsure of itself."""
    image = scan_image(SCAN_PAGES[0], None).resize((425, 550), Image.Resampling.BILINEAR)
    rnd = random.Random(7)
    draw = ImageDraw.Draw(image)
    for _ in range(150):
        draw.point((rnd.randrange(image.width), rnd.randrange(image.height)), fill=0)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=50)
    return out.getvalue()


def png_image() -> bytes:
    """A small PNG picture."""
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# -- other formats ---------------------------------------------------------------------------------


def policy_docx() -> bytes:
    """Title, headings, a list, a captioned table, then a page break and a second page."""
    document = docx.Document()
    document.core_properties.title = "Imaging Prior Authorization Policy"
    document.add_heading("Imaging Prior Authorization Policy", 0)
    document.add_heading("1. Scope", 1)
    for text in PAGE_ONE:
        document.add_paragraph(text)
    document.add_paragraph("The following services are covered:")
    document.add_paragraph("MRI of the spine and brain", style="List Bullet")
    document.add_paragraph("CT of the head, chest and abdomen", style="List Bullet")
    document.add_paragraph("Table 1: Codes that need authorization", style="Caption")
    table = document.add_table(rows=len(TABLE), cols=3)
    for r, row in enumerate(TABLE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    breaker = document.add_paragraph("Requests are reviewed within two business days.")
    breaker.add_run().add_break(WD_BREAK.PAGE)
    document.add_heading("3. Retrospective requests", 1)
    for text in PAGE_THREE:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_of_paragraphs(title: str, paragraphs: list[str]) -> bytes:
    """A DOCX with one heading and the paragraphs, nothing else."""
    document = docx.Document()
    document.add_heading(title, 1)
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_like() -> bytes:
    """A ZIP laid out as an Excel workbook."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


POLICY_HTML = f"""<!DOCTYPE html>
<html><head><title>Imaging Prior Authorization Policy</title>
<style>body {{ font-family: serif; }}</style>
<script>var tracking = "do not index this";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/policies">All policies</a></nav>
<h1>Imaging Prior Authorization Policy</h1>
<h2>1. Scope</h2>
<p>{PAGE_ONE[0]}</p>
<p>{PAGE_ONE[1]}</p>
<ul><li>MRI of the spine and brain</li><li>CT of the head, chest and abdomen</li></ul>
<h2>2. Codes</h2>
<table>
<caption>Codes that need authorization</caption>
<thead><tr><th>Code</th><th>Service</th><th>Prior authorization</th></tr></thead>
<tbody>
{"".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in TABLE[1:])}
</tbody></table>
<script>document.write("injected text");</script>
</body></html>
"""

POLICY_MARKDOWN = f"""# Imaging Prior Authorization Policy

## 1. Scope

{PAGE_ONE[0]}

{PAGE_ONE[1]}

- MRI of the **spine** and brain
- CT of the head, chest and abdomen

## 2. Codes

| Code | Service | Prior authorization |
|------|---------|---------------------|
{"".join(f"| {a} | {b} | {c} |" + chr(10) for a, b, c in TABLE[1:])}
See the [provider manual](https://example.com/manual) for `appeal` rules.
"""


# -- near duplicates: one policy, a lightly edited re-issue, and another policy of the same insurer ---

BOILERPLATE_START = (
    "This payment policy applies to all Acme Health commercial and Medicare Advantage plans. Payment "
    "policies help providers understand how claims are reimbursed; they do not decide medical necessity "
    "and do not replace the member's benefit plan documents."
)
BOILERPLATE_END = (
    "Acme Health may change this policy at any time with ninety days notice to contracted providers. "
    "Where this policy conflicts with a provider agreement, the provider agreement controls."
)
IMAGING_POLICY = [
    BOILERPLATE_START,
    "Advanced diagnostic imaging, including computed tomography, magnetic resonance imaging, magnetic "
    "resonance angiography and positron emission tomography, requires prior authorization when performed "
    "in an outpatient setting. The ordering provider is responsible for obtaining the authorization "
    "before the service is scheduled.",
    "Claims for advanced imaging that arrive without a valid authorization number are denied as provider "
    "liability. The member may not be billed for a service denied for this reason. A rendering facility "
    "may verify the authorization through the provider portal before the appointment.",
    "Imaging performed in the emergency department, during an inpatient stay or during an observation "
    "stay does not require prior authorization. Claims for these services must carry the place of "
    "service code that matches the setting in which the study was performed.",
    "An authorization is valid for sixty days from the date it is issued and covers one study of the "
    "body part named in the request. A change of body part, or the addition of contrast, requires a new "
    "authorization or an update before the study is performed.",
    "Repeat studies of the same body part within twelve months are reviewed for medical necessity. "
    "Records that show a change in symptoms, a new injury or a planned surgery support the request.",
    BOILERPLATE_END,
]
# The same policy re-issued: a validity period, a portal name and one word changed.
IMAGING_POLICY_EDITED = [
    text.replace("sixty days", "ninety days")
    .replace("provider portal", "Availity portal")
    .replace("twelve months", "six months")
    for text in IMAGING_POLICY
]
SLEEP_STUDY_POLICY = [
    BOILERPLATE_START,
    "Attended sleep studies performed in a sleep laboratory require prior authorization. Home sleep "
    "apnea testing is the preferred first test for adult members with suspected obstructive sleep apnea "
    "and no significant heart or lung disease.",
    "Claims for a laboratory study performed without an authorization number are denied as provider "
    "liability, and the member may not be billed. The ordering provider requests authorization through "
    "the provider portal and attaches the sleep questionnaire and the clinical notes.",
    "Positive airway pressure titration studies are covered once a diagnosis of sleep apnea is made. A "
    "split-night study is expected when the diagnostic portion of the night shows moderate or severe "
    "apnea, and a separate titration night is then not covered.",
    "Repeat sleep studies within twelve months are reviewed for medical necessity, for example after "
    "significant weight change, surgery for sleep apnea, or symptoms that continue despite treatment.",
    BOILERPLATE_END,
]

"""Text PDFs: fpdf2 for most insurers' documents, reportlab for others (two producers, as in real life)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time

from fpdf import FPDF
from fpdf.fonts import FontFace
from model import Bullets, Doc, H, P, Table
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

PAGE_W_PT, PAGE_H_PT = letter


def creation_time(doc: Doc) -> datetime:
    """A fixed creation time (the policy's effective date) so builds are byte-identical."""
    return datetime.combine(datetime.fromisoformat(doc.effective_date).date(), time(9, 0), tzinfo=UTC)


def footer(doc: Doc, index: int) -> str:
    """The footer line of the page at 0-based `index`."""
    ident = doc.policy_number or doc.doc_key.upper()
    return f"{ident} | Version {doc.version} | Page {doc.page_label(index)} of {doc.printed_total}"


def running_header(doc: Doc) -> str:
    """The small line at the top of every page."""
    return f"{doc.insurer} - {doc.title}"


class _Overflow(ValueError):
    pass


def render_fpdf(doc: Doc) -> bytes:
    """Render with fpdf2: Helvetica, one source page per PDF page, tables with fpdf2's table()."""
    pdf = FPDF(format="letter", unit="mm")
    pdf.set_creation_date(creation_time(doc))
    pdf.set_title(doc.title)
    pdf.set_author(doc.insurer)
    pdf.set_producer("fpdf2")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 18, 20)
    bottom = pdf.h - 22
    for index, page in enumerate(doc.pages):
        pdf.add_page()
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(90)
        pdf.cell(0, 4, running_header(doc), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
        pdf.ln(4)
        if index == 0:
            pdf.set_font("Helvetica", "B", 15)
            pdf.multi_cell(0, 7, doc.title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 9)
            for line in doc.front_matter():
                pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        for block in page:
            if isinstance(block, H):
                pdf.ln(2)
                pdf.set_font("Helvetica", "B", 11)
                pdf.multi_cell(0, 6, block.text, new_x="LMARGIN", new_y="NEXT")
            elif isinstance(block, P):
                pdf.set_font("Helvetica", "", 10)
                pdf.multi_cell(0, 5, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            elif isinstance(block, Bullets):
                pdf.set_font("Helvetica", "", 10)
                for item in block.items:
                    pdf.set_x(pdf.l_margin + 4)
                    pdf.multi_cell(pdf.epw - 4, 5, f"- {item}", align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            else:
                pdf.set_font("Helvetica", "", 9)
                widths = block.widths or tuple(1.0 for _ in block.header)
                with pdf.table(
                    col_widths=widths,
                    headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
                    line_height=4.8,
                    text_align="LEFT",
                ) as table:
                    for cells in (block.header, *block.rows):
                        row = table.row()
                        for cell in cells:
                            row.cell(cell)
                pdf.ln(3)
            if pdf.get_y() > bottom:
                raise _Overflow(f"{doc.file}: page {index + 1} overflows; move blocks to another page")
        pdf.set_y(-16)
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(90)
        pdf.cell(0, 4, footer(doc, index), align="C")
        pdf.set_text_color(0)
    return bytes(pdf.output())


_LEFT, _RIGHT, _TOP, _BOTTOM = 72.0, PAGE_W_PT - 72.0, PAGE_H_PT - 60.0, 70.0


class _Writer:
    """A tiny flowing-text layout on a reportlab canvas; raises when a page overflows."""

    def __init__(self, canvas: Canvas, doc: Doc, index: int) -> None:
        self.c = canvas
        self.y = _TOP
        self.where = f"{doc.file}: page {index + 1}"

    def lines(self, text: str, font: str, size: float, indent: float = 0.0, leading: float = 1.3) -> None:
        width = _RIGHT - _LEFT - indent
        for line in simpleSplit(text, font, size, width):
            self.need(size * leading)
            self.c.setFont(font, size)
            self.c.drawString(_LEFT + indent, self.y, line)
            self.y -= size * leading

    def need(self, height: float) -> None:
        if self.y - height < _BOTTOM:
            raise _Overflow(f"{self.where} overflows; move blocks to another page")

    def gap(self, height: float) -> None:
        self.y -= height

    def table(self, block: Table) -> None:
        rel = block.widths or tuple(1.0 for _ in block.header)
        total = sum(rel)
        widths = [(_RIGHT - _LEFT) * w / total for w in rel]
        size, lead = 9.0, 11.0
        top = self.y + size
        for r, cells in enumerate((block.header, *block.rows)):
            font = "Times-Bold" if r == 0 else "Times-Roman"
            wrapped = [simpleSplit(cell, font, size, w - 8) for cell, w in zip(cells, widths, strict=True)]
            height = max(len(w) for w in wrapped) * lead + 6
            if top - height < _BOTTOM:
                raise _Overflow(f"{self.where} overflows in a table; move blocks to another page")
            x = _LEFT
            for cell_lines, w in zip(wrapped, widths, strict=True):
                self.c.rect(x, top - height, w, height, stroke=1, fill=0)
                self.c.setFont(font, size)
                for k, line in enumerate(cell_lines):
                    self.c.drawString(x + 4, top - 3 - size - k * lead, line)
                x += w
            top -= height
        self.y = top - size - 10


def render_reportlab(doc: Doc) -> bytes:
    """Render with reportlab (invariant mode): Times, hand-laid tables."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=letter, invariant=1, pageCompression=1)
    canvas.setTitle(doc.title)
    canvas.setAuthor(doc.insurer)
    canvas.setCreator("reportlab")
    for index, page in enumerate(doc.pages):
        w = _Writer(canvas, doc, index)
        canvas.setFont("Times-Italic", 8)
        canvas.drawString(_LEFT, PAGE_H_PT - 40, running_header(doc))
        if index == 0:
            w.lines(doc.title, "Times-Bold", 16)
            w.gap(2)
            for line in doc.front_matter():
                w.lines(line, "Times-Roman", 9.5)
            w.gap(8)
        for block in page:
            if isinstance(block, H):
                w.gap(4)
                w.lines(block.text, "Times-Bold", 12)
                w.gap(2)
            elif isinstance(block, P):
                w.lines(block.text, "Times-Roman", 11)
                w.gap(6)
            elif isinstance(block, Bullets):
                for item in block.items:
                    w.lines(f"- {item}", "Times-Roman", 11, indent=12)
                w.gap(6)
            else:
                w.table(block)
        canvas.setFont("Times-Roman", 8)
        canvas.drawCentredString(PAGE_W_PT / 2, 40, footer(doc, index))
        canvas.showPage()
    canvas.save()
    return buf.getvalue()

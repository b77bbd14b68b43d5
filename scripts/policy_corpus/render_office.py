"""DOCX, HTML, Markdown and plain-text renderings of a document (each a single 'page')."""

from __future__ import annotations

import html
import io
import textwrap
import zipfile
from datetime import datetime

import docx
from docx.shared import Pt
from model import Bullets, Doc, H, P, long_date


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps, so a DOCX built twice is byte-identical."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def render_docx(doc: Doc) -> bytes:
    """A Word document: title, front matter, headings, paragraphs, bulleted lists and grid tables."""
    d = docx.Document()
    stamp = datetime.fromisoformat(doc.effective_date)
    props = d.core_properties
    props.title = doc.title
    props.author = doc.insurer
    props.last_modified_by = doc.insurer
    props.comments = ""
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp
    props.revision = 1
    d.styles["Normal"].font.name = "Calibri"
    d.styles["Normal"].font.size = Pt(11)
    d.sections[0].header.paragraphs[0].text = f"{doc.insurer} - {doc.policy_number or doc.title}"
    d.add_heading(doc.title, level=0)
    for line in doc.front_matter():
        d.add_paragraph(line)
    for block in doc.pages[0]:
        if isinstance(block, H):
            d.add_heading(block.text, level=2)
        elif isinstance(block, P):
            d.add_paragraph(block.text)
        elif isinstance(block, Bullets):
            for item in block.items:
                d.add_paragraph(item, style="List Bullet")
        else:
            table = d.add_table(rows=1 + len(block.rows), cols=len(block.header))
            table.style = "Table Grid"
            for r, cells in enumerate((block.header, *block.rows)):
                for c, value in enumerate(cells):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        cell.paragraphs[0].runs[0].bold = True
            d.add_paragraph("")
    buf = io.BytesIO()
    d.save(buf)
    return _fixed_zip(buf.getvalue())


_CSS = (
    "body{font-family:Arial,sans-serif;max-width:860px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;padding:4px 8px;text-align:left}"
    "nav a{margin-right:1em}.meta{color:#555;font-size:90%}"
)


def render_html(doc: Doc) -> bytes:
    """A web page: site navigation and footer around the policy, tables as <table>."""
    e = html.escape
    site = doc.insurer
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{e(doc.title)} | {e(site)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<nav><a href="/">{e(site)}</a> <a href="/providers">Providers</a> '
        '<a href="/providers/policies">Policies</a> <a href="/contact">Contact us</a></nav>',
        "</header>",
        "<main>",
        f"<h1>{e(doc.title)}</h1>",
    ]
    out.extend(f'<p class="meta">{e(line)}</p>' for line in doc.front_matter())
    for block in doc.pages[0]:
        if isinstance(block, H):
            out.append(f"<h2>{e(block.text)}</h2>")
        elif isinstance(block, P):
            out.append(f"<p>{e(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>")
            out.extend(f"  <li>{e(item)}</li>" for item in block.items)
            out.append("</ul>")
        else:
            out.append("<table>")
            out.append("  <thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in block.header) + "</tr></thead>")
            out.append("  <tbody>")
            for row in block.rows:
                out.append("    <tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
            out.append("  </tbody>")
            out.append("</table>")
    year = doc.effective_date[:4]
    out += [
        "</main>",
        f"<footer><p>Copyright {year} {e(site)}. Posted {e(long_date(doc.effective_date))}.</p></footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out).encode()


def _wrap(text: str, width: int, prefix: str = "", hang: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=prefix,
        subsequent_indent=hang,
        break_on_hyphens=False,
        break_long_words=False,
    )


def render_markdown(doc: Doc) -> bytes:
    """Markdown: ATX headings, wrapped paragraphs, '-' lists and pipe tables."""
    out = [f"# {doc.title}", ""]
    for line in doc.front_matter():
        out += [line, ""]
    for block in doc.pages[0]:
        if isinstance(block, H):
            out += [f"## {block.text}", ""]
        elif isinstance(block, P):
            out += [*_wrap(block.text, doc.text_wrap), ""]
        elif isinstance(block, Bullets):
            for item in block.items:
                out += _wrap(item, doc.text_wrap, "- ", "  ")
            out.append("")
        else:
            out.append("| " + " | ".join(block.header) + " |")
            out.append("|" + "|".join("---" for _ in block.header) + "|")
            out += ["| " + " | ".join(row) + " |" for row in block.rows]
            out.append("")
    return "\n".join(out).encode()


def render_text(doc: Doc) -> bytes:
    """Plain text: underlined title and headings, wrapped paragraphs, '*' lists, space-padded tables."""
    out = [doc.title, "=" * len(doc.title), ""]
    out += [*doc.front_matter(), ""]
    for block in doc.pages[0]:
        if isinstance(block, H):
            out += [block.text, "-" * len(block.text), ""]
        elif isinstance(block, P):
            out += [*_wrap(block.text, doc.text_wrap), ""]
        elif isinstance(block, Bullets):
            for item in block.items:
                out += _wrap(item, doc.text_wrap, "  * ", "    ")
            out.append("")
        else:
            rows = (block.header, *block.rows)
            widths = [max(len(row[c]) for row in rows) for c in range(len(block.header))]
            for r, row in enumerate(rows):
                out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
                if r == 0:
                    out.append("  ".join("-" * w for w in widths))
            out.append("")
    return "\n".join(out).encode()

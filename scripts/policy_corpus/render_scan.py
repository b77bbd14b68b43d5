"""Scanned PDFs: each page is rendered to a grayscale image (slightly rotated, noisy) with no text layer."""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fpdf import FPDF
from model import Bullets, Doc, H, P, Table
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from render_pdf import creation_time, footer, running_header

FONT_DIR = Path("/usr/share/fonts/truetype/liberation")
REGULAR = FONT_DIR / "LiberationSerif-Regular.ttf"
BOLD = FONT_DIR / "LiberationSerif-Bold.ttf"
ITALIC = FONT_DIR / "LiberationSerif-Italic.ttf"


@dataclass(frozen=True)
class ScanQuality:
    """How one page is 'scanned': resolution, tilt, noise and blur."""

    dpi: int
    angle: float
    noise: float
    speckle: float
    blur: float
    jpeg_quality: int


GOOD = ScanQuality(dpi=200, angle=0.6, noise=4.0, speckle=0.0004, blur=0.45, jpeg_quality=55)
POOR = ScanQuality(dpi=100, angle=1.0, noise=25.0, speckle=0.008, blur=1.2, jpeg_quality=28)


def quality_for(doc: Doc, index: int) -> ScanQuality:
    """A poor scan is poor on its last page only (the first stays legible, as with a tired feeder)."""
    if doc.engine == "scan-poor" and index == len(doc.pages) - 1:
        return POOR
    return GOOD


class _Page:
    """Lays text out on a page image at the scan's resolution, recording each line it draws."""

    def __init__(self, dpi: int, where: str) -> None:
        self.dpi = dpi
        self.img = Image.new("L", (int(8.5 * dpi), int(11 * dpi)), 248)
        self.draw = ImageDraw.Draw(self.img)
        self.left = int(1.0 * dpi)
        self.right = self.img.width - int(1.0 * dpi)
        self.y = int(0.9 * dpi)
        self.bottom = self.img.height - int(0.9 * dpi)
        self.lines: list[str] = []
        self.where = where

    def font(self, path: Path, points: float) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(path), round(points / 72 * self.dpi))

    def wrap(self, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
        words, lines, line = text.split(), [], ""
        for word in words:
            trial = f"{line} {word}" if line else word
            if font.getlength(trial) <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
        return lines

    def text(self, text: str, path: Path, points: float, indent: int = 0, record: bool = True) -> None:
        font = self.font(path, points)
        step = round(points / 72 * self.dpi * 1.42)
        for line in self.wrap(text, font, self.right - self.left - indent):
            if self.y + step > self.bottom:
                raise ValueError(f"{self.where} overflows; move blocks to another page")
            self.draw.text((self.left + indent, self.y), line, font=font, fill=22)
            if record:
                self.lines.append(line)
            self.y += step

    def gap(self, points: float) -> None:
        self.y += round(points / 72 * self.dpi)

    def table(self, block: Table) -> None:
        rel = block.widths or tuple(1.0 for _ in block.header)
        span = self.right - self.left
        xs = [self.left + int(span * sum(rel[:k]) / sum(rel)) for k in range(len(rel) + 1)]
        for r, cells in enumerate((block.header, *block.rows)):
            font = self.font(BOLD if r == 0 else REGULAR, 10.5)
            step = round(10.5 / 72 * self.dpi * 1.5)
            for k, cell in enumerate(cells):
                if font.getlength(cell) > xs[k + 1] - xs[k] - 12:
                    raise ValueError(f"{self.where}: table cell {cell!r} is too wide for a scanned page")
                self.draw.text((xs[k] + 6, self.y + 4), cell, font=font, fill=22)
            self.draw.rectangle((xs[0], self.y, xs[-1], self.y + step), outline=60, width=2)
            self.lines.append(" ".join(cells))
            self.y += step
        self.gap(8)


def _degrade(img: Image.Image, quality: ScanQuality, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    tilted = img.rotate(
        quality.angle * (1 if seed % 2 else -1), resample=Image.Resampling.BICUBIC, fillcolor=248
    )
    pixels = np.asarray(tilted).astype(np.float32)
    pixels += rng.normal(0.0, quality.noise, pixels.shape)
    specks = rng.random(pixels.shape) < quality.speckle
    pixels[specks] = rng.uniform(40, 140, int(specks.sum()))
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    return noisy.filter(ImageFilter.GaussianBlur(quality.blur))


def render_scan(doc: Doc) -> tuple[bytes, list[str]]:
    """Render the document as image-only pages; returns the PDF and each page's intended text."""
    pdf = FPDF(format="letter", unit="mm")
    pdf.set_creation_date(creation_time(doc))
    pdf.set_producer("ScanStation 4.2")
    pdf.set_auto_page_break(False)
    texts: list[str] = []
    for index, blocks in enumerate(doc.pages):
        quality = quality_for(doc, index)
        page = _Page(quality.dpi, f"{doc.file}: page {index + 1}")
        page.text(running_header(doc), ITALIC, 9)
        page.gap(10)
        if index == 0:
            page.text(doc.title, BOLD, 16)
            page.gap(3)
            for line in doc.front_matter():
                page.text(line, REGULAR, 10.5)
            page.gap(10)
        for block in blocks:
            if isinstance(block, H):
                page.gap(4)
                page.text(block.text, BOLD, 12.5)
                page.gap(2)
            elif isinstance(block, P):
                page.text(block.text, REGULAR, 11.5)
                page.gap(7)
            elif isinstance(block, Bullets):
                for item in block.items:
                    page.text(f"- {item}", REGULAR, 11.5, indent=int(0.25 * quality.dpi))
                page.gap(7)
            else:
                page.table(block)
        page.y = page.bottom + int(0.25 * quality.dpi)
        page.bottom = page.img.height
        page.text(footer(doc, index), REGULAR, 9, indent=int(2.2 * quality.dpi))
        seed = zlib.crc32(f"{doc.file}#{index}".encode())
        image = _degrade(page.img, quality, seed)
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=quality.jpeg_quality, dpi=(quality.dpi, quality.dpi), optimize=True)
        jpeg.seek(0)
        pdf.add_page()
        pdf.image(jpeg, x=0, y=0, w=pdf.w, h=pdf.h)
        texts.append("\n".join(page.lines))
    return bytes(pdf.output()), texts

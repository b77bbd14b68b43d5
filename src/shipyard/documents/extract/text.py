"""Plain text, and the decoding every text format shares: UTF-8, else a declared or Windows code page."""

from __future__ import annotations

import codecs

from shipyard.documents.extract.builder import PageBuilder, first_heading
from shipyard.documents.extract.clean import clean_raw
from shipyard.documents.extract.lines import LineHints, build_blocks
from shipyard.documents.extract.model import Extracted, Problem

_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


def decode(data: bytes, declared: str | None = None) -> tuple[str, Problem | None]:
    """Text from bytes, and an `encoding_replaced` problem when it had to be guessed."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), None
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared), None
        except (LookupError, UnicodeDecodeError):
            pass
    for codec, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        return text, Problem(
            "encoding_replaced",
            f"The file is not valid UTF-8, so it was read as {name}; "
            "check that accented letters, quotes and dashes look right.",
        )
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def read_text(data: bytes) -> Extracted:
    """A plain-text file as one page; headings are guessed from short lines standing alone."""
    text, problem = decode(data)
    builder = PageBuilder()
    build_blocks(clean_raw(text).split("\n"), LineHints(guess_headings=True), builder)
    pages = [builder.page(1)]
    return Extracted("text", first_heading(pages), pages, [problem] if problem else [])

"""Text clean-up that never rewords: Unicode NFKC, invisible characters, whitespace, line-end hyphens."""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters, the soft hyphen and the byte-order mark carry no text.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
# C0/C1 controls other than tab and newline (PDF fonts map bullets to \x7f, for instance).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n\t]+")
_WHITESPACE = re.compile(r"\s+")
# Bullet glyphs, including the private-use code points Symbol and Wingdings fonts put in PDFs.
BULLETS = "•◦▪▫●○■□‣⁃∙·◆◇➢➤►▸✓✔\uf0b7\uf0a7\uf076\uf0d8\uf0fc\uf0a8\uf06e\uf0e0"
# After these, a hyphen at a line end belongs to the word ("self-funded"), not to the line break.
_KEEP_HYPHEN = frozenset(
    "self non co pre post ex all half well in out cross multi semi anti sub inter intra day "
    "high low long short full part follow add opt check sign walk".split()
)
_LINE_END_HYPHEN = re.compile(r"(\w+)-$")


def clean_raw(text: str) -> str:
    """NFKC and invisible characters out, line ends unified; runs of spaces are kept (they align columns)."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_INVISIBLE)
    return _CONTROLS.sub("", text)


def clean_inline(text: str) -> str:
    """One block's text on one line: cleaned, whitespace collapsed to single spaces."""
    return _WHITESPACE.sub(" ", clean_raw(text)).strip()


def collapse_spaces(line: str) -> str:
    """Runs of spaces and tabs inside a line become one space."""
    return _SPACES.sub(" ", line.replace("\t", " ")).strip()


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph joined with spaces, undoing hyphens that only split a word at a line end."""
    out = ""
    for raw in lines:
        line = collapse_spaces(raw)
        if not line:
            continue
        if not out:
            out = line
            continue
        match = _LINE_END_HYPHEN.search(out)
        if match and line[0].islower():
            if match.group(1).lower() in _KEEP_HYPHEN:
                out += line
            else:
                out = out[:-1] + line
        elif match:
            out += line  # "COVID-" + "19": the hyphen is part of the word
        else:
            out += " " + line
    return out

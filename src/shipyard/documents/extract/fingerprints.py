"""Duplicate detection: an exact content fingerprint, and a MinHash signature for near duplicates.

Exact: the sha256 of the normalised text, so the same words as PDF or DOCX, re-typeset or re-wrapped,
give the same fingerprint. Near: MinHash (256 permutations, fixed seed) over word 5-shingles estimates
the Jaccard similarity of two documents' shingle sets.

Recommended threshold: `NEAR_DUPLICATE_THRESHOLD` = 0.85. Each changed word breaks up to five
shingles, so 0.85 tolerates about one changed word in sixty: the tests' 270-word policy re-issued with
three words changed scores 0.88 (true Jaccard 0.89), while another policy of the same insurer on a
similar topic, sharing its opening and closing boilerplate, scores 0.19.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract.clean import BULLETS
from shipyard.documents.extract.model import Extracted

NEAR_DUPLICATE_THRESHOLD = 0.85
SHINGLE_WORDS = 5
NUM_PERM = 256
SEED = 1
_MAGIC = b"SYMH1"
_HEADER = struct.Struct(">5sHI")  # magic, number of permutations, seed

# Typographic variants that differ between tools exporting the same text.
_QUOTES = "\u2018\u2019\u201a\u201b\u2032"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u2033"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_VARIANTS = str.maketrans(
    _QUOTES + _DOUBLE_QUOTES + _DASHES + BULLETS,
    "'" * len(_QUOTES) + '"' * len(_DOUBLE_QUOTES) + "-" * len(_DASHES) + " " * len(BULLETS),
    "\u00ad\u200b\ufeff",
)
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+(?:['.-]\w+)*")


def normalise_text(text: str) -> str:
    """Text as fingerprints see it: NFKC, case-folded, quotes/dashes unified, whitespace single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_VARIANTS).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def _document_text(doc: Extracted) -> str:
    return normalise_text(" ".join(page.text for page in doc.pages))


def content_fingerprint(doc: Extracted) -> str:
    """sha256 hex of the normalised text of all pages: equal fingerprints mean the same text."""
    return hashlib.sha256(_document_text(doc).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Signature:
    """A MinHash signature of a document's word 5-shingles; compare two with `similarity`."""

    hashvalues: tuple[int, ...]
    seed: int = SEED

    def similarity(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two documents' shingle sets, in [0, 1]."""
        if len(self.hashvalues) != len(other.hashvalues) or self.seed != other.seed:
            raise InvalidInput(
                "these signatures were made with different MinHash settings and cannot be compared",
                code="incompatible_signatures",
            )
        mine = np.asarray(self.hashvalues, dtype=np.uint64)
        theirs = np.asarray(other.hashvalues, dtype=np.uint64)
        return float(np.count_nonzero(mine == theirs)) / len(mine)

    def to_bytes(self) -> bytes:
        """A compact form for storage: a short header, then the hash values as big-endian uint64."""
        values = np.asarray(self.hashvalues, dtype=">u8").tobytes()
        return _HEADER.pack(_MAGIC, len(self.hashvalues), self.seed) + values

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """The signature `to_bytes` wrote; anything else is refused."""
        if len(data) < _HEADER.size:
            raise InvalidInput("not a MinHash signature: too short", code="invalid_signature")
        magic, count, seed = _HEADER.unpack_from(data)
        if magic != _MAGIC or len(data) != _HEADER.size + 8 * count or count == 0:
            raise InvalidInput(
                "not a MinHash signature written by Signature.to_bytes", code="invalid_signature"
            )
        values = np.frombuffer(data, dtype=">u8", offset=_HEADER.size)
        return cls(tuple(int(v) for v in values), seed)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of `size`-word shingles of normalised text (the whole text when it is shorter)."""
    words = _WORD.findall(normalise_text(text))
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def near_duplicate_signature(doc: Extracted) -> Signature:
    """The document's MinHash signature over word 5-shingles (fixed seed, so signatures compare)."""
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update_batch([s.encode("utf-8") for s in sorted(shingles(_document_text(doc)))])
    return Signature(tuple(int(v) for v in minhash.hashvalues), SEED)

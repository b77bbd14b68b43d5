"""Build the billing policy assistant's demo corpus and labelled questions (deterministic).

Run: .venv/bin/python scripts/policy_corpus/build.py
Writes src/shipyard/assistants/policy/corpus/{documents/, manifest.json, questions.jsonl} and the intended
text of scanned documents under scripts/policy_corpus/ocr_text/.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import bluepeak_docs
import bluepeak_questions
import cedar_docs
import cedar_questions
import dev_questions
import general_questions
import northwind_docs
import northwind_questions
from model import Doc, Q, Table, normalise, page_text
from render_office import render_docx, render_html, render_markdown, render_text
from render_pdf import render_fpdf, render_reportlab
from render_scan import render_scan
from splits import assign_splits
from validate import check_documents, check_questions, statuses

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "src" / "shipyard" / "assistants" / "policy" / "corpus"
SIDECARS = HERE / "ocr_text"

log = logging.getLogger("policy_corpus")


def all_documents() -> list[Doc]:
    """Every document, in upload order: by effective date, older versions first (stable within a day)."""
    docs = northwind_docs.DOCS + bluepeak_docs.DOCS + cedar_docs.DOCS
    return sorted(docs, key=lambda d: d.effective_date)


def all_questions() -> list[Q]:
    """Every labelled question, in a fixed order: the frozen set, then the later dev-only additions."""
    return frozen_questions() + dev_questions.QUESTIONS


def frozen_questions() -> list[Q]:
    """The first question set, whose dev/test split is fixed (its test part is the held-out set)."""
    return (
        northwind_questions.QUESTIONS
        + bluepeak_questions.QUESTIONS
        + cedar_questions.QUESTIONS
        + general_questions.QUESTIONS
    )


def render(doc: Doc) -> tuple[bytes, list[str] | None]:
    """The file's bytes, and for a scanned document the intended text of each page."""
    if doc.format == "pdf":
        if doc.scanned:
            return render_scan(doc)
        if doc.engine == "reportlab":
            return render_reportlab(doc), None
        return render_fpdf(doc), None
    renderers = {"docx": render_docx, "html": render_html, "md": render_markdown, "txt": render_text}
    return renderers[doc.format](doc), None


def manifest_entry(
    doc: Doc, data: bytes, status: str, sidecar: str | None, duplicate_of: str | None
) -> dict[str, Any]:
    """One manifest object (see the corpus README for the fields)."""
    return {
        "file": doc.file,
        "doc_key": doc.doc_key,
        "title": doc.title,
        "insurer": doc.insurer,
        "topic": doc.topic,
        "version": doc.version,
        "effective_date": doc.effective_date,
        "format": doc.format,
        "scanned": doc.scanned,
        "pages": len(doc.pages),
        "expected_status": status,
        "supersedes": doc.supersedes,
        "withdrawn": doc.withdrawn,
        "duplicate_of": duplicate_of,
        "out_of_scope": doc.out_of_scope,
        "missing_pages": list(doc.missing_pages),
        "tables": sum(isinstance(block, Table) for page in doc.pages for block in page),
        "notes": doc.notes,
        "policy_number": doc.policy_number or None,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "ocr_text_file": sidecar,
    }


def main() -> int:
    """Render every document, check every question against the text, write the corpus."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    docs = all_documents()
    check_documents(docs)
    status = statuses(docs)
    rendered: dict[str, bytes] = {}
    texts: dict[str, list[str]] = {}
    sidecars: dict[str, str] = {}
    for doc in docs:
        if doc.copy_of:
            rendered[doc.file] = rendered[doc.copy_of]
            texts[doc.file] = texts[doc.copy_of]
            continue
        data, scanned_text = render(doc)
        rendered[doc.file] = data
        if scanned_text is not None:
            texts[doc.file] = [normalise(t) for t in scanned_text]
            sidecars[doc.file] = "\f".join(scanned_text) + "\n"
        else:
            texts[doc.file] = [normalise(page_text(doc, i)) for i in range(len(doc.pages))]
    questions = all_questions()
    check_questions(questions, docs, texts, status)
    rows = assign_splits(frozen_questions(), dev_questions.QUESTIONS)

    shutil.rmtree(OUT / "documents", ignore_errors=True)
    shutil.rmtree(SIDECARS, ignore_errors=True)
    manifest = []
    for doc in docs:
        target = OUT / "documents" / doc.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendered[doc.file])
        sidecar = None
        if doc.file in sidecars:
            side = SIDECARS / Path(doc.file).with_suffix(".txt")
            side.parent.mkdir(parents=True, exist_ok=True)
            side.write_text(sidecars[doc.file])
            sidecar = side.relative_to(ROOT).as_posix()
        duplicate_of = doc.copy_of or doc.near_duplicate_of
        manifest.append(manifest_entry(doc, rendered[doc.file], status[doc.file], sidecar, duplicate_of))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    with (OUT / "questions.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    size = sum(len(b) for b in rendered.values())
    log.info("%d documents (%.2f MB), %d questions", len(docs), size / 1e6, len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

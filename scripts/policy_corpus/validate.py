"""Consistency checks run by the build before anything is written; each failure says what to fix."""

from __future__ import annotations

from collections import defaultdict

from model import Doc, Q, Table, normalise

ANSWERABLE = {"direct", "table", "version-diff", "scanned", "no-insurer", "paraphrase"}
UNANSWERABLE = {"not-covered", "unknown-insurer", "not-stated", "superseded-only", "out-of-scope"}
EXTENSIONS = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "md": ".md", "txt": ".txt"}


class CorpusError(ValueError):
    """The source content is inconsistent."""


def _original(doc: Doc) -> str | None:
    return doc.copy_of or doc.near_duplicate_of


def statuses(docs: list[Doc]) -> dict[str, str]:
    """Each file's expected status once the whole corpus is loaded (a duplicate has its original's)."""
    latest: dict[str, Doc] = {}
    for doc in docs:
        if _original(doc) or doc.withdrawn:
            continue
        if doc.doc_key not in latest or doc.effective_date >= latest[doc.doc_key].effective_date:
            latest[doc.doc_key] = doc
    out: dict[str, str] = {}
    for doc in docs:
        if doc.withdrawn:
            out[doc.file] = "withdrawn"
        elif not _original(doc):
            out[doc.file] = "active" if latest[doc.doc_key] is doc else "superseded"
    for doc in docs:
        original = _original(doc)
        if original:
            out[doc.file] = out[original]
    return out


def check_documents(docs: list[Doc]) -> None:
    """Files, versions, supersession chains and duplicates are consistent."""
    seen_files: set[str] = set()
    by_ref: dict[str, Doc] = {}
    previous: dict[str, Doc] = {}
    for doc in docs:
        if doc.file in seen_files:
            raise CorpusError(f"{doc.file}: listed twice")
        seen_files.add(doc.file)
        if not doc.file.endswith(EXTENSIONS[doc.format]):
            raise CorpusError(f"{doc.file}: the extension does not match format {doc.format}")
        slug = doc.insurer.lower().replace(" ", "-")
        if not doc.file.startswith(f"{slug}/"):
            raise CorpusError(f"{doc.file}: must live under documents/{slug}/")
        if doc.format == "pdf" and not 1 <= len(doc.pages) <= 5:
            raise CorpusError(f"{doc.file}: PDFs have 1 to 5 pages")
        if doc.out_of_scope != (doc.topic == "other"):
            raise CorpusError(f"{doc.file}: out-of-scope documents, and only they, have topic 'other'")
        original = _original(doc)
        if original:
            first = by_ref.get(doc.ref)
            if first is None or first.file != original:
                raise CorpusError(
                    f"{doc.file}: duplicate of {original}, which must come earlier with the same ref"
                )
            continue
        if doc.ref in by_ref:
            raise CorpusError(f"{doc.ref}: two documents have this doc_key@version")
        by_ref[doc.ref] = doc
        before = previous.get(doc.doc_key)
        expected = before.ref if before else None
        if doc.supersedes != expected:
            raise CorpusError(f"{doc.file}: supersedes should be {expected}, not {doc.supersedes}")
        if before and before.effective_date >= doc.effective_date:
            raise CorpusError(f"{doc.file}: effective date is not after {before.ref}")
        previous[doc.doc_key] = doc


def _in_scope_active(docs: list[Doc], status: dict[str, str], insurer: str | None) -> list[Doc]:
    return [
        d
        for d in docs
        if status[d.file] == "active"
        and not d.out_of_scope
        and not _original(d)
        and (insurer is None or d.insurer == insurer)
    ]


def check_questions(
    questions: list[Q], docs: list[Doc], texts: dict[str, list[str]], status: dict[str, str]
) -> None:
    """Every passage is on its page, evidence is in its passage, traps are real, unanswerables are."""
    by_ref = {d.ref: d for d in docs if not _original(d)}
    insurers = {d.insurer for d in docs}
    seen: set[str] = set()
    for q in questions:
        where = f"question {q.question!r}"
        if q.question in seen:
            raise CorpusError(f"{where}: asked twice")
        seen.add(q.question)
        if q.insurer is not None and q.insurer not in insurers:
            raise CorpusError(f"{where}: unknown insurer {q.insurer}")
        if q.trap is not None:
            trap = by_ref.get(q.trap)
            if trap is None or status[trap.file] not in {"superseded", "withdrawn"}:
                raise CorpusError(f"{where}: trap {q.trap} must be a superseded or withdrawn version")
        if q.ref is not None:
            _check_answerable(q, where, by_ref, texts, status)
        else:
            _check_unanswerable(q, where, by_ref, docs, texts, status)


def _check_answerable(
    q: Q, where: str, by_ref: dict[str, Doc], texts: dict[str, list[str]], status: dict[str, str]
) -> None:
    if q.category not in ANSWERABLE:
        raise CorpusError(f"{where}: category {q.category} is not an answerable category")
    doc = by_ref.get(q.ref or "")
    if doc is None:
        raise CorpusError(f"{where}: no document {q.ref}")
    if status[doc.file] != "active" or doc.out_of_scope:
        raise CorpusError(f"{where}: {q.ref} is not an active in-scope policy")
    if q.insurer is not None and q.insurer != doc.insurer:
        raise CorpusError(f"{where}: insurer differs from {q.ref}'s")
    if (q.insurer is None) != (q.category == "no-insurer"):
        raise CorpusError(f"{where}: questions without an insurer, and only they, are 'no-insurer'")
    if (q.category == "version-diff") != (q.trap is not None):
        raise CorpusError(f"{where}: version-diff questions, and only they, carry a trap")
    if (q.category == "scanned") and not doc.scanned:
        raise CorpusError(f"{where}: 'scanned' question on a document that is not scanned")
    pages = texts[doc.file]
    if q.page is None or not 1 <= q.page <= len(pages):
        raise CorpusError(f"{where}: page {q.page} is not in {doc.file}")
    passage = normalise(q.passage or "")
    if passage not in pages[q.page - 1]:
        found = [i + 1 for i, t in enumerate(pages) if passage in t]
        raise CorpusError(f"{where}: passage not on page {q.page} of {doc.file} (found on pages {found})")
    if not 1 <= len(q.evidence) <= 3:
        raise CorpusError(f"{where}: give 1 to 3 evidence phrases")
    for phrase in q.evidence:
        if phrase != phrase.lower() or phrase not in passage.lower():
            raise CorpusError(f"{where}: evidence {phrase!r} must be lower case and occur in the passage")
    for row in _table_rows(doc):
        if normalise(" ".join(row)) == passage:
            # extractors join cells differently (spaces, tabs, pipes): evidence must stay in one cell
            for phrase in q.evidence:
                if not any(phrase in cell.lower() for cell in row):
                    raise CorpusError(f"{where}: evidence {phrase!r} spans table cells; quote one cell")
    if q.category == "no-insurer":
        for other in by_ref.values():
            if other.insurer != doc.insurer and status[other.file] == "active" and not other.out_of_scope:
                text = " ".join(texts[other.file]).lower()
                if all(phrase in text for phrase in q.evidence):
                    raise CorpusError(
                        f"{where}: {other.file} holds the evidence too; the answer is not unique"
                    )
    if q.trap is not None and passage in " ".join(texts[by_ref[q.trap].file]):
        raise CorpusError(f"{where}: the trap {q.trap} holds the same passage; it is no trap")


def _table_rows(doc: Doc) -> list[tuple[str, ...]]:
    return [row for page in doc.pages for block in page if isinstance(block, Table) for row in block.rows]


def _check_unanswerable(
    q: Q,
    where: str,
    by_ref: dict[str, Doc],
    docs: list[Doc],
    texts: dict[str, list[str]],
    status: dict[str, str],
) -> None:
    if q.category not in UNANSWERABLE:
        raise CorpusError(f"{where}: category {q.category} is not an unanswerable category")
    if q.page is not None or q.passage is not None or q.evidence:
        raise CorpusError(f"{where}: unanswerable questions have no page, passage or evidence")
    if not q.absent:
        raise CorpusError(f"{where}: name the terms whose absence makes it unanswerable")
    if q.category == "out-of-scope":
        scope = [
            d for d in docs if not _original(d)
        ]  # no document at all may answer it, the cafe menu included
    elif q.scope is not None:
        scope = [d for d in _in_scope_active(docs, status, None) if d.doc_key == q.scope]
        if not scope:
            raise CorpusError(f"{where}: scope {q.scope} has no active document")
    else:
        scope = _in_scope_active(docs, status, q.insurer if q.category != "not-covered" else None)
    for term in q.absent:
        for doc in scope:
            if term.lower() in " ".join(texts[doc.file]).lower():
                raise CorpusError(f"{where}: {term!r} occurs in active document {doc.file}")
    if q.category == "superseded-only":
        if q.trap is None:
            raise CorpusError(f"{where}: superseded-only questions name the old version in trap")
        trap_text = " ".join(texts[by_ref[q.trap].file]).lower()
        if not any(term.lower() in trap_text for term in q.absent):
            raise CorpusError(f"{where}: none of {q.absent} occurs in the trap {q.trap}")
    if q.category == "unknown-insurer" and q.insurer is not None:
        raise CorpusError(f"{where}: an unknown insurer's question has insurer null")


def fact_groups(questions: list[Q]) -> dict[int, str]:
    """A group id per question: questions on the same fact (same passage, or an explicit group) share it."""
    out: dict[int, str] = {}
    by_key: defaultdict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        key = q.group or (f"{q.ref}|{normalise(q.passage or '')}" if q.ref else f"u{i}")
        by_key[key].append(i)
        out[i] = key
    return out

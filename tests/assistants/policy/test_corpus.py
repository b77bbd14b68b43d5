"""The demo corpus and its labelled questions are consistent with the files they describe."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import docx
import pytest
from bs4 import BeautifulSoup
from docx.table import Table as DocxTable
from pypdf import PdfReader

from shipyard.assistants.policy.corpus import (
    CORPUS_DIR,
    DOCUMENTS_DIR,
    QUESTIONS_PATH,
    CorpusDataError,
    CorpusDocument,
    LabelledQuestion,
    load_manifest,
    load_questions,
)

REPO = Path(__file__).resolve().parents[3]
# the question set whose dev/test split was drawn once; questions added later are all dev
FROZEN = 273
TEST_SPLIT_SHA256 = "99332688acd42cce486b6ea8bf1779a956b67ba9de7ade1fe953c810dcb2096a"
ANSWERABLE = {"direct", "table", "version-diff", "scanned", "no-insurer", "paraphrase"}
UNANSWERABLE = {"not-covered", "unknown-insurer", "not-stated", "superseded-only", "out-of-scope"}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _markdown_text(source: str) -> str:
    """Markdown as a reader sees it: pipe-table rows become their cells joined by spaces."""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            line = " ".join(cells)
        lines.append(line)
    return "\n".join(lines)


def _docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = []
    for item in document.iter_inner_content():
        if isinstance(item, DocxTable):
            parts.extend(" ".join(cell.text for cell in row.cells) for row in item.rows)
        else:
            parts.append(item.text)
    return "\n".join(parts)


def _html_text(data: bytes) -> str:
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return soup.get_text(" ")


def page_texts(doc: CorpusDocument) -> list[str]:
    """The normalised text of each page: pypdf per PDF page (the sidecar for scans); one page otherwise."""
    data = doc.path.read_bytes()
    if doc.format == "pdf":
        if doc.scanned:
            assert doc.ocr_text_file, f"{doc.file}: scanned documents name their intended-text sidecar"
            pages = (REPO / doc.ocr_text_file).read_text().split("\f")
        else:
            pages = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    elif doc.format == "docx":
        pages = [_docx_text(data)]
    elif doc.format == "html":
        pages = [_html_text(data)]
    elif doc.format == "md":
        pages = [_markdown_text(data.decode())]
    else:
        pages = [data.decode()]
    return [normalise(p) for p in pages]


@pytest.fixture(scope="module")
def manifest() -> list[CorpusDocument]:
    return load_manifest()


@pytest.fixture(scope="module")
def questions() -> list[LabelledQuestion]:
    return load_questions()


@pytest.fixture(scope="module")
def texts(manifest: list[CorpusDocument]) -> dict[str, list[str]]:
    return {doc.file: page_texts(doc) for doc in manifest}


@pytest.fixture(scope="module")
def by_ref(manifest: list[CorpusDocument]) -> dict[str, CorpusDocument]:
    return {doc.ref: doc for doc in manifest if doc.duplicate_of is None}


def test_corpus_has_the_promised_breadth(manifest: list[CorpusDocument]) -> None:
    insurers = {d.insurer for d in manifest}
    formats = Counter(d.format for d in manifest if not d.scanned)
    versions = Counter(d.doc_key for d in manifest if d.duplicate_of is None)
    topics = {d.topic for d in manifest}
    assert len(insurers) >= 3
    assert len(manifest) >= 40
    assert all(formats[f] >= 3 for f in ("pdf", "docx", "html", "md", "txt")), formats
    assert sum(d.scanned for d in manifest) >= 3
    assert sum(n >= 2 for n in versions.values()) >= 8
    assert max(versions.values()) >= 3
    assert sum(d.withdrawn for d in manifest) >= 1
    assert sum(d.out_of_scope for d in manifest) >= 1
    assert sum(d.tables > 0 for d in manifest) >= 6
    assert {d.format for d in manifest if d.tables} >= {"pdf", "docx", "html", "md"}
    assert any(d.missing_pages for d in manifest)
    assert {"imaging/ct", "imaging/mri", "therapy/physical-therapy", "admin/appeals"} <= topics
    for insurer in insurers:
        mine = {d.topic for d in manifest if d.insurer == insurer}
        assert {"admin/prior-auth-list", "admin/claims-submission", "admin/appeals"} <= mine, insurer
    size = sum(p.stat().st_size for p in CORPUS_DIR.rglob("*") if p.is_file())
    assert size < 6_000_000


def test_files_match_the_manifest(manifest: list[CorpusDocument]) -> None:
    on_disk = {p.relative_to(DOCUMENTS_DIR).as_posix() for p in DOCUMENTS_DIR.rglob("*") if p.is_file()}
    assert on_disk == {d.file for d in manifest}
    for doc in manifest:
        data = doc.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == doc.sha256, doc.file
        assert len(data) == doc.bytes, doc.file
        assert doc.file.startswith(doc.insurer.lower().replace(" ", "-") + "/"), doc.file
        assert doc.out_of_scope == (doc.topic == "other"), doc.file
        if doc.format == "pdf":
            assert len(PdfReader(doc.path).pages) == doc.pages, doc.file
            assert 1 <= doc.pages <= 5, doc.file
        else:
            assert doc.pages == 1, doc.file


def test_table_counts_match_the_files(manifest: list[CorpusDocument]) -> None:
    for doc in manifest:
        data = doc.path.read_bytes()
        if doc.format == "html":
            assert data.decode().count("<table>") == doc.tables, doc.file
        elif doc.format == "docx":
            assert len(docx.Document(io.BytesIO(data)).tables) == doc.tables, doc.file
        elif doc.format == "md":
            separators = [ln for ln in data.decode().splitlines() if re.fullmatch(r"\|(-+\|)+", ln)]
            assert len(separators) == doc.tables, doc.file


def test_versions_form_consistent_chains(manifest: list[CorpusDocument]) -> None:
    seen: dict[str, CorpusDocument] = {}
    latest: dict[str, CorpusDocument] = {}
    for doc in manifest:
        if doc.duplicate_of is not None:
            continue
        assert doc.ref not in seen, f"{doc.ref} listed twice"
        if doc.supersedes is None:
            assert doc.doc_key not in latest, f"{doc.file} should supersede {latest[doc.doc_key].ref}"
        else:
            older = seen.get(doc.supersedes)
            assert older is not None, f"{doc.file}: {doc.supersedes} must be listed (uploaded) earlier"
            assert older.doc_key == doc.doc_key
            assert older is latest[doc.doc_key], f"{doc.file} skips a version"
            assert older.effective_date < doc.effective_date
        seen[doc.ref] = doc
        if not doc.withdrawn:
            latest[doc.doc_key] = doc
    for doc in manifest:
        original = doc
        if doc.duplicate_of is not None:
            original = next(d for d in manifest if d.file == doc.duplicate_of)
            assert original.ref == doc.ref, doc.file
        if original.withdrawn:
            expected = "withdrawn"
        else:
            expected = "active" if latest[original.doc_key] is original else "superseded"
        assert doc.expected_status == expected, doc.file
        assert doc.withdrawn == original.withdrawn


def test_duplicates(manifest: list[CorpusDocument], texts: dict[str, list[str]]) -> None:
    files = {d.file: d for d in manifest}
    exact = near = 0
    for doc in manifest:
        if doc.duplicate_of is None:
            continue
        original = files[doc.duplicate_of]
        if doc.sha256 == original.sha256:
            assert doc.path.read_bytes() == original.path.read_bytes()
            exact += 1
        else:
            words = set(" ".join(texts[doc.file]).lower().split())
            shared = words & set(" ".join(texts[original.file]).lower().split())
            assert len(shared) / len(words) > 0.85, f"{doc.file} is not a near duplicate of {original.file}"
            near += 1
    assert exact >= 1
    assert near >= 1


def test_pdf_pages_carry_page_n_of_m_footers(
    manifest: list[CorpusDocument], texts: dict[str, list[str]]
) -> None:
    for doc in (d for d in manifest if d.format == "pdf"):
        total = doc.pages + len(doc.missing_pages)
        printed = [n for n in range(1, total + 1) if n not in doc.missing_pages]
        for text, number in zip(texts[doc.file], printed, strict=True):
            assert f"Page {number} of {total}" in text, f"{doc.file}: footer of page {number}"


def test_scanned_pdfs_have_no_text_layer(manifest: list[CorpusDocument]) -> None:
    for doc in (d for d in manifest if d.scanned):
        reader = PdfReader(doc.path)
        for page in reader.pages:
            assert not page.extract_text().strip(), doc.file
            assert len(page.images) == 1, doc.file


def test_questions_have_the_promised_mix(questions: list[LabelledQuestion]) -> None:
    assert len(questions) >= 220
    assert [q.id for q in questions] == [f"q{i:03d}" for i in range(1, len(questions) + 1)]
    assert len({q.question for q in questions}) == len(questions)
    unanswerable = [q for q in questions if not q.answerable]
    assert len(unanswerable) >= 44
    assert 0.17 <= len(unanswerable) / len(questions) <= 0.27
    categories = Counter(q.category for q in questions)
    assert set(categories) == ANSWERABLE | UNANSWERABLE
    assert all(categories[c] >= 5 for c in categories), categories
    test = [q for q in questions if q.split == "test"]
    assert 0.17 <= sum(not q.answerable for q in test) / len(test) <= 0.25
    # the first 273 questions were split about 40% dev; every question added later went to dev
    first = questions[:FROZEN]
    assert 0.35 <= sum(q.split == "dev" for q in first) / len(first) <= 0.45
    assert all(q.split == "dev" for q in questions[FROZEN:])


def test_the_held_out_test_split_is_unchanged() -> None:
    """The test split is the one the figures are reported on: no question added, removed or edited."""
    lines = [line for line in QUESTIONS_PATH.read_text().splitlines(keepends=True) if line.strip()]
    test = [line for line in lines if json.loads(line)["split"] == "test"]
    assert len(test) == 164
    assert hashlib.sha256("".join(test).encode()).hexdigest() == TEST_SPLIT_SHA256


def test_every_passage_is_on_its_page(
    questions: list[LabelledQuestion], by_ref: dict[str, CorpusDocument], texts: dict[str, list[str]]
) -> None:
    for q in (q for q in questions if q.answerable):
        assert q.ref in by_ref, f"{q.id}: no document {q.ref}"
        doc = by_ref[q.ref]
        assert doc.expected_status == "active" and not doc.out_of_scope, (
            f"{q.id}: {q.ref} is not an active policy"
        )
        assert q.page is not None and q.passage is not None
        assert 1 <= q.page <= doc.pages, q.id
        assert normalise(q.passage) in texts[doc.file][q.page - 1], f"{q.id}: passage not on page {q.page}"
        assert 1 <= len(q.evidence) <= 3, q.id
        for phrase in q.evidence:
            assert phrase == phrase.lower() and phrase in q.passage.lower(), f"{q.id}: evidence {phrase!r}"
        assert q.category in ANSWERABLE, q.id
        assert (q.insurer is None) == (q.category == "no-insurer"), q.id
        assert q.insurer in (None, doc.insurer), q.id
        if q.category == "scanned":
            assert doc.scanned, q.id


def test_unanswerable_questions_point_nowhere(questions: list[LabelledQuestion]) -> None:
    for q in (q for q in questions if not q.answerable):
        assert q.category in UNANSWERABLE, q.id
        assert q.doc_key is q.version is q.page is q.passage is None, q.id
        assert q.evidence == (), q.id
        assert q.answer == "The active policies do not answer this.", q.id


def test_traps_are_superseded_or_withdrawn_versions(
    questions: list[LabelledQuestion], by_ref: dict[str, CorpusDocument], texts: dict[str, list[str]]
) -> None:
    trapped = [q for q in questions if q.trap is not None]
    assert {q.category for q in trapped} == {"version-diff", "superseded-only"}
    assert all(q.trap is not None for q in questions if q.category in {"version-diff", "superseded-only"})
    for q in trapped:
        assert q.trap is not None
        old = by_ref[q.trap]
        assert old.expected_status in {"superseded", "withdrawn"}, q.id
        if q.answerable:
            assert q.passage is not None
            assert old.doc_key == q.doc_key, q.id
            assert normalise(q.passage) not in " ".join(texts[old.file]), (
                f"{q.id}: the trap has the same passage"
            )


def test_questions_on_one_fact_share_a_split(questions: list[LabelledQuestion]) -> None:
    splits: defaultdict[tuple[str | None, str], set[str]] = defaultdict(set)
    for q in questions:
        if q.answerable and q.passage is not None:
            splits[(q.ref, normalise(q.passage))].add(q.split)
    assert all(len(s) == 1 for s in splits.values())


def test_insurers_in_questions_exist(
    questions: list[LabelledQuestion], manifest: list[CorpusDocument]
) -> None:
    insurers = {d.insurer for d in manifest}
    assert {q.insurer for q in questions} - {None} == insurers


def test_loader_names_what_is_wrong(tmp_path: Path) -> None:
    entry = json.loads((CORPUS_DIR / "manifest.json").read_text())[0]
    entry["expected_status"] = "retired"
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps([entry]))
    with pytest.raises(CorpusDataError, match="expected_status 'retired'"):
        load_manifest(bad)
    del entry["expected_status"]
    bad.write_text(json.dumps([entry]))
    with pytest.raises(CorpusDataError, match="missing field 'expected_status'"):
        load_manifest(bad)
    lines = tmp_path / "questions.jsonl"
    lines.write_text('{"id": "q001"\n')
    with pytest.raises(CorpusDataError, match="line 1 is not valid JSON"):
        load_questions(lines)
    with pytest.raises(ValueError, match="split must be one of"):
        load_questions(split="train")


def _ocr(pdf: Path, page: int, workdir: Path) -> tuple[str, list[float]]:
    """Render one page at 200 dpi with poppler and read it with tesseract: the text and word confidences."""
    subprocess.run(
        ["pdftoppm", "-r", "200", "-f", str(page), "-l", str(page), "-png", str(pdf), str(workdir / "page")],
        check=True,
    )
    image = next(workdir.glob("page*.png"))
    tsv = subprocess.run(
        ["tesseract", str(image), "-", "tsv"], check=True, capture_output=True, text=True
    ).stdout
    image.unlink()
    words, confidences = [], []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[11].strip() and float(cells[10]) >= 0:
            words.append(cells[11])
            confidences.append(float(cells[10]))
    return " ".join(words), confidences


@pytest.mark.slow  # tesseract and poppler are required: scripts/test installs them
def test_scanned_pages_are_readable_by_tesseract(manifest: list[CorpusDocument], tmp_path: Path) -> None:
    sleep = next(d for d in manifest if d.doc_key == "nwh-sleep")
    text, confidences = _ocr(sleep.path, 1, tmp_path)
    assert "HSAT is billed with CPT 95806 or HCPCS G0399 and does not require prior authorization." in text
    assert sum(c >= 80 for c in confidences) / len(confidences) > 0.9

    poor = next(d for d in manifest if d.doc_key == "cvhp-bariatric")
    _, confidences = _ocr(poor.path, poor.pages, tmp_path)
    assert sum(confidences) / len(confidences) < 80

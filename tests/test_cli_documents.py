"""`shipyard documents` and `shipyard eval`, run as real subprocesses against one instance folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shipyard.serving.models import Prediction
from tests.documents.test_documents_api import MRI_2025, PT_2024
from tests.test_cli import Instance, cli, fails, ok

# Keys derived from the insurer's initials and each file's title (no --doc-key given).
MRI_KEY = "nh-northwind-health-advanced-imaging-mri"
PT_KEY = "nh-northwind-health-physical-therapy"
QUESTIONS = [
    {"id": "a1", "question": "Within how many business days are Northwind Health prior authorizations "
                             "decided for a lumbar spine MRI?",
     "answerable": True, "evidence": ["2 business days"], "doc_key": MRI_KEY, "version": "2025-01-01"},
    {"id": "a2", "question": "How many PT visits a year does Northwind Health cover?",
     "answerable": True, "evidence": ["20 visits"], "doc_key": PT_KEY, "version": "2025-01-01"},
    {"id": "u1", "question": "Does Northwind Health cover acupuncture for migraines?", "answerable": False},
]  # fmt: skip


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    home = tmp_path_factory.mktemp("docs") / "home"
    return Instance(home, cli("init", home=home))


def test_upload_list_withdraw_and_eval(instance: Instance, tmp_path: Path) -> None:
    assert "billing-policy-assistant" in ok(instance.init)
    (tmp_path / "mri.md").write_text(MRI_2025)
    (tmp_path / "pt.md").write_text(PT_2024)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (tmp_path / "pt-copy.md").write_text(PT_2024)
    # One command, four files: one bad file is reported and the others are still stored.
    files = [str(tmp_path / name) for name in ("mri.md", "pt.md", "pt-copy.md", "photo.png")]
    meta = ["--insurer", "Northwind Health", "--topic", "policies", "--effective-date", "2025-01-01"]
    out = fails(cli("documents", "upload", *files, *meta, home=instance.home), "unsupported_format")
    assert "2 stored, 1 duplicates skipped, 1 failed" in out
    assert f"pt-copy.md: duplicate of {PT_KEY} 2025-01-01" in out
    bad_date = ["--insurer", "N", "--topic", "t", "--effective-date", "someday"]
    fails(cli("documents", "upload", files[1], *bad_date, home=instance.home), "someday", code=2)
    listing = ok(cli("documents", "list", home=instance.home))
    assert MRI_KEY in listing and PT_KEY in listing and listing.count("active") == 2

    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    report_file = tmp_path / "report.json"
    out = ok(
        cli(
            "eval",
            "--questions",
            str(questions),
            "--split",
            "all",
            "--out",
            str(report_file),
            home=instance.home,
        )
    )
    assert "accuracy" in out and "latency_p95_ms" in out
    report = json.loads(report_file.read_text())["report"]
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (3, 2, 1)
    assert (report["accuracy"], report["abstention_recall"], report["superseded_citations"]) == (1.0, 1.0, 0)
    with instance.db() as s:  # every question was a recorded call, under the evaluator's name
        assert (
            s.scalar(select(func.count()).select_from(Prediction).where(Prediction.caller == "cli:eval")) == 3
        )

    # The CLI registers the assistant like any callable model: the test load gets the corpus too.
    entrypoint = "shipyard.assistants.policy.runtime:PolicyAssistant"
    register = ["versions", "register", "billing-policy-assistant", "--loader", "callable"]
    assert "Registered billing-policy-assistant v2" in ok(
        cli(*register, "--entrypoint", entrypoint, "--confidence", home=instance.home)
    )

    doc_id = next(line.split()[1] for line in listing.splitlines() if PT_KEY in line)
    assert "withdrawn" in ok(
        cli("documents", "withdraw", doc_id, "--reason", "replaced by paper", home=instance.home)
    )
    bad = fails(cli("eval", "--questions", str(tmp_path / "mri.md"), home=instance.home), code=2)
    assert "line 1" in bad

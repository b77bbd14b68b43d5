"""`shipyard labels upload` reads CSV (JSON-typed cells) and JSONL, and says what is wrong with a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.cli.labels_cmds import read_items


def test_csv_cells_are_json_when_they_parse() -> None:
    text = 'request_id,label\nreq_a,4\nreq_b,approve\nreq_c,"""quoted"""\nreq_d,true\nreq_e,\n'
    assert read_items(Path("l.csv"), text) == [
        {"request_id": "req_a", "label": 4},
        {"request_id": "req_b", "label": "approve"},
        {"request_id": "req_c", "label": "quoted"},
        {"request_id": "req_d", "label": True},
        {"request_id": "req_e", "label": None},  # reported by the upload as a missing label
    ]


def test_jsonl_lines_and_bad_files() -> None:
    text = '{"request_id": "req_a", "label": {"decision": "deny"}}\n\n{"request_id": "req_b", "label": 1}\n'
    assert read_items(Path("l.jsonl"), text) == [
        {"request_id": "req_a", "label": {"decision": "deny"}},
        {"request_id": "req_b", "label": 1},
    ]
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        read_items(Path("l.jsonl"), '{"request_id": "a", "label": 1}\n{oops\n')
    with pytest.raises(ValueError, match="columns request_id and label"):
        read_items(Path("l.csv"), "id,answer\na,1\n")
    with pytest.raises(ValueError, match=".csv or .jsonl"):
        read_items(Path("l.xlsx"), "")

"""Reading CSV and JSONL input files: types, bad rows, resuming from a checkpoint's byte offset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.batchjobs import formats
from shipyard.core.errors import InvalidInput

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "amount": {"type": "number"},
        "urgent": {"type": "boolean"},
        "note": {"type": ["string", "null"]},
        "code": {"type": "string"},
    },
}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(path: Path, fmt: str, start_row: int = 1, start_offset: int = 0) -> list[formats.Row]:
    with formats.open_rows(path, fmt, SCHEMA, start_row=start_row, start_offset=start_offset) as found:
        return list(found)


def test_csv_cells_become_the_schema_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        b"\xef\xbb\xbfn,amount,urgent,note,code\r\n"
        b"1,2.5,yes,hello,007\r\n"
        b"-3,1e3,FALSE,,12\r\n"
        b'4,7,1,"two\nlines",x\r\n'
        b"\r\n"
        b"x,nan,maybe,n,\r\n",
    )
    found = rows(path, "csv")
    assert [r.inputs for r in found] == [
        {"n": 1, "amount": 2.5, "urgent": True, "note": "hello", "code": "007"},
        {"n": -3, "amount": 1000.0, "urgent": False, "code": "12"},  # an empty cell is a missing field
        {"n": 4, "amount": 7, "urgent": True, "note": "two\nlines", "code": "x"},
        # values that fit no declared type stay text, so schema validation names the problem
        {"n": "x", "amount": "nan", "urgent": "maybe", "note": "n"},
    ]
    assert [r.number for r in found] == [1, 2, 3, 4]  # the blank line is not a row
    assert formats.scan(path, "csv", SCHEMA) == 4


def test_unreadable_rows_carry_their_reason_and_text(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", b"n,code\n1,a\n2\n3,b,c\n4,\xff\xfe\n5,e\n")
    found = rows(path, "csv")
    assert [(r.number, r.error) for r in found] == [
        (1, None),
        (2, "row 2 has 1 values; the header has 2 columns"),
        (3, "row 3 has 3 values; the header has 2 columns"),
        (4, "row 4 is not valid UTF-8"),
        (5, None),
    ]
    assert found[2].raw == "3,b,c\n" and found[3].raw == "4,\ufffd\ufffd\n" and found[1].inputs is None

    jsonl = write(tmp_path, "c.jsonl", b'{"n": 1}\n{"n": \n\n[1, 2]\n"\xff"\n{"n": 5}')
    found = rows(jsonl, "jsonl")
    assert [r.number for r in found] == [1, 2, 3, 4, 5]
    assert found[1].error is not None and found[1].error.startswith("row 2 is not valid JSON")
    assert found[1].raw == '{"n": \n'
    assert found[2].inputs == [1, 2]  # any JSON value is passed on; the schema decides
    assert found[3].error is not None and found[3].raw == '"\ufffd"\n'
    assert found[4].inputs == {"n": 5} and found[4].end == jsonl.stat().st_size  # no final newline needed


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_reading_resumes_at_a_checkpoint(tmp_path: Path, fmt: str) -> None:
    if fmt == "csv":
        data = b"n,note\n" + b"".join(b'%d,"line\nbreak %d"\n' % (i, i) for i in range(1, 21))
    else:
        data = b"".join(b'{"n": %d}\n\n' % i for i in range(1, 21))
    path = write(tmp_path, f"d.{fmt}", data)
    whole = rows(path, fmt)
    assert len(whole) == 20
    for cut in (0, 1, 7, 19):
        checkpoint = whole[cut - 1] if cut else None
        start = (checkpoint.number + 1, checkpoint.end) if checkpoint else (1, 0)
        assert rows(path, fmt, *start) == whole[cut:]


def test_files_that_cannot_be_a_job_are_refused(tmp_path: Path) -> None:
    strict = {"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False}
    cases = {
        b"": "the CSV file is empty",
        b"n\n": "the file has no rows",
        b"n,,x\n1,2,3\n": "empty column names (columns [2])",
        b"n,n\n1,2\n": "repeats columns ['n']",
        b"n,extra\n1,2\n": "the CSV columns ['extra'] are not properties",
    }
    for data, message in cases.items():
        with pytest.raises(InvalidInput) as caught:
            formats.scan(write(tmp_path, "e.csv", data), "csv", strict)
        assert caught.value.code == "bad_file" and message in caught.value.detail
    with pytest.raises(InvalidInput) as caught:
        formats.scan(write(tmp_path, "f.jsonl", b"\n \n"), "jsonl", strict)
    assert caught.value.code == "bad_file"


def test_the_format_comes_from_the_name_or_is_said(tmp_path: Path) -> None:
    assert formats.format_for("rows.CSV", None) == "csv"
    assert formats.format_for("rows.ndjson", None) == "jsonl"
    assert formats.format_for("rows.txt", "JSONL") == "jsonl"
    for name, given in (("rows.txt", None), ("rows.csv", "xml")):
        with pytest.raises(InvalidInput) as caught:
            formats.format_for(name, given)
        assert caught.value.code == "bad_format"

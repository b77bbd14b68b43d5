"""Reading reference data files: CSV with a header row, or JSONL (one JSON object per line).

A JSONL line is either a recorded call's shape, `{"inputs": {...}, "output": ..., "confidence": ...}`,
or just the inputs object. In either format, `output_column` and `confidence_column` name the fields
that hold the model's output and confidence instead of an input. CSV cells are read as the service's
input schema types them; a column the schema does not type is numeric when every cell is a number.
Any problem stops the upload with the line it is on.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

import orjson

from shipyard.batchjobs.formats import coerce, format_for, property_types
from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift.frames import Record

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _bad(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="bad_file")


def _confidence(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{where}: the confidence {value!r} is not a number")
    return float(value)


def _split(
    row: dict[str, Any], output_column: str | None, confidence_column: str | None, where: str
) -> Record:
    output = row.pop(output_column, None) if output_column else None
    confidence = row.pop(confidence_column, None) if confidence_column else None
    return Record(inputs=row, output=output, confidence=_confidence(confidence, where))


def _csv(
    path: Path, schema: Any, output_column: str | None, confidence_column: str | None, limit: int
) -> list[Record]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad(f"the CSV file is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [c.strip() for c in next(reader)]
    except StopIteration:
        raise _bad("the CSV file is empty; it needs a header row") from None
    except csv.Error as exc:
        raise _bad(f"the CSV header cannot be read: {exc}") from None
    if any(not c for c in header):
        raise _bad("the CSV header has an empty column name")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise _bad(f"the CSV header repeats columns {repeated}")
    for named in (output_column, confidence_column):
        if named and named not in header:
            raise _bad(f"the CSV file has no column {named!r} (its columns: {header})")
    cells: list[list[str]] = []
    try:
        for values in reader:
            if not values:
                continue
            if len(values) != len(header):
                raise _bad(
                    f"line {reader.line_num}: {len(values)} values, but the header has {len(header)} columns"
                )
            cells.append(values)
            if len(cells) > limit:
                break
    except csv.Error as exc:
        raise _bad(f"line {reader.line_num}: {exc}") from None
    types = property_types(schema)
    for i, name in enumerate(header):
        if name not in types:
            filled = [row[i].strip() for row in cells if row[i].strip()]
            if filled and all(_NUMBER.match(v) for v in filled):
                types[name] = ("number",)
    records = []
    for n, values in enumerate(cells[:limit], start=2):
        row = {
            name: coerce(value, types.get(name, ()))
            for name, value in zip(header, values, strict=True)
            if value
        }
        records.append(_split(row, output_column, confidence_column, f"line {n}"))
    return records


def _jsonl(path: Path, output_column: str | None, confidence_column: str | None, limit: int) -> list[Record]:
    records: list[Record] = []
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if len(records) >= limit:
                break
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise _bad(f"line {n} is not valid JSON: {exc}") from None
            if not isinstance(value, dict):
                raise _bad(f"line {n} is a JSON {type(value).__name__}; each line must be an object")
            if isinstance(value.get("inputs"), dict) and set(value) <= {"inputs", "output", "confidence"}:
                confidence = _confidence(value.get("confidence"), f"line {n}")
                records.append(Record(dict(value["inputs"]), value.get("output"), confidence))
            else:
                records.append(_split(value, output_column, confidence_column, f"line {n}"))
    return records


def read(
    path: Path,
    filename: str,
    fmt: str | None,
    *,
    schema: Any = None,
    output_column: str | None = None,
    confidence_column: str | None = None,
    limit: int,
) -> tuple[str, list[Record]]:
    """The file's format and its rows (at most `limit`: the first ones)."""
    fmt = format_for(filename, fmt)
    if fmt == "csv":
        records = _csv(path, schema, output_column, confidence_column, limit)
    else:
        records = _jsonl(path, output_column, confidence_column, limit)
    if not records:
        raise _bad("the file has no data rows")
    return fmt, records

"""Reading job input files row by row: CSV with a header row, or JSONL (one JSON value per line).

Files are streamed and never loaded whole. Each row carries the byte offset just past it, so a job
resumes by seeking there. A row that cannot be parsed is yielded with the reason (it becomes a dead
letter); it never stops the file.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from shipyard.core.errors import InvalidInput

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_BOM = b"\xef\xbb\xbf"
MAX_RAW_CHARS = 2000  # of an unparsable row, kept in its dead letter
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


@dataclass(frozen=True)
class Row:
    number: int  # 1-based among the data rows (a CSV header and blank lines do not count)
    end: int  # byte offset just past the row: where reading resumes after it
    inputs: Any = None
    error: str | None = None  # why the row could not be parsed
    raw: str | None = None  # the row's text, when it could not be parsed


def format_for(filename: str, given: str | None) -> str:
    """The format named, or the one the file name's extension implies."""
    if given:
        fmt = given.lower().strip()
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown format {given!r}; use csv or jsonl", code="bad_format")
        return fmt
    suffix = Path(filename).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise InvalidInput(
            f"cannot tell the format of {filename!r} from its extension; say csv or jsonl", code="bad_format"
        )
    return _EXTENSIONS[suffix]


def _printable(raw: bytes | str) -> str:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "replace")[:MAX_RAW_CHARS]


class _Lines:
    """Binary lines decoded one at a time, counting bytes so a row's end offset is exact.

    Undecodable bytes survive as surrogates, so the row holding them is refused, not the file.
    """

    def __init__(self, fh: IO[bytes], offset: int) -> None:
        self._fh = fh
        self.offset = offset
        self._taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._fh.readline()
        if not line:
            raise StopIteration
        if self.offset == 0 and line.startswith(_BOM):
            line = line[len(_BOM) :]
            self.offset += len(_BOM)
        self.offset += len(line)
        text = line.decode("utf-8", "surrogateescape")
        self._taken.append(text)
        return text

    def take(self) -> str:
        """The text read since the last take: the lines of the row just parsed."""
        text, self._taken = "".join(self._taken), []
        return text


def _bad_utf8(values: list[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


def property_types(schema: Any) -> dict[str, tuple[str, ...]]:
    """Each top-level property's declared JSON types, which CSV cells are coerced to."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    types: dict[str, tuple[str, ...]] = {}
    for name, spec in (props or {}).items():
        declared = spec.get("type") if isinstance(spec, dict) else None
        if isinstance(declared, str):
            types[name] = (declared,)
        elif isinstance(declared, list):
            types[name] = tuple(t for t in declared if isinstance(t, str))
    return types


def coerce(text: str, types: tuple[str, ...]) -> Any:
    """A CSV cell as the schema's type; a cell that fits none stays text, so validation names it."""
    value = text.strip()
    if "integer" in types and _INT.match(value):
        return int(value)
    if "number" in types and _NUMBER.match(value):
        if _INT.match(value):
            return int(value)
        number = float(value)
        if math.isfinite(number):
            return number
    if "boolean" in types and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    return text


def read_header(fh: IO[bytes]) -> tuple[list[str], int]:
    """A CSV file's column names and the offset of its first data row."""
    fh.seek(0)
    lines = _Lines(fh, 0)
    try:
        header = next(csv.reader(lines))
    except StopIteration:
        raise InvalidInput("the CSV file is empty; it needs a header row", code="bad_file") from None
    except csv.Error as exc:
        raise InvalidInput(f"the CSV header cannot be read: {exc}", code="bad_file") from None
    columns = [c.strip() for c in header]
    if _bad_utf8(columns):
        raise InvalidInput("the CSV header is not valid UTF-8", code="bad_file")
    empty = [i + 1 for i, c in enumerate(columns) if not c]
    if empty:
        raise InvalidInput(f"the CSV header has empty column names (columns {empty})", code="bad_file")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InvalidInput(f"the CSV header repeats columns {duplicates}", code="bad_file")
    return columns, lines.offset


def _csv_rows(fh: IO[bytes], schema: Any, start_row: int, start_offset: int) -> Iterator[Row]:
    columns, data_start = read_header(fh)
    types = property_types(schema)
    offset = max(start_offset, data_start)
    fh.seek(offset)
    lines = _Lines(fh, offset)
    reader = csv.reader(lines)
    number = start_row - 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield Row(number, lines.offset, error=f"row {number}: {exc}", raw=_printable(lines.take()))
            continue
        raw = lines.take()
        if not values:  # a blank line
            continue
        number += 1
        if len(values) != len(columns):
            error = f"row {number} has {len(values)} values; the header has {len(columns)} columns"
            yield Row(number, lines.offset, error=error, raw=_printable(raw))
        elif _bad_utf8(values):
            yield Row(number, lines.offset, error=f"row {number} is not valid UTF-8", raw=_printable(raw))
        else:
            inputs = {
                col: coerce(value, types.get(col, ()))
                for col, value in zip(columns, values, strict=True)
                if value
            }
            yield Row(number, lines.offset, inputs=inputs)


def _jsonl_rows(fh: IO[bytes], start_row: int, start_offset: int) -> Iterator[Row]:
    fh.seek(start_offset)
    offset, number = start_offset, start_row - 1
    for line in iter(fh.readline, b""):
        if offset == 0 and line.startswith(_BOM):
            line, offset = line[len(_BOM) :], len(_BOM)
        offset += len(line)
        if not line.strip():
            continue
        number += 1
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Row(number, offset, error=f"row {number} is not valid JSON: {exc}", raw=_printable(line))
            continue
        yield Row(number, offset, inputs=value)


@contextmanager
def open_rows(
    path: Path, fmt: str, schema: Any, *, start_row: int = 1, start_offset: int = 0
) -> Iterator[Iterator[Row]]:
    """The file's rows from a checkpoint (the row number and byte offset a previous read stopped at)."""
    with path.open("rb") as fh:
        if fmt == "csv":
            yield _csv_rows(fh, schema, start_row, start_offset)
        elif fmt == "jsonl":
            yield _jsonl_rows(fh, start_row, start_offset)
        else:
            raise InvalidInput(f"unknown format {fmt!r}; use csv or jsonl", code="bad_format")


def scan(path: Path, fmt: str, schema: Any) -> int:
    """Check a file before it is accepted and count its rows (one streaming pass)."""
    if fmt == "csv":
        with path.open("rb") as fh:
            columns, _ = read_header(fh)
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        if isinstance(schema, dict) and schema.get("additionalProperties") is False:
            unknown = [c for c in columns if c not in props]
            if unknown:
                raise InvalidInput(
                    f"the CSV columns {unknown} are not properties of the input schema, which allows no "
                    "others; every row would fail",
                    code="bad_file",
                )
    with open_rows(path, fmt, schema) as rows:
        total = sum(1 for _ in rows)
    if total == 0:
        raise InvalidInput("the file has no rows to score", code="bad_file")
    return total

"""Recorded calls (or reference rows) turned into columns, and each column's kind.

A call's inputs are a JSON object: each top-level field with a scalar value (number, string, boolean,
null) is a feature; nested objects and lists are not compared. The output is one feature when it is a
scalar, one per scalar field (`output.<field>`) when it is an object. The confidence is a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np

from shipyard.core.errors import InvalidInput

Role: TypeAlias = Literal["input", "output", "confidence"]
Kind: TypeAlias = Literal["numeric", "categorical", "text"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "text")
# A string field is read as free text (compared in embedding space) when its values are this long on
# average, or mostly distinct and mostly several words; shorter, repeated strings are categories.
TEXT_MEAN_CHARS = 30
_SHORT_STRING_SCHEMA = 64  # a schema maxLength at most this: a code or label, not text


@dataclass(frozen=True)
class Record:
    """One call, or one reference row: inputs, and optionally the model's output and confidence."""

    inputs: Any
    output: Any = None
    confidence: Any = None


def key_of(role: Role, name: str) -> str:
    """The feature's key in profiles and tables: role and name, so an input may be called `output`."""
    return f"{role}:{name}"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def flatten(record: Record) -> dict[str, Any]:
    """One record's features by key (absent features are simply not there)."""
    out: dict[str, Any] = {}
    inputs = record.inputs
    if isinstance(inputs, Mapping):
        for name, value in inputs.items():
            if _scalar(value):
                out[key_of("input", str(name))] = value
    elif _scalar(inputs) and inputs is not None:
        out[key_of("input", "input")] = inputs
    output = record.output
    if isinstance(output, Mapping):
        for name, value in output.items():
            if _scalar(value):
                out[key_of("output", f"output.{name}")] = value
    elif output is not None and _scalar(output):
        out[key_of("output", "output")] = output
    if record.confidence is not None:
        out[key_of("confidence", "confidence")] = record.confidence
    return out


def collect(records: Iterable[Record]) -> tuple[dict[str, list[Any]], int]:
    """Columns by key, aligned by row (None where a row lacks the field), and the row count."""
    columns: dict[str, list[Any]] = {}
    rows = 0
    for record in records:
        for key, value in flatten(record).items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * rows
            column.append(value)
        rows += 1
        for column in columns.values():
            if len(column) < rows:
                column.append(None)
    return columns, rows


def split_key(key: str) -> tuple[Role, str]:
    role, _, name = key.partition(":")
    return role, name  # type: ignore[return-value]


def _declared(prop: Any) -> Kind | None:
    """The kind a JSON Schema property implies, if it says clearly."""
    if not isinstance(prop, Mapping):
        return None
    if "enum" in prop:
        return "categorical"
    types = prop.get("type")
    types = {types} if isinstance(types, str) else set(types or [])
    types.discard("null")
    if types and types <= {"number", "integer"}:
        return "numeric"
    if types == {"boolean"}:
        return "categorical"
    if types == {"string"}:
        limit = prop.get("maxLength")
        if isinstance(limit, int) and limit <= _SHORT_STRING_SCHEMA:
            return "categorical"
    return None


def looks_like_text(values: list[str]) -> bool:
    """Long strings, or mostly distinct strings of several words."""
    if not values:
        return False
    mean_chars = sum(len(v) for v in values) / len(values)
    if mean_chars >= TEXT_MEAN_CHARS:
        return True
    distinct = len(set(values)) / len(values)
    worded = sum(1 for v in values if " " in v.strip()) / len(values)
    return distinct > 0.5 and worded > 0.5


def infer_kind(values: list[Any], prop: Any = None) -> Kind | None:
    """A column's kind from its schema property where clear, else from its values; None when empty."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    declared = _declared(prop)
    if declared is not None:
        return declared
    if all(isinstance(v, bool) for v in present):
        return "categorical"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "numeric"
    if all(isinstance(v, str) for v in present):
        return "text" if looks_like_text(present) else "categorical"
    return "categorical"


def schema_property(schema: Any, role: Role, name: str) -> Any:
    """The input or output schema's description of one feature, when it has one."""
    if not isinstance(schema, Mapping):
        return None
    if role == "output" and name == "output":
        return schema
    field = name.removeprefix("output.") if role == "output" else name
    props = schema.get("properties")
    return props.get(field) if isinstance(props, Mapping) else None


def schema_range(prop: Any) -> tuple[float | None, float | None] | None:
    """A numeric property's declared (minimum, maximum), when it declares either."""
    if not isinstance(prop, Mapping):
        return None
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    low = float(low) if isinstance(low, int | float) and not isinstance(low, bool) else None
    high = float(high) if isinstance(high, int | float) and not isinstance(high, bool) else None
    return (low, high) if low is not None or high is not None else None


def numeric_array(values: list[Any]) -> np.ndarray:
    """Floats with NaN for missing values; any non-number leaves the raw objects (a type change)."""
    if all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array(values, dtype=object)


def category_array(values: list[Any]) -> np.ndarray:
    """Objects with None for missing values (labels are str() of each value)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def texts(values: list[Any]) -> list[str | None]:
    """Text values as strings (numbers written as text), None for missing."""
    return [None if v is None else v if isinstance(v, str) else str(v) for v in values]


def check_kinds(declared: Mapping[str, str]) -> dict[str, Kind]:
    """User-declared kinds by feature name, checked."""
    out: dict[str, Kind] = {}
    for name, kind in declared.items():
        if kind not in KINDS:
            raise InvalidInput(
                f"the kind of {name!r} must be numeric, categorical or text, got {kind!r}", code="bad_kind"
            )
        out[name] = kind
    return out

"""A stored reference: the drift library's profile of every feature, plus each text field's embedding.

Text fields are profiled as their embedding components (`<key>~c1`, ..., `<key>~coverage`), numeric
columns of the library's profile like any other; see `text.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from shipyard.core.config import DriftSettings
from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift.columns import ColumnKind
from shipyard.monitoring.drift.frames import (
    Kind,
    Record,
    category_array,
    collect,
    infer_kind,
    numeric_array,
    schema_property,
    schema_range,
    split_key,
    texts,
)
from shipyard.monitoring.drift.numeric import NumericProfile
from shipyard.monitoring.drift.profile import ReferenceProfile, build_profile
from shipyard.monitoring.drift.text import TextEmbedder, fit

_FORMAT = 1
COMPONENT = "~"  # separates a text field's key from its embedding component's name


@dataclass(frozen=True, eq=False)
class StoredReference:
    """What is kept of reference data: per-feature metadata, the profile, the text embedders."""

    features: dict[str, dict[str, str]]  # key -> {"name", "role", "kind"}
    profile: ReferenceProfile
    embedders: dict[str, TextEmbedder]
    rows: int

    def to_json(self) -> str:
        """JSON text (floats exact) for the reference row."""
        return json.dumps(
            {
                "format": _FORMAT,
                "features": self.features,
                "profile": self.profile.to_dict(),
                "embedders": {k: e.to_dict() for k, e in self.embedders.items()},
                "rows": self.rows,
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> StoredReference:
        """The inverse of `to_json`."""
        data = json.loads(text)
        if data.get("format") != _FORMAT:
            raise InvalidInput(f"unknown stored reference format {data.get('format')!r}")
        return cls(
            features=data["features"],
            profile=ReferenceProfile.from_dict(data["profile"]),
            embedders={k: TextEmbedder.from_dict(v) for k, v in data["embedders"].items()},
            rows=int(data["rows"]),
        )

    def with_schema_ranges(self, input_schema: Any) -> ReferenceProfile:
        """The profile with each numeric input's declared range taken from the service's input schema now."""
        columns = dict(self.profile.columns)
        for key, meta in self.features.items():
            column = columns.get(key)
            if meta["role"] == "input" and isinstance(column, NumericProfile):
                bounds = schema_range(schema_property(input_schema, "input", meta["name"]))
                columns[key] = replace(column, declared_range=bounds)
        return replace(self.profile, columns=columns)


def kinds_for(
    columns: Mapping[str, list[Any]],
    input_schema: Any,
    output_schema: Any,
    declared: Mapping[str, Kind],
) -> dict[str, Kind]:
    """Each column's kind: declared by name first, then the schemas, then the values."""
    kinds: dict[str, Kind] = {}
    for key, values in columns.items():
        role, name = split_key(key)
        if role == "confidence":
            kinds[key] = "numeric"
            continue
        if name in declared:
            kinds[key] = declared[name]
            continue
        schema = input_schema if role == "input" else output_schema
        kind = infer_kind(values, schema_property(schema, role, name))
        if kind is not None:
            kinds[key] = kind
    return kinds


def build(
    records: Iterable[Record],
    settings: DriftSettings,
    *,
    input_schema: Any = None,
    output_schema: Any = None,
    declared: Mapping[str, Kind] | None = None,
) -> StoredReference:
    """Profile reference rows; fields with no value in any row are left out."""
    columns, rows = collect(records)
    if rows < settings.reference_min_rows:
        raise InvalidInput(
            f"reference data needs at least {settings.reference_min_rows} rows to judge drift against, "
            f"got {rows}",
            code="reference_too_small",
        )
    declared = dict(declared or {})
    kinds = kinds_for(columns, input_schema, output_schema, declared)
    unknown = sorted(set(declared) - {split_key(k)[1] for k in columns})
    if unknown:
        raise InvalidInput(
            f"kinds are declared for fields the data does not have: {unknown}", code="bad_kind"
        )
    if not any(split_key(k)[0] == "input" for k in kinds):
        raise InvalidInput("the reference data has no input field with a value", code="bad_file")
    if len(kinds) > settings.max_features:
        raise InvalidInput(
            f"the reference data has {len(kinds)} features; at most {settings.max_features} are profiled "
            "(SHIPYARD_MONITORING__DRIFT__MAX_FEATURES)",
            code="too_many_features",
        )
    table: dict[str, np.ndarray] = {}
    lib_kinds: dict[str, ColumnKind] = {}
    embedders: dict[str, TextEmbedder] = {}
    features: dict[str, dict[str, str]] = {}
    for key, kind in kinds.items():
        role, name = split_key(key)
        values = columns[key]
        features[key] = {"name": name, "role": role, "kind": kind}
        if kind == "text":
            embedder = fit(texts(values), settings.text_components, name)
            embedders[key] = embedder
            vectors = embedder.embed(texts(values))
            for j, component in enumerate(embedder.names):
                table[f"{key}{COMPONENT}{component}"] = vectors[:, j]
                lib_kinds[f"{key}{COMPONENT}{component}"] = "numeric"
        elif kind == "numeric":
            array = numeric_array(values)
            if array.dtype == object:
                raise InvalidInput(
                    f"field {name!r} is declared numeric but holds non-numeric values", code="bad_kind"
                )
            table[key], lib_kinds[key] = array, "numeric"
        else:
            table[key], lib_kinds[key] = category_array(values), "categorical"
    profile = build_profile(table, lib_kinds, max_sample=settings.reference_sample)
    stored = StoredReference(features=features, profile=profile, embedders=embedders, rows=rows)
    return stored


def live_table(stored: StoredReference, records: Iterable[Record]) -> tuple[dict[str, np.ndarray], int]:
    """A live window as the columns the profile compares (new input fields too, so they are reported)."""
    columns, rows = collect(records)
    table: dict[str, np.ndarray] = {}
    for key, values in columns.items():
        meta = stored.features.get(key)
        if meta is None:
            if split_key(key)[0] == "input":
                table[key] = category_array(values)  # not in the reference: a schema change
            continue
        if meta["kind"] == "text":
            embedder = stored.embedders[key]
            vectors = embedder.embed(texts(values))
            for j, component in enumerate(embedder.names):
                table[f"{key}{COMPONENT}{component}"] = vectors[:, j]
        elif meta["kind"] == "numeric":
            table[key] = numeric_array(values)
        else:
            table[key] = category_array(values)
    return table, rows

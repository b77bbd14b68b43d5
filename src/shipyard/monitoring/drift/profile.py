"""The reference profile: built once per model version, stored with it, compared with every live window.

It holds, per column, what the comparison needs and nothing else: bin edges and reference bin counts,
summary statistics, the sorted reference sample for exact KS and Wasserstein (numeric), and category
counts (categorical). It round-trips through JSON exactly, so a comparison with a stored profile gives
the same numbers as one with the profile just built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift.bins import DEFAULT_BINS
from shipyard.monitoring.drift.categorical import CategoricalProfile, build_categorical
from shipyard.monitoring.drift.columns import (
    ColumnKind,
    Table,
    columns_of,
    infer_kind,
    numeric_values,
    resolve_kinds,
    row_count,
)
from shipyard.monitoring.drift.numeric import DEFAULT_MAX_SAMPLE, NumericProfile, build_numeric

FORMAT = 1
ColumnProfile: TypeAlias = NumericProfile | CategoricalProfile
Range: TypeAlias = tuple[float | None, float | None]


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Per-column profiles of a reference table, in column order."""

    rows: int
    columns: dict[str, ColumnProfile]
    bins: int = DEFAULT_BINS

    def kinds(self) -> dict[str, ColumnKind]:
        """Each profiled column's kind."""
        return {
            name: ("numeric" if isinstance(p, NumericProfile) else "categorical")
            for name, p in self.columns.items()
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see `to_json`)."""
        return {
            "format": FORMAT,
            "rows": self.rows,
            "bins": self.bins,
            "columns": {name: p.to_dict() for name, p in self.columns.items()},
        }

    def to_json(self) -> str:
        """The profile as JSON text; floats are written exactly."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """The inverse of `to_dict`; a clear error for anything else."""
        if data.get("format") != FORMAT:
            raise InvalidInput(f"unknown reference profile format {data.get('format')!r} (expected {FORMAT})")
        try:
            columns: dict[str, ColumnProfile] = {}
            for name, item in data["columns"].items():
                if item["kind"] == "numeric":
                    columns[name] = NumericProfile.from_dict(item)
                elif item["kind"] == "categorical":
                    columns[name] = CategoricalProfile.from_dict(item)
                else:
                    raise InvalidInput(f"column {name!r} has unknown kind {item['kind']!r}")
            return cls(rows=int(data["rows"]), columns=columns, bins=int(data["bins"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not a valid reference profile: {exc!r}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ReferenceProfile:
        """Read a profile written by `to_json`."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"reference profile is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput("reference profile JSON must be an object")
        return cls.from_dict(data)


def build_profile(
    reference: Table,
    schema: Mapping[str, ColumnKind] | None = None,
    *,
    columns: Sequence[str] | None = None,
    ranges: Mapping[str, Range] | None = None,
    bins: int = DEFAULT_BINS,
    max_sample: int = DEFAULT_MAX_SAMPLE,
) -> ReferenceProfile:
    """Profile a reference table (dict of arrays or DataFrame); `schema` overrides inferred kinds.

    `columns` limits the profile to those columns; `ranges` declares valid (low, high) bounds of numeric
    columns (None for an open side), reported as data-quality findings when live values fall outside.
    """
    cols = columns_of(reference, "reference")
    kinds = resolve_kinds(cols, schema, list(columns) if columns is not None else None)
    ranges = dict(ranges or {})
    for name, bounds in ranges.items():
        if kinds.get(name) != "numeric":
            raise InvalidInput(f"a range is declared for {name!r}, which is not a profiled numeric column")
        if len(bounds) != 2 or (None not in bounds and bounds[0] > bounds[1]):  # type: ignore[operator]
            raise InvalidInput(f"the range for {name!r} must be (low, high) with low <= high, got {bounds!r}")
    profiles: dict[str, ColumnProfile] = {}
    for name, kind in kinds.items():
        source_kind = infer_kind(cols[name]) or kind
        if kind == "numeric":
            profiles[name] = build_numeric(
                numeric_values(cols[name], name),
                name,
                bins=bins,
                max_sample=max_sample,
                source_kind=source_kind,
                declared_range=ranges.get(name),
            )
        else:
            profiles[name] = build_categorical(cols[name], name, source_kind=source_kind)
    return ReferenceProfile(rows=row_count(cols), columns=profiles, bins=bins)

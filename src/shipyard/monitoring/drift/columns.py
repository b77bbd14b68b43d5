"""Tables in, NumPy columns out: a dict of arrays or a pandas DataFrame, with each column's kind.

pandas is never imported here: a DataFrame is recognised by its class's module, so a process that does
not use pandas does not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import numpy as np

from shipyard.core.errors import InvalidInput

ColumnKind: TypeAlias = Literal["numeric", "categorical"]
KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical")

# A table is a mapping of column name to a 1-D array-like, or a pandas DataFrame.
Table: TypeAlias = Any


def is_dataframe(table: object) -> bool:
    """True for a pandas DataFrame, decided without importing pandas."""
    cls = type(table)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pandas"


def is_series(values: object) -> bool:
    """True for a pandas Series, decided without importing pandas."""
    cls = type(values)
    return cls.__name__ == "Series" and cls.__module__.split(".")[0] == "pandas"


def columns_of(table: Table, what: str) -> dict[str, Any]:
    """The table's columns by name (pandas Series stay Series), all of one length, at least one row."""
    if is_dataframe(table):
        names = [str(c) for c in table.columns]
        if len(set(names)) != len(names):
            raise InvalidInput(f"the {what} table has duplicate column names")
        cols: dict[str, Any] = {str(c): table[c] for c in table.columns}
    elif isinstance(table, Mapping):
        cols = {}
        for name, values in table.items():
            if not isinstance(name, str):
                raise InvalidInput(f"the {what} table's column names must be strings, got {name!r}")
            cols[name] = values if is_series(values) else np.asarray(values)
    else:
        raise InvalidInput(
            f"the {what} table must be a dict of column name to array or a pandas DataFrame, "
            f"got {type(table).__name__}"
        )
    if not cols:
        raise InvalidInput(f"the {what} table has no columns")
    lengths = {name: len(values) for name, values in cols.items()}
    for name, values in cols.items():
        if not is_series(values) and np.ndim(values) != 1:
            raise InvalidInput(f"column {name!r} of the {what} table must be one-dimensional")
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{n}={k}" for n, k in lengths.items())
        raise InvalidInput(f"the {what} table's columns differ in length: {detail}")
    if next(iter(lengths.values())) == 0:
        raise InvalidInput(f"the {what} table is empty: drift needs at least one row")
    return cols


def row_count(cols: Mapping[str, Any]) -> int:
    """Rows in a table already checked by `columns_of`."""
    return len(next(iter(cols.values())))


def infer_kind(values: Any) -> ColumnKind | None:
    """Numeric for int/float dtypes, categorical for strings, objects, bools and categories; else None."""
    dtype = values.dtype
    if is_series(values) and str(dtype) == "category":
        return "categorical"
    kind = getattr(dtype, "kind", "O")
    if kind in "iuf":
        return "numeric"
    if kind in "bOUS" or str(dtype) in ("string", "str", "boolean"):
        return "categorical"
    if str(dtype) in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"):
        return "numeric"
    if str(dtype) in ("Float32", "Float64"):
        return "numeric"
    return None


def numeric_values(values: Any, name: str) -> np.ndarray:
    """A column as float64; NaN, None and infinities stay in the array and are counted as missing later."""
    if is_series(values):
        try:
            out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"column {name!r} is declared numeric but holds non-numeric values") from exc
        return np.asarray(out, dtype=np.float64)
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "O":
        try:
            return np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"column {name!r} is declared numeric but holds non-numeric values") from exc
    raise InvalidInput(f"column {name!r} is declared numeric but holds {arr.dtype} values")


def resolve_kinds(
    cols: Mapping[str, Any],
    schema: Mapping[str, ColumnKind] | None,
    columns: list[str] | None,
) -> dict[str, ColumnKind]:
    """Each profiled column's kind: the schema's word where given, inferred from the dtype otherwise."""
    schema = dict(schema or {})
    for name, kind in schema.items():
        if kind not in KINDS:
            raise InvalidInput(f"schema kind for {name!r} must be 'numeric' or 'categorical', got {kind!r}")
    names = list(columns) if columns is not None else list(cols)
    absent = [n for n in [*names, *schema] if n not in cols]
    if absent:
        raise InvalidInput(f"the reference table has no column(s) {sorted(set(absent))}")
    kinds: dict[str, ColumnKind] = {}
    unsupported: list[str] = []
    for name in names:
        inferred = infer_kind(cols[name])
        declared = schema.get(name)
        if declared is None:
            if inferred is None:
                unsupported.append(f"{name} ({cols[name].dtype})")
                continue
            kinds[name] = inferred
        else:
            if declared == "numeric" and inferred == "categorical" and _holds_text(cols[name]):
                raise InvalidInput(f"column {name!r} is declared numeric but holds text")
            kinds[name] = declared
    if unsupported:
        raise InvalidInput(
            "cannot tell whether these columns are numeric or categorical: "
            + ", ".join(unsupported)
            + "; declare them in the schema or leave them out with columns=[...]"
        )
    return kinds


def _holds_text(values: Any) -> bool:
    dtype = values.dtype
    if getattr(dtype, "kind", "O") in "US" or str(dtype) in ("string", "str"):
        return True
    if getattr(dtype, "kind", "") == "O":
        arr = values.to_numpy() if is_series(values) else values
        return any(isinstance(v, str) for v in arr[:1000])
    return False

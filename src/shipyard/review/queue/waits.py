"""How long a review task has waited, as people read it: one format for the console pages and the CLI."""

from __future__ import annotations

# (unit, seconds in it, the next smaller unit, seconds in that): the wait shows at most these two.
_UNITS = ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s"))


def waited(seconds: float | None, missing: str = "-") -> str:
    """A wait in its largest unit and the next one down, truncated: 45s, 12m 5s, 3h 20m, 2d 4h (the
    smaller unit left out when 0: 1h, not 1h 0m). `missing` when there is no wait to show; a negative
    wait (clocks a little apart) is 0s."""
    if seconds is None:
        return missing
    s = max(int(seconds), 0)
    for size, unit, next_size, next_unit in _UNITS:
        if s >= size:
            rest = (s % size) // next_size
            return f"{s // size}{unit}" + (f" {rest}{next_unit}" if rest else "")
    return f"{s}s"

"""GCRA (the generic cell rate algorithm): the rate-limit arithmetic, and its in-process store.

Each key keeps one number, its theoretical arrival time (TAT): when the caller would next be due if
it called exactly at the allowed rate. A call is allowed while it is no more than `tau` early, where
`tau` lets a caller who has been idle spend a whole window's allowance at once. There are no window
boundaries, so a caller cannot double up at one the way fixed windows allow (`limit` calls just
before a minute turns and `limit` more just after); past the first burst it gets one call every
`window / limit`. Times are integer microseconds, so Python and the Redis Lua script (which works in
doubles, exact up to 2**53) agree to the unit.

The same arithmetic is in LUA below, for the shared path; keep the two in step.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

US = 1_000_000


class Verdict(NamedTuple):
    allowed: bool
    remaining: int
    retry_us: int  # 0 when allowed


def step(tat: int | None, now: int, limit: int, window_us: int) -> tuple[Verdict, int | None]:
    """Decide one call; return the verdict and the key's new TAT (None: unchanged)."""
    interval = max(1, window_us // limit)
    tau = interval * (limit - 1)
    # Clamp into [now, now + limit * interval]: a clock that jumped back must not lock a caller out
    # for longer than one window.
    tat = min(max(tat if tat is not None else now, now), now + interval * limit)
    if tat - tau > now:
        return Verdict(False, 0, tat - tau - now), None
    new_tat = tat + interval
    return Verdict(True, max(0, (now + tau - new_tat) // interval + 1), 0), new_tat


LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local interval = math.max(1, math.floor(tonumber(ARGV[2]) / limit))
local tau = interval * (limit - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat > now + interval * limit then tat = now + interval * limit end
if tat - tau > now then
  return {0, 0, tat - tau - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
local remaining = math.floor((now + tau - new_tat) / interval) + 1
if remaining < 0 then remaining = 0 end
return {1, remaining, 0}
"""
# Redis's clock, not the callers': workers whose clocks disagree still share one timeline. The key
# expires when its TAT passes, since an absent key means the same thing.


class LocalGcra:
    """GCRA state for this process only, bounded in memory.

    A key whose TAT has passed is the same as no key, so sweeps drop those; a sweep runs whenever the
    table has doubled since the last one (amortised O(1) a call). If more than `max_keys` callers are
    all active at once, the least recently seen are forgotten: they get a fresh allowance, which is
    lenient but keeps a flood of distinct keys from exhausting memory.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._tats: OrderedDict[str, int] = OrderedDict()
        self._sweep_at = min(1024, max_keys)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tats)

    def hit(self, key: str, limit: int, window_us: int, now: int) -> Verdict:
        with self._lock:
            verdict, new_tat = step(self._tats.get(key), now, limit, window_us)
            if new_tat is not None:
                self._tats[key] = new_tat
                self._tats.move_to_end(key)
                if len(self._tats) > self._sweep_at:
                    self._sweep(now)
            return verdict

    def _sweep(self, now: int) -> None:
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
        if len(self._tats) > self._max_keys:
            # Still crowded: forget the least recently seen down to three quarters, so the next sweep
            # is a quarter of max_keys new keys away rather than at the very next one.
            while len(self._tats) > self._max_keys * 3 // 4:
                self._tats.popitem(last=False)
        self._sweep_at = min(max(1024, 2 * len(self._tats)), self._max_keys)

"""Machinery for fault tests: a real `shipyard serve` process, load that records every reply, a remote
model endpoint that can be made slow, broken or absent, and `assert_clean`, the verdict every fault
test ends with."""

from __future__ import annotations

from tests.faults.harness.load import CLIENT_TIMEOUT_S, Load, Reply, summary
from tests.faults.harness.remote import RemoteModel
from tests.faults.harness.server import Instance, ShipyardServer, shipping_blocked
from tests.faults.harness.verdict import Recorded, assert_clean, recorded

__all__ = [
    "CLIENT_TIMEOUT_S",
    "Instance",
    "Load",
    "Recorded",
    "RemoteModel",
    "Reply",
    "ShipyardServer",
    "assert_clean",
    "recorded",
    "shipping_blocked",
    "summary",
]

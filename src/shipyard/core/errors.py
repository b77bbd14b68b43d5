"""The error hierarchy. Services raise these; web/problems.py maps them to HTTP in one place."""

from __future__ import annotations

from typing import Any


class ShipyardError(Exception):
    """Base of every error Shipyard raises on purpose. `code` is stable and machine-readable."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(ShipyardError):
    code = "not_found"
    title = "Not found"


class Conflict(ShipyardError):
    code = "conflict"
    title = "Conflict"


class InvalidInput(ShipyardError):
    code = "invalid_input"
    title = "Invalid input"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    title = "Payload too large"


class Unauthenticated(ShipyardError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(ShipyardError):
    code = "forbidden"
    title = "Forbidden"


class TooManyAttempts(ShipyardError):
    code = "too_many_attempts"
    title = "Too many attempts"


class Unavailable(ShipyardError):
    code = "unavailable"
    title = "Service unavailable"


class Timeout(Unavailable):
    code = "timeout"
    title = "Model timed out"


class Paused(Unavailable):
    code = "paused"
    title = "Service paused"


class Shed(Unavailable):
    """Turned away to protect the calls already admitted (queue full, deadline passed). Retry later."""

    code = "shed"
    title = "Over capacity"


class RateLimited(ShipyardError):
    """The caller has used up its allowance for now; `retry_after` says when to come back."""

    code = "rate_limited"
    title = "Rate limit exceeded"


class ModelFailed(ShipyardError):
    code = "model_failed"
    title = "Model failed"


class IntegrityFailure(ShipyardError):
    """Stored data does not match what was recorded (artifact checksum, audit chain)."""

    code = "integrity_failure"
    title = "Integrity check failed"

"""Factories that build test data through the real service functions (so audit and caches see it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from shipyard.audit.service import Actor
from shipyard.auth import service as auth
from shipyard.auth.principal import Principal
from shipyard.auth.schemas import KeyCreate, UserCreate
from shipyard.registry import service as registry
from shipyard.registry.schemas import ServiceCreate, VersionCreate
from shipyard.serving.policy import RuntimePolicy
from shipyard.web.context import AppContext

PASSWORD = "correct horse battery staple"

ECHO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "label": {"type": "string", "maxLength": 20}},
    "required": ["x"],
    "additionalProperties": False,
}


def double(inputs: dict[str, Any]) -> tuple[float, float]:
    """A tiny model: doubles x, confident when x is small."""
    return inputs["x"] * 2, 0.9 if abs(inputs["x"]) < 100 else 0.4


def unsure(inputs: dict[str, Any]) -> dict[str, Any]:
    """Abstains on negative x: says it does not know, and why."""
    if inputs["x"] < 0:
        return {"output": {"reason": "x is negative"}, "confidence": 0.1, "abstained": True}
    return {"output": inputs["x"], "confidence": 0.9}


def boom(inputs: dict[str, Any]) -> float:
    raise RuntimeError("model exploded")


def slow(inputs: dict[str, Any]) -> tuple[float, float]:
    """Sleeps x seconds, then answers."""
    import time

    time.sleep(float(inputs.get("x", 1)))
    return 0.0, 0.5


def nan(inputs: dict[str, Any]) -> tuple[float, float]:
    """Garbage: a NaN output."""
    return float("nan"), 0.9


def overconfident(inputs: dict[str, Any]) -> tuple[float, float]:
    """Garbage: a confidence outside [0, 1]."""
    return inputs["x"], 1.7


def wrong_type(inputs: dict[str, Any]) -> tuple[str, float]:
    """Garbage for a service whose output schema says number."""
    return "not a number", 0.9


def segfault(inputs: dict[str, Any]) -> float:
    """Crashes its process (run it isolated, or it takes the test run down with it)."""
    import ctypes

    ctypes.string_at(0)
    return 0.0


def rule_minus_one(inputs: dict[str, Any]) -> float:
    """A rule-based fallback: no model, a fixed rule."""
    return -1.0


CALLS: dict[str, int] = {}


def counted_boom(inputs: dict[str, Any]) -> float:
    """Fails, and counts how often it was really called (the breaker should stop the calls)."""
    CALLS["counted_boom"] = CALLS.get("counted_boom", 0) + 1
    raise RuntimeError("still broken")


class BatchDouble:
    """A batch-capable model: predict_batch is one call for many inputs; x = 13 is a poison input."""

    batches: list[int] = []

    def predict(self, inputs: dict[str, Any]) -> tuple[float, float]:
        if inputs["x"] == 13:
            raise ValueError("unlucky input")
        return inputs["x"] * 2, 0.9

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[tuple[float, float]]:
        BatchDouble.batches.append(len(batch))
        return [self.predict(inputs) for inputs in batch]


@dataclass
class World:
    app: FastAPI

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx

    def actor(self) -> Actor:
        return Actor("test", "system", None, self.ctx.clock)

    def user(self, username: str, roles: list[str], password: str = PASSWORD) -> str:
        with self.ctx.uow() as s:
            auth.create_user(s, self.actor(), UserCreate(username=username, roles=roles, password=password))
        return username

    def key(
        self,
        username: str,
        roles: list[str] | None = None,
        services: list[str] | None = None,
        expires_in_days: float | None = 30,
    ) -> str:
        with self.ctx.uow() as s:
            user = auth.get_user(s, username)
            caller = Principal(
                id=user.id, name=user.username, kind="user", roles=frozenset(user.roles), user_id=user.id
            )
            _, secret = auth.create_key(
                s,
                self.actor(),
                caller,
                KeyCreate(
                    name=f"{username} key",
                    roles=roles or user.roles,
                    services=services,
                    expires_in_days=expires_in_days,
                ),
            )
        return secret

    def user_with_key(self, username: str, roles: list[str], **kwargs: Any) -> str:
        self.user(username, roles)
        return self.key(username, **kwargs)

    def service(
        self,
        slug: str = "echo",
        owner: str | None = None,
        entrypoint: str = "tests.factories:double",
        timeout_ms: int = 2000,
        output_schema: dict[str, Any] | None = None,
    ) -> str:
        with self.ctx.uow() as s:
            registry.create_service(
                s,
                self.actor(),
                ServiceCreate(
                    slug=slug,
                    name=slug.title(),
                    input_schema=ECHO_SCHEMA,
                    owner=owner,
                    timeout_ms=timeout_ms,
                    output_schema=output_schema,
                ),
            )
            registry.register_version(
                s,
                self.actor(),
                self.ctx.store,
                slug,
                VersionCreate(
                    loader="callable", entrypoint=entrypoint, returns_confidence=True, make_live=True
                ),
            )
        return slug

    def version(self, slug: str, entrypoint: str, *, make_live: bool = False, **kwargs: Any) -> int:
        """Register another callable version; returns its number."""
        with self.ctx.uow() as s:
            version = registry.register_version(
                s,
                self.actor(),
                self.ctx.store,
                slug,
                VersionCreate(
                    loader="callable",
                    entrypoint=entrypoint,
                    returns_confidence=kwargs.pop("returns_confidence", True),
                    make_live=make_live,
                    **kwargs,
                ),
                host=self.ctx.host_resources(),
            )
            return version.number

    def policy(self, slug: str, policy: dict[str, Any]) -> None:
        with self.ctx.uow() as s:
            registry.set_policy(s, self.actor(), slug, RuntimePolicy.model_validate(policy))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

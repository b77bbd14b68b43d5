"""Request and response shapes for services and model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shipyard.serving.policy import RuntimePolicy

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


def _check_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    return schema


class ServiceCreate(BaseModel):
    slug: str = Field(pattern=SLUG, description="Lower-case letters, digits and dashes.")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    scope: str = Field("", description="What the service may and may not be used for.")
    owner: str | None = Field(None, description="Username of the owner; default: the caller.")
    input_schema: dict[str, Any] = Field(description="JSON Schema (2020-12) for one input object.")
    output_schema: dict[str, Any] | None = None
    latency_slo_ms: int = Field(1000, gt=0)
    timeout_ms: int = Field(5000, gt=0, le=600_000)
    policy: RuntimePolicy | None = Field(None, description="Runtime policy; default: the defaults.")

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _valid(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_schema(schema)


class ServiceUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    scope: str | None = None
    owner: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    latency_slo_ms: int | None = Field(None, gt=0)
    timeout_ms: int | None = Field(None, gt=0, le=600_000)

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _valid(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_schema(schema)


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: int
    loader: str
    artifact_sha256: str | None
    artifact_kind: str | None
    entrypoint: str | None
    config: dict[str, Any]
    returns_confidence: bool
    supports_batching: bool
    description: str
    created_by: str
    created_at: datetime
    live: bool = False


class ServiceRead(BaseModel):
    slug: str
    name: str
    description: str
    scope: str
    owner: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    latency_slo_ms: int
    timeout_ms: int
    policy: RuntimePolicy
    live_version: int | None
    paused: bool
    paused_reason: str | None
    paused_by: str | None
    paused_at: datetime | None
    created_at: datetime
    updated_at: datetime


class VersionCreate(BaseModel):
    loader: str = Field(description="callable, joblib, onnx, mlflow or http (or a plugin's name).")
    entrypoint: str | None = Field(None, description="module:attr for callable; the URL for http.")
    config: dict[str, Any] = Field(default_factory=dict)
    returns_confidence: bool = False
    supports_batching: bool = Field(
        False, description="The model takes a list of inputs at once (predict_batch), for dynamic batching."
    )
    description: str = ""
    make_live: bool = False


class PauseRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="Why; shown to every caller.")

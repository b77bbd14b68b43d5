"""Services and their immutable model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.core.ids import new_id
from shipyard.db.base import Base


class Service(Base):
    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text, default="")  # what the service may and may not be used for
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    input_schema: Mapped[dict[str, Any]]
    output_schema: Mapped[dict[str, Any] | None]
    latency_slo_ms: Mapped[int] = mapped_column(default=1000)
    timeout_ms: Mapped[int] = mapped_column(default=5000)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)  # serving.policy.RuntimePolicy
    live_version_id: Mapped[str | None] = mapped_column(
        ForeignKey("model_versions.id", use_alter=True, ondelete="SET NULL")
    )
    paused: Mapped[bool] = mapped_column(default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_by: Mapped[str | None] = mapped_column(String(200))
    paused_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("service_id", "number", name="uq_model_versions_service_number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    loader: Mapped[str] = mapped_column(String(50))
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_kind: Mapped[str | None] = mapped_column(String(10))  # file | dir
    entrypoint: Mapped[str | None] = mapped_column(String(500))  # module:attr, or a URL for http
    config: Mapped[dict[str, Any]]
    returns_confidence: Mapped[bool] = mapped_column(default=False)
    supports_batching: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

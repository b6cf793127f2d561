"""What ``/health`` and the Settings page report about each provider."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core_client.schemas.base import CamelModel, UtcDatetime

HealthStatus = Literal["ok", "degraded", "down", "unconfigured"]


class ProviderHealth(CamelModel):
    capability: str
    provider: str
    status: HealthStatus
    message: str = ""
    latency_ms: float | None = None
    checked_at: UtcDatetime | None = None


class HealthReport(CamelModel):
    status: HealthStatus
    providers: list[ProviderHealth] = Field(default_factory=list)

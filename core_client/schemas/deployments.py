"""Deployments (and configuration changes, kept as deployments of kind ``config``)."""

from __future__ import annotations

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime


class Deployment(CamelModel):
    id: str
    service: str = ""
    environment: str = ""
    version: str = ""
    status: str = ""
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    url: str = ""
    actor: JsonObject = Field(default_factory=dict)
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class DeploymentQuery(StrictCamelModel):
    """Free text plus status and version sets; ``start``/``end`` bound when a deployment started."""

    query: str | None = None
    statuses: list[str] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)
    scope: QueryScope = Field(default_factory=QueryScope)
    limit: int | None = None
    metadata: JsonObject = Field(default_factory=dict)
    # OpsPilot extension: OpsOrch has no time bounds here; remote providers filter on the client side.
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None

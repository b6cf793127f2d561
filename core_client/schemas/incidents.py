"""Incidents, their timelines, and alerts (which share the incident's shape)."""

from __future__ import annotations

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime


class Incident(CamelModel):
    id: str
    title: str = ""
    description: str = ""
    status: str = ""
    severity: str = ""
    service: str = ""
    url: str = ""
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class IncidentQuery(StrictCamelModel):
    """Free text over title and description, plus exact status and severity sets."""

    query: str | None = None
    statuses: list[str] = Field(default_factory=list)
    severities: list[str] = Field(default_factory=list)
    scope: QueryScope = Field(default_factory=QueryScope)
    limit: int | None = None
    metadata: JsonObject = Field(default_factory=dict)


class CreateIncidentInput(StrictCamelModel):
    title: str
    description: str = ""
    status: str = "open"
    severity: str = "sev3"
    service: str = ""
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class UpdateIncidentInput(StrictCamelModel):
    title: str | None = None
    description: str | None = None
    status: str | None = None
    severity: str | None = None
    service: str | None = None
    fields: JsonObject | None = None
    metadata: JsonObject | None = None


class TimelineEntry(CamelModel):
    id: str
    incident_id: str
    at: UtcDatetime
    kind: str = "note"
    body: str = ""
    actor: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class TimelineAppendInput(StrictCamelModel):
    """A note or event for an incident's timeline; ``at`` defaults to now (the client's clock)."""

    at: UtcDatetime | None = None
    kind: str = "note"
    body: str
    actor: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class Alert(CamelModel):
    """A signal from monitoring; read-only, with the same shape as an incident."""

    id: str
    title: str = ""
    description: str = ""
    status: str = ""
    severity: str = ""
    service: str = ""
    url: str = ""
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class AlertQuery(IncidentQuery):
    """The same filters as an incident query."""

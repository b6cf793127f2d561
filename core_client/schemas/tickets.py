"""Tickets (Jira issues and the like)."""

from __future__ import annotations

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime


class Ticket(CamelModel):
    id: str
    key: str = ""
    title: str = ""
    description: str = ""
    status: str = ""
    assignees: list[str] = Field(default_factory=list)
    reporter: str = ""
    url: str = ""
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class TicketQuery(StrictCamelModel):
    query: str | None = None
    statuses: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    reporter: str | None = None
    scope: QueryScope = Field(default_factory=QueryScope)
    limit: int | None = None
    metadata: JsonObject = Field(default_factory=dict)


class CreateTicketInput(StrictCamelModel):
    title: str
    description: str = ""
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class UpdateTicketInput(StrictCamelModel):
    title: str | None = None
    description: str | None = None
    status: str | None = None
    assignees: list[str] | None = None
    fields: JsonObject | None = None
    metadata: JsonObject | None = None

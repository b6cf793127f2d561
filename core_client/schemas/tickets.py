"""Tickets (Jira issues and the like), and OpsPilot's conventions for the fields that tie a ticket to an incident.

A ticket OpsPilot files carries, in ``fields``, the incident it follows up (``incidentId``: the key the console's
incident page looks for), and the root cause it records (``service``, ``faultKind``). Providers map these keys to
what their system has (docs/providers.md); a query may ask for one incident's tickets with
``metadata[INCIDENT_FIELD]``, which providers that cannot filter on it ignore (callers filter the page again).
"""

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


# The ``fields`` keys OpsPilot writes and reads on tickets.
INCIDENT_FIELD = "incidentId"
SERVICE_FIELD = "service"
FAULT_KIND_FIELD = "faultKind"

# Statuses (compared case-insensitively) after which a ticket is no longer worked on. Statuses are free strings, so
# anything else counts as open: a new ticket must not be filed beside one that is only named unusually.
CLOSED_STATUSES = frozenset(
    {"done", "closed", "resolved", "cancelled", "canceled", "won't do", "wont do", "rejected", "duplicate"}
)


def ticket_is_open(ticket: Ticket) -> bool:
    """Whether someone may still be working on ``ticket`` (its status is not a closing one)."""
    return ticket.status.strip().lower() not in CLOSED_STATUSES


def ticket_incident(ticket: Ticket) -> str:
    """The incident a ticket follows up, from OpsPilot's field (or the older ``incident``/``incident_id``)."""
    for key in (INCIDENT_FIELD, "incident_id", "incident"):
        value = ticket.fields.get(key)
        if isinstance(value, str) and value:
            return value
    return ""

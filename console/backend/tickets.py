"""Tickets: the list, one ticket's page, and creating or editing one under the approval policy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from console.backend.actions import Outcome, act
from console.backend.display import ago, utc_label
from console.backend.records import FieldRow, ListFilters, field_rows, named, service_names
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.identity import Actor
from core_client.links import incident_link, service_link, ticket_link
from core_client.mutations import CreateTicketArgs, UpdateTicketArgs
from core_client.schemas import CreateTicketInput, QueryScope, Ticket, TicketQuery, UpdateTicketInput

PAGE_SIZE = 25
# Jira's default workflow; a ticket's own status is always offered too.
TICKET_STATUSES = ["To Do", "In Progress", "Done"]
MAX_TITLE_CHARS = 200


class TicketFilters(ListFilters):
    status: str = ""
    assignee: str = ""
    reporter: str = ""
    text: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TicketFilters:
        """The filters in a URL's query parameters."""
        return cls(
            status=params.get("status", ""),
            assignee=params.get("assignee", "").strip(),
            reporter=params.get("reporter", "").strip(),
            text=params.get("q", "").strip(),
        )

    def to_params(self) -> dict[str, str | None]:
        return {
            "status": self.status or None,
            "assignee": self.assignee or None,
            "reporter": self.reporter or None,
            "q": self.text or None,
        }


class TicketRow(BaseModel):
    id: str
    key: str
    title: str
    status: str
    assignees: str
    reporter: str
    service: str
    created: str
    age: str
    link: str


class TicketPage(BaseModel):
    rows: list[TicketRow]
    next_cursor: str | None = None
    truncated: bool = False


def ticket_row(ticket: Ticket, now: datetime) -> TicketRow:
    return TicketRow(
        id=ticket.id,
        key=ticket.key or ticket.id,
        title=ticket.title,
        status=ticket.status,
        assignees=", ".join(ticket.assignees),
        reporter=ticket.reporter,
        service=str(ticket.fields.get("service", "")),
        created=utc_label(ticket.created_at),
        age=ago(ticket.created_at, now),
        link=ticket_link(ticket.id).build(),
    )


async def tickets_page(
    core: CoreClient, filters: TicketFilters, scope: QueryScope, cursor: str | None
) -> TicketPage:
    """One page of tickets, newest first."""
    query = TicketQuery(
        query=filters.text or None,
        statuses=[filters.status] if filters.status else [],
        assignees=[filters.assignee] if filters.assignee else [],
        reporter=filters.reporter or None,
        scope=scope,
        limit=PAGE_SIZE,
    )
    page = await core.tickets.query(query, cursor=cursor)
    now = core.clock.now()
    rows = named([ticket_row(t, now) for t in page.items], await service_names(core))
    return TicketPage(rows=rows, next_cursor=page.next_cursor, truncated=page.truncated)


class TicketView(BaseModel):
    id: str = ""
    key: str = ""
    title: str = ""
    description: str = ""
    status: str = ""
    assignees: list[str] = []
    reporter: str = ""
    service: str = ""
    service_link: str = ""
    environment: str = ""
    incident_id: str = ""
    incident_link: str = ""
    created: str = ""
    updated: str = ""
    url: str = ""
    fields: list[FieldRow] = []


def ticket_view(ticket: Ticket) -> TicketView:
    """A ticket's fields for its page; service, environment and incident come from its ``fields``."""
    service = str(ticket.fields.get("service", ""))
    incident_id = str(ticket.fields.get("incidentId", ""))
    shown_elsewhere = {"service", "environment", "incidentId"}
    return TicketView(
        id=ticket.id,
        key=ticket.key or ticket.id,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,
        assignees=list(ticket.assignees),
        reporter=ticket.reporter,
        service=service,
        service_link=service_link(service).build() if service else "",
        environment=str(ticket.fields.get("environment", "")),
        incident_id=incident_id,
        incident_link=incident_link(incident_id).build() if incident_id else "",
        created=utc_label(ticket.created_at),
        updated=utc_label(ticket.updated_at),
        url=ticket.url,
        fields=field_rows(
            {k: v for k, v in {**ticket.fields, **ticket.metadata}.items() if k not in shown_elsewhere}
        ),
    )


class TicketDraft(BaseModel):
    """What the create form holds."""

    title: str
    description: str = ""
    service: str = ""
    environment: str = ""
    incident_id: str = ""

    def to_input(self) -> CreateTicketInput:
        """The provider input; ``BadQuery`` for an empty or overlong title."""
        title = self.title.strip()
        if not title:
            raise BadQuery("a ticket needs a title", source="create_ticket")
        if len(title) > MAX_TITLE_CHARS:
            raise BadQuery(f"a title has at most {MAX_TITLE_CHARS} characters", source="create_ticket")
        fields = {
            "service": self.service.strip(),
            "environment": self.environment.strip(),
            "incidentId": self.incident_id.strip(),
        }
        return CreateTicketInput(
            title=title,
            description=self.description.strip(),
            fields={key: value for key, value in fields.items() if value},
        )


async def create_ticket(core: CoreClient, actor: Actor, draft: TicketDraft) -> Outcome[Ticket]:
    """Create a ticket under the approval policy (in the draft's environment, else the policy's default)."""
    data = draft.to_input()
    environment = draft.environment.strip() or None
    return await act(
        core,
        actor,
        "create_ticket",
        CreateTicketArgs(ticket=data),
        environment=environment,
        run=lambda grant: core.tickets.create(data, actor=actor, grant=grant, environment=environment),
        what=f"ticket “{data.title}” created",
    )


def ticket_changes(
    current: TicketView, *, title: str, description: str, status: str, assignees: str
) -> UpdateTicketInput:
    """Only what differs from the ticket as shown; ``BadQuery`` when nothing does or the title is emptied."""
    wanted_assignees = [name.strip() for name in assignees.split(",") if name.strip()]
    changes = UpdateTicketInput(
        title=title.strip() if title.strip() != current.title else None,
        description=description.strip() if description.strip() != current.description.strip() else None,
        status=status if status and status != current.status else None,
        assignees=wanted_assignees if wanted_assignees != current.assignees else None,
    )
    if changes.title == "":
        raise BadQuery("a ticket needs a title", source="update_ticket")
    if not changes.model_dump(exclude_none=True):
        raise BadQuery("nothing changed", source="update_ticket")
    return changes


async def update_ticket(
    core: CoreClient, actor: Actor, ticket: TicketView, changes: UpdateTicketInput
) -> Outcome[Ticket]:
    """Edit a ticket under the approval policy (in its environment, else the policy's default)."""
    environment = ticket.environment or None
    changed = ", ".join(sorted(changes.model_dump(exclude_none=True)))
    return await act(
        core,
        actor,
        "update_ticket",
        UpdateTicketArgs(ticket_id=ticket.id, changes=changes),
        environment=environment,
        run=lambda grant: core.tickets.update(
            ticket.id, changes, actor=actor, grant=grant, environment=environment
        ),
        what=f"{ticket.key} updated ({changed})",
    )

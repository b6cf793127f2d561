"""Tickets: the list with its create form, and one ticket's page with its edit form (both under the approval
policy, checked on the server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console.backend.records import named, service_names
from console.backend.tickets import (
    TICKET_STATUSES,
    TicketDraft,
    TicketFilters,
    TicketRow,
    TicketView,
    create_ticket,
    ticket_changes,
    ticket_view,
    tickets_page,
    update_ticket,
)
from console.state.acting import Acting
from console.state.paging import PagedList, RowsPage
from console.state.record import RecordPage
from console.state.scope import ScopeState
from console.state.session import acts
from core_client.client import CoreClient
from core_client.errors import BadQuery


class TicketsState(Acting, PagedList, ScopeState):
    """The visible page of tickets, the filters the URL holds, and the create form."""

    rows: list[TicketRow] = []
    status: str = ""
    assignee: str = ""
    reporter: str = ""
    text: str = ""
    statuses: list[str] = list(TICKET_STATUSES)
    creating: bool = False

    @classmethod
    def _filter_type(cls) -> type[TicketFilters]:
        return TicketFilters

    async def _fetch(self, core: CoreClient, cursor: str | None) -> RowsPage:
        filters = TicketFilters(
            status=self.status, assignee=self.assignee, reporter=self.reporter, text=self.text
        )
        return await tickets_page(core, filters, self.query_scope(), cursor)

    @rx.event
    @acts
    def open_create(self, opened: bool) -> None:
        self.creating = opened

    @rx.event(background=True)
    @acts
    async def create(self, form: dict[str, str]) -> AsyncIterator[EventSpec]:
        """File the new ticket: created at once where policy lets this role, else sent for approval."""
        draft = TicketDraft(
            title=form.get("title", ""),
            description=form.get("description", ""),
            service=form.get("service", "") or self.scope_service,
            environment=self.scope_environment,
            incident_id=form.get("incident_id", ""),
        )

        async def created() -> None:
            await self._open("first")

        async for event in self._perform(lambda core, actor: create_ticket(core, actor, draft), then=created):
            yield event
        async with self:
            self.creating = False


class TicketState(Acting, RecordPage, ScopeState):
    """One ticket, and the edit form."""

    ticket: TicketView = TicketView()
    statuses: list[str] = list(TICKET_STATUSES)
    editing: bool = False

    @classmethod
    def _link_kind(cls) -> str:
        return "ticket"

    async def _fetch_record(self, core: CoreClient, key: str) -> TicketView:
        return named([ticket_view(await core.tickets.get(key))], await service_names(core))[0]

    def _show_record(self, key: str, record: TicketView | None) -> None:
        self.ticket = record or TicketView(id=key)
        known = [*TICKET_STATUSES]
        if self.ticket.status and self.ticket.status not in known:
            known.append(self.ticket.status)
        self.statuses = known

    @rx.event
    @acts
    def open_edit(self, opened: bool) -> None:
        self.editing = opened

    @rx.event(background=True)
    @acts
    async def save(self, form: dict[str, str]) -> AsyncIterator[EventSpec]:
        """Save what the edit form changed: at once where policy lets this role, else sent for approval."""
        ticket = self.ticket
        try:
            changes = ticket_changes(
                ticket,
                title=form.get("title", ""),
                description=form.get("description", ""),
                status=form.get("status", ""),
                assignees=form.get("assignees", ""),
            )
        except BadQuery as exc:
            yield rx.toast.error(exc.message)
            return
        async for event in self._perform(
            lambda core, actor: update_ticket(core, actor, ticket, changes), then=self._refresh
        ):
            yield event
        async with self:
            self.editing = False

"""The Incidents list and one incident's page.

The Investigate button hands the question to the Copilot panel through its hook, ``CopilotPanelState.investigate``
(console/state/copilot.py), which opens the panel and asks with the page's context (this incident, the scope).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.incident import (
    MetricChart,
    RelatedRow,
    TimelineRow,
    incident_context,
)
from console.backend.incident_actions import add_note, change_incident, investigation_question
from console.backend.incidents import (
    INCIDENT_STATUSES,
    SEVERITIES,
    IncidentFilters,
    IncidentsPage,
    incidents_page,
)
from console.backend.records import named, service_names
from console.backend.scope import ANY
from console.backend.signals import SignalRow, SignalView, signal_view
from console.state.acting import Acting
from console.state.copilot import CopilotPanelState
from console.state.paging import PagedList, RowsPage
from console.state.record import linked_key
from console.state.scope import ScopeState
from console.state.session import acts
from core_client.client import CoreClient
from core_client.errors import OpsPilotError


class IncidentsState(PagedList, ScopeState):
    """The visible page of incidents, the filters the URL holds, and whether the provider applied the sort and a
    chosen time range across all pages (else the sort orders only the page on screen, over all time)."""

    rows: list[SignalRow] = []
    status: str = ""
    severity: str = ""
    text: str = ""
    sort: str = "newest"
    ordered_by_provider: bool = False

    @classmethod
    def _filter_type(cls) -> type[IncidentFilters]:
        return IncidentFilters

    async def _fetch(self, core: CoreClient, cursor: str | None) -> RowsPage:
        filters = IncidentFilters(status=self.status, severity=self.severity, text=self.text, sort=self.sort)
        return await incidents_page(core, filters, self.query_scope(), cursor, self.chosen_window())

    def _show_page(self, page: RowsPage | None) -> None:
        super()._show_page(page)
        self.ordered_by_provider = isinstance(page, IncidentsPage) and page.ordered_by_provider

    @rx.var
    def started_within(self) -> str:
        """The chosen time range the provider applied to the list, as the scope bar labels it ("" for all time)."""
        return self.window_label if self.ordered_by_provider and self.range_chosen else ""

    @rx.event(background=True)
    async def filter_severity(self, value: str) -> AsyncIterator[EventSpec]:
        async for event in self._refilter(severity="" if value == ANY else value):
            yield event

    @rx.event(background=True)
    async def sort_by(self, value: str) -> AsyncIterator[EventSpec]:
        async for event in self._refilter(sort=value):
            yield event


def _with(known: list[str], value: str) -> list[str]:
    return known if not value or value in known else [*known, value]


class IncidentState(Acting, ScopeState):
    """One incident: its fields, each surrounding section with its own error, and the actions on it."""

    incident: SignalView = SignalView()
    loading: bool = True
    error: str = ""
    context_loading: bool = True
    timeline: list[TimelineRow] = []
    timeline_error: str = ""
    alerts: list[RelatedRow] = []
    alerts_error: str = ""
    deploys: list[RelatedRow] = []
    deploys_error: str = ""
    tickets: list[RelatedRow] = []
    tickets_error: str = ""
    charts: list[MetricChart] = []
    metrics_error: str = ""
    new_status: str = ""
    new_severity: str = ""
    # The choices offered, with the incident's own value when the provider uses another word for it.
    status_options: list[str] = list(INCIDENT_STATUSES)
    severity_options: list[str] = list(SEVERITIES)
    _generation: int = 0

    @rx.event(background=True)
    async def load(self) -> None:
        """The incident first (its fields show at once), then every section around it, concurrently."""
        await self._refresh()

    async def _refresh(self) -> None:
        # Read before the lock, as RecordPage does (console/state/record.py): this event's address, not the last
        # one saved with the state.
        incident_id = linked_key(self.router.url.path, "incident")
        async with self:
            if not self.signed_in:
                self.loading = self.context_loading = False
                return
            self._generation += 1
            generation = self._generation
            self.loading = self.context_loading = True
        try:
            core = await runtime.core()
            incident = await core.incidents.get(incident_id)
            view = named([signal_view(incident, core.clock.now())], await service_names(core))[0]
        except OpsPilotError as exc:
            async with self:
                if generation == self._generation:
                    self.error, self.loading, self.context_loading = str(exc), False, False
                    self.incident = SignalView(id=incident_id)
                    # Nothing of an incident shown before stays behind the error.
                    self.timeline, self.alerts, self.deploys, self.tickets, self.charts = [], [], [], [], []
            return
        async with self:
            if generation != self._generation:
                return
            self.error, self.loading = "", False
            self.incident = view
            self.new_status, self.new_severity = incident.status, incident.severity
            self.status_options = _with(INCIDENT_STATUSES, incident.status)
            self.severity_options = _with(SEVERITIES, incident.severity)
        context = await incident_context(core, incident)
        async with self:
            if generation != self._generation:
                return
            self.timeline, self.timeline_error = context.timeline.value or [], context.timeline.error
            self.alerts, self.alerts_error = context.alerts.value or [], context.alerts.error
            self.deploys, self.deploys_error = context.deploys.value or [], context.deploys.error
            self.tickets, self.tickets_error = context.tickets.value or [], context.tickets.error
            self.charts, self.metrics_error = context.metrics.value or [], context.metrics.error
            self.context_loading = False

    @rx.event
    def pick_status(self, value: str) -> None:
        self.new_status = value

    @rx.event
    def pick_severity(self, value: str) -> None:
        self.new_severity = value

    async def _change(
        self, *, status: str | None = None, severity: str | None = None
    ) -> AsyncIterator[EventSpec]:
        incident = self.incident
        async for event in self._perform(
            lambda core, actor: change_incident(
                core,
                actor,
                incident.id,
                environment=incident.environment or None,
                status=status,
                severity=severity,
            ),
            then=self._refresh,
        ):
            yield event

    @rx.event(background=True)
    @acts
    async def apply_status(self) -> AsyncIterator[EventSpec]:
        """Set the chosen status, under the approval policy (server-checked)."""
        async for event in self._change(status=self.new_status):
            yield event

    @rx.event(background=True)
    @acts
    async def apply_severity(self) -> AsyncIterator[EventSpec]:
        """Set the chosen severity, under the approval policy (server-checked)."""
        async for event in self._change(severity=self.new_severity):
            yield event

    @rx.event(background=True)
    @acts
    async def add_note(self, form: dict[str, str]) -> AsyncIterator[EventSpec]:
        """Append a note to the timeline, under the approval policy (server-checked)."""
        incident, body = self.incident, form.get("note", "")
        async for event in self._perform(
            lambda core, actor: add_note(
                core, actor, incident.id, body, environment=incident.environment or None
            ),
            then=self._refresh,
        ):
            yield event

    @rx.event
    def investigate(self) -> EventSpec:
        """Ask the Copilot about this incident, in its panel."""
        incident = self.incident
        return CopilotPanelState.investigate(
            investigation_question(incident.id, incident.title, incident.service)
        )

"""The service catalog and one service's page (dependencies, health, on-call, runbook)."""

from __future__ import annotations

from console.backend.display import safe_href
from console.backend.overview import rating
from console.backend.services import (
    Departure,
    Neighbour,
    OnCallRow,
    ServiceDetail,
    ServiceFilters,
    ServicePage,
    ServiceRow,
    ServiceView,
    off_baseline,
    service_detail,
    services_page,
)
from console.backend.signals import SignalRow
from console.state.paging import PagedList, RowsPage
from console.state.record import RecordPage
from console.state.scope import ScopeState
from core_client.client import CoreClient


class ServicesState(PagedList, ScopeState):
    """The visible page of the catalog, with why a column is missing when a provider could not fill it."""

    rows: list[ServiceRow] = []
    text: str = ""
    notes: list[str] = []
    unserved: list[str] = []

    @classmethod
    def _filter_type(cls) -> type[ServiceFilters]:
        return ServiceFilters

    async def _fetch(self, core: CoreClient, cursor: str | None) -> ServicePage:
        return await services_page(core, self.query_scope(), self.text, cursor)

    def _show_page(self, page: RowsPage | None) -> None:
        self.rows = list(page.rows) if page is not None else []
        self.notes = page.notes if isinstance(page, ServicePage) else []
        self.unserved = page.unserved if isinstance(page, ServicePage) else []

    async def _enrich(self, core: CoreClient, generation: int) -> None:
        """Rate the rows that nothing on record troubles by their metrics too, as a service's page does: one
        failing with no incident or alert is not healthy. Scanning takes about a second, so the rows show first."""
        async with self:
            calm = [row.key for row in self.rows if row.status == "healthy" and row.key]
        if not calm:
            return
        off = await off_baseline(core, calm)
        async with self:
            if generation != self._shown_generation or not off:
                return
            rated = [(row, rating(row.status, off_baseline=row.key in off)) for row in self.rows]
            self.rows = [
                row.model_copy(update={"status": status, "off_baseline": True})
                if status != row.status
                else row
                for row, status in rated
            ]


class ServiceState(RecordPage, ScopeState):
    """One service: its fields, neighbours in the dependency graph, health, on-call and runbook."""

    service: ServiceView = ServiceView()
    status: str = ""
    health_error: str = ""
    departures: list[Departure] = []
    departures_error: str = ""
    calls: list[Neighbour] = []
    called_by: list[Neighbour] = []
    incidents: list[SignalRow] = []
    alerts: list[SignalRow] = []
    oncall: list[OnCallRow] = []
    oncall_error: str = ""
    runbook_title: str = ""
    runbook_body: str = ""
    runbook_url: str = ""
    runbook_error: str = ""
    # The sources keep no schedules / no runbooks at all (said in the panel, not as an error).
    oncall_unserved: bool = False
    runbook_unserved: bool = False

    @classmethod
    def _link_kind(cls) -> str:
        return "service"

    async def _fetch_record(self, core: CoreClient, key: str) -> ServiceDetail:
        return await service_detail(core, key)

    def _show_record(self, key: str, record: ServiceDetail | None) -> None:
        if record is None:
            self.service, self.status = ServiceView(name=key), ""
            self.calls = self.called_by = []
            self.incidents = self.alerts = []
            self.departures, self.departures_error = [], ""
            self.oncall, self.runbook_body = [], ""
            return
        self.service, self.status, self.health_error = record.service, record.status, record.health_error
        self.departures, self.departures_error = record.departures.value or [], record.departures.error
        self.calls, self.called_by = record.calls, record.called_by
        self.incidents, self.alerts = record.incidents, record.alerts
        self.oncall = record.oncall.value or []
        # A source that keeps no schedules or runbooks is not an error: the panel says so plainly.
        self.oncall_unserved, self.runbook_unserved = record.oncall.unserved, record.runbook.unserved
        self.oncall_error = "" if record.oncall.unserved else record.oncall.error
        runbook = record.runbook.value
        self.runbook_title = runbook.title if runbook else ""
        self.runbook_body = runbook.body if runbook else ""
        self.runbook_url = safe_href(runbook.url or "") if runbook else ""
        self.runbook_error = "" if record.runbook.unserved else record.runbook.error

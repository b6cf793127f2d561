"""The Incidents list: filters from the URL, one page of rows from the provider, in the chosen order.

Paging is the provider's: a page of ``PAGE_SIZE`` rows and an opaque cursor for the next one. The OpsOrch query has
no sort and no time range, so they are asked for in its metadata (``core_client.incident_order``). A provider that
declares it honors them sorts and bounds across all pages; for any other the list is the provider's own order
(newest first) over all time, a sort orders the rows of the page on screen, and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel

from console.backend.overview import OPEN_INCIDENT_STATUSES
from console.backend.records import ListFilters, named, service_names
from console.backend.signals import SignalRow, signal_row
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.incident_order import honors_incident_order, incident_order_metadata
from core_client.schemas import Incident, IncidentQuery, QueryScope

PAGE_SIZE = 25
INCIDENT_STATUSES = [*OPEN_INCIDENT_STATUSES, "resolved"]
SEVERITIES = ["sev1", "sev2", "sev3", "sev4"]
# "active" stands for every open status at once.
ACTIVE = "active"
SORTS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "severity": "Severity",
    "updated": "Recently updated",
    "status": "Status (this page)",
    "service": "Service (this page)",
}
# The sorts a provider can apply across pages; the others only ever order the page on screen.
PROVIDER_SORTS = ("newest", "oldest", "severity", "updated")
FILTER_PARAMS = ("status", "severity", "q", "sort")


class IncidentFilters(ListFilters):
    """The list's own filters (the scope bar adds service, team and environment)."""

    status: str = ""
    severity: str = ""
    text: str = ""
    sort: str = "newest"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> IncidentFilters:
        """The filters in a URL's query parameters; unknown values are dropped."""
        status = params.get("status", "")
        sort = params.get("sort", "newest")
        return cls(
            status=status if status in (*INCIDENT_STATUSES, ACTIVE) else "",
            severity=params.get("severity", ""),
            text=params.get("q", "").strip(),
            sort=sort if sort in SORTS else "newest",
        )

    def to_params(self) -> dict[str, str | None]:
        """Every filter parameter, set or removed (``None``), for the URL."""
        return {
            "status": self.status or None,
            "severity": self.severity or None,
            "q": self.text or None,
            "sort": None if self.sort == "newest" else self.sort,
        }

    def query(self, scope: QueryScope, window: tuple[datetime, datetime] | None = None) -> IncidentQuery:
        """The provider query for one page: the sort and the scope's window (if any) go in its metadata."""
        statuses = OPEN_INCIDENT_STATUSES if self.status == ACTIVE else [self.status] if self.status else []
        start, end = window or (None, None)
        sort = self.sort if self.sort in PROVIDER_SORTS else "newest"
        return IncidentQuery(
            query=self.text or None,
            statuses=list(statuses),
            severities=[self.severity] if self.severity else [],
            scope=scope,
            limit=PAGE_SIZE,
            metadata=incident_order_metadata(sort, start, end),
        )


class IncidentsPage(BaseModel):
    """One page of rows, the cursor of the next (``None`` on the last page), and whether the provider applied the
    time range and the ``PROVIDER_SORTS`` across all pages (``False``: its own order over all time, sorted on
    screen)."""

    rows: list[SignalRow]
    next_cursor: str | None = None
    ordered_by_provider: bool = False
    truncated: bool = False


def sort_page(incidents: list[Incident], sort: str) -> list[Incident]:
    """One page of incidents in the chosen order, for a provider that did not sort them (``newest`` is its own)."""
    # A time the incident lacks sorts after every known one.
    never = datetime.min.replace(tzinfo=UTC)
    if sort == "oldest":
        return sorted(incidents, key=lambda i: (i.created_at is None, i.created_at or never))
    if sort == "updated":
        return sorted(incidents, key=lambda i: i.updated_at or i.created_at or never, reverse=True)
    if sort == "severity":
        rank = {severity: n for n, severity in enumerate(SEVERITIES)}
        return sorted(incidents, key=lambda i: rank.get(i.severity, len(rank)))
    if sort == "status":
        order = {status: n for n, status in enumerate(INCIDENT_STATUSES)}
        return sorted(incidents, key=lambda i: order.get(i.status, len(order)))
    if sort == "service":
        return sorted(incidents, key=lambda i: i.service)
    return incidents


async def incidents_page(
    core: CoreClient,
    filters: IncidentFilters,
    scope: QueryScope,
    cursor: str | None,
    window: tuple[datetime, datetime] | None = None,
) -> IncidentsPage:
    """One page of incidents matching the filters, scope and (where the provider honors it) window."""
    page = await core.incidents.query(filters.query(scope, window), cursor=cursor)
    applied = honors_incident_order(core.provider_for(Capability.INCIDENT).instance)
    incidents = page.items
    if not (applied and filters.sort in PROVIDER_SORTS):
        incidents = sort_page(incidents, filters.sort)
    now = core.clock.now()
    rows = named([signal_row(incident, now) for incident in incidents], await service_names(core))
    return IncidentsPage(
        rows=rows, next_cursor=page.next_cursor, ordered_by_provider=applied, truncated=page.truncated
    )

"""The Incidents list: filters from the URL, one page of rows from the provider, sorting within the page.

Paging is the provider's: a page of ``PAGE_SIZE`` rows and an opaque cursor for the next one, in the provider's
order (newest first). Providers take no sort order (the OpsOrch contract has none), so a sort other than
``newest`` orders the rows of the page on screen, and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from console.backend.overview import OPEN_INCIDENT_STATUSES
from console.backend.records import ListFilters
from console.backend.signals import SignalRow, signal_row
from core_client.client import CoreClient
from core_client.schemas import IncidentQuery, QueryScope

PAGE_SIZE = 25
INCIDENT_STATUSES = [*OPEN_INCIDENT_STATUSES, "resolved"]
SEVERITIES = ["sev1", "sev2", "sev3", "sev4"]
# "active" stands for every open status at once.
ACTIVE = "active"
SORTS = {
    "newest": "Newest first",
    "severity": "Severity (this page)",
    "status": "Status (this page)",
    "service": "Service (this page)",
}
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

    def query(self, scope: QueryScope) -> IncidentQuery:
        """The provider query for one page."""
        statuses = OPEN_INCIDENT_STATUSES if self.status == ACTIVE else [self.status] if self.status else []
        return IncidentQuery(
            query=self.text or None,
            statuses=list(statuses),
            severities=[self.severity] if self.severity else [],
            scope=scope,
            limit=PAGE_SIZE,
        )


class RowsPage(BaseModel):
    """One page of rows and the cursor of the next (``None`` on the last page)."""

    rows: list[SignalRow]
    next_cursor: str | None = None


def sort_rows(rows: list[SignalRow], sort: str) -> list[SignalRow]:
    """The page's rows in the chosen order; ``newest`` keeps the provider's."""
    if sort == "severity":
        rank = {severity: n for n, severity in enumerate(SEVERITIES)}
        return sorted(rows, key=lambda row: rank.get(row.severity, len(rank)))
    if sort == "status":
        order = {status: n for n, status in enumerate(INCIDENT_STATUSES)}
        return sorted(rows, key=lambda row: order.get(row.status, len(order)))
    if sort == "service":
        return sorted(rows, key=lambda row: row.service)
    return rows


async def incidents_page(
    core: CoreClient, filters: IncidentFilters, scope: QueryScope, cursor: str | None
) -> RowsPage:
    """One page of incidents matching the filters and scope."""
    page = await core.incidents.query(filters.query(scope), cursor=cursor)
    now = core.clock.now()
    rows = [signal_row(incident, now) for incident in page.items]
    return RowsPage(rows=sort_rows(rows, filters.sort), next_cursor=page.next_cursor)

"""The Overview page's state: small rows for four panels, each with its own error."""

from __future__ import annotations

import reflex as rx

from console import runtime
from console.backend.overview import (
    AlertRow,
    DeployRow,
    IncidentRow,
    Overview,
    ServiceTile,
    SeverityCount,
    load_overview,
    rated_by_metrics,
)
from console.backend.services import off_baseline
from console.state.session import SessionState
from core_client.errors import OpsPilotError


class OverviewState(SessionState):
    """What the Overview shows. Only the visible rows live here; counts summarise the rest."""

    loading: bool = True
    as_of: str = ""
    incidents_by_severity: list[SeverityCount] = []
    incidents_total: str = ""
    recent_incidents: list[IncidentRow] = []
    incidents_error: str = ""
    alerts: list[AlertRow] = []
    alerts_total: str = ""
    alerts_error: str = ""
    deploys: list[DeployRow] = []
    deploys_error: str = ""
    services: list[ServiceTile] = []
    services_error: str = ""

    @rx.event(background=True)
    async def load(self) -> None:
        """Fetch every panel without holding the state lock, then show what came back."""
        async with self:
            self.loading = True
        core = await runtime.core()
        try:
            overview = await load_overview(core)
        except OpsPilotError as exc:
            async with self:
                self._fail_all(str(exc))
            return
        async with self:
            self._show(overview)
        # Then the services nothing on record troubles are rated by their metrics too, as a service's page rates
        # them: scanning takes about a second, so the page shows first.
        calm = [tile.key for tile in overview.services.value or [] if tile.status == "healthy"]
        off = await off_baseline(core, calm) if calm else set()
        if off:
            async with self:
                if self.as_of == overview.as_of:
                    self.services = rated_by_metrics(self.services, off)

    def _fail_all(self, message: str) -> None:
        self.incidents_error = self.alerts_error = self.deploys_error = self.services_error = message
        self.loading = False

    def _show(self, overview: Overview) -> None:
        self.as_of = overview.as_of
        incidents = overview.incidents.value
        self.incidents_error = overview.incidents.error
        self.incidents_by_severity = incidents.by_severity if incidents else []
        self.recent_incidents = incidents.recent if incidents else []
        self.incidents_total = _count(incidents.total, incidents.capped) if incidents else ""
        alerts = overview.alerts.value
        self.alerts_error = overview.alerts.error
        self.alerts = alerts.rows if alerts else []
        self.alerts_total = _count(alerts.total, alerts.capped) if alerts else ""
        self.deploys_error = overview.deploys.error
        self.deploys = overview.deploys.value or []
        self.services_error = overview.services.error
        self.services = overview.services.value or []
        self.loading = False


def _count(total: int, capped: bool) -> str:
    return f"{total}+" if capped else str(total)

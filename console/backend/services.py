"""The service catalog: owners, tier, tags, on-call, runbook and health per service; one service's dependencies.

Health is the Overview's rating (critical: an urgent open incident or firing alert; warning: any; else healthy),
computed from the same open incidents and firing alerts. A service's own page also reads its metrics: a service
whose errors, latency, traffic or resources are off their baseline now (the Copilot's rule for trouble) is not
healthy, whatever is on record about it. Each lookup that can fail (teams, runbooks, incidents,
alerts) fails on its own: the catalog still shows, with that column or section saying what went wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from console.backend.display import safe_href, utc_label
from console.backend.overview import (
    FiringAlerts,
    OpenIncidents,
    firing_alerts,
    open_incidents,
    rating,
    service_health,
)
from console.backend.records import FieldRow, ListFilters, Section, field_rows, section
from console.backend.signals import SignalRow, signal_row
from copilot.planners.offline.kinds.common import named_reading
from copilot.planners.offline.ranking import is_trouble
from copilot.planners.offline.rounds import SIGNAL_WINDOW
from core_client.analysis.scan import Scan, scan_signals
from core_client.client import CoreClient
from core_client.errors import NotFound, Unsupported
from core_client.links import metrics_link, service_link
from core_client.schemas import (
    Alert,
    Incident,
    OnCallShift,
    QueryScope,
    Runbook,
    Service,
    ServiceQuery,
    offset_page,
)
from core_client.service_directory import ServiceDirectory

PAGE_SIZE = 25
UNKNOWN = "unknown"
DEPARTURES_SHOWN = 5
# What a page says for a column or panel its sources keep nothing for.
UNSERVED = {
    "on-call": "The configured sources keep no on-call schedules, so the On call column is empty.",
    "runbooks": "The configured sources keep no runbooks, so the Runbook column is empty.",
}


class ServiceFilters(ListFilters):
    """The catalog's own filter: part of a service's name (the scope bar adds team and environment)."""

    text: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ServiceFilters:
        return cls(text=params.get("q", "").strip())

    def to_params(self) -> dict[str, str | None]:
        return {"q": self.text or None}


class ServiceRow(BaseModel):
    # The service's catalog id (what its metrics are scanned by), what people call it, and its page.
    key: str = ""
    name: str
    link: str
    tier: str
    team: str
    tags: list[str]
    oncall: str
    runbook: str
    status: str
    open_incidents: int
    firing_alerts: int
    # Rated from its metrics (a signal off its baseline now) rather than from anything on record.
    off_baseline: bool = False


class ServicePage(BaseModel):
    rows: list[ServiceRow]
    next_cursor: str | None = None
    truncated: bool = False
    # Why a column could not be filled (teams, runbooks or health), if it could not.
    notes: list[str] = []
    # Columns the sources keep nothing for (no runbooks, no on-call schedules): said, not warned about.
    unserved: list[str] = []


class Health(BaseModel):
    """Each service's health status, with its open incidents and firing alerts, or why it is unknown."""

    status: dict[str, str] = {}
    incidents: dict[str, int] = {}
    alerts: dict[str, int] = {}
    error: str = ""


async def catalog(core: CoreClient, scope: QueryScope, text: str = "") -> list[Service]:
    """Every service in scope whose name contains ``text``, by name."""
    services: list[Service] = []
    cursor: str | None = None
    while True:
        page = await core.services.query(
            ServiceQuery(scope=scope, name=text or None, limit=1000), cursor=cursor
        )
        services.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return sorted(services, key=lambda service: service.name)


@dataclass
class Signals:
    """The open incidents and firing alerts health is rated from, each section failing on its own."""

    incidents: Section[OpenIncidents]
    alerts: Section[FiringAlerts]

    def open_incidents(self) -> list[Incident]:
        return self.incidents.value.incidents if self.incidents.value else []

    def firing_alerts(self) -> list[Alert]:
        return self.alerts.value.alerts if self.alerts.value else []


async def signals(core: CoreClient) -> Signals:
    """Open incidents and firing alerts, loaded concurrently."""
    incidents, alerts = await asyncio.gather(section(open_incidents(core)), section(firing_alerts(core)))
    return Signals(incidents=incidents, alerts=alerts)


def rate(directory: ServiceDirectory, found: Signals) -> Health:
    """The Overview's rating of every service of ``directory``, by key; ``unknown`` while a signal cannot be read."""
    incidents, alerts = found.incidents.value, found.alerts.value
    tiles = service_health(
        directory, incidents.incidents if incidents else None, alerts.alerts if alerts else None
    )
    error = "; ".join(message for message in (found.incidents.error, found.alerts.error) if message)
    return Health(
        status={tile.key: UNKNOWN if error else tile.status for tile in tiles},
        incidents={tile.key: tile.open_incidents for tile in tiles},
        alerts={tile.key: tile.firing_alerts for tile in tiles},
        error=error,
    )


async def _primary_oncall(core: CoreClient, team: str) -> str:
    shifts = await core.teams.oncall(team)
    first = min(shifts, key=lambda shift: shift.escalation_level, default=None)
    return first.member.name or first.member.id if first else ""


async def _runbook(core: CoreClient, service: str) -> Runbook | None:
    try:
        return await core.services.runbook(service)
    except NotFound:
        return None


async def services_page(core: CoreClient, scope: QueryScope, text: str, cursor: str | None) -> ServicePage:
    """One page of the catalog, with on-call, runbook and health looked up for the services shown."""
    everything = await catalog(core, scope, text)
    page = offset_page(everything, cursor=cursor, limit=PAGE_SIZE, source="services")
    teams = sorted({service.owner_team for service in page.items if service.owner_team})
    found, oncall, runbooks = await asyncio.gather(
        signals(core),
        asyncio.gather(*(section(_primary_oncall(core, team)) for team in teams)),
        asyncio.gather(*(section(_runbook(core, service.id)) for service in page.items)),
    )
    rated = rate(ServiceDirectory(page.items), found)
    oncall_by_team = dict(zip(teams, oncall, strict=True))
    notes = [f"health: {rated.error}"] if rated.error else []
    notes += sorted(
        {f"on-call: {s.error}" for s in oncall if s.error and not s.unserved}
        | {f"runbooks: {s.error}" for s in runbooks if s.error and not s.unserved}
    )
    unserved = [UNSERVED["on-call"]] if any(s.unserved for s in oncall) else []
    unserved += [UNSERVED["runbooks"]] if any(s.unserved for s in runbooks) else []
    rows = []
    for service, runbook in zip(page.items, runbooks, strict=True):
        shift = oncall_by_team.get(service.owner_team or "")
        rows.append(
            ServiceRow(
                key=service.id,
                name=service.name,
                link=service_link(service.id).build(),
                tier=service.tier_label,
                team=service.owner_team or "",
                tags=[
                    f"{key}={value}"
                    for key, value in sorted(service.tags.items())
                    if key not in ("team", "tier")
                ],
                oncall=shift.value or "" if shift else "",
                runbook=(safe_href(runbook.value.url or "") or "yes") if runbook.value else "",
                status=rated.status.get(service.id, UNKNOWN),
                open_incidents=rated.incidents.get(service.id, 0),
                firing_alerts=rated.alerts.get(service.id, 0),
            )
        )
    return ServicePage(
        rows=rows, next_cursor=page.next_cursor, notes=notes, unserved=unserved, truncated=page.truncated
    )


class Neighbour(BaseModel):
    """A service this one calls, or one that calls it, with its health."""

    name: str
    link: str
    status: str
    known: bool


class OnCallRow(BaseModel):
    level: int
    name: str
    handle: str
    until: str


class ServiceView(BaseModel):
    name: str = ""
    id: str = ""
    url: str = ""
    tier: str = ""
    team: str = ""
    description: str = ""
    environments: str = ""
    tags: list[FieldRow] = []
    fields: list[FieldRow] = []


class Departure(BaseModel):
    """One of a service's signals off its baseline now: its reading against normal, since when, and its chart."""

    reading: str
    since: str
    link: str


class ServiceDetail(BaseModel):
    service: ServiceView
    status: str
    health_error: str = ""
    departures: Section[list[Departure]] = Section(value=[])
    calls: list[Neighbour]
    called_by: list[Neighbour]
    incidents: list[SignalRow]
    alerts: list[SignalRow]
    oncall: Section[list[OnCallRow]]
    runbook: Section[Runbook | None]


def service_view(service: Service) -> ServiceView:
    shown = {"description", "environments", "dependencies", "dependents"}
    environments = service.metadata.get("environments", [])
    return ServiceView(
        name=service.name,
        id=service.id,
        url=service.url,
        tier=service.tier_label,
        team=service.owner_team or "",
        description=str(service.metadata.get("description", "")),
        environments=", ".join(str(e) for e in environments) if isinstance(environments, list) else "",
        tags=field_rows(service.tags),
        fields=field_rows({k: v for k, v in service.metadata.items() if k not in shown}),
    )


def _oncall_rows(shifts: list[OnCallShift]) -> list[OnCallRow]:
    return [
        OnCallRow(
            level=shift.escalation_level,
            name=shift.member.name or shift.member.id,
            handle=shift.member.handle or shift.member.email,
            until=utc_label(shift.end),
        )
        for shift in sorted(shifts, key=lambda shift: shift.escalation_level)
    ]


async def _oncall(core: CoreClient, team: str) -> list[OnCallRow]:
    if not team:
        return []
    try:
        return _oncall_rows(await core.teams.oncall(team))
    except Unsupported:
        return []


async def departures(core: CoreClient, service: str) -> list[Departure]:
    """``service``'s signals off their baseline now, strongest first: the same window, baseline and rule for
    trouble as the Copilot's "is it healthy?" (errors, latency or traffic gone the bad way, a resource of its own
    in trouble)."""
    now = core.clock.now()
    since = now - SIGNAL_WINDOW
    report = await scan_signals(
        core,
        Scan(
            since=since, until=now, reference_start=since - SIGNAL_WINDOW, scope=QueryScope(service=service)
        ),
    )
    return [
        Departure(
            reading=named_reading(anomaly),
            since=utc_label(anomaly.onset),
            link=metrics_link(
                metric=anomaly.name, service=service, start=since, end=now, mark=anomaly.onset
            ).build(),
        )
        for anomaly in report.anomalies
        if anomaly.ongoing and is_trouble(anomaly)
    ][:DEPARTURES_SHOWN]


async def off_baseline(core: CoreClient, services: Sequence[str]) -> set[str]:
    """Those of ``services`` with a signal off its baseline now (see :func:`departures`), scanned concurrently; a
    service whose scan fails is left out (its rating stays what is on record)."""
    scans = await asyncio.gather(*(section(departures(core, service)) for service in services))
    return {service for service, scan in zip(services, scans, strict=True) if scan.value}


async def service_detail(core: CoreClient, reference: str) -> ServiceDetail:
    """A service with its neighbours in the dependency graph, health, open incidents, firing alerts, on-call and runbook.

    ``reference`` is the service's id, name or alias. ``NotFound`` when the catalog has no such service.
    """
    directory = await core.services.directory()
    service = directory.find(reference) or await core.services.get(reference)
    # The service and its neighbours are rated alike: a dependency failing with nothing on record is not healthy.
    shown = list(
        dict.fromkeys([service.id, *directory.dependencies(service.id), *directory.dependents(service.id)])
    )
    found, *scans = await asyncio.gather(signals(core), *(section(departures(core, key)) for key in shown))
    off_baseline = dict(zip(shown, scans, strict=True))
    rated = rate(directory, found)

    def status(key: str) -> str:
        on_record = rated.status.get(key, UNKNOWN)
        scan = off_baseline.get(key)
        return rating(on_record, off_baseline=scan is not None and bool(scan.value))

    def neighbour(other: str) -> Neighbour:
        known = directory.find(other)
        return Neighbour(
            name=directory.label(other),
            link=service_link(other).build(),
            status=status(other),
            known=known is not None,
        )

    now = core.clock.now()
    oncall, runbook = await asyncio.gather(
        section(_oncall(core, service.owner_team or "")), section(_runbook(core, service.id))
    )
    return ServiceDetail(
        service=service_view(service),
        status=status(service.id),
        health_error=rated.error,
        departures=off_baseline[service.id],
        calls=[neighbour(dependency) for dependency in directory.dependencies(service.id)],
        called_by=[neighbour(caller) for caller in directory.dependents(service.id)],
        incidents=[
            signal_row(i, now) for i in found.open_incidents() if directory.same(i.service, service.id)
        ],
        alerts=[signal_row(a, now) for a in found.firing_alerts() if directory.same(a.service, service.id)],
        oncall=oncall,
        runbook=runbook,
    )

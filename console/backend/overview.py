"""The Overview page's data: open incidents by severity, firing alerts, recent deploys and a service health grid.

Each panel is loaded on its own, concurrently, and fails on its own: a provider that is down turns into that
panel's error message while the other panels still load.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, TypeVar

from console.backend.display import ago, utc_label
from console.backend.records import named
from core_client.client import CoreClient
from core_client.errors import OpsPilotError
from core_client.links import service_link
from core_client.schemas import (
    Alert,
    AlertQuery,
    Deployment,
    DeploymentQuery,
    Incident,
    IncidentQuery,
    Page,
)
from core_client.service_directory import ServiceDirectory

# Open under every name providers give it: ours, Statuspage's ("identified") and PagerDuty's ("triggered",
# "acknowledged"). A provider filters by these exact words, so a missing one hides its open incidents.
OPEN_INCIDENT_STATUSES = [
    "open",
    "triggered",
    "acknowledged",
    "investigating",
    "identified",
    "mitigating",
    "monitoring",
]
FIRING_ALERT_STATUSES = ["firing"]
KNOWN_SEVERITIES = ["sev1", "sev2", "sev3", "sev4"]
URGENT_SEVERITIES = frozenset({"sev1", "sev2", "critical", "page"})
# Counting walks the provider's pages; beyond this many rows the count reads "N+".
MAX_COUNTED = 2_000
PAGE_SIZE = 200
RECENT_ROWS = 6
DEPLOY_ROWS = 8

T = TypeVar("T")


@dataclass
class SeverityCount:
    severity: str
    count: int


@dataclass
class IncidentRow:
    id: str
    title: str
    severity: str
    status: str
    service: str
    started: str
    age: str


@dataclass
class AlertRow:
    id: str
    title: str
    severity: str
    service: str
    started: str
    age: str


@dataclass
class DeployRow:
    id: str
    service: str
    version: str
    environment: str
    status: str
    started: str
    age: str


@dataclass
class ServiceTile:
    # The service's canonical reference (its catalog id), what people call it, and its page.
    key: str
    name: str
    link: str
    tier: str
    team: str
    # healthy | warning | critical
    status: str
    open_incidents: int
    firing_alerts: int
    # Rated from its metrics (a signal off its baseline now) rather than from anything on record.
    off_baseline: bool = False


@dataclass
class Panel(Generic[T]):
    """One panel's rows, or the message of the error that kept them from loading."""

    value: T | None = None
    error: str = ""


@dataclass
class OpenIncidents:
    by_severity: list[SeverityCount]
    total: int
    capped: bool
    recent: list[IncidentRow]
    incidents: list[Incident] = field(repr=False)


@dataclass
class FiringAlerts:
    rows: list[AlertRow]
    total: int
    capped: bool
    alerts: list[Alert] = field(repr=False)


@dataclass
class Overview:
    as_of: str
    incidents: Panel[OpenIncidents]
    alerts: Panel[FiringAlerts]
    deploys: Panel[list[DeployRow]]
    services: Panel[list[ServiceTile]]


async def _collect(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> tuple[list[T], bool]:
    """Every item of a paged query, up to ``MAX_COUNTED``; the flag says the cap cut it short."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items, False
        if len(items) >= MAX_COUNTED:
            return items[:MAX_COUNTED], True


def _newest_first(moment: datetime | None) -> float:
    return -moment.timestamp() if moment else float("inf")


async def open_incidents(core: CoreClient) -> OpenIncidents:
    """Open incidents counted by severity (sev1..sev4 always shown), with the most recent few."""
    query = IncidentQuery(statuses=OPEN_INCIDENT_STATUSES, limit=PAGE_SIZE)
    incidents, capped = await _collect(lambda cursor: core.incidents.query(query, cursor=cursor))
    counts = Counter(incident.severity or "unknown" for incident in incidents)
    severities = KNOWN_SEVERITIES + sorted(set(counts) - set(KNOWN_SEVERITIES))
    now = core.clock.now()
    recent = sorted(incidents, key=lambda incident: _newest_first(incident.created_at))[:RECENT_ROWS]
    return OpenIncidents(
        by_severity=[SeverityCount(severity, counts.get(severity, 0)) for severity in severities],
        total=len(incidents),
        capped=capped,
        recent=[
            IncidentRow(
                id=incident.id,
                title=incident.title or incident.id,
                severity=incident.severity,
                status=incident.status,
                service=incident.service,
                started=utc_label(incident.created_at),
                age=ago(incident.created_at, now),
            )
            for incident in recent
        ],
        incidents=incidents,
    )


async def firing_alerts(core: CoreClient) -> FiringAlerts:
    """Alerts firing now, most recent first."""
    query = AlertQuery(statuses=FIRING_ALERT_STATUSES, limit=PAGE_SIZE)
    alerts, capped = await _collect(lambda cursor: core.alerts.query(query, cursor=cursor))
    now = core.clock.now()
    newest = sorted(alerts, key=lambda alert: _newest_first(alert.created_at))[:RECENT_ROWS]
    return FiringAlerts(
        rows=[
            AlertRow(
                id=alert.id,
                title=alert.title or alert.id,
                severity=alert.severity,
                service=alert.service,
                started=utc_label(alert.created_at),
                age=ago(alert.created_at, now),
            )
            for alert in newest
        ],
        total=len(alerts),
        capped=capped,
        alerts=alerts,
    )


async def recent_deploys(core: CoreClient) -> list[DeployRow]:
    """The latest deployments across services, newest first."""
    page = await core.deployments.query(DeploymentQuery(limit=DEPLOY_ROWS * 4))
    now = core.clock.now()
    newest: list[Deployment] = sorted(page.items, key=lambda d: _newest_first(d.started_at))[:DEPLOY_ROWS]
    return [
        DeployRow(
            id=deploy.id,
            service=deploy.service,
            version=deploy.version,
            environment=deploy.environment,
            status=deploy.status,
            started=utc_label(deploy.started_at),
            age=ago(deploy.started_at, now),
        )
        for deploy in newest
    ]


# What a service off its baseline is rated when nothing on record says worse.
OFF_BASELINE = "warning"


def service_health(
    directory: ServiceDirectory, incidents: list[Incident] | None, alerts: list[Alert] | None
) -> list[ServiceTile]:
    """Every service, marked critical (an urgent open incident or alert), warning (any) or healthy.

    Incidents and alerts count for the service they reference by id, name or alias (see ServiceDirectory).
    """
    open_by_service = directory.count(incident.service for incident in incidents or [])
    firing_by_service = directory.count(alert.service for alert in alerts or [])
    urgent = {
        directory.key(signal.service)
        for signal in [*(incidents or []), *(alerts or [])]
        if signal.service and signal.severity.lower() in URGENT_SEVERITIES
    }
    tiles = []
    for service in directory.services:
        opened, firing = open_by_service[service.id], firing_by_service[service.id]
        status = "critical" if service.id in urgent else "warning" if opened or firing else "healthy"
        tiles.append(
            ServiceTile(
                key=service.id,
                name=service.name or service.id,
                link=service_link(service.id).build(),
                tier=service.tier_label,
                team=service.owner_team or "",
                status=status,
                open_incidents=opened,
                firing_alerts=firing,
            )
        )
    return _worst_first(tiles)


def rating(on_record: str, *, off_baseline: bool) -> str:
    """A service's rating with its metrics: one that nothing on record troubles but that is off its baseline is
    not healthy (every page that rates services asks this, so they agree)."""
    return OFF_BASELINE if on_record == "healthy" and off_baseline else on_record


def rated_by_metrics(tiles: list[ServiceTile], off_baseline: set[str]) -> list[ServiceTile]:
    """``tiles`` rated with their metrics (the keys in ``off_baseline`` are off it), worst first."""
    rated = []
    for tile in tiles:
        status = rating(tile.status, off_baseline=tile.key in off_baseline)
        rated.append(replace(tile, status=status, off_baseline=True) if status != tile.status else tile)
    return _worst_first(rated)


def _worst_first(tiles: list[ServiceTile]) -> list[ServiceTile]:
    order = {"critical": 0, "warning": 1, "healthy": 2}
    return sorted(tiles, key=lambda tile: (order[tile.status], tile.name.casefold(), tile.key))


async def _panel(load: Awaitable[T]) -> Panel[T]:
    try:
        return Panel(value=await load)
    except OpsPilotError as exc:
        return Panel(error=str(exc))


async def load_overview(core: CoreClient) -> Overview:
    """Every Overview panel, loaded concurrently; each failure stays on its own panel."""
    incidents, alerts, deploys, catalog = await asyncio.gather(
        _panel(open_incidents(core)),
        _panel(firing_alerts(core)),
        _panel(recent_deploys(core)),
        _panel(core.services.directory()),
    )
    services: Panel[list[ServiceTile]] = Panel(error=catalog.error)
    if catalog.value is not None:
        name = catalog.value.label
        if incidents.value is not None:
            incidents.value.recent = named(incidents.value.recent, name)
        if alerts.value is not None:
            alerts.value.rows = named(alerts.value.rows, name)
        if deploys.value is not None:
            deploys.value = named(deploys.value, name)
        services.value = service_health(
            catalog.value,
            incidents.value.incidents if incidents.value else None,
            alerts.value.alerts if alerts.value else None,
        )
    return Overview(
        as_of=utc_label(core.clock.now()),
        incidents=incidents,
        alerts=alerts,
        deploys=deploys,
        services=services,
    )

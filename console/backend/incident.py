"""One incident with what surrounds it: its timeline, the alerts, deploys and tickets around it, and the service's
key metrics over the incident's window. Each section loads concurrently and fails on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

from pydantic import BaseModel

from console.backend.display import utc_label
from console.backend.records import Section, newest_until, section, service_names
from core_client.client import CoreClient
from core_client.errors import OpsPilotError
from core_client.links import alert_link, deployment_link, metrics_link, ticket_link
from core_client.schemas import (
    INCIDENT_FIELD,
    Alert,
    AlertQuery,
    Deployment,
    DeploymentQuery,
    Incident,
    MetricExpression,
    MetricFilter,
    MetricQuery,
    QueryScope,
    Ticket,
    TicketQuery,
    ticket_incident,
)

# Where to look around an incident, relative to when it started and ended.
ALERTS_BEFORE = timedelta(hours=2)
DEPLOYS_BEFORE = timedelta(hours=6)
TICKETS_BEFORE = timedelta(days=1)
METRICS_MARGIN = timedelta(hours=1)
RELATED_ROWS = 20
# The metrics shown, in this order, among those the service has; latency as its 99th percentile where labelled so.
KEY_METRICS = ("error_rate", "latency_ms", "request_rate", "cpu_usage")
CHART_POINTS = 60
CHARTS = 4


class TimelineRow(BaseModel):
    at: str
    kind: str
    body: str
    actor: str


class RelatedRow(BaseModel):
    """An alert, deploy or ticket near the incident, with a link to its page."""

    id: str
    title: str
    status: str
    detail: str
    at: str
    link: str


class MetricChart(BaseModel):
    """One metric over the incident's window: points ``{"t": label, "v": value}``, the label of its start, and
    the Metrics page over the same window with the start marked."""

    name: str
    unit: str
    points: list[dict[str, str | float]] = []
    marker: str = ""
    link: str = ""


class IncidentContext(BaseModel):
    """Everything the detail page shows besides the incident's fields."""

    timeline: Section[list[TimelineRow]]
    alerts: Section[list[RelatedRow]]
    deploys: Section[list[RelatedRow]]
    tickets: Section[list[RelatedRow]]
    metrics: Section[list[MetricChart]]


def incident_window(incident: Incident, now: datetime) -> tuple[datetime, datetime]:
    """When the incident started, and when it ended (its last update once resolved, else now)."""
    start = incident.created_at or now
    end = incident.updated_at if incident.status == "resolved" and incident.updated_at else now
    return start, max(start, min(end, now))


async def timeline(core: CoreClient, incident_id: str) -> list[TimelineRow]:
    """The first page of the incident's timeline, oldest first."""
    page = await core.incidents.timeline(incident_id)
    return [
        TimelineRow(
            at=utc_label(entry.at),
            kind=entry.kind,
            body=entry.body,
            actor=str(entry.actor.get("name") or entry.actor.get("id") or ""),
        )
        for entry in page.items
    ]


async def related_alerts(core: CoreClient, incident: Incident, now: datetime) -> list[RelatedRow]:
    """The service's alerts from shortly before the incident until it ended."""
    start, end = incident_window(incident, now)
    query = AlertQuery(scope=QueryScope(service=incident.service), limit=200)
    alerts = await newest_until(
        lambda cursor: core.alerts.query(query, cursor=cursor), lambda a: a.created_at, start - ALERTS_BEFORE
    )
    near = [alert for alert in alerts if alert.created_at is None or alert.created_at <= end]
    return [_alert_row(alert) for alert in near[:RELATED_ROWS]]


def _alert_row(alert: Alert) -> RelatedRow:
    return RelatedRow(
        id=alert.id,
        title=alert.title or alert.id,
        status=alert.status,
        detail=alert.severity,
        at=utc_label(alert.created_at),
        link=alert_link(alert.id).build(),
    )


async def related_deploys(core: CoreClient, incident: Incident, now: datetime) -> list[RelatedRow]:
    """Deploys of the service and of the services it calls that started in the hours before the incident did.

    "Before it" means started before its onset (when it was opened): a deploy started later cannot have caused it.
    """
    start, _ = incident_window(incident, now)
    services = [incident.service]
    # A service the catalog does not know still has its own deploys to show.
    with suppress(OpsPilotError):
        if incident.service:
            directory = await core.services.directory()
            services = [directory.key(incident.service), *directory.dependencies(incident.service)]
    pages = await asyncio.gather(
        *(
            core.deployments.query(
                DeploymentQuery(
                    scope=QueryScope(service=name),
                    start=start - DEPLOYS_BEFORE,
                    end=start,
                    limit=RELATED_ROWS,
                )
            )
            for name in dict.fromkeys(services)
        )
    )
    deploys = sorted(
        (
            deploy
            for page in pages
            for deploy in page.items
            if deploy.started_at is not None and deploy.started_at <= start
        ),
        key=lambda d: d.started_at or start,
        reverse=True,
    )
    name = await service_names(core)
    return [_deploy_row(deploy, name) for deploy in deploys[:RELATED_ROWS]]


def _deploy_row(deploy: Deployment, name: Callable[[str], str]) -> RelatedRow:
    summary = str(deploy.fields.get("summary", ""))
    return RelatedRow(
        id=deploy.id,
        title=f"{name(deploy.service) if deploy.service else ''} {deploy.version}".strip(),
        status=deploy.status,
        detail=" · ".join(
            part for part in (deploy.environment, str(deploy.fields.get("change", "")), summary) if part
        ),
        at=utc_label(deploy.started_at),
        link=deployment_link(deploy.id).build(),
    )


async def related_tickets(core: CoreClient, incident: Incident, now: datetime) -> list[RelatedRow]:
    """The tickets that follow the incident up, newest first: those filed for it (its id in OpsPilot's incident
    field, asked of the provider), and the service's recent tickets that name it in their text."""
    start, _ = incident_window(incident, now)
    filed_for = TicketQuery(metadata={INCIDENT_FIELD: incident.id}, limit=RELATED_ROWS)
    of_service = TicketQuery(scope=QueryScope(service=incident.service or None), limit=200)
    linked, nearby = await asyncio.gather(
        core.tickets.query(filed_for),
        newest_until(
            lambda cursor: core.tickets.query(of_service, cursor=cursor),
            lambda t: t.created_at,
            start - TICKETS_BEFORE,
        ),
    )
    # A provider that cannot filter on the incident field returns other tickets too: the check below keeps ours.
    naming = {t.id: t for t in [*linked.items, *nearby] if _names(t, incident.id)}
    newest = sorted(naming.values(), key=lambda t: t.created_at or now, reverse=True)
    return [
        RelatedRow(
            id=ticket.key or ticket.id,
            title=ticket.title,
            status=ticket.status,
            detail=", ".join(ticket.assignees),
            at=utc_label(ticket.created_at),
            link=ticket_link(ticket.id).build(),
        )
        for ticket in newest[:RELATED_ROWS]
    ]


def _names(ticket: Ticket, incident_id: str) -> bool:
    return (
        ticket_incident(ticket) == incident_id
        or incident_id in ticket.title
        or incident_id in ticket.description
    )


async def key_metrics(core: CoreClient, incident: Incident, now: datetime) -> list[MetricChart]:
    """Up to four of the service's key metrics, averaged, from an hour before the incident to an hour after."""
    if not incident.service:
        return []
    start, end = incident_window(incident, now)
    window_start, window_end = start - METRICS_MARGIN, min(end + METRICS_MARGIN, now)
    scope = QueryScope(
        service=incident.service, environment=str(incident.fields.get("environment", "")) or None
    )
    described = {d.name: d for d in await core.metrics.describe(QueryScope(service=incident.service))}
    chosen = [name for name in KEY_METRICS if name in described] or sorted(described)[:CHARTS]
    step = max(60, int((window_end - window_start).total_seconds()) // CHART_POINTS // 60 * 60)

    async def chart(name: str) -> MetricChart:
        descriptor = described[name]
        filters = [MetricFilter(label="quantile", value="p99")] if "quantile" in descriptor.labels else []
        query = MetricQuery(
            expression=MetricExpression(metric_name=name, aggregation="avg", filters=filters),
            start=window_start,
            end=window_end,
            step=step,
            scope=scope,
        )
        page = await core.metrics.query(query)
        points = page.items[0].points if page.items else []
        span_days = (window_end - window_start) > timedelta(days=1)
        label = "%m-%d %H:%M" if span_days else "%H:%M"
        marker = min(points, key=lambda p: abs((p.timestamp - start).total_seconds()), default=None)
        link = metrics_link(
            metric=name, service=incident.service, start=window_start, end=window_end, mark=start
        )
        return MetricChart(
            name=f"{name} (p99)" if filters else name,
            unit=descriptor.unit,
            points=[{"t": p.timestamp.strftime(label), "v": p.value} for p in points],
            marker=marker.timestamp.strftime(label) if marker else "",
            link=link.build(),
        )

    return list(await asyncio.gather(*(chart(name) for name in chosen[:CHARTS])))


async def incident_context(core: CoreClient, incident: Incident) -> IncidentContext:
    """Every section around the incident, loaded concurrently; a failing provider fails only its section."""
    now = core.clock.now()
    timeline_, alerts, deploys, tickets, metrics = await asyncio.gather(
        section(timeline(core, incident.id)),
        section(related_alerts(core, incident, now)),
        section(related_deploys(core, incident, now)),
        section(related_tickets(core, incident, now)),
        section(key_metrics(core, incident, now)),
    )
    return IncidentContext(
        timeline=timeline_, alerts=alerts, deploys=deploys, tickets=tickets, metrics=metrics
    )

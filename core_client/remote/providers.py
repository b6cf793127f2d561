"""Providers that speak the OpsOrch Core REST contract, one per capability.

Each sends exactly the contract's fields (the server rejects unknown ones), reads a query's whole result (up to a
cap) and pages over it in a fixed order (see :mod:`core_client.remote.paging`), translates ``scope.service`` to
the id the core matches on (see :class:`~core_client.remote.catalog.CoreCatalog`) and applies OpsPilot-only
filters on the client side. Log context,
native histograms, on-call and runbooks are not part of the contract, so these providers do not offer them and
CoreClient emulates or reports them as unsupported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from core_client.capabilities import Capability
from core_client.clock import Clock
from core_client.errors import OpsPilotError, ProviderUnavailable
from core_client.incident_order import CREATED_FROM, CREATED_TO, SORT, IncidentOrder
from core_client.remote.api import SOURCE, CoreApi
from core_client.remote.catalog import CoreCatalog, service_from_core
from core_client.remote.metrics import companion_of, with_companions
from core_client.remote.paging import DEFAULT_MAX_ITEMS, contract_body, newest_first, window
from core_client.schemas import (
    Alert,
    AlertQuery,
    CreateIncidentInput,
    CreateTicketInput,
    Deployment,
    DeploymentQuery,
    HealthStatus,
    Incident,
    IncidentQuery,
    LogEntries,
    LogEntry,
    LogQuery,
    Message,
    MessageResult,
    MetricDescriptor,
    MetricDescriptors,
    MetricQuery,
    MetricSeries,
    Page,
    ProviderHealth,
    QueryScope,
    Service,
    ServiceQuery,
    Team,
    TeamMember,
    TeamQuery,
    Ticket,
    TicketQuery,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
    UpdateTicketInput,
    offset_page,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _malformed(model: type[BaseModel], exc: ValidationError, route: str) -> ProviderUnavailable:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    return ProviderUnavailable(
        f"{route}: OpsOrch Core answered with a malformed {model.__name__}: {first['msg']} at {where}",
        source=SOURCE,
    )


def _segment(value: str) -> str:
    """An id as one path segment, so ``a/b`` cannot reach another route."""
    return quote(value, safe="")


class RemoteProvider:
    """What every OpsOrch-backed provider shares: the client, the timeout, health and decoding."""

    def __init__(
        self,
        api: CoreApi,
        *,
        capability: Capability,
        timeout: float,
        clock: Clock,
        catalog: CoreCatalog | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self.api = api
        self.capability = capability
        self.timeout = timeout
        # Named so that CoreClient does not take it for a world clock: it is the wall clock it already has.
        self._clock = clock
        self.catalog = catalog or CoreCatalog(api)
        self.max_items = max_items

    async def health(self) -> ProviderHealth:
        """``GET /health`` on the core: ok when it answers ``{"status": "ok"}``, with the round trip's latency."""
        started = time.perf_counter()
        try:
            body = await self.api.read("GET", "/health", time_limit=self.timeout, retry=False)
        except OpsPilotError as exc:
            return self._health("down", exc.message, started)
        status = body.get("status") if isinstance(body, dict) else None
        if status == "ok":
            return self._health("ok", f"OpsOrch Core at {self.api.where}", started)
        return self._health(
            "degraded", f"OpsOrch Core at {self.api.where} reports status {status!r}", started
        )

    def _health(self, status: HealthStatus, message: str, started: float) -> ProviderHealth:
        return ProviderHealth(
            capability=self.capability.value,
            provider=SOURCE,
            status=status,
            message=message,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def core_providers(self) -> list[str]:
        """The provider names the core has registered for this capability (``GET /providers/{capability}``)."""
        body = await self._read("GET", f"/providers/{self.capability.value}")
        names = body.get("providers") if isinstance(body, dict) else None
        return [str(name) for name in names or []]

    async def _read(self, method: str, route: str, body: Any = None) -> Any:
        return await self.api.read(method, route, time_limit=self.timeout, json=body)

    async def _write(self, method: str, route: str, body: Any, idempotency_key: str | None) -> Any:
        return await self.api.write(
            method, route, time_limit=self.timeout, json=body, idempotency_key=idempotency_key
        )

    @staticmethod
    def _decode(model: type[M], data: Any, route: str) -> M:
        """One document of the answer as ``model``; a malformed answer is the server's fault, not the caller's."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _malformed(model, exc, route) from None

    def _decode_list(self, decode: Callable[[Any], T], data: Any, route: str) -> list[T]:
        if data is None:
            return []  # Go encodes an empty slice that was never allocated as null.
        if not isinstance(data, list):
            raise ProviderUnavailable(
                f"{route}: OpsOrch Core answered with {type(data).__name__}, expected a list", source=SOURCE
            )
        return [decode(item) for item in data]

    async def _whole(
        self, route: str, decode: Callable[[Any], T], body: dict[str, Any], *, limited: bool = True
    ) -> tuple[list[T], bool]:
        """Every item of ``POST route`` up to ``max_items``, and whether there were more.

        The core applies ``limit`` to whatever its provider yields first (an arbitrary subset), so the cap is the
        only limit sent: asking for one more than it tells whether the result was cut.
        """
        await self._with_service_id(body)
        if limited:
            body["limit"] = self.max_items + 1
        items = self._decode_list(decode, await self._read("POST", route, body), route)
        return items[: self.max_items], len(items) > self.max_items

    async def _with_service_id(self, body: dict[str, Any]) -> None:
        """``scope.service`` as the id the core's providers match on, however the caller named the service."""
        scope = body.get("scope")
        if isinstance(scope, dict) and scope.get("service"):
            scope["service"] = await self.catalog.service_id(str(scope["service"]), time_limit=self.timeout)

    async def _query(
        self,
        route: str,
        model: type[M],
        query: BaseModel,
        *,
        cursor: str | None,
        limit: int | None,
        order: Callable[[list[M]], list[M]],
        drop: tuple[str, ...] = (),
        keep: Callable[[M], bool] | None = None,
    ) -> Page[M]:
        """``POST <route>``, read whole, filtered by ``keep`` on the client side, put in ``order`` and paged."""
        win = window(cursor, limit)
        items, truncated = await self._whole(
            route, lambda item: self._decode(model, item, route), contract_body(query, drop=drop)
        )
        if keep is not None:
            items = [item for item in items if keep(item)]
        return win.page(order(items), truncated=truncated)


def _newest(moment: Callable[[M], Any]) -> Callable[[list[M]], list[M]]:
    key = newest_first(moment, lambda item: str(getattr(item, "id", "")))
    return lambda items: sorted(items, key=key)


class RemoteIncidents(RemoteProvider):
    # The whole result is read and sorted here, so the sort and creation range of core_client.incident_order
    # apply across every page.
    honors_incident_order = True

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        order = IncidentOrder.of(query.metadata, source=SOURCE)
        # OpsPilot's ordering convention is for OpsPilot's providers; the core's would take it for a filter.
        theirs = {k: v for k, v in query.metadata.items() if k not in (SORT, CREATED_FROM, CREATED_TO)}
        return await self._query(
            "/incidents/query",
            Incident,
            query.model_copy(update={"metadata": theirs}),
            cursor=cursor,
            limit=query.limit,
            order=order.arrange,
        )

    async def get(self, incident_id: str) -> Incident:
        route = f"/incidents/{_segment(incident_id)}"
        return self._decode(Incident, await self._read("GET", route), route)

    async def create(self, data: CreateIncidentInput, *, idempotency_key: str | None = None) -> Incident:
        return self._decode(
            Incident,
            await self._write("POST", "/incidents", contract_body(data), idempotency_key),
            "/incidents",
        )

    async def update(
        self, incident_id: str, changes: UpdateIncidentInput, *, idempotency_key: str | None = None
    ) -> Incident:
        route = f"/incidents/{_segment(incident_id)}"
        body = contract_body(changes, changes_only=True)
        return self._decode(Incident, await self._write("PATCH", route, body, idempotency_key), route)

    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]:
        route = f"/incidents/{_segment(incident_id)}/timeline"
        entries = self._decode_list(
            lambda item: self._decode(TimelineEntry, item, route), await self._read("GET", route), route
        )
        entries.sort(key=lambda entry: (entry.at, entry.id))
        return offset_page(entries, cursor=cursor, limit=None, source=SOURCE)

    async def append_timeline(
        self, incident_id: str, entry: TimelineAppendInput, *, idempotency_key: str | None = None
    ) -> TimelineEntry:
        """Append, then return the stored entry; OpsOrch answers only ``{"status": "ok"}``."""
        route = f"/incidents/{_segment(incident_id)}/timeline"
        # Stamped here when the caller left it open, so the server's copy and ours agree on when.
        at = entry.at or self._clock.now()
        await self._write("POST", route, contract_body(entry.model_copy(update={"at": at})), idempotency_key)
        try:
            stored = self._decode_list(
                lambda item: self._decode(TimelineEntry, item, route), await self._read("GET", route), route
            )
        except OpsPilotError:
            # The append succeeded: failing to read back its id must not report the mutation as failed.
            stored = []
        for candidate in reversed(stored):
            if (candidate.body, candidate.kind, candidate.at) == (entry.body, entry.kind, at):
                return candidate
        return TimelineEntry(
            id=f"{incident_id}:{idempotency_key or 'appended'}",
            incident_id=incident_id,
            at=at,
            kind=entry.kind,
            body=entry.body,
            actor=entry.actor,
            metadata=entry.metadata,
        )


class RemoteAlerts(RemoteProvider):
    async def query(self, query: AlertQuery, *, cursor: str | None = None) -> Page[Alert]:
        return await self._query(
            "/alerts/query",
            Alert,
            query,
            cursor=cursor,
            limit=query.limit,
            order=_newest(lambda alert: alert.created_at),
        )

    async def get(self, alert_id: str) -> Alert:
        route = f"/alerts/{_segment(alert_id)}"
        return self._decode(Alert, await self._read("GET", route), route)


class RemoteLogs(RemoteProvider):
    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]:
        """``POST /logs/query``, newest first; entries without an id get a stable one derived from their content."""
        route = "/logs/query"
        win = window(cursor, query.limit)
        body = contract_body(query)
        await self._with_service_id(body)
        body["limit"] = self.max_items + 1
        answer = self._decode(LogEntries, await self._read("POST", route, body), route)
        entries = answer.entries[: self.max_items]
        entries.sort(key=newest_first(lambda entry: entry.timestamp, lambda entry: entry.id))
        return win.page(entries, truncated=len(answer.entries) > self.max_items)


class RemoteMetrics(RemoteProvider):
    async def query(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        """``POST /metrics/query``; the contract has no limit, so the series are paged here.

        Companion series (``<name>.baseline`` beside ``<name>``) are not series of their own: each becomes the
        ``expected`` values of the series it accompanies (see :mod:`core_client.remote.metrics`).
        """
        route = "/metrics/query"
        body = contract_body(query)
        await self._with_service_id(body)
        series = self._decode_list(
            lambda item: self._decode(MetricSeries, item, route), await self._read("POST", route, body), route
        )
        return offset_page(with_companions(series), cursor=cursor, limit=None, source=SOURCE)

    async def describe(self, scope: QueryScope | None = None) -> list[MetricDescriptor]:
        """``GET /metrics/describe``, or ``POST`` with the scope when one is given; companions left out."""
        route = "/metrics/describe"
        if scope is None or scope.is_empty():
            data = await self._read("GET", route)
        else:
            body = contract_body(scope)
            await self._with_service_id({"scope": body})
            data = await self._read("POST", route, body)
        described = self._decode(MetricDescriptors, data, route).metrics
        names = {descriptor.name for descriptor in described}
        return [d for d in described if companion_of(d.name) not in names]


class RemoteTickets(RemoteProvider):
    async def query(self, query: TicketQuery, *, cursor: str | None = None) -> Page[Ticket]:
        return await self._query(
            "/tickets/query",
            Ticket,
            query,
            cursor=cursor,
            limit=query.limit,
            order=_newest(lambda ticket: ticket.created_at),
        )

    async def get(self, ticket_id: str) -> Ticket:
        route = f"/tickets/{_segment(ticket_id)}"
        return self._decode(Ticket, await self._read("GET", route), route)

    async def create(self, data: CreateTicketInput, *, idempotency_key: str | None = None) -> Ticket:
        return self._decode(
            Ticket, await self._write("POST", "/tickets", contract_body(data), idempotency_key), "/tickets"
        )

    async def update(
        self, ticket_id: str, changes: UpdateTicketInput, *, idempotency_key: str | None = None
    ) -> Ticket:
        route = f"/tickets/{_segment(ticket_id)}"
        body = contract_body(changes, changes_only=True)
        return self._decode(Ticket, await self._write("PATCH", route, body, idempotency_key), route)


class RemoteServices(RemoteProvider):
    async def query(self, query: ServiceQuery, *, cursor: str | None = None) -> Page[Service]:
        """``POST /services/query`` by name, with aliases, dependencies, owner and tier read from tags and metadata."""
        route = "/services/query"
        win = window(cursor, query.limit)
        services, truncated = await self._whole(
            route, lambda item: self._service(item, route), contract_body(query)
        )
        services.sort(key=lambda service: (service.name.casefold(), service.id))
        return win.page(services, truncated=truncated)

    @staticmethod
    def _service(item: Any, route: str) -> Service:
        try:
            return service_from_core(item)
        except ValidationError as exc:
            raise _malformed(Service, exc, route) from None


class RemoteTeams(RemoteProvider):
    # OpsOrch's TeamQuery has no limit: the teams are fetched whole and paged here.
    OPSPILOT_ONLY = ("limit",)

    async def query(self, query: TeamQuery, *, cursor: str | None = None) -> Page[Team]:
        route = "/teams/query"
        teams, _ = await self._whole(
            route,
            lambda item: self._decode(Team, item, route),
            contract_body(query, drop=self.OPSPILOT_ONLY),
            limited=False,
        )
        teams.sort(key=lambda team: (team.name.casefold(), team.id))
        return offset_page(teams, cursor=cursor, limit=query.limit, source=SOURCE)

    async def get(self, team_id: str) -> Team:
        route = f"/teams/{_segment(team_id)}"
        return self._decode(Team, await self._read("GET", route), route)

    async def members(self, team_id: str) -> list[TeamMember]:
        route = f"/teams/{_segment(team_id)}/members"
        data = await self._read("GET", route)
        return self._decode_list(lambda item: self._decode(TeamMember, item, route), data, route)


class RemoteDeployments(RemoteProvider):
    # OpsOrch's DeploymentQuery has no time bounds: start/end are applied to startedAt here.
    OPSPILOT_ONLY = ("start", "end")

    async def query(self, query: DeploymentQuery, *, cursor: str | None = None) -> Page[Deployment]:
        return await self._query(
            "/deployments/query",
            Deployment,
            query,
            cursor=cursor,
            limit=query.limit,
            order=_newest(lambda deployment: deployment.started_at),
            drop=self.OPSPILOT_ONLY,
            keep=_started_within(query),
        )

    async def get(self, deployment_id: str) -> Deployment:
        route = f"/deployments/{_segment(deployment_id)}"
        return self._decode(Deployment, await self._read("GET", route), route)


def _started_within(query: DeploymentQuery) -> Callable[[Deployment], bool] | None:
    """The client-side filter for ``start``/``end``, or None when the query has no time bounds."""
    start, end = query.start, query.end
    if start is None and end is None:
        return None

    def keep(deployment: Deployment) -> bool:
        at = deployment.started_at
        return at is not None and (start is None or at >= start) and (end is None or at <= end)

    return keep


class RemoteMessaging(RemoteProvider):
    async def send(self, message: Message, *, idempotency_key: str | None = None) -> MessageResult:
        route = "/messages/send"
        body = contract_body(message)
        for block in body.get("blocks", []):
            block["fields"] = _field_map(block.get("fields") or [])
            if not block["fields"]:
                del block["fields"]
        return self._decode(MessageResult, await self._write("POST", route, body, idempotency_key), route)


def _field_map(fields: list[str]) -> dict[str, str]:
    """OpsPilot's block fields (lines such as ``Severity: sev1``) as OpsOrch's ``map[string]string``.

    The core refuses a list there. A line without a label is keyed by its position, so nothing is lost.
    """
    mapped: dict[str, str] = {}
    for number, line in enumerate(fields, start=1):
        label, colon, value = line.partition(":")
        label = label.strip().strip("*_")
        if colon and label and value.strip():
            key, text = label, value.strip()
        else:
            key, text = f"field {number}", line
        mapped[key if key not in mapped else f"{key} ({number})"] = text
    return mapped

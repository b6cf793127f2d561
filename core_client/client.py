"""CoreClient: one async, provider-agnostic client for every capability.

Each capability is a namespace (``core.incidents.query(...)``, ``core.logs.context(...)``). Every provider call
runs under that provider's timeout and comes back as data or as a typed error, never a raw exception. Every
mutation passes through the :class:`~core_client.gate.MutationGate`, which checks policy and the grant and
writes the audit trail.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core_client.analysis.histogram import histogram_from_entries
from core_client.analysis.semantics import (
    Derived,
    as_gauge,
    counter_rates,
    derive,
    not_a_counter,
    rates_query_for,
    summed,
)
from core_client.approvals import Settlement, StrandedClaim
from core_client.capabilities import Capability
from core_client.clock import Clock, FixedClock, SourceClock, SystemClock
from core_client.errors import (
    BadQuery,
    CapabilityNotConfigured,
    NotFound,
    OpsPilotError,
    ProviderUnavailable,
    Unsupported,
)
from core_client.gate import DEFAULT_CALL_SECONDS, MutationGate
from core_client.identity import Actor
from core_client.mutations import (
    MUTATION_CAPABILITY,
    AppendTimelineNoteArgs,
    CreateIncidentArgs,
    CreateTicketArgs,
    PageOnCallArgs,
    SendMessageArgs,
    UpdateIncidentArgs,
    UpdateTicketArgs,
)
from core_client.protocols import (
    LogContextProvider,
    LogHistogramProvider,
    MetricRateProvider,
    MutationLedger,
    OnCallProvider,
    RunbookProvider,
)
from core_client.registry import load_provider
from core_client.schemas import (
    Alert,
    AlertQuery,
    CreateIncidentInput,
    CreateTicketInput,
    Deployment,
    DeploymentQuery,
    HealthReport,
    Incident,
    IncidentQuery,
    LogContext,
    LogEntry,
    LogHistogram,
    LogQuery,
    Message,
    MessageResult,
    MetricDescriptor,
    MetricQuery,
    MetricSeries,
    OnCallShift,
    Page,
    PageOnCallInput,
    PageResult,
    ProviderHealth,
    QueryScope,
    Runbook,
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
from core_client.service_directory import ServiceDirectory
from core_client.settings import Settings, load_settings

T = TypeVar("T")

# A histogram computed by paging through a provider without native support reads at most this many lines.
EMULATED_HISTOGRAM_LINES = 20_000
# Series per page when CoreClient reads every page of a metric for itself.
MAX_SERIES_PAGE = 1000


@dataclass(frozen=True)
class LoadedProvider:
    capability: Capability
    name: str
    instance: Any
    timeout: float


class _Namespace:
    """Shared plumbing: find the capability's provider and call it under its timeout."""

    capability: Capability

    def __init__(self, core: CoreClient) -> None:
        self._core = core

    @property
    def provider(self) -> LoadedProvider:
        return self._core.provider_for(self.capability)

    async def _call(self, operation: str, call: Callable[[Any], Awaitable[T]]) -> T:
        return await self._core.call(self.capability, operation, call)

    def _optional(self, protocol: type, operation: str) -> Any:
        instance = self.provider.instance
        if not isinstance(instance, protocol):
            raise Unsupported(
                f"provider {self.provider.name!r} does not offer {operation}", source=self.provider.name
            )
        return instance


class Incidents(_Namespace):
    capability = Capability.INCIDENT

    async def query(self, query: IncidentQuery | None = None, *, cursor: str | None = None) -> Page[Incident]:
        q = query or IncidentQuery()
        return await self._call("incidents.query", lambda p: p.query(q, cursor=cursor))

    async def get(self, incident_id: str) -> Incident:
        return await self._call("incidents.get", lambda p: p.get(incident_id))

    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]:
        return await self._call("incidents.timeline", lambda p: p.timeline(incident_id, cursor=cursor))

    async def create(
        self,
        data: CreateIncidentInput,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
    ) -> Incident:
        args = CreateIncidentArgs(incident=data)
        return await self._core.mutate(
            "create_incident",
            args,
            actor=actor,
            grant=grant,
            environment=environment,
            action=lambda key: self._call("incidents.create", lambda p: p.create(data, idempotency_key=key)),
        )

    async def update(
        self,
        incident_id: str,
        changes: UpdateIncidentInput,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
    ) -> Incident:
        args = UpdateIncidentArgs(incident_id=incident_id, changes=changes)
        return await self._core.mutate(
            "update_incident",
            args,
            actor=actor,
            grant=grant,
            environment=environment,
            action=lambda key: self._call(
                "incidents.update", lambda p: p.update(incident_id, changes, idempotency_key=key)
            ),
        )

    async def append_timeline(
        self,
        incident_id: str,
        entry: TimelineAppendInput,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
    ) -> TimelineEntry:
        args = AppendTimelineNoteArgs(incident_id=incident_id, note=entry)
        # "at" defaults to the client's clock, after hashing: the approved arguments leave it open.
        stamped = entry if entry.at else entry.model_copy(update={"at": self._core.clock.now()})
        return await self._core.mutate(
            "append_timeline_note",
            args,
            actor=actor,
            grant=grant,
            environment=environment,
            action=lambda key: self._call(
                "incidents.append_timeline",
                lambda p: p.append_timeline(incident_id, stamped, idempotency_key=key),
            ),
        )


class Alerts(_Namespace):
    capability = Capability.ALERT

    async def query(self, query: AlertQuery | None = None, *, cursor: str | None = None) -> Page[Alert]:
        q = query or AlertQuery()
        return await self._call("alerts.query", lambda p: p.query(q, cursor=cursor))

    async def get(self, alert_id: str) -> Alert:
        return await self._call("alerts.get", lambda p: p.get(alert_id))


class Logs(_Namespace):
    capability = Capability.LOG

    async def query(self, query: LogQuery | None = None, *, cursor: str | None = None) -> Page[LogEntry]:
        q = query or LogQuery()
        return await self._call("logs.query", lambda p: p.query(q, cursor=cursor))

    async def context(self, log_id: str, *, before: int = 20, after: int = 20) -> LogContext:
        provider = self._optional(LogContextProvider, "log context")
        return await self._call(
            "logs.context", lambda _: provider.context(log_id, before=before, after=after)
        )

    async def histogram(self, query: LogQuery, *, buckets: int = 60) -> LogHistogram:
        """Lines per time slice of the query's window: the provider's own count, or counted here."""
        instance = self.provider.instance
        if isinstance(instance, LogHistogramProvider):
            return await self._call("logs.histogram", lambda _: instance.histogram(query, buckets=buckets))
        end = query.end or self._core.clock.now()
        start = query.start or end - timedelta(hours=1)
        windowed = query.model_copy(update={"start": start, "end": end, "limit": 1000})
        entries: list[LogEntry] = []
        cursor: str | None = None
        # Lines left uncounted: past the pages read here, or past what the provider reads to order them.
        capped = False
        while len(entries) < EMULATED_HISTOGRAM_LINES:
            page = await self.query(windowed, cursor=cursor)
            entries.extend(page.items)
            capped = capped or page.truncated
            cursor = page.next_cursor
            if cursor is None:
                break
        return histogram_from_entries(
            entries, start=start, end=end, buckets=buckets, truncated=capped or cursor is not None
        )


class Metrics(_Namespace):
    capability = Capability.METRIC

    async def query(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        """Series of a metric, or of a derived expression (``rate(x)``, ``p99(x)``, ``error_ratio(x)``, ``sum by
        (l) (rate(x))``: see core_client.analysis.semantics), computed here from the source's rates."""
        derived = Derived.parse(query.expression.metric_name)
        if derived is None:
            return await self._call("metrics.query", lambda p: p.query(query, cursor=cursor))
        rates = await self.rates(rates_query_for(derived, query))
        limit = query.metadata.get("limit")
        return offset_page(
            derive(derived, rates),
            cursor=cursor,
            limit=limit if isinstance(limit, int) else None,
            source=self.provider.name,
        )

    async def every_series(self, query: MetricQuery) -> list[MetricSeries]:
        """Every series of the query, all pages read."""
        big = query.model_copy(update={"metadata": {**query.metadata, "limit": MAX_SERIES_PAGE}})
        found: list[MetricSeries] = []
        cursor: str | None = None
        while True:
            page = await self.query(big, cursor=cursor)
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def rates(self, query: MetricQuery) -> list[MetricSeries]:
        """Per-second rates of the counter in ``query`` (summed by ``group_by`` and the scope when the aggregation
        is ``sum``): the source's own (PromQL ``rate()``), or computed here from its raw samples."""
        big = query.model_copy(update={"metadata": {**query.metadata, "limit": MAX_SERIES_PAGE}})
        instance = self.provider.instance
        if isinstance(instance, MetricRateProvider):
            return await self._every_page("metrics.rates", lambda c: instance.rates(big, cursor=c))
        raw_query = big.model_copy(
            update={"expression": query.expression.model_copy(update={"aggregation": None, "group_by": []})}
        )
        raw = await self._every_page("metrics.query", lambda c: instance.query(raw_query, cursor=c))
        rated = [
            one.model_copy(update={"points": counter_rates(one.points, _spacing(one, query.step))})
            if (reason := not_a_counter(one.points)) is None
            else one.model_copy(update={"metadata": {**one.metadata, "semantics": as_gauge(reason)}})
            for one in raw
        ]
        if query.expression.aggregation == "sum":
            return summed(rated, query.expression.group_by, name=query.expression.metric_name)
        return rated

    async def _every_page(
        self, operation: str, fetch: Callable[[str | None], Awaitable[Page[MetricSeries]]]
    ) -> list[MetricSeries]:
        found: list[MetricSeries] = []
        cursor: str | None = None
        while True:

            async def one_page(_: Any, at: str | None = cursor) -> Page[MetricSeries]:
                return await fetch(at)

            page = await self._call(operation, one_page)
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def describe(self, scope: QueryScope | None = None) -> list[MetricDescriptor]:
        return await self._call("metrics.describe", lambda p: p.describe(scope))


class Tickets(_Namespace):
    capability = Capability.TICKET

    async def query(self, query: TicketQuery | None = None, *, cursor: str | None = None) -> Page[Ticket]:
        q = query or TicketQuery()
        return await self._call("tickets.query", lambda p: p.query(q, cursor=cursor))

    async def get(self, ticket_id: str) -> Ticket:
        return await self._call("tickets.get", lambda p: p.get(ticket_id))

    async def create(
        self,
        data: CreateTicketInput,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
    ) -> Ticket:
        return await self._core.mutate(
            "create_ticket",
            CreateTicketArgs(ticket=data),
            actor=actor,
            grant=grant,
            environment=environment,
            action=lambda key: self._call("tickets.create", lambda p: p.create(data, idempotency_key=key)),
        )

    async def update(
        self,
        ticket_id: str,
        changes: UpdateTicketInput,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
        append_description: str | None = None,
    ) -> Ticket:
        """Change a ticket; ``append_description`` adds text to the end of its description as it stands when the
        change is made (read just before), instead of replacing it."""
        if append_description is not None and changes.description is not None:
            raise BadQuery("give a new description or text to append to it, not both", source="update_ticket")

        async def apply(key: str | None) -> Ticket:
            final = changes
            if append_description:
                current = await self.get(ticket_id)
                before = current.description.rstrip()
                text = f"{before}\n\n{append_description.strip()}\n" if before else append_description
                final = changes.model_copy(update={"description": text})
            return await self._call(
                "tickets.update", lambda p: p.update(ticket_id, final, idempotency_key=key)
            )

        return await self._core.mutate(
            "update_ticket",
            UpdateTicketArgs(ticket_id=ticket_id, changes=changes, append_description=append_description),
            actor=actor,
            grant=grant,
            environment=environment,
            action=apply,
        )


class Services(_Namespace):
    capability = Capability.SERVICE

    async def query(self, query: ServiceQuery | None = None, *, cursor: str | None = None) -> Page[Service]:
        q = query or ServiceQuery()
        return await self._call("services.query", lambda p: p.query(q, cursor=cursor))

    async def get(self, reference: str) -> Service:
        """The service ``reference`` names: by id, name or alias (see :class:`ServiceDirectory`)."""
        page = await self._call(
            "services.get", lambda p: p.query(ServiceQuery(ids=[reference], limit=MAX_MATCHES))
        )
        found = ServiceDirectory(page.items).find(reference)
        if found is not None:
            return found
        found = (await self.directory()).find(reference)
        if found is None:
            raise NotFound(
                f"no service named {reference!r} (by id, name or alias)", source=self.provider.name
            )
        return found

    async def all(self) -> list[Service]:
        """The whole catalog, every page."""
        services: list[Service] = []
        cursor: str | None = None
        while True:
            page = await self.query(ServiceQuery(limit=1000), cursor=cursor)
            services.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return services

    async def directory(self) -> ServiceDirectory:
        """The whole catalog as a :class:`ServiceDirectory`: every service by any of its references."""
        return ServiceDirectory(await self.all())

    async def dependents(self, reference: str) -> list[Service]:
        """The services that call the one ``reference`` names, directly."""
        directory = await self.directory()
        return [service for key in directory.dependents(reference) if (service := directory.find(key))]

    async def runbook(self, service: str) -> Runbook:
        provider = self._optional(RunbookProvider, "runbooks")
        return await self._call("services.runbook", lambda _: provider.runbook(service))


MAX_MATCHES = 50


class Teams(_Namespace):
    capability = Capability.TEAM

    async def query(self, query: TeamQuery | None = None, *, cursor: str | None = None) -> Page[Team]:
        q = query or TeamQuery()
        return await self._call("teams.query", lambda p: p.query(q, cursor=cursor))

    async def get(self, team_id: str) -> Team:
        return await self._call("teams.get", lambda p: p.get(team_id))

    async def members(self, team_id: str) -> list[TeamMember]:
        return await self._call("teams.members", lambda p: p.members(team_id))

    async def oncall(self, team_id: str, *, at: datetime | None = None) -> list[OnCallShift]:
        provider = self._optional(OnCallProvider, "on-call schedules")
        when = at or self._core.clock.now()
        return await self._call("teams.oncall", lambda _: provider.oncall(team_id, at=when))

    async def page(
        self,
        request: PageOnCallInput,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
    ) -> PageResult:
        provider = self._optional(OnCallProvider, "paging")
        return await self._core.mutate(
            "page_oncall",
            PageOnCallArgs(page=request),
            actor=actor,
            grant=grant,
            environment=environment,
            action=lambda key: self._call(
                "teams.page", lambda _: provider.page(request, idempotency_key=key)
            ),
        )


class Deployments(_Namespace):
    capability = Capability.DEPLOYMENT

    async def query(
        self, query: DeploymentQuery | None = None, *, cursor: str | None = None
    ) -> Page[Deployment]:
        q = query or DeploymentQuery()
        return await self._call("deployments.query", lambda p: p.query(q, cursor=cursor))

    async def get(self, deployment_id: str) -> Deployment:
        return await self._call("deployments.get", lambda p: p.get(deployment_id))


class Messaging(_Namespace):
    capability = Capability.MESSAGING

    async def send(
        self,
        message: Message,
        *,
        actor: Actor,
        grant: str | None = None,
        environment: str | None = None,
    ) -> MessageResult:
        return await self._core.mutate(
            "send_message",
            SendMessageArgs(message=message),
            actor=actor,
            grant=grant,
            environment=environment,
            action=lambda key: self._call("messaging.send", lambda p: p.send(message, idempotency_key=key)),
        )


class CoreClient:
    """The one way the rest of OpsPilot reads and changes the world."""

    def __init__(
        self,
        providers: dict[Capability, LoadedProvider],
        *,
        gate: MutationGate,
        clock: Clock | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._providers = providers
        self.gate = gate
        self.settings = settings or load_settings()
        self.clock: Clock = clock or _world_clock(providers) or SystemClock()
        self.incidents = Incidents(self)
        self.alerts = Alerts(self)
        self.logs = Logs(self)
        self.metrics = Metrics(self)
        self.tickets = Tickets(self)
        self.services = Services(self)
        self.teams = Teams(self)
        self.deployments = Deployments(self)
        self.messaging = Messaging(self)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, gate: MutationGate | None = None
    ) -> CoreClient:
        """Load the provider each capability is configured with; a bad choice is a ``ConfigurationError``."""
        settings = settings or load_settings()
        shared: dict[str, Any] = {}
        wall = SystemClock()
        providers = {
            cap: LoadedProvider(
                capability=cap,
                name=choice.name,
                instance=load_provider(cap, choice, settings=settings, clock=wall, shared=shared),
                timeout=choice.timeout,
            )
            for cap, choice in settings.providers.items()
        }
        clock = _world_clock(providers) or wall
        return cls(
            providers,
            # People approve and act in real time, even over a demo world whose clock is frozen.
            gate=gate or MutationGate.from_settings(settings, clock=wall),
            clock=clock,
            settings=settings,
        )

    def provider_for(self, capability: Capability) -> LoadedProvider:
        provider = self._providers.get(capability)
        if provider is None:
            raise CapabilityNotConfigured(
                f"no provider serves {capability.value}; set {capability.env_prefix}_PROVIDER",
                source=capability.value,
            )
        return provider

    def providers(self) -> list[LoadedProvider]:
        """Every loaded provider, in capability order."""
        return [self._providers[cap] for cap in Capability if cap in self._providers]

    def clocks_apart(self) -> list[SourceClock]:
        """The capabilities whose source keeps a clock other than :attr:`clock` (one investigation, one clock):
        empty unless a frozen demo world serves some capabilities beside a live system."""
        apart = []
        for provider in self.providers():
            own = getattr(provider.instance, "clock", None)
            if isinstance(own, FixedClock) and own.now() != self.clock.now():
                apart.append(SourceClock(provider.capability.value, provider.name, own.now()))
        return apart

    async def call(
        self,
        capability: Capability,
        operation: str,
        call: Callable[[Any], Awaitable[T]],
        *,
        within: float | None = None,
    ) -> T:
        """Run one provider call under its timeout (or ``within`` seconds, if shorter), translating anything untyped
        into ``ProviderUnavailable``."""
        provider = self.provider_for(capability)
        limit = min(provider.timeout, within) if within is not None else provider.timeout
        try:
            async with asyncio.timeout(limit):
                return await call(provider.instance)
        except OpsPilotError as exc:
            exc.source = exc.source or provider.name
            raise
        except TimeoutError:
            raise ProviderUnavailable(
                f"{operation} got no answer within {limit:g} s",
                source=provider.name,
                timed_out=True,
            ) from None
        except Exception as exc:
            raise ProviderUnavailable(
                f"{operation} failed: {type(exc).__name__}: {exc}", source=provider.name
            ) from exc

    async def mutate(
        self,
        tool: str,
        arguments: Any,
        *,
        actor: Actor,
        grant: str | None,
        environment: str | None,
        action: Callable[[str | None], Awaitable[T]],
    ) -> T:
        """Run a mutation through the gate: policy, grant and audit. Never retried here."""
        capability = MUTATION_CAPABILITY.get(tool)
        provider = self._providers.get(capability) if capability is not None else None
        return await self.gate.run(
            tool,
            arguments,
            actor=actor,
            grant=grant,
            environment=environment,
            action=action,
            call_seconds=provider.timeout if provider is not None else DEFAULT_CALL_SECONDS,
        )

    async def settle_stranded_grants(self) -> list[tuple[StrandedClaim, Settlement]]:
        """Settle the grants left claimed by workers that died mid-mutation, asking each provider that keeps a
        ledger of idempotency keys whether the call happened (see ``MutationGate.settle_stranded``)."""
        return await self.gate.settle_stranded(self._mutation_done)

    async def _mutation_done(self, tool: str, idempotency_key: str) -> bool | None:
        capability = MUTATION_CAPABILITY.get(tool)
        provider = self._providers.get(capability) if capability is not None else None
        if capability is None or provider is None or not isinstance(provider.instance, MutationLedger):
            return None
        ledger: MutationLedger = provider.instance
        return await self.call(capability, f"{tool} lookup", lambda _p: ledger.mutation_done(idempotency_key))

    async def health(self, *, within: float | None = None) -> HealthReport:
        """Every provider's health, checked concurrently, each within ``within`` seconds (``health_timeout`` in
        settings by default) or its own timeout if shorter: one hanging provider cannot hold the report up."""
        patience = within if within is not None else self.settings.health_timeout
        checks = await asyncio.gather(*(self._check(provider, patience) for provider in self.providers()))
        statuses = {check.status for check in checks}
        overall = "ok" if statuses <= {"ok"} else ("down" if statuses == {"down"} else "degraded")
        return HealthReport(status=overall, providers=list(checks))

    async def _check(self, provider: LoadedProvider, patience: float) -> ProviderHealth:
        started = time.perf_counter()
        try:
            health: ProviderHealth = await self.call(
                provider.capability, "health", lambda p: p.health(), within=patience
            )
        except OpsPilotError as exc:
            health = ProviderHealth(
                capability=provider.capability.value,
                provider=provider.name,
                status="down",
                message=exc.message,
            )
        health.capability = provider.capability.value
        health.provider = provider.name
        health.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        health.checked_at = self.clock.now()
        return health

    async def aclose(self) -> None:
        """Close every provider that holds resources (HTTP clients, database connections)."""
        closers = [
            p.instance.aclose()
            for p in {id(p.instance): p for p in self.providers()}.values()
            if hasattr(p.instance, "aclose")
        ]
        await asyncio.gather(*closers, return_exceptions=True)


def _spacing(series: MetricSeries, step: int | None) -> float:
    """The time between a series' samples: the step asked for, else the smallest gap between its points."""
    if step:
        return float(step)
    gaps = [(b.timestamp - a.timestamp).total_seconds() for a, b in itertools.pairwise(series.points)]
    return min((g for g in gaps if g > 0), default=60.0)


def _world_clock(providers: dict[Capability, LoadedProvider]) -> Clock | None:
    # A world with a clock of its own (the demo's frozen world_now) sets the time only when it serves everything:
    # once a real system (Prometheus, say) serves a capability, "now" must be the wall clock's, or that system's
    # pages and the Copilot would look at the demo's date and find nothing.
    clocks = [getattr(provider.instance, "clock", None) for provider in providers.values()]
    world = clocks[0] if clocks else None
    if isinstance(world, Clock) and all(clock is world for clock in clocks):
        return world
    return None

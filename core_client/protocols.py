"""What a provider implements, one protocol per capability.

Every provider has ``health()``. Queries take ``cursor=`` and return a ``Page``. Mutations take an
``idempotency_key`` (the grant's id) so a provider can make a repeated request harmless. Optional operations
(log context and histograms, on-call, runbooks, paging) are separate protocols; CoreClient emulates or reports
``Unsupported`` when a provider lacks them. A provider raises the typed errors of ``core_client.errors``;
anything else it raises is reported as ``ProviderUnavailable``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from core_client.schemas import (
    Alert,
    AlertQuery,
    CreateIncidentInput,
    CreateTicketInput,
    Deployment,
    DeploymentQuery,
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
)


@runtime_checkable
class MutationLedger(Protocol):
    """A provider that can say whether it carried out a mutation handed a given idempotency key (the grant id):
    how a claim stranded by a dead worker is settled without guessing."""

    async def mutation_done(self, idempotency_key: str) -> bool: ...


@runtime_checkable
class Provider(Protocol):
    async def health(self) -> ProviderHealth:
        """Check the backing system once, quickly, and say how it is."""
        ...


@runtime_checkable
class IncidentProvider(Provider, Protocol):
    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]: ...
    async def get(self, incident_id: str) -> Incident: ...
    async def create(self, data: CreateIncidentInput, *, idempotency_key: str | None = None) -> Incident: ...
    async def update(
        self, incident_id: str, changes: UpdateIncidentInput, *, idempotency_key: str | None = None
    ) -> Incident: ...
    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]: ...
    async def append_timeline(
        self, incident_id: str, entry: TimelineAppendInput, *, idempotency_key: str | None = None
    ) -> TimelineEntry: ...


@runtime_checkable
class AlertProvider(Provider, Protocol):
    async def query(self, query: AlertQuery, *, cursor: str | None = None) -> Page[Alert]: ...
    async def get(self, alert_id: str) -> Alert: ...


@runtime_checkable
class LogProvider(Provider, Protocol):
    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]: ...


@runtime_checkable
class LogContextProvider(Protocol):
    """Optional: the lines around one line, by its id."""

    async def context(self, log_id: str, *, before: int = 20, after: int = 20) -> LogContext: ...


@runtime_checkable
class LogHistogramProvider(Protocol):
    """Optional: a native volume histogram; otherwise core_client.analysis counts the lines itself."""

    async def histogram(self, query: LogQuery, *, buckets: int = 60) -> LogHistogram: ...


@runtime_checkable
class MetricProvider(Provider, Protocol):
    async def query(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]: ...
    async def describe(self, scope: QueryScope | None = None) -> list[MetricDescriptor]: ...


@runtime_checkable
class MetricRateProvider(Protocol):
    """Optional: per-second rates of a counter computed by the source (PromQL ``rate()``), over a window the
    source fits to the step; with ``aggregation`` ``sum``, summed by ``group_by`` and the scope labels.
    Otherwise CoreClient computes them from the raw samples."""

    async def rates(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]: ...


@runtime_checkable
class TicketProvider(Provider, Protocol):
    async def query(self, query: TicketQuery, *, cursor: str | None = None) -> Page[Ticket]: ...
    async def get(self, ticket_id: str) -> Ticket: ...
    async def create(self, data: CreateTicketInput, *, idempotency_key: str | None = None) -> Ticket: ...
    async def update(
        self, ticket_id: str, changes: UpdateTicketInput, *, idempotency_key: str | None = None
    ) -> Ticket: ...


@runtime_checkable
class ServiceProvider(Provider, Protocol):
    async def query(self, query: ServiceQuery, *, cursor: str | None = None) -> Page[Service]: ...


@runtime_checkable
class RunbookProvider(Protocol):
    """Optional: a runbook per service."""

    async def runbook(self, service: str) -> Runbook: ...


@runtime_checkable
class TeamProvider(Provider, Protocol):
    async def query(self, query: TeamQuery, *, cursor: str | None = None) -> Page[Team]: ...
    async def get(self, team_id: str) -> Team: ...
    async def members(self, team_id: str) -> list[TeamMember]: ...


@runtime_checkable
class OnCallProvider(Protocol):
    """Optional: who is on call, and paging them."""

    async def oncall(self, team_id: str, *, at: datetime | None = None) -> list[OnCallShift]: ...
    async def page(self, request: PageOnCallInput, *, idempotency_key: str | None = None) -> PageResult: ...


@runtime_checkable
class DeploymentProvider(Provider, Protocol):
    async def query(self, query: DeploymentQuery, *, cursor: str | None = None) -> Page[Deployment]: ...
    async def get(self, deployment_id: str) -> Deployment: ...


@runtime_checkable
class MessagingProvider(Provider, Protocol):
    async def send(self, message: Message, *, idempotency_key: str | None = None) -> MessageResult: ...

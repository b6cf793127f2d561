"""OpsPilot's MCP server: every capability of CoreClient as typed tools, plus three resources.

The logic lives in CoreClient, the analysis package and the data folder; this module is the thin layer that
names, describes and bounds it for a model. Reads carry ``read_only_hint``; mutations carry ``destructive_hint``
and pass through CoreClient's mutation gate with the grant from the request's ``_meta["opspilot/grant"]``.
Without a valid grant a mutation returns a tool error that says approval is needed and links to the console;
a client that takes URL elicitation is also sent that link (elicitation.py), and its answer approves nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from core_client.approvals import GRANT_META_KEY, ApprovalBook, ApprovalStatus
from core_client.client import CoreClient
from core_client.errors import ApprovalRequired, BadQuery, Forbidden, OpsPilotError
from core_client.files import DataFolder, FolderEntry
from core_client.identity import Actor
from core_client.mcp import analysis_tools
from core_client.mcp.arguments import TextArguments
from core_client.mcp.elicitation import invite_to_approve, request_already_shown
from core_client.mcp.results import ToolPage, error_result, object_result, page_result, split_cursor
from core_client.mutations import arguments_digest, risk_of
from core_client.notices import notify_approvers
from core_client.reports import InvestigationReport, render_report
from core_client.schemas import (
    INCIDENT_FIELD,
    Alert,
    AlertQuery,
    CamelModel,
    CreateIncidentInput,
    CreateTicketInput,
    Deployment,
    DeploymentQuery,
    Incident,
    IncidentQuery,
    LogContext,
    LogExpression,
    LogFilter,
    LogQuery,
    Message,
    MessageResult,
    MetricExpression,
    MetricFilter,
    MetricQuery,
    Page,
    PageOnCallInput,
    PageResult,
    QueryScope,
    Runbook,
    Service,
    ServiceQuery,
    TeamQuery,
    Ticket,
    TicketQuery,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
    UpdateTicketInput,
)

ActorSource = Callable[[Context], Actor]

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
MUTATION = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)

# Parameter types shared by many tools, described once for the model.
ServiceArg = Annotated[str | None, Field(description="Only this service (its name, e.g. 'checkout-api').")]
TeamArg = Annotated[str | None, Field(description="Only services owned by this team (its id).")]
EnvArg = Annotated[str | None, Field(description="Only this environment, e.g. 'prod' or 'staging'.")]
LimitArg = Annotated[int, Field(ge=1, le=500, description="Items per page (results are also cut to ~20 KB).")]
CursorArg = Annotated[str | None, Field(description="next_cursor from the previous call, for the next page.")]
StartArg = Annotated[
    datetime | None, Field(description="Window start, ISO-8601 UTC (e.g. 2026-11-21T09:00:00Z).")
]
EndArg = Annotated[datetime | None, Field(description="Window end, ISO-8601 UTC; defaults to now.")]

PageOut = Annotated[CallToolResult, ToolPage]
# A mutation's answer: its result or refusal, or (protocol 2026-07-28) a link to the approval page to open first.
MutationAnswer = CallToolResult | InputRequiredResult


def build_server(
    core: CoreClient,
    *,
    actor: ActorSource,
    files: DataFolder | None = None,
    read_only: bool = False,
    name: str = "opspilot",
    auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None,
) -> MCPServer:
    """An MCP server over ``core`` acting as whoever ``actor`` names for each request.

    ``read_only`` hides every mutation tool. ``files`` is the one folder the file tools may touch
    (default: the settings' data folder for files). ``auth`` and ``token_verifier`` protect the HTTP transport.
    """
    server: MCPServer = MCPServer(
        name=name,
        auth=auth,
        token_verifier=token_verifier,
        title="OpsPilot",
        instructions=(
            "Incident operations: incidents, alerts, logs, metrics, tickets, services, teams, on-call, deployments "
            "and runbooks. Start from the incident or the question, scope by service and time window, use "
            "detect_metric_anomalies and compare_log_patterns instead of raw points, and cite the ids tools return. "
            "Tools that change anything need a person's approval in the OpsPilot console."
        ),
    )
    server.middleware.append(TextArguments())
    folder = files or DataFolder(core.settings.resolved_files_dir)
    folder.root.mkdir(parents=True, exist_ok=True)
    budget = core.settings.mcp_result_budget
    _add_read_tools(server, core, budget)
    analysis_tools.register(server, core, budget, READ)
    _add_file_reads(server, folder, budget)
    _add_resources(server, core)
    if not read_only:
        _add_mutations(server, core, folder, actor, budget)
        _add_approval_reads(server, core, actor, budget)
    return server


async def _guarded(call: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult:
    """Run a tool body; a typed error becomes a readable tool error instead of a protocol failure."""
    try:
        return await call()
    except OpsPilotError as error:
        return error_result(error)


def _scope(service: str | None, team: str | None, environment: str | None) -> QueryScope:
    return QueryScope(service=service, team=team, environment=environment)


def _add_read_tools(server: MCPServer, core: CoreClient, budget: int) -> None:
    async def paged(
        fetch: Callable[[str | None], Awaitable[Any]], cursor: str | None, noun: str
    ) -> CallToolResult:
        return await _paged(fetch, cursor, noun, budget)

    @server.tool(annotations=READ)
    async def query_incidents(
        text: Annotated[str | None, Field(description="Words to find in title or description.")] = None,
        statuses: Annotated[list[str] | None, Field(description="e.g. ['open', 'investigating']")] = None,
        severities: Annotated[list[str] | None, Field(description="e.g. ['sev1', 'sev2']")] = None,
        service: ServiceArg = None,
        team: TeamArg = None,
        environment: EnvArg = None,
        limit: LimitArg = 25,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Find incidents, newest first. Use to see what is open or what happened to a service recently."""
        query = IncidentQuery(
            query=text,
            statuses=statuses or [],
            severities=severities or [],
            scope=_scope(service, team, environment),
            limit=limit,
        )
        return await _guarded(
            lambda: paged(lambda c: core.incidents.query(query, cursor=c), cursor, "incidents")
        )

    @server.tool(annotations=READ)
    async def get_incident(incident_id: str) -> Annotated[CallToolResult, Incident]:
        """One incident with all its fields."""

        async def body() -> CallToolResult:
            incident = await core.incidents.get(incident_id)
            return object_result(incident, summary=f"incident {incident.id}: {incident.title}", budget=budget)

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def get_incident_timeline(incident_id: str, cursor: CursorArg = None) -> PageOut:
        """An incident's timeline (notes, status changes, pages), oldest first."""
        return await _guarded(
            lambda: paged(
                lambda c: core.incidents.timeline(incident_id, cursor=c), cursor, "timeline entries"
            )
        )

    @server.tool(annotations=READ)
    async def query_alerts(
        text: Annotated[
            str | None, Field(description="Words to find in the alert's title or description.")
        ] = None,
        statuses: Annotated[list[str] | None, Field(description="e.g. ['firing'] or ['resolved']")] = None,
        severities: Annotated[list[str] | None, Field(description="e.g. ['critical', 'warning']")] = None,
        service: ServiceArg = None,
        team: TeamArg = None,
        environment: EnvArg = None,
        limit: LimitArg = 25,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Find alerts from monitoring, newest first. Firing alerts show what is broken now."""
        query = AlertQuery(
            query=text,
            statuses=statuses or [],
            severities=severities or [],
            scope=_scope(service, team, environment),
            limit=limit,
        )
        return await _guarded(lambda: paged(lambda c: core.alerts.query(query, cursor=c), cursor, "alerts"))

    @server.tool(annotations=READ)
    async def get_alert(alert_id: str) -> Annotated[CallToolResult, Alert]:
        """One alert with its labels and annotations."""

        async def body() -> CallToolResult:
            alert = await core.alerts.get(alert_id)
            return object_result(alert, summary=f"alert {alert.id}: {alert.title}", budget=budget)

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def search_logs(
        search: Annotated[
            str | None, Field(description="Words or a quoted phrase to find in the message.")
        ] = None,
        filters: Annotated[
            list[LogFilter] | None,
            Field(
                description="Conditions on service, severity, message or a label: operator =, !=, contains, regex."
            ),
        ] = None,
        severities: Annotated[list[str] | None, Field(description="e.g. ['error', 'fatal']")] = None,
        service: ServiceArg = None,
        team: TeamArg = None,
        environment: EnvArg = None,
        start: StartArg = None,
        end: EndArg = None,
        limit: LimitArg = 50,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Search log lines, newest first. Narrow by service and a time window; each line has an id to cite and
        to pass to get_log_context. For what changed in the logs, prefer compare_log_patterns."""
        query = LogQuery(
            expression=LogExpression(search=search, filters=filters or [], severity_in=severities or []),
            start=start,
            end=end,
            scope=_scope(service, team, environment),
            limit=limit,
        )
        return await _guarded(lambda: paged(lambda c: core.logs.query(query, cursor=c), cursor, "log lines"))

    @server.tool(annotations=READ)
    async def get_log_context(
        log_id: str,
        before: Annotated[int, Field(ge=0, le=200)] = 20,
        after: Annotated[int, Field(ge=0, le=200)] = 20,
    ) -> Annotated[CallToolResult, LogContext]:
        """The lines just before and after one log line of the same service, oldest first."""

        async def body() -> CallToolResult:
            context = await core.logs.context(log_id, before=before, after=after)
            return object_result(
                context,
                summary=f"{len(context.before)} lines before, {len(context.after)} after",
                budget=budget,
            )

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def query_metrics(
        metric_name: Annotated[
            str, Field(description="A name from describe_metrics, e.g. 'http_requests_errors'.")
        ],
        aggregation: Annotated[
            Literal["avg", "sum", "max", "min", "count"] | None, Field(description="How to combine series.")
        ] = None,
        group_by: Annotated[
            list[str] | None, Field(description="Labels to keep apart when aggregating.")
        ] = None,
        filters: Annotated[
            list[MetricFilter] | None, Field(description="Label conditions: =, !=, =~, !~.")
        ] = None,
        service: ServiceArg = None,
        team: TeamArg = None,
        environment: EnvArg = None,
        start: StartArg = None,
        end: EndArg = None,
        step: Annotated[int | None, Field(ge=1, description="Seconds between points.")] = None,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Raw metric points over a window. Keep windows short and steps coarse; to find what changed, use
        detect_metric_anomalies instead of reading points."""
        query = MetricQuery(
            expression=MetricExpression(
                metric_name=metric_name,
                aggregation=aggregation,
                group_by=group_by or [],
                filters=filters or [],
            ),
            start=start,
            end=end,
            step=step,
            scope=_scope(service, team, environment),
        )
        return await _guarded(lambda: paged(lambda c: core.metrics.query(query, cursor=c), cursor, "series"))

    @server.tool(annotations=READ)
    async def describe_metrics(service: ServiceArg = None, cursor: CursorArg = None) -> PageOut:
        """Which metrics exist (name, type, unit, labels), optionally for one service."""

        async def fetch(_: str | None) -> Page[Any]:
            return Page[Any](
                items=await core.metrics.describe(QueryScope(service=service) if service else None)
            )

        return await _guarded(lambda: paged(fetch, cursor, "metrics"))

    @server.tool(annotations=READ)
    async def query_tickets(
        text: Annotated[str | None, Field(description="Words to find in the ticket.")] = None,
        statuses: list[str] | None = None,
        assignees: list[str] | None = None,
        service: ServiceArg = None,
        team: TeamArg = None,
        incident: Annotated[
            str | None, Field(description="Only tickets filed for this incident (its id, e.g. 'INC-42').")
        ] = None,
        limit: LimitArg = 25,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Find tickets (follow-ups, postmortem actions), newest first."""
        query = TicketQuery(
            query=text,
            statuses=statuses or [],
            assignees=assignees or [],
            scope=_scope(service, team, None),
            limit=limit,
            metadata={INCIDENT_FIELD: incident} if incident else {},
        )
        return await _guarded(lambda: paged(lambda c: core.tickets.query(query, cursor=c), cursor, "tickets"))

    @server.tool(annotations=READ)
    async def get_ticket(ticket_id: str) -> Annotated[CallToolResult, Ticket]:
        """One ticket with its description and fields."""

        async def body() -> CallToolResult:
            ticket = await core.tickets.get(ticket_id)
            return object_result(
                ticket, summary=f"ticket {ticket.key or ticket.id}: {ticket.title}", budget=budget
            )

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def query_services(
        name: Annotated[str | None, Field(description="Part of a service name.")] = None,
        team: TeamArg = None,
        environment: EnvArg = None,
        limit: LimitArg = 100,
        cursor: CursorArg = None,
    ) -> PageOut:
        """The service catalog: each service with the services it depends on, its owner team and tier."""
        query = ServiceQuery(name=name, scope=_scope(None, team, environment), limit=limit)
        return await _guarded(
            lambda: paged(lambda c: core.services.query(query, cursor=c), cursor, "services")
        )

    @server.tool(annotations=READ)
    async def get_service(name: str) -> Annotated[CallToolResult, ServiceView]:
        """One service with what it depends on and what depends on it (its dependents)."""

        async def body() -> CallToolResult:
            service = await core.services.get(name)
            dependents = [s.id for s in await core.services.dependents(service.id)]
            view = ServiceView(**service.model_dump(), dependents=dependents)
            return object_result(view, summary=f"service {service.name}", budget=budget)

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def get_runbook(service: str) -> Annotated[CallToolResult, Runbook]:
        """The runbook for a service: what to check and do when it misbehaves (markdown)."""

        async def body() -> CallToolResult:
            runbook = await core.services.runbook(service)
            return object_result(runbook, summary=f"runbook for {service}: {runbook.title}", budget=budget)

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def query_teams(
        name: Annotated[str | None, Field(description="Part of a team name.")] = None,
        limit: LimitArg = 50,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Teams. Use get_team for members and who is on call."""
        query = TeamQuery(name=name, limit=limit)
        return await _guarded(lambda: paged(lambda c: core.teams.query(query, cursor=c), cursor, "teams"))

    @server.tool(annotations=READ)
    async def get_team(team_id: str) -> Annotated[CallToolResult, TeamView]:
        """A team with its members and who is on call now (where the provider knows on-call)."""

        async def body() -> CallToolResult:
            team = await core.teams.get(team_id)
            members = await core.teams.members(team_id)
            try:
                oncall = [
                    shift.model_dump(mode="json", by_alias=True) for shift in await core.teams.oncall(team_id)
                ]
            except OpsPilotError:
                oncall = []
            view = TeamView(
                team=team.model_dump(mode="json", by_alias=True),
                members=[m.model_dump(mode="json", by_alias=True) for m in members],
                oncall=oncall,
            )
            return object_result(view, summary=f"team {team.name or team.id}", budget=budget)

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def get_oncall(
        team_id: str,
        at: Annotated[datetime | None, Field(description="When; defaults to now.")] = None,
    ) -> PageOut:
        """Who is on call for a team, by escalation level."""

        async def fetch(_: str | None) -> Page[Any]:
            return Page[Any](items=await core.teams.oncall(team_id, at=at))

        return await _guarded(lambda: paged(fetch, None, "on-call shifts"))

    @server.tool(annotations=READ)
    async def query_deployments(
        text: Annotated[str | None, Field(description="Words to find (version, description).")] = None,
        statuses: list[str] | None = None,
        service: ServiceArg = None,
        team: TeamArg = None,
        environment: EnvArg = None,
        start: StartArg = None,
        end: EndArg = None,
        limit: LimitArg = 25,
        cursor: CursorArg = None,
    ) -> PageOut:
        """Deployments and configuration changes, newest first. A change just before trouble began is a suspect."""
        query = DeploymentQuery(
            query=text,
            statuses=statuses or [],
            scope=_scope(service, team, environment),
            limit=limit,
            start=start,
            end=end,
        )
        return await _guarded(
            lambda: paged(lambda c: core.deployments.query(query, cursor=c), cursor, "deployments")
        )

    @server.tool(annotations=READ)
    async def get_deployment(deployment_id: str) -> Annotated[CallToolResult, Deployment]:
        """One deployment or configuration change."""

        async def body() -> CallToolResult:
            deployment = await core.deployments.get(deployment_id)
            return object_result(
                deployment, summary=f"deployment {deployment.id} of {deployment.service}", budget=budget
            )

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def list_providers() -> PageOut:
        """Which system serves each capability, and whether it is healthy right now."""

        async def fetch(_: str | None) -> Page[Any]:
            return Page[Any](items=(await core.health()).providers)

        return await _guarded(lambda: paged(fetch, None, "providers"))


class ServiceView(Service):
    dependents: list[str] = Field(default_factory=list)


class TeamView(CamelModel):
    team: dict[str, Any]
    members: list[dict[str, Any]] = Field(default_factory=list)
    oncall: list[dict[str, Any]] = Field(default_factory=list)


def _add_file_reads(server: MCPServer, folder: DataFolder, budget: int) -> None:
    @server.tool(annotations=READ)
    async def read_file(
        path: Annotated[
            str, Field(description="A path inside the OpsPilot data folder, e.g. 'reports/x.md'.")
        ],
    ) -> Annotated[CallToolResult, FileView]:
        """Read a text file from the OpsPilot data folder (nothing outside it)."""

        async def body() -> CallToolResult:
            content = folder.read(path)
            return object_result(
                FileView(**content.model_dump()),
                summary=f"{content.path} ({content.size} bytes)",
                budget=budget,
            )

        return await _guarded(body)

    @server.tool(annotations=READ)
    async def list_directory(
        path: Annotated[str, Field(description="A folder inside the data folder; '' for its top.")] = "",
        cursor: CursorArg = None,
    ) -> PageOut:
        """List the files and folders in a folder of the OpsPilot data folder."""

        async def fetch(_: str | None) -> Page[FolderEntry]:
            return Page[Any](items=folder.list(path))

        return await _guarded(lambda: _paged(fetch, cursor, "entries", budget))


async def _paged(
    fetch: Callable[[str | None], Awaitable[Any]], cursor: str | None, noun: str, budget: int
) -> CallToolResult:
    """One provider page fetched from our cursor, cut to the budget, with a cursor that continues it."""
    provider_cursor, skip = split_cursor(cursor)
    page = await fetch(provider_cursor)
    return page_result(
        page.items,
        provider_cursor=provider_cursor,
        next_provider_cursor=page.next_cursor,
        skip=skip,
        budget=budget,
        describe=lambda shown, more: f"{shown} {noun}{' (more available)' if more else ''}",
        truncated=page.truncated,
    )


class FileView(CamelModel):
    path: str
    content: str
    size: int
    truncated: bool = False


def _add_resources(server: MCPServer, core: CoreClient) -> None:
    @server.resource(
        "incident://{incident_id}", mime_type="application/json", description="An incident as JSON."
    )
    async def incident_resource(incident_id: str) -> str:
        incident = await core.incidents.get(incident_id)
        return incident.model_dump_json(by_alias=True, exclude_none=True)

    @server.resource("service://{name}", mime_type="application/json", description="A service as JSON.")
    async def service_resource(name: str) -> str:
        service = await core.services.get(name)
        return service.model_dump_json(by_alias=True, exclude_none=True)

    @server.resource("runbook://{service}", mime_type="text/markdown", description="A service's runbook.")
    async def runbook_resource(service: str) -> str:
        runbook = await core.services.runbook(service)
        return f"# {runbook.title or service}\n\n{runbook.body}"


def _grant(ctx: Context) -> str | None:
    meta = ctx.request_context.meta or {}
    grant = meta.get(GRANT_META_KEY) if isinstance(meta, dict) else None
    if grant is not None and not isinstance(grant, str):
        raise BadQuery(f"_meta[{GRANT_META_KEY!r}] must be a string", source="mcp")
    return grant


def _add_mutations(
    server: MCPServer, core: CoreClient, folder: DataFolder, actor_of: ActorSource, budget: int
) -> None:
    async def gated(
        tool: str,
        arguments: dict[str, Any],
        ctx: Context,
        run: Callable[[Actor, str | None], Awaitable[Any]],
        summary: Callable[[Any], str],
        check: Callable[[], object] | None = None,
    ) -> MutationAnswer:
        try:
            if check is not None:
                check()  # refuse bad input before anyone is asked to approve it
            actor = actor_of(ctx)
            result = await run(actor, _grant(ctx))
        except ApprovalRequired as required:
            return await _refused(core, ctx, tool, arguments, actor, required)
        except OpsPilotError as error:
            return error_result(error)
        return object_result(result, summary=summary(result), budget=budget)

    @server.tool(annotations=MUTATION)
    async def create_incident(
        incident: CreateIncidentInput, ctx: Context
    ) -> Annotated[CallToolResult, Incident] | InputRequiredResult:
        """Open a new incident. Needs a person's approval in the OpsPilot console."""
        return await gated(
            "create_incident",
            {"incident": incident},
            ctx,
            lambda actor, grant: core.incidents.create(incident, actor=actor, grant=grant),
            lambda r: f"created incident {r.id}",
        )

    @server.tool(annotations=MUTATION)
    async def update_incident(
        incident_id: str, changes: UpdateIncidentInput, ctx: Context
    ) -> Annotated[CallToolResult, Incident] | InputRequiredResult:
        """Change an incident's status, severity or other fields. Needs approval."""
        return await gated(
            "update_incident",
            {"incident_id": incident_id, "changes": changes},
            ctx,
            lambda actor, grant: core.incidents.update(incident_id, changes, actor=actor, grant=grant),
            lambda r: f"updated incident {r.id}",
        )

    @server.tool(annotations=MUTATION)
    async def append_timeline_note(
        incident_id: str, note: TimelineAppendInput, ctx: Context
    ) -> Annotated[CallToolResult, TimelineEntry] | InputRequiredResult:
        """Add a note to an incident's timeline. Needs approval."""
        return await gated(
            "append_timeline_note",
            {"incident_id": incident_id, "note": note},
            ctx,
            lambda actor, grant: core.incidents.append_timeline(incident_id, note, actor=actor, grant=grant),
            lambda r: f"added timeline entry {r.id}",
        )

    @server.tool(annotations=MUTATION)
    async def create_ticket(
        ticket: CreateTicketInput, ctx: Context
    ) -> Annotated[CallToolResult, Ticket] | InputRequiredResult:
        """File a ticket (a follow-up carrying the evidence). Needs approval."""
        return await gated(
            "create_ticket",
            {"ticket": ticket},
            ctx,
            lambda actor, grant: core.tickets.create(ticket, actor=actor, grant=grant),
            lambda r: f"created ticket {r.key or r.id}",
        )

    @server.tool(annotations=MUTATION)
    async def update_ticket(
        ticket_id: str,
        changes: UpdateTicketInput,
        ctx: Context,
        append_description: Annotated[
            str | None,
            Field(description="Text to add at the end of the description (what it says by then is kept)."),
        ] = None,
    ) -> Annotated[CallToolResult, Ticket] | InputRequiredResult:
        """Change a ticket's status, assignees or text, or add to its description. Needs approval."""
        arguments: dict[str, Any] = {"ticket_id": ticket_id, "changes": changes}
        if append_description is not None:
            arguments["append_description"] = append_description
        return await gated(
            "update_ticket",
            arguments,
            ctx,
            lambda actor, grant: core.tickets.update(
                ticket_id, changes, actor=actor, grant=grant, append_description=append_description
            ),
            lambda r: f"updated ticket {r.key or r.id}",
        )

    @server.tool(annotations=MUTATION)
    async def send_message(
        message: Message, ctx: Context
    ) -> Annotated[CallToolResult, MessageResult] | InputRequiredResult:
        """Post a message to a chat channel. Needs approval."""
        return await gated(
            "send_message",
            {"message": message},
            ctx,
            lambda actor, grant: core.messaging.send(message, actor=actor, grant=grant),
            lambda r: f"sent message {r.id} to {r.channel}",
        )

    @server.tool(annotations=MUTATION)
    async def page_oncall(
        page: PageOnCallInput, ctx: Context
    ) -> Annotated[CallToolResult, PageResult] | InputRequiredResult:
        """Page whoever is on call for a service or team. Wakes a person: needs approval."""
        return await gated(
            "page_oncall",
            {"page": page},
            ctx,
            lambda actor, grant: core.teams.page(page, actor=actor, grant=grant),
            lambda r: f"paged {', '.join(m.name for m in r.paged) or 'on-call'}",
        )

    @server.tool(annotations=MUTATION)
    async def write_file(
        path: Annotated[str, Field(description="A path inside the data folder.")],
        content: str,
        ctx: Context,
        overwrite: bool = False,
    ) -> Annotated[CallToolResult, FolderEntry] | InputRequiredResult:
        """Write a text file in the OpsPilot data folder. Needs approval."""
        return await gated(
            "write_file",
            {"path": path, "content": content, "overwrite": overwrite},
            ctx,
            lambda actor, grant: core.mutate(
                "write_file",
                {"path": path, "content": content, "overwrite": overwrite},
                actor=actor,
                grant=grant,
                environment=None,
                action=lambda _key: asyncio.to_thread(folder.write, path, content, overwrite=overwrite),
            ),
            lambda r: f"wrote {r.path} ({r.size} bytes)",
            check=lambda: folder.resolve(path),
        )

    @server.tool(annotations=MUTATION)
    async def generate_report(
        path: Annotated[
            str, Field(description="Where to write it in the data folder, e.g. 'reports/inc-42.md'.")
        ],
        report: InvestigationReport,
        ctx: Context,
        overwrite: bool = False,
    ) -> Annotated[CallToolResult, FolderEntry] | InputRequiredResult:
        """Write an investigation report as markdown (summary, findings with evidence links, actions). Needs
        approval."""
        markdown = render_report(report)
        arguments = {"path": path, "title": report.title, "markdown": markdown, "overwrite": overwrite}
        return await gated(
            "generate_report",
            arguments,
            ctx,
            lambda actor, grant: core.mutate(
                "generate_report",
                arguments,
                actor=actor,
                grant=grant,
                environment=None,
                action=lambda _key: asyncio.to_thread(folder.write, path, markdown, overwrite=overwrite),
            ),
            lambda r: f"wrote report {r.path}",
            check=lambda: folder.resolve(path),
        )


def _add_approval_reads(server: MCPServer, core: CoreClient, actor_of: ActorSource, budget: int) -> None:
    @server.tool(annotations=READ)
    async def get_approval(
        request_id: Annotated[str, Field(description="The id a refused call's error named.")],
        ctx: Context,
    ) -> Annotated[CallToolResult, ApprovalStatus]:
        """Where an approval request stands: pending, approved, rejected, expired, executed or withdrawn, with
        what to do next. Once approved, its requester (only) is given the grant id to pass as
        _meta["opspilot/grant"] when calling the same tool with the same arguments again."""
        approvals: ApprovalBook | None = getattr(core.gate, "approvals", None)

        async def body() -> CallToolResult:
            if approvals is None:
                raise BadQuery("this server keeps no approval requests", source="get_approval")
            status = await asyncio.to_thread(approvals.status_for, request_id, actor_of(ctx))
            return object_result(
                status, summary=f"approval request {request_id} ({status.tool}): {status.next}", budget=budget
            )

        return await _guarded(body)


async def _refused(
    core: CoreClient,
    ctx: Context,
    tool: str,
    arguments: dict[str, Any],
    actor: Actor,
    required: ApprovalRequired,
) -> MutationAnswer:
    """The refusal of a call without a valid grant, with an approval request filed and, where the client takes
    URL elicitation, its link sent there too (a link only: the client's answer approves nothing)."""
    shown = request_already_shown(ctx)
    approvals = getattr(core.gate, "approvals", None)
    if shown is not None and approvals is not None:
        return error_result(_waiting(approvals, tool, arguments, required, shown))
    refusal = await _file_request(core, tool, arguments, actor, required)
    return await invite_to_approve(ctx, refusal) or error_result(refusal)


async def _file_request(
    core: CoreClient, tool: str, arguments: dict[str, Any], actor: Actor, required: ApprovalRequired
) -> ApprovalRequired:
    """File an approval request for a person's refused call, so the error links to something to approve.

    The Copilot files its own requests, with evidence, before it calls; its refusals are returned as they are.
    """
    approvals = getattr(core.gate, "approvals", None)
    if actor.copilot or approvals is None:
        return required
    try:
        filed = await asyncio.to_thread(
            approvals.file,
            tool,
            arguments,
            requester=actor,
            evidence=[],
            risk=risk_of(tool),
            environment=None,
        )
    except Forbidden as capped:
        # Over this person's cap of new requests a minute: say so instead of filing another.
        return ApprovalRequired(
            f"{required.message}; no approval request was filed: {capped.message}",
            source=tool,
            approval_url=required.approval_url,
        )
    except OpsPilotError:
        return required
    if filed.new:
        await notify_approvers(core, filed.request)
    return _waiting(approvals, tool, arguments, required, filed.request.id)


def _waiting(
    approvals: ApprovalBook, tool: str, arguments: dict[str, Any], required: ApprovalRequired, request_id: str
) -> ApprovalRequired:
    """The refusal pointing at the approval request ``request_id`` and saying how to call again once approved."""
    _, digest = arguments_digest(tool, arguments)
    url = approvals.approval_url(request_id)
    return ApprovalRequired(
        f"{required.message}. Request {request_id} (arguments sha256 {digest[:12]}) waits for approval at "
        f'{url}. Once a person approves it, call get_approval with request_id "{request_id}" for its grant id '
        "(only you, who asked, are given it), then call "
        f'{tool} again with exactly the same arguments and _meta {{"{GRANT_META_KEY}": "<grant id>"}}: '
        "it runs once",
        source=tool,
        request_id=request_id,
        approval_url=url,
    )

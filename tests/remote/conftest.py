"""A loopback OpsOrch Core: the contract's routes over in-memory data, on a real HTTP server.

Faithful to OpsOrch Core where tests depend on it: request bodies are decoded strictly (an unknown field is
``400 {"code": "bad_request", "message": "json: unknown field ..."}``), errors are ``{code, message}``, a capability
without a provider answers ``501 <capability>_provider_missing``, a wrong bearer token gets a plain-text 401,
appending to a timeline answers ``201 {"status": "ok"}``, and queries honour ``limit`` but know no cursor.
The contract's input models are written out here from REFERENCE.md section 1, independently of core_client.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
import uvicorn
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKEN = "s3cr3t-core-token-7f1c"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# --- The contract's request bodies, strictly decoded --------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scope(Strict):
    service: str | None = None
    team: str | None = None
    environment: str | None = None


class IncidentQueryIn(Strict):
    query: str | None = None
    statuses: list[str] | None = None
    severities: list[str] | None = None
    scope: Scope | None = None
    limit: int | None = None
    metadata: dict[str, Any] | None = None


class CreateIncidentIn(Strict):
    title: str
    description: str | None = None
    status: str | None = None
    severity: str | None = None
    service: str | None = None
    fields: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class UpdateIncidentIn(Strict):
    title: str | None = None
    description: str | None = None
    status: str | None = None
    severity: str | None = None
    service: str | None = None
    fields: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class TimelineAppendIn(Strict):
    at: datetime | None = None
    kind: str
    body: str
    actor: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class LogFilterIn(Strict):
    field: str
    operator: Literal["=", "!=", "contains", "regex"]
    value: str


class LogExpressionIn(Strict):
    search: str | None = None
    filters: list[LogFilterIn] | None = None
    severityIn: list[str] | None = None


class LogQueryIn(Strict):
    expression: LogExpressionIn | None = None
    start: datetime | None = None
    end: datetime | None = None
    scope: Scope | None = None
    limit: int | None = None
    metadata: dict[str, Any] | None = None


class MetricFilterIn(Strict):
    label: str
    operator: Literal["=", "!=", "=~", "!~"]
    value: str


class MetricExpressionIn(Strict):
    metricName: str
    aggregation: Literal["avg", "sum", "max", "min", "count"] | None = None
    filters: list[MetricFilterIn] | None = None
    groupBy: list[str] | None = None


class MetricQueryIn(Strict):
    expression: MetricExpressionIn
    start: datetime | None = None
    end: datetime | None = None
    step: int | None = None
    scope: Scope | None = None
    metadata: dict[str, Any] | None = None


class TicketQueryIn(Strict):
    query: str | None = None
    statuses: list[str] | None = None
    assignees: list[str] | None = None
    reporter: str | None = None
    scope: Scope | None = None
    limit: int | None = None
    metadata: dict[str, Any] | None = None


class CreateTicketIn(Strict):
    title: str
    description: str | None = None
    fields: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class UpdateTicketIn(Strict):
    title: str | None = None
    description: str | None = None
    status: str | None = None
    assignees: list[str] | None = None
    fields: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ServiceQueryIn(Strict):
    ids: list[str] | None = None
    name: str | None = None
    tags: dict[str, str] | None = None
    limit: int | None = None
    scope: Scope | None = None
    metadata: dict[str, Any] | None = None


class TeamQueryIn(Strict):  # OpsOrch's TeamQuery has no limit
    name: str | None = None
    tags: dict[str, str] | None = None
    scope: Scope | None = None
    metadata: dict[str, Any] | None = None


class DeploymentQueryIn(Strict):
    query: str | None = None
    statuses: list[str] | None = None
    versions: list[str] | None = None
    scope: Scope | None = None
    limit: int | None = None
    metadata: dict[str, Any] | None = None


class BlockIn(Strict):
    type: Literal["header", "section", "divider"]
    text: str | None = None
    fields: Any = None


class MessageIn(Strict):
    channel: str
    body: str
    threadRef: str | None = None
    blocks: list[BlockIn] | None = None
    metadata: dict[str, Any] | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def decode(request: Request, model: type[Strict]) -> Any:
    """Like Go's json.Decoder with DisallowUnknownFields: an unknown field is a 400 naming it."""
    try:
        raw = await request.json()
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"invalid JSON: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "extra_forbidden":
            raise ApiError(400, "bad_request", f'json: unknown field "{first["loc"][-1]}"') from None
        raise ApiError(400, "bad_request", f"json: {first['msg']} at {first['loc']}") from None


# --- The in-memory world ------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def world() -> dict[str, Any]:
    services = ["checkout", "payments", "search"]
    incidents = [
        {
            "id": f"INC-{n:03d}",
            "title": f"{'Checkout latency' if n % 3 == 0 else 'Payments errors'} #{n}",
            "description": "p99 above SLO" if n % 2 else "error rate spike",
            "status": ["open", "investigating", "resolved"][n % 3],
            "severity": f"sev{1 + n % 4}",
            "service": services[n % 3],
            "url": f"https://pd.example.com/incidents/INC-{n:03d}",
            "createdAt": iso(T0 - timedelta(minutes=n)),
            "updatedAt": iso(T0 - timedelta(minutes=n) + timedelta(seconds=30)),
            "fields": {"priority": f"P{1 + n % 3}"},
            "metadata": {"source": "pagerduty"},
        }
        for n in range(1, 24)
    ]
    timelines = {
        "INC-001": [
            {
                "id": f"TL-{n}",
                "incidentId": "INC-001",
                "at": iso(T0 + timedelta(minutes=n)),
                "kind": "note",
                "body": f"step {n}",
                "actor": {"name": "alice"},
            }
            for n in range(3)
        ]
    }
    alerts = [
        {
            "id": f"AL-{n}",
            "title": f"HighLatency {services[n % 3]}",
            "status": "firing",
            "severity": "sev2",
            "service": services[n % 3],
            "createdAt": iso(T0 - timedelta(minutes=n)),
            "fields": {"labels": {"alertname": "HighLatency"}},
            "metadata": {"fingerprint": f"fp{n}"},
        }
        for n in range(7)
    ]
    logs = [
        {
            "timestamp": iso(T0 - timedelta(seconds=n)),
            "message": f"GET /cart {500 if n % 4 == 0 else 200} took {n * 7}ms",
            "severity": "error" if n % 4 == 0 else "info",
            "service": services[n % 3],
            "labels": {"pod": f"pod-{n % 2}"},
        }
        for n in range(37)
    ]
    series = [
        {
            "name": "http_request_duration_seconds",
            "service": service,
            "labels": {"service": service},
            "points": [
                {"timestamp": iso(T0 + timedelta(minutes=m)), "value": 0.1 * (m + 1)} for m in range(3)
            ],
        }
        for service in services
    ]
    descriptors = [
        {"name": "http_request_duration_seconds", "type": "histogram", "unit": "s", "labels": ["service"]},
        {"name": "http_requests_total", "type": "counter", "labels": ["service", "code"]},
    ]
    tickets = [
        {
            "id": f"100{n}",
            "key": f"OPS-{n}",
            "title": f"Follow-up {n}",
            "status": "To Do" if n % 2 else "Done",
            "assignees": ["alice"] if n % 2 else ["bob"],
            "reporter": "carol",
            "createdAt": iso(T0 - timedelta(hours=n)),
            "updatedAt": iso(T0 - timedelta(hours=n)),
        }
        for n in range(1, 9)
    ]
    catalog = [
        {
            "id": "svc-checkout",
            "name": "checkout",
            "tags": {"team": "storefront", "tier": "tier1"},
            "metadata": {"dependencies": ["payments", "search"]},
        },
        {
            "id": "svc-payments",
            "name": "payments",
            "tags": {"tier": "1"},
            "metadata": {"dependsOn": "ledger, fraud", "owner": "money"},
        },
        {"id": "svc-search", "name": "search", "tags": {}, "metadata": {"team": "discovery", "tier": 2}},
        {"id": "svc-ledger", "name": "ledger", "url": "https://catalog.example.com/ledger"},
    ]
    teams = [{"id": f"team-{n}", "name": f"Team {n}", "tags": {"org": "eng"}} for n in range(12)]
    members = {
        "team-1": [
            {"id": "u1", "name": "Alice", "email": "alice@example.com", "handle": "@alice", "role": "owner"},
            {"id": "u2", "name": "Bob", "email": "bob@example.com", "role": "member"},
        ]
    }
    deployments = [
        {
            "id": f"dep-{n}",
            "service": services[n % 3],
            "environment": "prod",
            "version": f"v1.{n}",
            "status": "success",
            "startedAt": iso(T0 - timedelta(hours=n)),
            "finishedAt": iso(T0 - timedelta(hours=n) + timedelta(minutes=4)),
            "actor": {"login": "ci"},
        }
        for n in range(10)
    ]
    return {
        "incident": incidents,
        "timeline": timelines,
        "alert": alerts,
        "log": logs,
        "series": series,
        "descriptors": descriptors,
        "ticket": tickets,
        "service": catalog,
        "team": teams,
        "members": members,
        "deployment": deployments,
    }


@dataclass
class FakeCore:
    """The server's state; tests reach in to inject faults and read what was asked."""

    token: str | None = TOKEN
    data: dict[str, Any] = field(default_factory=world)
    missing: set[str] = field(default_factory=set)  # capabilities the core has no provider for
    faults: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first, in order
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds to wait before answering
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, body)
    answers: list[tuple[str, int, Any]] = field(default_factory=list)  # (path, status, body)
    sent: list[dict[str, Any]] = field(default_factory=list)
    idempotency_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, key)
    counter: int = 0

    def reset(self) -> None:
        fresh = FakeCore()
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(fresh, name))

    def asked(self, method: str, path: str) -> list[Any]:
        """The bodies of every request to ``method path``."""
        return [body for m, p, body in self.requests if (m, p) == (method, path)]


CAPABILITY_OF = {
    "incidents": "incident",
    "alerts": "alert",
    "logs": "log",
    "metrics": "metric",
    "tickets": "ticket",
    "services": "service",
    "teams": "team",
    "deployments": "deployment",
    "messages": "messaging",
}


def _limited(items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    return items[:limit] if limit else items


def _scoped(items: list[dict[str, Any]], scope: Scope | None) -> list[dict[str, Any]]:
    if scope and scope.service:
        return [item for item in items if item.get("service") == scope.service]
    return items


def _find(items: list[dict[str, Any]], key: str, value: str, what: str) -> dict[str, Any]:
    for item in items:
        if item.get(key) == value:
            return item
    raise ApiError(404, "not_found", f"{what} {value} not found")


def build_app(core: FakeCore) -> Starlette:
    async def incidents_query(request: Request) -> Any:
        q: IncidentQueryIn = await decode(request, IncidentQueryIn)
        items = _scoped(core.data["incident"], q.scope)
        if q.statuses:
            items = [i for i in items if i["status"] in q.statuses]
        if q.severities:
            items = [i for i in items if i["severity"] in q.severities]
        if q.query:
            items = [i for i in items if q.query.lower() in (i["title"] + i.get("description", "")).lower()]
        return _limited(items, q.limit)

    async def incidents_create(request: Request) -> Any:
        data: CreateIncidentIn = await decode(request, CreateIncidentIn)
        core.counter += 1
        incident = {
            **data.model_dump(exclude_none=True),
            "id": f"INC-NEW-{core.counter}",
            "createdAt": iso(T0),
            "updatedAt": iso(T0),
        }
        core.data["incident"].insert(0, incident)
        return 201, incident

    async def incident_one(request: Request) -> Any:
        incident = _find(core.data["incident"], "id", request.path_params["id"], "incident")
        if request.method == "PATCH":
            changes: UpdateIncidentIn = await decode(request, UpdateIncidentIn)
            incident.update(changes.model_dump(exclude_unset=True))
            incident["updatedAt"] = iso(T0 + timedelta(minutes=1))
        return incident

    async def timeline(request: Request) -> Any:
        incident_id = request.path_params["id"]
        _find(core.data["incident"], "id", incident_id, "incident")
        entries = core.data["timeline"].setdefault(incident_id, [])
        if request.method == "GET":
            return entries
        note: TimelineAppendIn = await decode(request, TimelineAppendIn)
        core.counter += 1
        entry = {**note.model_dump(mode="json", exclude_none=True), "id": f"TL-NEW-{core.counter}"}
        entry["incidentId"] = incident_id
        entry["at"] = iso(note.at or T0)
        entries.append(entry)
        return 201, {"status": "ok"}

    async def alerts_query(request: Request) -> Any:
        q: IncidentQueryIn = await decode(request, IncidentQueryIn)
        return _limited(_scoped(core.data["alert"], q.scope), q.limit)

    async def alert_one(request: Request) -> Any:
        return _find(core.data["alert"], "id", request.path_params["id"], "alert")

    async def logs_query(request: Request) -> Any:
        q: LogQueryIn = await decode(request, LogQueryIn)
        entries = _scoped(core.data["log"], q.scope)
        expression = q.expression or LogExpressionIn()
        if expression.search:
            entries = [e for e in entries if expression.search in e["message"]]
        if expression.severityIn:
            entries = [e for e in entries if e["severity"] in expression.severityIn]
        for condition in expression.filters or []:
            if condition.operator == "regex":
                try:
                    pattern = re.compile(condition.value)
                except re.error as exc:
                    raise ApiError(400, "bad_request", f"invalid regex {condition.value!r}: {exc}") from None
                entries = [e for e in entries if pattern.search(str(e.get(condition.field, "")))]
            elif condition.operator == "=":
                entries = [e for e in entries if str(e.get(condition.field, "")) == condition.value]
        return {"entries": _limited(entries, q.limit), "url": "https://logs.example.com/search"}

    async def metrics_query(request: Request) -> Any:
        q: MetricQueryIn = await decode(request, MetricQueryIn)
        series = [s for s in core.data["series"] if s["name"] == q.expression.metricName]
        return _scoped(series, q.scope)

    async def metrics_describe(request: Request) -> Any:
        if request.method == "POST":
            scope: Scope = await decode(request, Scope)
        else:
            scope = Scope(service=request.query_params.get("service"))
        descriptors = core.data["descriptors"]
        if scope.service == "nothing-here":
            descriptors = []
        return {"metrics": descriptors}

    async def tickets_query(request: Request) -> Any:
        q: TicketQueryIn = await decode(request, TicketQueryIn)
        items = core.data["ticket"]
        if q.statuses:
            items = [t for t in items if t["status"] in q.statuses]
        if q.assignees:
            items = [t for t in items if set(q.assignees) & set(t["assignees"])]
        return _limited(items, q.limit)

    async def tickets_create(request: Request) -> Any:
        data: CreateTicketIn = await decode(request, CreateTicketIn)
        core.counter += 1
        ticket = {
            **data.model_dump(exclude_none=True),
            "id": f"200{core.counter}",
            "key": f"OPS-{100 + core.counter}",
            "status": "To Do",
            "createdAt": iso(T0),
            "updatedAt": iso(T0),
        }
        core.data["ticket"].insert(0, ticket)
        return 201, ticket

    async def ticket_one(request: Request) -> Any:
        ticket = _find(core.data["ticket"], "id", request.path_params["id"], "ticket")
        if request.method == "PATCH":
            changes: UpdateTicketIn = await decode(request, UpdateTicketIn)
            ticket.update(changes.model_dump(exclude_unset=True))
        return ticket

    async def services_query(request: Request) -> Any:
        q: ServiceQueryIn = await decode(request, ServiceQueryIn)
        items = core.data["service"]
        if q.ids:
            items = [s for s in items if s["id"] in q.ids]
        if q.name:
            items = [s for s in items if q.name in s["name"]]
        return _limited(items, q.limit)

    async def teams_query(request: Request) -> Any:
        q: TeamQueryIn = await decode(request, TeamQueryIn)
        items = core.data["team"]
        if q.name:
            items = [t for t in items if q.name in t["name"]]
        return items

    async def team_one(request: Request) -> Any:
        return _find(core.data["team"], "id", request.path_params["id"], "team")

    async def team_members(request: Request) -> Any:
        team = _find(core.data["team"], "id", request.path_params["id"], "team")
        return core.data["members"].get(team["id"])  # None -> null, as Go encodes a nil slice

    async def deployments_query(request: Request) -> Any:
        q: DeploymentQueryIn = await decode(request, DeploymentQueryIn)
        items = _scoped(core.data["deployment"], q.scope)
        if q.versions:
            items = [d for d in items if d["version"] in q.versions]
        return _limited(items, q.limit)

    async def deployment_one(request: Request) -> Any:
        return _find(core.data["deployment"], "id", request.path_params["id"], "deployment")

    async def messages_send(request: Request) -> Any:
        message: MessageIn = await decode(request, MessageIn)
        core.sent.append(message.model_dump(exclude_none=True))
        return {"id": f"{len(core.sent)}.000100", "channel": message.channel, "sentAt": iso(T0)}

    async def health(request: Request) -> Any:
        return {"status": "ok"}

    async def providers(request: Request) -> Any:
        capability = request.path_params["capability"]
        if capability not in CAPABILITY_OF.values():
            raise ApiError(404, "not_found", "unknown capability")
        return {"providers": [] if capability in core.missing else ["mock"]}

    def endpoint(handler: Any) -> Any:
        async def serve(request: Request) -> Response:
            body = None
            if request.method in ("POST", "PATCH"):
                raw = await request.body()
                body = json.loads(raw) if raw else None
            path = request.url.path
            core.requests.append((request.method, path, body))
            if "idempotency-key" in request.headers:
                core.idempotency_keys.append((request.method, path, request.headers["idempotency-key"]))
            if core.token and request.headers.get("authorization") != f"Bearer {core.token}":
                return PlainTextResponse("unauthorized\n", 401, headers={"WWW-Authenticate": "Bearer"})
            if path in core.delays:
                await asyncio.sleep(core.delays[path])
            status, payload = 200, None
            try:
                capability = CAPABILITY_OF.get(path.strip("/").split("/")[0])
                if capability in core.missing:
                    raise ApiError(
                        501, f"{capability}_provider_missing", f"{capability} provider not configured"
                    )
                if core.faults.get(path):
                    code = core.faults[path].pop(0)
                    kind = {502: "provider_error", 429: "rate_limited"}.get(code, "unavailable")
                    raise ApiError(code, kind, f"upstream said {code}")
                result = await handler(request)
                status, payload = result if isinstance(result, tuple) else (200, result)
            except ApiError as exc:
                status, payload = exc.status, {"code": exc.code, "message": exc.message}
            core.answers.append((path, status, payload))
            return JSONResponse(payload, status)

        return serve

    routes = [
        Route("/health", endpoint(health), methods=["GET"]),
        Route("/providers/{capability}", endpoint(providers), methods=["GET"]),
        Route("/incidents/query", endpoint(incidents_query), methods=["POST"]),
        Route("/incidents", endpoint(incidents_create), methods=["POST"]),
        Route("/incidents/{id}", endpoint(incident_one), methods=["GET", "PATCH"]),
        Route("/incidents/{id}/timeline", endpoint(timeline), methods=["GET", "POST"]),
        Route("/alerts/query", endpoint(alerts_query), methods=["POST"]),
        Route("/alerts/{id}", endpoint(alert_one), methods=["GET"]),
        Route("/logs/query", endpoint(logs_query), methods=["POST"]),
        Route("/metrics/query", endpoint(metrics_query), methods=["POST"]),
        Route("/metrics/describe", endpoint(metrics_describe), methods=["GET", "POST"]),
        Route("/tickets/query", endpoint(tickets_query), methods=["POST"]),
        Route("/tickets", endpoint(tickets_create), methods=["POST"]),
        Route("/tickets/{id}", endpoint(ticket_one), methods=["GET", "PATCH"]),
        Route("/services/query", endpoint(services_query), methods=["POST"]),
        Route("/teams/query", endpoint(teams_query), methods=["POST"]),
        Route("/teams/{id}", endpoint(team_one), methods=["GET"]),
        Route("/teams/{id}/members", endpoint(team_members), methods=["GET"]),
        Route("/deployments/query", endpoint(deployments_query), methods=["POST"]),
        Route("/deployments/{id}", endpoint(deployment_one), methods=["GET"]),
        Route("/messages/send", endpoint(messages_send), methods=["POST"]),
    ]
    return Starlette(routes=routes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningCore:
    url: str
    state: FakeCore


@pytest.fixture(scope="module")
def running_core() -> Iterator[RunningCore]:
    """The fake OpsOrch Core on 127.0.0.1, serving from a background thread for the whole module."""
    state = FakeCore()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpsOrch Core did not start")
        time.sleep(0.01)
    try:
        yield RunningCore(url=f"http://127.0.0.1:{port}", state=state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def fake_core(running_core: RunningCore) -> Iterator[RunningCore]:
    """The running fake, with fresh data and no faults for this test."""
    running_core.state.reset()
    yield running_core
    running_core.state.reset()


@pytest.fixture
def unreachable_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"

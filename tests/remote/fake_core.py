"""A loopback OpsOrch Core as faithful as a real one (v0.5.1 with its mock plugins), measured by hand against it.

What it does the way the real Core does (see the report of issue 15 for the comparison):

- request bodies decoded like Go's ``json.Decoder`` with ``DisallowUnknownFields`` (see :func:`decode`): an
  unknown field is ``400 {"code": "bad_request", "message": "json: unknown field \\"x\\""}``, a wrong type is refused
  with Go's message (no coercion), keys match fields case-insensitively, ``null`` leaves a field unset, what follows
  the first JSON value is ignored, an empty body is ``EOF``, and a time must be RFC 3339 with a zone;
- errors are ``{code, message}``: ``404 not_found``, ``400 bad_request``, ``502 provider_error``,
  ``501 <capability>_provider_missing``; a wrong bearer token gets a plain-text ``unauthorized`` 401 and a path or
  method the Core does not route a plain-text ``404 page not found`` (never a 405);
- incidents, alerts and logs answer in Go map order, different on every call, and apply ``limit`` to that order
  (so two calls with ``limit`` return different subsets); deployments and tickets come sorted by id as a string
  (not by time) with ``limit`` applied after; services and teams in a fixed order; there is no cursor;
- services are referenced by id everywhere (incidents, alerts, deployments, metric labels, ``scope.service``,
  the catalog's ``metadata.dependencies``), while the catalog's ``name`` is a display name ("Checkout API");
  tiers are words ("backend") as well as numbers;
- times are RFC 3339 with nanoseconds, and a time the provider does not have is Go's zero time
  (``"0001-01-01T00:00:00Z"``: a running deployment's ``finishedAt``);
- every metric query answers each series with a ``<name>.baseline`` companion (labels plus ``variant=baseline``),
  labels are ``map[string]any``; log entries carry no service and no id;
- a metric query without ``scope.service`` answers each metric for its one home service only (the mock's
  ``DefaultService``: ``http_*`` on checkout), and a scoped one for the service asked about, whatever it is: a
  service's series are seen only by asking for that service;
- a counter on a service with firing alerts compounds step after step (the mock's ``container_restarts_total``
  reaches 1e35 within a few hours of 30-second steps), so its values cannot be a counter's; a ``.baseline`` follows its series a tenth
  below, departures included;
- a nil slice is ``null`` (a team without members), appending to a timeline answers ``201 {"status": "ok"}``,
  ``GET /providers/{capability}`` lists compiled-in providers (``[]``: the core runs plugins).

The contract's input models are written out here from REFERENCE.md section 1 and the Go schema, independently of
core_client. No code of OpsOrch's is copied.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, get_args

import uvicorn
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

TOKEN = "s3cr3t-core-token-7f1c"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ZERO_TIME = "0001-01-01T00:00:00Z"


# --- The contract's request bodies, decoded as strictly as Go does ---------------------------------------------


RFC3339 = "2006-01-02T15:04:05Z07:00"
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


class GoTimeError(ValueError):
    """time.Time's own UnmarshalJSON error, which Go's decoder passes on as it is (no "json:" prefix)."""


def _rfc3339(value: Any) -> Any:
    """Go parses a time as RFC 3339 exactly: seconds and a zone are required (its message, for the usual misses)."""
    if not isinstance(value, str):
        return value
    if not _RFC3339.fullmatch(value):
        missing = '"T"' if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else '"Z07:00"'
        raise GoTimeError(f'parsing time "{value}" as "{RFC3339}": cannot parse "" as {missing}')
    # Go keeps nanoseconds; a Python datetime keeps microseconds.
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))


GoTime = Annotated[datetime, BeforeValidator(_rfc3339)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @classmethod
    def go_name(cls) -> str:
        """The Go type the Core decodes this body into, as its error messages name it."""
        return GO_NAMES.get(cls.__name__, cls.__name__.removesuffix("In"))


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
    title: str = ""
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
    at: GoTime | None = None
    kind: str = ""
    body: str = ""
    actor: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class LogFilterIn(Strict):
    field: str = ""
    operator: str = ""
    value: str = ""


class LogExpressionIn(Strict):
    search: str | None = None
    filters: list[LogFilterIn] | None = None
    severityIn: list[str] | None = None


class LogQueryIn(Strict):
    expression: LogExpressionIn | None = None
    start: GoTime | None = None
    end: GoTime | None = None
    scope: Scope | None = None
    limit: int | None = None
    metadata: dict[str, Any] | None = None


class MetricFilterIn(Strict):
    label: str = ""
    operator: str = ""
    value: str = ""


class MetricExpressionIn(Strict):
    metricName: str = ""
    aggregation: str | None = None
    filters: list[MetricFilterIn] | None = None
    groupBy: list[str] | None = None


class MetricQueryIn(Strict):
    expression: MetricExpressionIn | None = None
    start: GoTime | None = None
    end: GoTime | None = None
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
    title: str = ""
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


class DeploymentQueryIn(Strict):  # ...and no time bounds
    query: str | None = None
    statuses: list[str] | None = None
    versions: list[str] | None = None
    scope: Scope | None = None
    limit: int | None = None
    metadata: dict[str, Any] | None = None


class BlockIn(Strict):
    type: str = ""
    text: str | None = None
    fields: dict[str, str] | None = None


class MessageIn(Strict):
    channel: str = ""
    body: str = ""
    threadRef: str | None = None
    blocks: list[BlockIn] | None = None
    metadata: dict[str, Any] | None = None


GO_NAMES = {
    "Scope": "QueryScope",
    "CreateIncidentIn": "CreateIncidentInput",
    "UpdateIncidentIn": "UpdateIncidentInput",
    "TimelineAppendIn": "TimelineAppendInput",
    "CreateTicketIn": "CreateTicketInput",
    "UpdateTicketIn": "UpdateTicketInput",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def decode(request: Request, model: type[Strict]) -> Any:
    """Like the Core's ``decodeJSON``: Go's json.Decoder with DisallowUnknownFields, and its messages.

    Go reads the first JSON value of the body and ignores what follows it; matches a key to a field exactly or else
    case-insensitively; leaves a field as it was for a ``null``; refuses an unknown key (even ``null``) and any
    value of the wrong JSON type (no coercion: ``"2"`` or ``2.0`` is not an int).
    """
    text = (await request.body()).decode(errors="replace").lstrip()
    if not text:
        raise ApiError(400, "bad_request", "EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "bad_request", f"invalid character in JSON input ({exc.msg})") from None
    if value is None:
        return model()
    if not isinstance(value, dict):
        raise ApiError(
            400, "bad_request", f"json: cannot unmarshal {_json_kind(value)} into Go value of type "
            f"schema.{model.go_name()}",
        )  # fmt: skip
    try:
        return model.model_validate_json(json.dumps(_go_keys(value, model)))
    except ValidationError as exc:
        raise ApiError(400, "bad_request", _go_message(exc.errors()[0], model)) from None


def _go_keys(value: Any, model: type[Strict] | None) -> Any:
    """``value`` with its keys matched to ``model``'s fields as Go matches them, and its ``null`` fields dropped."""
    if isinstance(value, list):
        return [_go_keys(item, model) for item in value]
    if not isinstance(value, dict) or model is None:
        return value
    fields_by_fold = {name.casefold(): name for name in model.model_fields}
    matched: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in model.model_fields else fields_by_fold.get(key.casefold())
        if name is None:
            matched[key] = item  # refused below as an unknown field, as Go does even for a null
        elif item is not None:
            matched[name] = _go_keys(item, _model_in(model.model_fields[name].annotation))
    return matched


def _model_in(annotation: Any) -> type[Strict] | None:
    """The request model a field holds (directly, optionally or as list items), if any."""
    if isinstance(annotation, type) and issubclass(annotation, Strict):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)


def _go_message(error: Any, model: type[Strict]) -> str:
    if error["type"] == "extra_forbidden":
        return f'json: unknown field "{error["loc"][-1]}"'
    if error["type"] == "value_error" and isinstance(error.get("ctx", {}).get("error"), GoTimeError):
        return str(error["ctx"]["error"])
    path = ".".join(str(part) for part in error["loc"])
    value = error["input"]
    kind = (
        f"number {value}" if isinstance(value, float) and error["type"] == "int_type" else _json_kind(value)
    )
    return f"json: cannot unmarshal {kind} into Go struct field {model.go_name()}.{path} of type {_go_type(error)}"


def _json_kind(value: Any) -> str:
    kinds = {bool: "bool", str: "string", int: "number", float: "number", list: "array", dict: "object"}
    return kinds.get(type(value), "value")


def _go_type(error: Any) -> str:
    types = {"int_type": "int", "string_type": "string", "list_type": "[]string", "dict_type": "map[string]interface {}",
             "bool_type": "bool", "datetime_type": "time.Time", "model_type": "struct"}  # fmt: skip
    return types.get(error["type"], "value")


# --- The in-memory world ---------------------------------------------------------------------------------------


def go_time(moment: datetime, nanos: int = 0) -> str:
    """A time as Go's RFC3339Nano writes it (trailing zeros of the fraction dropped)."""
    nanos = nanos or moment.microsecond * 1000
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += f".{nanos:09d}".rstrip("0")
    return text + "Z"


# id, display name, tier (a word, as the mock catalog has them, or a number), owner, dependencies (by id)
CATALOG = [
    ("svc-checkout", "Checkout API", "backend", "team-velocity", ["svc-payments", "svc-search"]),
    ("svc-payments", "Payments Service", "tier1", "team-revenue", ["svc-ledger", "svc-fraud"]),
    ("svc-search", "Search Service", "backend", "team-aurora", []),
    # A cycle, as the real mock catalog has (checkout <-> order, analytics <-> warehouse): the ledger calls back.
    ("svc-ledger", "Ledger", "2", "team-revenue", ["svc-payments"]),
    # Payments reaches the rules engine only through fraud scoring: called, but not directly.
    ("svc-fraud", "Fraud Scoring", "backend", "team-revenue", ["svc-rules"]),
    ("svc-rules", "Rules Engine", "backend", "team-revenue", []),
    ("svc-web", "Web Frontend", "frontend", "team-velocity", ["svc-checkout", "svc-search"]),
]
INCIDENT_SERVICES = ["svc-checkout", "svc-payments", "svc-search", "svc-database"]  # one outside the catalog
# The one service an unscoped metric query answers each metric for (the metric mock's DefaultService).
METRIC_HOMES = {
    "http_request_duration_seconds": "svc-checkout",
    "http_requests_total": "svc-checkout",
    "container_restarts_total": "svc-checkout",
}
# Counters the mock compounds on a service with firing alerts, and by how much per step.
COMPOUNDING_COUNTERS = {"container_restarts_total"}
COMPOUNDING = 1.25


def world() -> dict[str, Any]:
    services = [
        {
            "id": sid,
            "name": name,
            "url": f"https://grafana.example.com/d/service-{sid.removeprefix('svc-')}",
            "tags": {"env": "prod", "tier": tier, "owner": owner},
            "metadata": {"dependencies": deps, "description": f"{name} of the shop", "language": "go"},
        }
        for sid, name, tier, owner, deps in CATALOG
    ]
    incidents = [
        {
            "id": f"INC-{n:03d}",
            "title": f"{'Checkout latency' if n % 3 == 0 else 'Payments errors'} #{n}",
            "description": "p99 above SLO" if n % 2 else "error rate spike",
            # Statuses as the incident mock has them: PagerDuty's and Statuspage's words for open beside ours.
            "status": ["open", "investigating", "resolved", "triggered", "identified"][n % 5],
            "severity": f"sev{1 + n % 4}",
            "service": INCIDENT_SERVICES[n % len(INCIDENT_SERVICES)],
            "url": f"https://pd.example.com/incidents/INC-{n:03d}",
            "createdAt": go_time(T0 - timedelta(minutes=n), nanos=820160791),
            "updatedAt": go_time(T0 - timedelta(minutes=n) + timedelta(seconds=30), nanos=820160791),
            "fields": {"priority": f"P{1 + n % 3}", "environment": "prod"},
            "metadata": {"source": "pagerduty"},
        }
        for n in range(1, 24)
    ]
    timelines = {
        "INC-001": [
            {
                "id": f"INC-001-t{n}",
                "incidentId": "INC-001",
                "at": go_time(T0 + timedelta(minutes=n)),
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
            "title": f"HighLatency {INCIDENT_SERVICES[n % 3]}",
            "status": "firing" if n % 5 else "acknowledged",
            "severity": "critical" if n % 4 == 0 else "warning",
            "service": INCIDENT_SERVICES[n % 3],
            "createdAt": go_time(T0 - timedelta(minutes=n)),
            "updatedAt": go_time(T0 - timedelta(minutes=n)),
            "fields": {"labels": {"alertname": "HighLatency"}, "environment": "prod"},
            "metadata": {"fingerprint": f"fp{n}"},
        }
        for n in range(41)
    ]
    logs = [
        {
            # No service and no id on a log entry, as the log mock sends them; the team is a label.
            "timestamp": go_time(T0 - timedelta(seconds=n)),
            "message": f"GET /cart {500 if n % 4 == 0 else 200} took {n * 7}ms",
            "severity": "error" if n % 4 == 0 else "info",
            "labels": {"pod": f"pod-{n % 2}", "team": "team-velocity"},
            "fields": {"latencyMs": n * 7, "status": 500 if n % 4 == 0 else 200},
        }
        for n in range(37)
    ]
    descriptors = [
        {"name": "http_request_duration_seconds", "type": "histogram", "unit": "seconds",
         "description": "HTTP request latency", "labels": ["service", "method"]},
        {"name": "http_requests_total", "type": "counter", "unit": "requests",
         "description": "Total number of HTTP requests", "labels": ["service", "method", "status"]},
        {"name": "container_restarts_total", "type": "counter", "unit": "restarts",
         "description": "Container restart count", "labels": ["service", "pod"]},
    ]  # fmt: skip
    tickets = [
        {
            "id": f"100{n}",
            "key": f"OPS-{n}",
            "title": f"Follow-up {n}",
            "status": "To Do" if n % 2 else "Done",
            "assignees": ["alice"] if n % 2 else ["bob"],
            "reporter": "carol",
            "createdAt": go_time(T0 - timedelta(hours=n)),
            "updatedAt": go_time(T0 - timedelta(hours=n)),
        }
        for n in range(1, 9)
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
            "service": INCIDENT_SERVICES[n % 3],
            "environment": "prod",
            "version": f"v1.{n}",
            "status": "running" if n == 0 else "success",
            "startedAt": go_time(T0 - timedelta(hours=n), nanos=784189861),
            # Go's zero time: the running deployment has not finished.
            "finishedAt": ZERO_TIME if n == 0 else go_time(T0 - timedelta(hours=n) + timedelta(minutes=4)),
            "actor": {"login": "ci"},
        }
        for n in range(10)
    ]
    return {
        "incident": incidents,
        "timeline": timelines,
        "alert": alerts,
        "log": logs,
        "descriptors": descriptors,
        "ticket": tickets,
        "service": services,
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
    # Go map iteration order: a fresh permutation on every call (seeded, so a failure can be replayed).
    shuffle: random.Random = field(default_factory=lambda: random.Random(15))
    # Where metric series are centred and where they leave it: service id -> (start, factor).
    metric_shifts: dict[str, tuple[datetime, float]] = field(default_factory=dict)

    def reset(self) -> None:
        fresh = FakeCore()
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(fresh, name))

    def asked(self, method: str, path: str) -> list[Any]:
        """The bodies of every request to ``method path``."""
        return [body for m, p, body in self.requests if (m, p) == (method, path)]

    def map_order(self, items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
        """``items`` in a new arbitrary order, cut to ``limit`` after ordering: what a Go map walk gives."""
        walked = list(items)
        self.shuffle.shuffle(walked)
        return walked[:limit] if limit else walked


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


def _scoped(items: list[dict[str, Any]], scope: Scope | None) -> list[dict[str, Any]]:
    """The mocks match ``scope.service`` against the id a record references, and the environment field."""
    if scope and scope.service:
        items = [item for item in items if item.get("service") == scope.service]
    if scope and scope.environment:
        items = [
            item
            for item in items
            if item.get("environment", (item.get("fields") or {}).get("environment")) == scope.environment
        ]
    return items


def _by_id(items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """Sorted by id as a string (not by time), cut to ``limit`` after: the deployment and ticket mocks' order."""
    ordered = sorted(items, key=lambda item: item["id"])
    return ordered[:limit] if limit else ordered


def _find(items: list[dict[str, Any]], value: str, what: str) -> dict[str, Any]:
    for item in items:
        if item.get("id") == value:
            return item
    raise ApiError(404, "not_found", f"{what} not found")


def _series(core: FakeCore, q: MetricQueryIn) -> list[dict[str, Any]]:
    """One series per metric, for the scoped service or else the metric's home, each with its ``.baseline``
    companion."""
    expression = q.expression or MetricExpressionIn()
    known = {d["name"] for d in core.data["descriptors"]}
    names = [expression.metricName] if expression.metricName in known else sorted(known)
    end = q.end or T0
    start = q.start or end - timedelta(minutes=30)
    step = timedelta(seconds=q.step if q.step and q.step > 0 else 60)
    alerted = {a["service"] for a in core.data["alert"] if a["status"] == "firing"}
    answer: list[dict[str, Any]] = []
    for name in names:
        service = q.scope.service if q.scope and q.scope.service else METRIC_HOMES[name]
        compounding = name in COMPOUNDING_COUNTERS and service in alerted
        points, moment, n = [], start, 0
        while moment <= end:
            value = 2.2 * COMPOUNDING**n if compounding else 0.2 + 0.01 * ((n * 7) % 5)
            shift = core.metric_shifts.get(service)
            if shift is not None and moment >= shift[0]:
                value *= shift[1]
            points.append({"timestamp": go_time(moment), "value": round(value, 4)})
            moment, n = moment + step, n + 1
        labels: dict[str, Any] = {"service": service, "env": "prod", "method": "GET", "replicas": 3}
        series = {"name": name, "service": service, "labels": labels, "points": points,
                  "url": f"https://grafana.example.com/explore?query={name}", "metadata": {"variant": "active"}}  # fmt: skip
        # The mock's "baseline" follows the series it accompanies, a tenth below it, departures included.
        baseline = {
            **series,
            "name": f"{name}.baseline",
            "labels": {**labels, "variant": "baseline"},
            "points": [{"timestamp": p["timestamp"], "value": round(0.9 * p["value"], 4)} for p in points],
            "metadata": {"variant": "baseline"},
        }
        answer += [series, baseline]
    return answer


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
        return core.map_order(items, q.limit)

    async def incidents_create(request: Request) -> Any:
        data: CreateIncidentIn = await decode(request, CreateIncidentIn)
        core.counter += 1
        incident = {
            **data.model_dump(exclude_none=True),
            "id": f"INC-NEW-{core.counter}",
            "status": data.status or "open",
            "createdAt": go_time(T0),
            "updatedAt": go_time(T0),
        }
        core.data["incident"].insert(0, incident)
        return 201, incident

    async def incident_one(request: Request) -> Any:
        incident = _find(core.data["incident"], request.path_params["id"], "incident")
        if request.method == "PATCH":
            changes: UpdateIncidentIn = await decode(request, UpdateIncidentIn)
            incident.update(changes.model_dump(exclude_unset=True))
            incident["updatedAt"] = go_time(T0 + timedelta(minutes=1))
        return incident

    async def timeline(request: Request) -> Any:
        incident_id = request.path_params["id"]
        _find(core.data["incident"], incident_id, "incident")
        entries = core.data["timeline"].setdefault(incident_id, [])
        if request.method == "GET":
            return entries or None  # a nil slice
        note: TimelineAppendIn = await decode(request, TimelineAppendIn)
        core.counter += 1
        entry = {**note.model_dump(mode="json", exclude_none=True), "id": f"{incident_id}-t{core.counter}"}
        entry["incidentId"] = incident_id
        entry["kind"] = note.kind or "note"
        entry["at"] = go_time(note.at.astimezone(UTC) if note.at else T0)
        entries.append(entry)
        return 201, {"status": "ok"}

    async def alerts_query(request: Request) -> Any:
        q: IncidentQueryIn = await decode(request, IncidentQueryIn)
        items = _scoped(core.data["alert"], q.scope)
        if q.statuses:
            items = [a for a in items if a["status"] in q.statuses]
        return core.map_order(items, q.limit)

    async def alert_one(request: Request) -> Any:
        return _find(core.data["alert"], request.path_params["id"], "alert")

    async def logs_query(request: Request) -> Any:
        q: LogQueryIn = await decode(request, LogQueryIn)
        entries = core.data["log"]
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
                entries = [
                    e
                    for e in entries
                    if str(e.get(condition.field, e["labels"].get(condition.field, ""))) == condition.value
                ]
        return {"entries": core.map_order(entries, q.limit), "url": "https://logs.example.com/search"}

    async def metrics_query(request: Request) -> Any:
        return _series(core, await decode(request, MetricQueryIn))

    async def metrics_describe(request: Request) -> Any:
        if request.method == "POST":
            await decode(request, Scope)
        return {"metrics": core.data["descriptors"]}

    async def tickets_query(request: Request) -> Any:
        q: TicketQueryIn = await decode(request, TicketQueryIn)
        items = core.data["ticket"]
        if q.statuses:
            items = [t for t in items if t["status"] in q.statuses]
        if q.assignees:
            items = [t for t in items if set(q.assignees) & set(t["assignees"])]
        return _by_id(items, q.limit)

    async def tickets_create(request: Request) -> Any:
        data: CreateTicketIn = await decode(request, CreateTicketIn)
        core.counter += 1
        ticket = {
            **data.model_dump(exclude_none=True),
            "id": f"200{core.counter}",
            "key": f"OPS-{100 + core.counter}",
            "status": "To Do",
            "createdAt": go_time(T0),
            "updatedAt": go_time(T0),
        }
        core.data["ticket"].insert(0, ticket)
        return 201, ticket

    async def ticket_one(request: Request) -> Any:
        ticket = _find(core.data["ticket"], request.path_params["id"], "ticket")
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
            items = [s for s in items if q.name.lower() in s["name"].lower()]
        if q.scope and q.scope.service:
            items = [s for s in items if s["id"] == q.scope.service]
        # The service mock walks a slice, so this one answers in a stable order; limit still applies first.
        return items[: q.limit] if q.limit else items

    async def teams_query(request: Request) -> Any:
        q: TeamQueryIn = await decode(request, TeamQueryIn)
        items = core.data["team"]
        if q.name:
            items = [t for t in items if q.name in t["name"]]
        return items  # the team mock walks a slice: a stable order

    async def team_one(request: Request) -> Any:
        return _find(core.data["team"], request.path_params["id"], "team")

    async def team_members(request: Request) -> Any:
        team = _find(core.data["team"], request.path_params["id"], "team")
        return core.data["members"].get(team["id"])  # None -> null, as Go encodes a nil slice

    async def deployments_query(request: Request) -> Any:
        q: DeploymentQueryIn = await decode(request, DeploymentQueryIn)
        items = _scoped(core.data["deployment"], q.scope)
        if q.versions:
            items = [d for d in items if d["version"] in q.versions]
        if q.statuses:
            items = [d for d in items if d["status"] in q.statuses]
        return _by_id(items, q.limit)

    async def deployment_one(request: Request) -> Any:
        return _find(core.data["deployment"], request.path_params["id"], "deployment")

    async def messages_send(request: Request) -> Any:
        message: MessageIn = await decode(request, MessageIn)
        core.sent.append(message.model_dump(exclude_none=True))
        return {"id": f"{len(core.sent)}.000100", "channel": message.channel, "sentAt": go_time(T0)}

    async def health(request: Request) -> Any:
        return {"status": "ok"}

    async def providers(request: Request) -> Any:
        capability = request.path_params["capability"].removesuffix("s")
        if capability == "message":
            capability = "messaging"
        if capability not in CAPABILITY_OF.values():
            raise ApiError(404, "not_found", "unknown capability")
        # Plugins are not registered providers: the real core lists none for them.
        return {"providers": []}

    def endpoint(handler: Any) -> Any:
        async def serve(request: Request) -> Response:
            body = None
            if request.method in ("POST", "PATCH"):
                raw = await request.body()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
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
            # Go's json.Encoder: compact, with a trailing newline.
            text = json.dumps(payload, separators=(",", ":")) + "\n"
            return Response(text, status, media_type="application/json")

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

    async def unrouted(request: Request, exc: Exception) -> Response:
        # The Core checks the token first, then dispatches by path and method by hand: whatever it does not
        # route (an unknown path, or a known one with another method) is net/http's plain-text 404, never a 405.
        core.requests.append((request.method, request.url.path, None))
        if core.token and request.headers.get("authorization") != f"Bearer {core.token}":
            return PlainTextResponse("unauthorized\n", 401, headers={"WWW-Authenticate": "Bearer"})
        return PlainTextResponse("404 page not found\n", 404)

    return Starlette(routes=routes, exception_handlers={404: unrouted, 405: unrouted})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningCore:
    url: str
    state: FakeCore


@contextmanager
def serving(state: FakeCore | None = None) -> Iterator[RunningCore]:
    """The fake OpsOrch Core on 127.0.0.1 (a free port), served from a background thread until the block ends."""
    state = state or FakeCore()
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

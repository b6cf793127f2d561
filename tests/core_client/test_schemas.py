"""OpsOrch Core documents of every type round-trip unchanged; datetimes are UTC; log ids are stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from core_client.schemas import (
    Alert,
    AlertQuery,
    CreateIncidentInput,
    CreateTicketInput,
    Deployment,
    DeploymentQuery,
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
    QueryScope,
    Service,
    ServiceQuery,
    Team,
    TeamMember,
    Ticket,
    TicketQuery,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
    UpdateTicketInput,
)

SCOPE = {"service": "checkout", "team": "storefront", "environment": "prod"}

DOCUMENTS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (
        Incident,
        {
            "id": "INC-1042",
            "title": "Checkout p99 latency above SLO",
            "description": "p99 at 2.4 s since 11:52 UTC",
            "status": "investigating",
            "severity": "sev2",
            "service": "checkout",
            "url": "https://acme.pagerduty.com/incidents/Q1ABC",
            "createdAt": "2026-03-02T11:52:00Z",
            "updatedAt": "2026-03-02T12:04:31Z",
            "fields": {"priority": "P2", "urgency": "high", "responders": ["alice", "bob"]},
            "metadata": {"pagerduty": {"incident_number": 1042, "escalation_policy": {"id": "PEP1"}}},
            "assignedTo": "alice",  # a field a newer core might add: kept as it came
        },
    ),
    (
        IncidentQuery,
        {
            "query": "latency",
            "statuses": ["open", "investigating"],
            "severities": ["sev1", "sev2"],
            "scope": SCOPE,
            "limit": 25,
            "metadata": {"urgency": "high"},
        },
    ),
    (
        CreateIncidentInput,
        {
            "title": "Payments declines spiking",
            "description": "Card declines at 14% (baseline 2%)",
            "status": "open",
            "severity": "sev1",
            "service": "payments",
            "fields": {"priority": "P1"},
            "metadata": {"source": "opspilot"},
        },
    ),
    (
        UpdateIncidentInput,
        {"status": "mitigating", "severity": "sev3", "fields": {"mitigation": "rolled back"}},
    ),
    (
        TimelineEntry,
        {
            "id": "TL-88",
            "incidentId": "INC-1042",
            "at": "2026-03-02T12:01:00Z",
            "kind": "status_change",
            "body": "investigating -> mitigating",
            "actor": {"type": "user", "name": "alice", "email": "alice@acme.test"},
            "metadata": {"raw": {"type": "log_entry", "channel": {"type": "web"}}},
        },
    ),
    (
        TimelineAppendInput,
        {
            "at": "2026-03-02T12:05:00Z",
            "kind": "note",
            "body": "Rolled back checkout to v2.3.1",
            "actor": {"name": "alice"},
            "metadata": {"runId": "run_7"},
        },
    ),
    (
        Alert,
        {
            "id": "AL-5f3a",
            "title": "HighErrorRate checkout",
            "description": "5xx ratio 7% over 5m",
            "status": "firing",
            "severity": "sev2",
            "service": "checkout",
            "url": "http://alertmanager:9093/#/alerts?fingerprint=5f3a",
            "createdAt": "2026-03-02T11:50:00Z",
            "updatedAt": "2026-03-02T11:55:00Z",
            "fields": {"labels": {"alertname": "HighErrorRate", "namespace": "shop"}},
            "metadata": {"fingerprint": "5f3a", "generatorURL": "http://prometheus:9090/graph"},
        },
    ),
    (
        AlertQuery,
        {"query": "HighErrorRate", "statuses": ["firing"], "scope": {"service": "checkout"}, "limit": 50},
    ),
    (
        LogQuery,
        {
            "expression": {
                "search": "timeout",
                "filters": [
                    {"field": "service", "operator": "=", "value": "checkout"},
                    {"field": "message", "operator": "regex", "value": "upstream (connect|read)"},
                    {"field": "pod", "operator": "!=", "value": "checkout-7d9"},
                    {"field": "message", "operator": "contains", "value": "payments"},
                ],
                "severityIn": ["error", "critical"],
            },
            "start": "2026-03-02T11:00:00Z",
            "end": "2026-03-02T12:00:00Z",
            "scope": {"environment": "prod"},
            "limit": 200,
            "metadata": {"index": "logs-*"},
        },
    ),
    (
        LogEntries,
        {
            "entries": [
                {
                    "timestamp": "2026-03-02T11:59:58Z",
                    "message": "upstream read timeout calling payments",
                    "severity": "error",
                    "service": "checkout",
                    "labels": {"pod": "checkout-7d9", "namespace": "shop"},
                    "fields": {"http": {"status": 504, "path": "/cart/checkout"}, "latency_ms": 30001},
                    "metadata": {"_id": "AYx1", "_index": "logs-2026.03.02"},
                },
                {"timestamp": "2026-03-02T11:59:59Z", "message": "GET /healthz 200"},
            ],
            "url": "https://kibana.acme.test/app/discover#/?q=timeout",
        },
    ),
    (
        LogEntry,
        {
            "timestamp": "2026-03-02T11:59:58Z",
            "message": "payment authorized",
            "severity": "info",
            "service": "payments",
            "labels": {"region": "eu-west-1"},
            "fields": {"amount": 42.5, "currency": "EUR"},
            "metadata": {"traceId": "4bf92f3577b34da6"},
        },
    ),
    (
        MetricQuery,
        {
            "expression": {
                "metricName": "http_request_duration_seconds",
                "aggregation": "avg",
                "filters": [
                    {"label": "service", "operator": "=", "value": "checkout"},
                    {"label": "code", "operator": "=~", "value": "5.."},
                    {"label": "pod", "operator": "!~", "value": "canary-.*"},
                    {"label": "method", "operator": "!=", "value": "OPTIONS"},
                ],
                "groupBy": ["service", "code"],
            },
            "start": "2026-03-02T11:00:00Z",
            "end": "2026-03-02T12:00:00Z",
            "step": 60,
            "scope": SCOPE,
            "metadata": {
                "promql": "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))"
            },
        },
    ),
    (
        MetricSeries,
        {
            "name": "http_request_duration_seconds",
            "service": "checkout",
            "labels": {"service": "checkout", "code": "200"},
            "points": [
                {"timestamp": "2026-03-02T11:00:00Z", "value": 0.212},
                {"timestamp": "2026-03-02T11:01:00Z", "value": 2.4},
            ],
            "url": "http://prometheus:9090/graph?g0.expr=http_request_duration_seconds",
            "metadata": {"resultType": "matrix"},
        },
    ),
    (
        MetricDescriptor,
        {
            "name": "http_requests_total",
            "type": "counter",
            "description": "Requests served, by status code",
            "labels": ["service", "code", "method"],
            "unit": "requests",
            "url": "http://prometheus:9090/graph?g0.expr=http_requests_total",
            "metadata": {"help": "Total HTTP requests"},
        },
    ),
    (MetricDescriptors, {"metrics": [{"name": "process_cpu_seconds_total", "type": "counter", "unit": "s"}]}),
    (
        Ticket,
        {
            "id": "10042",
            "key": "OPS-42",
            "title": "Add timeout budget to checkout -> payments",
            "description": "Follow-up of INC-1042",
            "status": "In Progress",
            "assignees": ["alice"],
            "reporter": "bob",
            "url": "https://acme.atlassian.net/browse/OPS-42",
            "createdAt": "2026-03-02T13:00:00Z",
            "updatedAt": "2026-03-03T09:30:00Z",
            "fields": {"priority": "High", "labels": ["postmortem"], "storyPoints": 3},
            "metadata": {"jira": {"issuetype": "Task", "project": {"key": "OPS"}}},
        },
    ),
    (
        TicketQuery,
        {
            "query": "checkout",
            "statuses": ["To Do", "In Progress"],
            "assignees": ["alice"],
            "reporter": "bob",
            "scope": {"team": "storefront"},
            "limit": 20,
            "metadata": {"jql": "project = OPS"},
        },
    ),
    (
        CreateTicketInput,
        {
            "title": "Raise payments pool size",
            "description": "Pool exhausted during INC-1042",
            "fields": {"priority": "High"},
            "metadata": {"project": "OPS"},
        },
    ),
    (
        UpdateTicketInput,
        {"status": "Done", "assignees": ["alice", "carol"], "fields": {"resolution": "Fixed"}},
    ),
    (
        Service,
        {
            "id": "svc-checkout",
            "name": "checkout",
            "url": "https://backstage.acme.test/catalog/checkout",
            "tags": {"team": "storefront", "tier": "tier1", "lang": "go"},
            "metadata": {
                "dependencies": ["payments", "cart"],
                "repo": {"url": "https://git.acme.test/checkout"},
            },
        },
    ),
    (
        ServiceQuery,
        {"ids": ["svc-checkout"], "name": "check", "tags": {"tier": "tier1"}, "limit": 10, "scope": SCOPE},
    ),
    (
        Team,
        {
            "id": "storefront",
            "name": "Storefront",
            "parent": "commerce",
            "url": "https://acme.pagerduty.com/teams/PT1",
            "tags": {"org": "eng"},
            "metadata": {"slack": "#team-storefront"},
        },
    ),
    (
        TeamMember,
        {
            "id": "U123",
            "name": "Alice Martin",
            "email": "alice@acme.test",
            "handle": "@alice",
            "role": "oncall",
            "metadata": {"timezone": "Europe/Paris"},
        },
    ),
    (
        Deployment,
        {
            "id": "run-9913",
            "service": "checkout",
            "environment": "prod",
            "version": "v2.4.0",
            "status": "success",
            "startedAt": "2026-03-02T11:45:00Z",
            "finishedAt": "2026-03-02T11:49:12Z",
            "url": "https://github.com/acme/checkout/actions/runs/9913",
            "actor": {"login": "ci-bot", "type": "Bot"},
            "fields": {"commit": "3f2c1ab", "branch": "main"},
            "metadata": {"workflow": "deploy.yml"},
        },
    ),
    (
        DeploymentQuery,
        {
            "query": "checkout",
            "statuses": ["success", "failed"],
            "versions": ["v2.4.0"],
            "scope": SCOPE,
            "limit": 5,
            "metadata": {"repo": "acme/checkout"},
        },
    ),
    (
        Message,
        {
            "channel": "#inc-1042",
            "body": "Checkout rolled back to v2.3.1",
            "threadRef": "1709380000.000100",
            "blocks": [
                {"type": "header", "text": "INC-1042 update"},
                {"type": "section", "text": "*Status:* mitigating", "fields": ["Owner: alice", "Sev: 2"]},
                {"type": "divider"},
            ],
            "metadata": {"unfurl": False},
        },
    ),
    (
        MessageResult,
        {
            "id": "1709380123.000200",
            "channel": "C0123",
            "sentAt": "2026-03-02T12:02:03Z",
            "url": "https://acme.slack.com/archives/C0123/p1709380123000200",
            "metadata": {"ts": "1709380123.000200"},
        },
    ),
    (QueryScope, SCOPE),
]


@pytest.mark.parametrize(
    ("model", "document"), DOCUMENTS, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(DOCUMENTS)]
)
def test_every_opsorch_document_round_trips_unchanged(model: Any, document: dict[str, Any]) -> None:
    assert model.from_json(document).to_json() == document


def test_every_type_of_the_contract_has_a_document() -> None:
    covered = {model for model, _ in DOCUMENTS}
    contract = {
        Incident, IncidentQuery, CreateIncidentInput, UpdateIncidentInput, TimelineEntry, TimelineAppendInput,
        Alert, AlertQuery, LogQuery, LogEntries, LogEntry, MetricQuery, MetricSeries, MetricDescriptor,
        Ticket, TicketQuery, CreateTicketInput, UpdateTicketInput, Service, ServiceQuery, Team, TeamMember,
        Deployment, DeploymentQuery, Message, MessageResult, QueryScope,
    }  # fmt: skip
    assert contract <= covered


def test_unknown_fields_on_objects_are_kept() -> None:
    document = {
        "id": "run-1",
        "status": "running",
        "startedAt": "2026-03-02T11:45:00Z",
        "approvals": [{"by": "x"}],
    }
    deployment = Deployment.from_json(document)
    assert deployment.model_extra == {"approvals": [{"by": "x"}]}
    assert deployment.to_json()["approvals"] == [{"by": "x"}]


def test_minimal_documents_gain_no_fields() -> None:
    assert Incident.from_json({"id": "INC-1"}).to_json() == {"id": "INC-1"}
    assert Service.from_json({"id": "s", "name": "s"}).to_json() == {"id": "s", "name": "s"}


def test_fractional_seconds_round_trip_as_go_writes_them() -> None:
    document = {"id": "INC-1", "createdAt": "2026-03-02T11:52:00.5Z"}
    assert Incident.from_json(document).to_json() == document


# --- datetimes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["2026-03-02T13:52:00+02:00", "2026-03-02T06:52:00-05:00", "2026-03-02T11:52:00", "2026-03-02T11:52:00Z"],
)
def test_datetimes_normalize_to_utc(raw: str) -> None:
    incident = Incident.from_json({"id": "INC-1", "createdAt": raw})
    assert incident.created_at == datetime(2026, 3, 2, 11, 52, tzinfo=UTC)
    assert incident.created_at is not None and incident.created_at.utcoffset() == timedelta(0)
    assert incident.to_json()["createdAt"] == "2026-03-02T11:52:00Z"


def test_python_datetimes_normalize_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    query = LogQuery(start=datetime(2026, 3, 2, 12, 0, tzinfo=paris), end=datetime(2026, 3, 2, 12, 0))
    assert query.start == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert query.end == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert query.to_json() == {"start": "2026-03-02T11:00:00Z", "end": "2026-03-02T12:00:00Z"}


# --- log ids ------------------------------------------------------------------------------------------------

LINE = {
    "timestamp": "2026-03-02T11:59:58Z",
    "message": "upstream read timeout",
    "severity": "error",
    "service": "checkout",
    "labels": {"pod": "checkout-7d9", "zone": "a"},
}


def test_log_id_is_stable_for_the_same_line() -> None:
    first = LogEntry.from_json(LINE)
    reordered = LogEntry.from_json({**LINE, "labels": {"zone": "a", "pod": "checkout-7d9"}})
    same_instant = LogEntry.from_json({**LINE, "timestamp": "2026-03-02T12:59:58+01:00"})
    assert first.id.startswith("l_")
    assert first.id == LogEntry.from_json(dict(LINE)).id == reordered.id == same_instant.id


@pytest.mark.parametrize(
    "change",
    [
        {"message": "upstream connect timeout"},
        {"timestamp": "2026-03-02T11:59:59Z"},
        {"service": "payments"},
        {"severity": "warn"},
        {"labels": {"pod": "checkout-8e1", "zone": "a"}},
    ],
)
def test_log_id_differs_for_a_different_line(change: dict[str, Any]) -> None:
    assert LogEntry.from_json(LINE).id != LogEntry.from_json({**LINE, **change}).id


def test_derived_log_id_is_not_emitted_but_a_given_one_is_kept() -> None:
    assert "id" not in LogEntry.from_json(LINE).to_json()
    given = LogEntry.from_json({**LINE, "id": "es:AYx1"})
    assert given.id == "es:AYx1" and given.to_json()["id"] == "es:AYx1"


# --- strict queries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "document", "field"),
    [
        (IncidentQuery, {"query": "x", "statusses": ["open"]}, "statusses"),
        (LogQuery, {"expression": {"search": "x", "severity": "error"}}, "severity"),
        (MetricQuery, {"expression": {"metricName": "up", "labels": {}}}, "labels"),
        (TicketQuery, {"assignee": "alice"}, "assignee"),
        (DeploymentQuery, {"environment": "prod"}, "environment"),
        (ServiceQuery, {"scope": {"cluster": "eu"}}, "cluster"),
        (CreateIncidentInput, {"title": "x", "priority": "P1"}, "priority"),
        (Message, {"channel": "#x", "body": "y", "thread": "1"}, "thread"),
    ],
)
def test_strict_queries_reject_unknown_fields_naming_them(
    model: Any, document: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.from_json(document)
    errors = caught.value.errors()
    assert [e["type"] for e in errors] == ["extra_forbidden"]
    assert errors[0]["loc"][-1] == field and field in str(caught.value)

"""Remote mode against a loopback OpsOrch Core: every route, emulated paging, error mapping, strict bodies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import (
    BadQuery,
    CapabilityNotConfigured,
    ConfigurationError,
    NotFound,
    OpsPilotError,
    ProviderUnavailable,
)
from core_client.identity import Actor, Role
from core_client.schemas import (
    CreateIncidentInput,
    CreateTicketInput,
    DeploymentQuery,
    IncidentQuery,
    LogExpression,
    LogFilter,
    LogQuery,
    Message,
    MessageBlock,
    MetricExpression,
    MetricQuery,
    QueryScope,
    ServiceQuery,
    TeamQuery,
    TicketQuery,
    TimelineAppendInput,
    UpdateIncidentInput,
    UpdateTicketInput,
)
from core_client.settings import load_settings

TOKEN = "s3cr3t-core-token-7f1c"  # the fake's token (tests/remote/conftest.py)
ALICE = Actor(user="alice", role=Role.RESPONDER)


class PassGate:
    """Stands in for the MutationGate: runs the action once with a fixed idempotency key, and remembers it."""

    def __init__(self) -> None:
        self.tools: list[str] = []

    async def run(
        self,
        tool: str,
        arguments: Any,
        *,
        actor: Actor,
        grant: str | None,
        environment: str | None,
        action: Callable[[str | None], Awaitable[Any]],
        **_: Any,
    ) -> Any:
        self.tools.append(tool)
        return await action("test-key")


@pytest.fixture
def gate() -> PassGate:
    return PassGate()


@pytest.fixture
async def core(fake_core: Any, gate: PassGate, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CoreClient]:
    monkeypatch.setenv("OPSORCH_CORE_URL", fake_core.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    client = CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]
    yield client
    await client.aclose()


def no_unknown_fields(state: Any) -> None:
    """Nothing we sent was refused by the strict decoder."""
    refused = [a for a in state.answers if a[1] == 400 and "unknown field" in str(a[2])]
    assert refused == []


# --- every route --------------------------------------------------------------------------------------------


async def test_every_capability_is_served_by_opsorch(core: CoreClient) -> None:
    assert {p.capability for p in core.providers()} == set(Capability)
    assert {p.name for p in core.providers()} == {"opsorch"}


async def test_incident_routes(core: CoreClient, fake_core: Any, gate: PassGate) -> None:
    # Scoped by the service's name: the core only matches its id, so the scope is translated before it is sent.
    page = await core.incidents.query(
        IncidentQuery(
            statuses=["open"], severities=["sev1", "sev4"], scope=QueryScope(service="checkout api")
        )
    )
    assert page.items and all(i.status == "open" and i.service == "svc-checkout" for i in page.items)
    assert all(i.severity in ("sev1", "sev4") for i in page.items)
    assert fake_core.state.asked("POST", "/incidents/query")[0]["scope"] == {"service": "svc-checkout"}

    incident = await core.incidents.get("INC-003")
    assert incident.title == "Checkout latency #3"
    assert incident.created_at is not None and incident.created_at.tzinfo is not None
    assert incident.fields == {"priority": "P1", "environment": "prod"}

    created = await core.incidents.create(
        CreateIncidentInput(title="Cart down", service="svc-checkout", severity="sev1"), actor=ALICE
    )
    assert created.id == "INC-NEW-1" and created.status == "open" and created.severity == "sev1"
    assert fake_core.state.asked("POST", "/incidents") == [
        {
            "title": "Cart down",
            "description": "",
            "status": "open",
            "severity": "sev1",
            "service": "svc-checkout",
            "fields": {},
            "metadata": {},
        }
    ]

    updated = await core.incidents.update("INC-003", UpdateIncidentInput(status="resolved"), actor=ALICE)
    assert updated.status == "resolved" and updated.title == "Checkout latency #3"
    assert fake_core.state.asked("PATCH", "/incidents/INC-003") == [{"status": "resolved"}]

    timeline = await core.incidents.timeline("INC-001")
    assert [e.body for e in timeline.items] == ["step 0", "step 1", "step 2"]
    entry = await core.incidents.append_timeline(
        "INC-001", TimelineAppendInput(body="rolled back", actor={"name": "alice"}), actor=ALICE
    )
    # OpsOrch answers the append with {"status": "ok"}; the entry comes back with the server's id.
    assert entry.id == "INC-001-t2" and entry.body == "rolled back" and entry.incident_id == "INC-001"
    sent = fake_core.state.asked("POST", "/incidents/INC-001/timeline")[0]
    assert sent["kind"] == "note" and sent["at"].endswith("Z")
    assert gate.tools == ["create_incident", "update_incident", "append_timeline_note"]
    # The grant's id travels as the idempotency key, on writes only.
    assert fake_core.state.idempotency_keys == [
        ("POST", "/incidents", "test-key"),
        ("PATCH", "/incidents/INC-003", "test-key"),
        ("POST", "/incidents/INC-001/timeline", "test-key"),
    ]
    no_unknown_fields(fake_core.state)


async def test_alert_routes(core: CoreClient, fake_core: Any) -> None:
    page = await core.alerts.query()
    # Newest first, whatever order the core walked them in.
    assert [a.id for a in page.items] == [f"AL-{n}" for n in range(41)]
    alert = await core.alerts.get("AL-2")
    assert alert.service == "svc-search" and alert.metadata == {"fingerprint": "fp2"}
    no_unknown_fields(fake_core.state)


async def test_log_query_returns_entries_with_stable_ids(core: CoreClient, fake_core: Any) -> None:
    query = LogQuery(
        expression=LogExpression(
            search="GET", severity_in=["error"], filters=[LogFilter(field="pod", value="pod-0")]
        ),
        start=fake_core_time(-3600),
        end=fake_core_time(0),
        limit=100,
    )
    page = await core.logs.query(query)
    assert page.items and all(e.severity == "error" and e.labels["pod"] == "pod-0" for e in page.items)
    assert [e.timestamp for e in page.items] == sorted((e.timestamp for e in page.items), reverse=True)
    again = await core.logs.query(query)
    assert [e.id for e in page.items] == [e.id for e in again.items]
    assert len({e.id for e in page.items}) == len(page.items)
    sent = fake_core.state.asked("POST", "/logs/query")[0]
    assert sent["expression"] == {
        "search": "GET",
        "filters": [{"field": "pod", "operator": "=", "value": "pod-0"}],
        "severityIn": ["error"],
    }
    assert sent["start"] == "2026-03-02T11:00:00Z" and sent["limit"] == 5001
    no_unknown_fields(fake_core.state)


def fake_core_time(offset_s: int) -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC) + timedelta(seconds=offset_s)


async def test_metric_routes(core: CoreClient, fake_core: Any) -> None:
    query = MetricQuery(
        expression=MetricExpression(
            metric_name="http_request_duration_seconds", aggregation="avg", group_by=["service"]
        ),
        start=fake_core_time(-600),
        end=fake_core_time(0),
        step=60,
    )
    page = await core.metrics.query(query)
    # Unscoped, the core answers for the metric's home service only; each series' ".baseline" companion is its
    # expected values, not a series of its own.
    assert [s.service for s in page.items] == ["svc-checkout"]
    assert all(s.name == "http_request_duration_seconds" and s.expected for s in page.items)
    scoped = await core.metrics.query(
        query.model_copy(update={"scope": QueryScope(service="Payments Service")})
    )
    assert [s.service for s in scoped.items] == ["svc-payments"]  # asked by name, sent by id
    first = page.items[0]
    assert [p.timestamp for p in first.expected] == [p.timestamp for p in first.points]
    assert first.labels["replicas"] == "3" and "variant" not in first.labels  # map[string]any labels
    assert fake_core.state.asked("POST", "/metrics/query")[0]["expression"]["metricName"] == (
        "http_request_duration_seconds"
    )

    described = await core.metrics.describe()
    assert [d.name for d in described] == [
        "http_request_duration_seconds",
        "http_requests_total",
        "container_restarts_total",
    ]
    assert described[0].type == "histogram"
    assert len(await core.metrics.describe(QueryScope(service="Checkout API"))) == 3
    assert fake_core.state.asked("POST", "/metrics/describe") == [{"service": "svc-checkout"}]
    assert [m for m, p, _ in fake_core.state.requests if p == "/metrics/describe"] == ["GET", "POST"]
    no_unknown_fields(fake_core.state)


async def test_ticket_routes(core: CoreClient, fake_core: Any) -> None:
    page = await core.tickets.query(TicketQuery(statuses=["To Do"], assignees=["alice"]))
    assert [t.key for t in page.items] == ["OPS-1", "OPS-3", "OPS-5", "OPS-7"]
    assert (await core.tickets.get("1002")).key == "OPS-2"
    created = await core.tickets.create(
        CreateTicketInput(title="Add a timeout", description="see INC-003"), actor=ALICE
    )
    assert created.key == "OPS-101" and created.title == "Add a timeout"
    updated = await core.tickets.update(
        created.id, UpdateTicketInput(status="Done", assignees=["bob"]), actor=ALICE
    )
    assert updated.status == "Done" and updated.assignees == ["bob"]
    assert fake_core.state.asked("PATCH", f"/tickets/{created.id}") == [
        {"status": "Done", "assignees": ["bob"]}
    ]
    no_unknown_fields(fake_core.state)


async def test_services_read_dependencies_owner_and_tier_from_tags_and_metadata(
    core: CoreClient, fake_core: Any
) -> None:
    services = {s.id: s for s in await core.services.all()}
    checkout = services["svc-checkout"]
    assert checkout.name == "Checkout API" and checkout.dependencies == ["svc-payments", "svc-search"]
    assert checkout.owner_team == "team-velocity" and checkout.tier == "backend"  # a word, kept as given
    assert checkout.tier_label == "backend" and services["svc-payments"].tier_label == "tier 1"
    assert services["svc-ledger"].tier == 2 and services["svc-ledger"].dependencies == [
        "svc-payments"
    ]  # a cycle
    # The OpsOrch document itself is untouched.
    assert checkout.to_json() == fake_core.state.data["service"][0]
    # Every reference resolves: the id, the name (any case), and dependencies listed by id.
    directory = await core.services.directory()
    assert directory.key("checkout api") == directory.key("svc-checkout") == "svc-checkout"
    assert [s.id for s in await core.services.dependents("Payments Service")] == [
        "svc-checkout",
        "svc-ledger",
    ]
    assert sorted(directory.dependents("svc-search")) == ["svc-checkout", "svc-web"]
    assert (await core.services.get("Ledger")).id == "svc-ledger"
    assert (await core.services.get("svc-ledger")).name == "Ledger"
    assert (await core.services.query(ServiceQuery(ids=["svc-search"]))).items[0].name == "Search Service"
    no_unknown_fields(fake_core.state)


async def test_team_routes(core: CoreClient, fake_core: Any) -> None:
    page = await core.teams.query(TeamQuery(name="Team 1"))
    assert [t.id for t in page.items] == [
        "team-1",
        "team-10",
        "team-11",
    ]  # by name, whatever the core's order
    assert (await core.teams.get("team-1")).name == "Team 1"
    members = await core.teams.members("team-1")
    assert [(m.name, m.role) for m in members] == [("Alice", "owner"), ("Bob", "member")]
    assert await core.teams.members("team-2") == []  # OpsOrch sends null for a nil slice
    no_unknown_fields(fake_core.state)


async def test_deployment_routes_filter_time_on_the_client(core: CoreClient, fake_core: Any) -> None:
    everything = await core.deployments.query(DeploymentQuery(scope=QueryScope(environment="prod")))
    assert [d.id for d in everything.items] == [f"dep-{n}" for n in range(10)]  # newest first
    running = everything.items[0]
    assert running.status == "running" and running.finished_at is None  # Go's zero time: not finished
    assert running.to_json()["finishedAt"] is None
    recent = await core.deployments.query(
        DeploymentQuery(start=fake_core_time(-3 * 3600), end=fake_core_time(-3590), limit=2)
    )
    assert [d.id for d in recent.items] == ["dep-1", "dep-2"] and recent.next_cursor
    rest = await core.deployments.query(
        DeploymentQuery(start=fake_core_time(-3 * 3600), end=fake_core_time(-3590), limit=2),
        cursor=recent.next_cursor,
    )
    assert [d.id for d in rest.items] == ["dep-3"] and rest.next_cursor is None
    for body in fake_core.state.asked("POST", "/deployments/query"):
        assert "start" not in body and "end" not in body
    deployment = await core.deployments.get("dep-4")
    assert deployment.version == "v1.4" and deployment.actor == {"login": "ci"}
    no_unknown_fields(fake_core.state)


async def test_messages_send(core: CoreClient, fake_core: Any, gate: PassGate) -> None:
    result = await core.messaging.send(
        Message(
            channel="#inc-003",
            body="Rolled back checkout",
            blocks=[
                MessageBlock(type="header", text="Update"),
                MessageBlock(text="Details", fields=["Severity: sev1", "no label here"]),
            ],
        ),
        actor=ALICE,
    )
    assert result.id == "1.000100" and result.channel == "#inc-003" and result.sent_at is not None
    # OpsOrch's Block.fields is a map: "Label: value" lines become its entries, and none is no map at all.
    assert fake_core.state.sent[0]["blocks"] == [
        {"type": "header", "text": "Update"},
        {"type": "section", "text": "Details", "fields": {"Severity": "sev1", "field 2": "no label here"}},
    ]
    assert gate.tools == ["send_message"]
    no_unknown_fields(fake_core.state)


async def test_health_checks_the_core(core: CoreClient, fake_core: Any) -> None:
    report = await core.health()
    assert report.status == "ok"
    assert {p.capability for p in report.providers} == {c.value for c in Capability}
    assert all(p.status == "ok" and p.latency_ms is not None and p.latency_ms >= 0 for p in report.providers)
    fake_core.state.token = "rotated"
    report = await core.health()
    assert report.status == "down"
    assert (
        "refused our credentials" in report.providers[0].message and TOKEN not in report.providers[0].message
    )


async def test_providers_route_lists_the_cores_providers(core: CoreClient, fake_core: Any) -> None:
    remote = core.provider_for(Capability.INCIDENT).instance
    # A core running plugins has no compiled-in providers to list.
    assert await remote.core_providers() == []


# --- pagination ---------------------------------------------------------------------------------------------


async def collect(fetch: Callable[[str | None], Awaitable[Any]]) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await fetch(cursor)
        pages += 1
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items, pages


async def test_incident_pages_have_no_gaps_or_repeats(core: CoreClient, fake_core: Any) -> None:
    # The core answers in a new order on every call; pages come from the whole result, newest first.
    items, pages = await collect(lambda c: core.incidents.query(IncidentQuery(limit=5), cursor=c))
    assert [i.id for i in items] == [i["id"] for i in fake_core.state.data["incident"]]
    assert pages == 5  # 23 incidents, 5 per page
    assert {b["limit"] for b in fake_core.state.asked("POST", "/incidents/query")} == {5001}


async def test_exact_multiple_ends_without_an_empty_page(core: CoreClient, fake_core: Any) -> None:
    items, pages = await collect(lambda c: core.tickets.query(TicketQuery(limit=4), cursor=c))
    assert len(items) == 8 and pages == 2


async def test_log_and_team_pages(core: CoreClient, fake_core: Any) -> None:
    lines, pages = await collect(lambda c: core.logs.query(LogQuery(limit=10), cursor=c))
    assert len(lines) == 37 and pages == 4 and len({e.id for e in lines}) == 37
    teams, pages = await collect(lambda c: core.teams.query(TeamQuery(limit=5), cursor=c))
    assert sorted(t.id for t in teams) == sorted(f"team-{n}" for n in range(12)) and pages == 3
    assert [t.name for t in teams] == sorted(t.name for t in teams)
    assert all("limit" not in body for body in fake_core.state.asked("POST", "/teams/query"))
    no_unknown_fields(fake_core.state)


async def test_a_forged_cursor_is_a_bad_query(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="cursor"):
        await core.incidents.query(cursor="not-a-cursor!")


# --- errors -------------------------------------------------------------------------------------------------


async def test_400_is_bad_query(core: CoreClient) -> None:
    query = LogQuery(
        expression=LogExpression(filters=[LogFilter(field="message", operator="regex", value="(")])
    )
    with pytest.raises(BadQuery, match=r"POST /logs/query.*400 bad_request.*invalid regex") as caught:
        await core.logs.query(query)
    assert caught.value.source == "opsorch" and TOKEN not in str(caught.value)


async def test_404_is_not_found(core: CoreClient) -> None:
    with pytest.raises(NotFound, match=r"GET /incidents/INC-999.*not_found.*incident not found"):
        await core.incidents.get("INC-999")
    with pytest.raises(NotFound):
        await core.teams.members("no-such-team")


async def test_501_is_capability_not_configured(core: CoreClient, fake_core: Any) -> None:
    fake_core.state.missing.add("deployment")
    with pytest.raises(CapabilityNotConfigured, match="deployment_provider_missing") as caught:
        await core.deployments.query()
    assert "deployment provider not configured" in str(caught.value)


async def test_502_is_retried_for_reads_then_provider_unavailable(core: CoreClient, fake_core: Any) -> None:
    fake_core.state.faults["/alerts/query"] = [502, 502, 502]
    with pytest.raises(ProviderUnavailable, match="502 provider_error: upstream said 502") as caught:
        await core.alerts.query()
    assert len(fake_core.state.asked("POST", "/alerts/query")) == 3
    assert TOKEN not in str(caught.value)


async def test_transient_failures_are_retried_for_reads(core: CoreClient, fake_core: Any) -> None:
    fake_core.state.faults["/alerts/AL-1"] = [503, 429]
    assert (await core.alerts.get("AL-1")).id == "AL-1"
    assert len([p for _, p, _ in fake_core.state.requests if p == "/alerts/AL-1"]) == 3


async def test_writes_are_never_retried(core: CoreClient, fake_core: Any) -> None:
    fake_core.state.faults["/tickets"] = [503]
    with pytest.raises(ProviderUnavailable, match=r"POST /tickets.*503"):
        await core.tickets.create(CreateTicketInput(title="once"), actor=ALICE)
    assert len(fake_core.state.asked("POST", "/tickets")) == 1
    assert all(t["title"] != "once" for t in fake_core.state.data["ticket"])


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_provider_unavailable(
    core: CoreClient, fake_core: Any, status: int
) -> None:
    if status == 401:
        fake_core.state.token = "another-token"
    else:
        fake_core.state.faults["/incidents/INC-001"] = [403]
    with pytest.raises(ProviderUnavailable, match=f"refused our credentials \\({status}\\)") as caught:
        await core.incidents.get("INC-001")
    assert TOKEN not in str(caught.value) and "GET /incidents/INC-001" in str(caught.value)


async def test_a_timeout_is_provider_unavailable(
    fake_core: Any, gate: PassGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", fake_core.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    monkeypatch.setenv("OPSORCH_INCIDENT_TIMEOUT", "0.2")
    fake_core.state.delays["/incidents/INC-001"] = 1.0
    client = CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]
    try:
        with pytest.raises(ProviderUnavailable, match=r"0\.2 s") as caught:
            await client.incidents.get("INC-001")
        assert TOKEN not in str(caught.value)
        assert len(fake_core.state.asked("GET", "/incidents/INC-001")) <= 1  # a timeout is not retried
    finally:
        await client.aclose()


async def test_an_unreachable_core_is_provider_unavailable(
    unreachable_url: str, gate: PassGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", unreachable_url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    client = CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]
    try:
        with pytest.raises(
            ProviderUnavailable, match=r"cannot reach OpsOrch Core at http://127\.0\.0\.1"
        ) as caught:
            await client.services.query()
        assert TOKEN not in str(caught.value)
        assert (await client.health()).status == "down"
    finally:
        await client.aclose()


async def test_no_error_message_carries_the_token(core: CoreClient, fake_core: Any) -> None:
    fake_core.state.missing.add("metric")
    fake_core.state.faults["/tickets/query"] = [500]
    failures: list[Callable[[], Awaitable[Any]]] = [
        lambda: core.incidents.get("nope"),
        lambda: core.metrics.describe(),
        lambda: core.tickets.query(),
        lambda: core.logs.query(
            LogQuery(expression=LogExpression(filters=[LogFilter(field="x", operator="regex", value="[")]))
        ),
    ]
    for failure in failures:
        with pytest.raises(OpsPilotError) as caught:
            await failure()
        assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.to_dict())


# --- strict decoding and configuration ----------------------------------------------------------------------


async def test_the_fake_really_rejects_unknown_fields(fake_core: Any) -> None:
    async with httpx.AsyncClient(
        base_url=fake_core.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        response = await http.post("/deployments/query", json={"start": "2026-03-02T00:00:00Z"})
        assert response.status_code == 400
        assert response.json() == {"code": "bad_request", "message": 'json: unknown field "start"'}
        response = await http.post("/teams/query", json={"limit": 5})
        assert response.json()["message"] == 'json: unknown field "limit"'
        response = await http.post("/incidents/query", json={"limit": "5"})  # Go does not coerce types
        assert response.status_code == 400 and response.json()["code"] == "bad_request"


async def test_per_capability_url_and_token_override_the_settings(
    fake_core: Any, unreachable_url: str, gate: PassGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", unreachable_url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", "wrong")
    monkeypatch.setenv("OPSORCH_ALERT_CONFIG", f'{{"url": "{fake_core.url}", "token": "{TOKEN}"}}')
    client = CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]
    try:
        assert len((await client.alerts.query()).items) == 41
        alerts = client.provider_for(Capability.ALERT).instance
        incidents = client.provider_for(Capability.INCIDENT).instance
        logs = client.provider_for(Capability.LOG).instance
        assert alerts.api is not incidents.api and incidents.api is logs.api  # one client per core and token
    finally:
        await client.aclose()


def test_a_missing_url_names_the_variable(monkeypatch: pytest.MonkeyPatch, gate: PassGate) -> None:
    monkeypatch.setenv("OPSORCH_INCIDENT_PROVIDER", "opsorch")
    with pytest.raises(ConfigurationError, match="OPSORCH_CORE_URL"):
        CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]


def test_an_unknown_config_key_names_the_variable(monkeypatch: pytest.MonkeyPatch, gate: PassGate) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("OPSORCH_METRIC_CONFIG", '{"adress": "http://x"}')
    with pytest.raises(ConfigurationError, match=r"OPSORCH_METRIC_CONFIG.*'adress'"):
        CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("OPSORCH_CORE_URL", "opsorch:8080", "OPSORCH_CORE_URL"),
        ("OPSORCH_TICKET_CONFIG", '{"url": "ftp://x"}', "key 'url' in OPSORCH_TICKET_CONFIG"),
    ],
)
def test_a_url_that_is_not_http_names_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, gate: PassGate, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]


async def test_a_result_over_the_cap_is_marked_truncated(
    fake_core: Any, gate: PassGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", fake_core.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    monkeypatch.setenv("OPSORCH_INCIDENT_CONFIG", '{"max_items": 10}')
    client = CoreClient.from_settings(load_settings(), gate=gate)  # type: ignore[arg-type]
    try:
        page = await client.incidents.query(IncidentQuery(limit=5))
        assert page.truncated and len(page.items) == 5 and page.next_cursor
        assert fake_core.state.asked("POST", "/incidents/query")[-1]["limit"] == 11
        alerts = await client.alerts.query()  # another capability, the default cap
        assert not alerts.truncated and len(alerts.items) == 41
    finally:
        await client.aclose()

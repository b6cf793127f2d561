"""Every capability of the demo world through CoreClient: queries, scope, cursors, errors and mutations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import BadQuery, NotFound
from core_client.identity import Actor, Role
from core_client.incident_order import honors_incident_order, incident_order_metadata
from core_client.schemas import (
    AlertQuery,
    CreateIncidentInput,
    CreateTicketInput,
    DeploymentQuery,
    Incident,
    IncidentQuery,
    LogExpression,
    LogQuery,
    Message,
    MetricExpression,
    MetricFilter,
    MetricQuery,
    PageOnCallInput,
    QueryScope,
    ServiceQuery,
    TicketQuery,
    TimelineAppendInput,
    UpdateIncidentInput,
    UpdateTicketInput,
)
from core_client.settings import load_settings
from tests.demo.world_fixture import build_small, install

ACTOR = Actor(user="alice", role=Role.RESPONDER)
RANK = {"sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4}


class PassGate:
    """Lets every mutation through with a fixed idempotency key, as a granted approval would."""

    def __init__(self) -> None:
        self.key = "k"

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
        return await action(self.key)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("built"))


@pytest.fixture
async def core(built: Path) -> AsyncIterator[CoreClient]:
    install(built)
    client = CoreClient.from_settings(load_settings(), gate=PassGate())  # type: ignore[arg-type]
    yield client
    await client.aclose()


async def test_clock_is_the_world_now_and_everything_is_healthy(core: CoreClient) -> None:
    assert core.clock.now().isoformat() == "2025-06-11T14:20:00+00:00"
    report = await core.health()
    assert report.status == "ok" and len(report.providers) == 9


async def test_incidents_filter_scope_page_and_timeline(core: CoreClient) -> None:
    first = await core.incidents.query(IncidentQuery(limit=5))
    assert len(first.items) == 5 and first.next_cursor
    second = await core.incidents.query(IncidentQuery(limit=5), cursor=first.next_cursor)
    assert not {i.id for i in first.items} & {i.id for i in second.items}
    active = first.items[0]
    assert active.title == "Checkout error rate above 5%" and active.status == "investigating"
    assert active.service == "checkout-api"
    timeline = await core.incidents.timeline(active.id)
    assert [e.kind for e in timeline.items][:2] == ["alert", "page"]
    sev = await core.incidents.query(IncidentQuery(severities=["sev1"], scope=QueryScope(team="payments")))
    assert sev.items and all(
        i.severity == "sev1" and i.service in ("payments-api", "payflow") for i in sev.items
    )
    assert (
        await core.incidents.query(IncidentQuery(query="checkout error rate", statuses=["investigating"]))
    ).items
    with pytest.raises(NotFound):
        await core.incidents.get("INC-1")
    with pytest.raises(BadQuery):
        await core.incidents.query(IncidentQuery(limit=5, statuses=["open"]), cursor=first.next_cursor)


async def test_incident_mutations_persist_and_are_idempotent(core: CoreClient) -> None:
    created = await core.incidents.create(
        CreateIncidentInput(title="Manual", service="orders-api"), actor=ACTOR
    )
    again = await core.incidents.create(
        CreateIncidentInput(title="Manual", service="orders-api"), actor=ACTOR
    )
    assert again.id == created.id
    core.gate.key = "k2"  # type: ignore[attr-defined]
    updated = await core.incidents.update(created.id, UpdateIncidentInput(status="mitigating"), actor=ACTOR)
    assert updated.status == "mitigating" and (await core.incidents.get(created.id)).status == "mitigating"
    core.gate.key = "k3"  # type: ignore[attr-defined]
    entry = await core.incidents.append_timeline(
        created.id, TimelineAppendInput(body="rolled back"), actor=ACTOR
    )
    assert entry.at == core.clock.now()
    assert (await core.incidents.timeline(created.id)).items[-1].body == "rolled back"


async def test_alerts_show_the_symptom_firing(core: CoreClient) -> None:
    firing = await core.alerts.query(AlertQuery(statuses=["firing"], limit=100))
    titles = {a.title for a in firing.items}
    assert "Checkout error rate above 5%" in titles
    alert = await core.alerts.get(firing.items[0].id)
    assert alert.id == firing.items[0].id
    with pytest.raises(NotFound):
        await core.alerts.get("ALR-0")


async def test_metrics_aggregate_filter_group_and_describe(core: CoreClient) -> None:
    now = core.clock.now()
    pool = await core.metrics.query(
        MetricQuery(
            expression=MetricExpression(
                metric_name="db_pool_in_use", aggregation="max", group_by=["service"]
            ),
            scope=QueryScope(environment="prod"),
            start=now - timedelta(hours=2),
            end=now,
            step=600,
        )
    )
    by_service = {s.labels["service"]: [p.value for p in s.points] for s in pool.items}
    assert len(by_service["orders-api"]) == 12
    assert by_service["orders-api"][-1] == 40 and max(by_service["payments-api"]) < 30
    latency = await core.metrics.query(
        MetricQuery(
            expression=MetricExpression(
                metric_name="latency_ms",
                filters=[
                    MetricFilter(label="quantile", operator="=~", value="p9.*"),
                    MetricFilter(label="service", operator="=", value="orders-api"),
                    MetricFilter(label="environment", operator="!=", value="staging"),
                ],
            ),
            start=now - timedelta(minutes=30),
            end=now,
        )
    )
    assert sorted(s.labels["quantile"] for s in latency.items) == ["p95", "p99"]
    count = await core.metrics.query(
        MetricQuery(
            expression=MetricExpression(
                metric_name="request_rate",
                aggregation="count",
                filters=[MetricFilter(label="service", operator="!~", value=".*-api")],
            ),
            scope=QueryScope(environment="prod"),
            step=3600,
        )
    )
    assert {p.value for p in count.items[0].points} == {8.0}
    week = await core.metrics.query(
        MetricQuery(
            expression=MetricExpression(metric_name="cpu_usage", aggregation="avg"),
            start=now - timedelta(days=2),
            end=now,
            step=3600,
        )
    )
    assert len(week.items[0].points) == 48
    described = {d.name: d for d in await core.metrics.describe()}
    assert described["latency_ms"].labels == ["service", "environment", "quantile"]
    assert described["cert_days_to_expiry"].unit == "days"
    assert all(d.type and d.unit for d in described.values())
    scoped = {d.name for d in await core.metrics.describe(QueryScope(service="postgres-main"))}
    assert "disk_used_percent" in scoped and "db_pool_in_use" not in scoped
    with pytest.raises(BadQuery, match="unknown metric"):
        await core.metrics.query(MetricQuery(expression=MetricExpression(metric_name="nope")))
    with pytest.raises(BadQuery, match="invalid regex"):
        await core.metrics.query(
            MetricQuery(
                expression=MetricExpression(
                    metric_name="cpu_usage", filters=[MetricFilter(label="service", operator="=~", value="(")]
                )
            )
        )


async def test_tickets_deployments_services_teams_messaging(core: CoreClient) -> None:
    tickets = await core.tickets.query(TicketQuery(scope=QueryScope(service="checkout-api"), limit=3))
    assert tickets.items and tickets.items[0].fields["service"] == "checkout-api"
    created = await core.tickets.create(
        CreateTicketInput(title="Follow-up", fields={"service": "orders-api"}), actor=ACTOR
    )
    assert (await core.tickets.get(created.id)).title == "Follow-up"
    core.gate.key = "t2"  # type: ignore[attr-defined]
    moved = await core.tickets.update(created.id, UpdateTicketInput(status="In Progress"), actor=ACTOR)
    assert moved.status == "In Progress"
    with pytest.raises(NotFound):
        await core.tickets.get("OPS-1")

    deploys = await core.deployments.query(
        DeploymentQuery(
            scope=QueryScope(service="search-api", environment="prod"),
            start=core.clock.now() - timedelta(hours=1),
        )
    )
    assert deploys.items and all(d.service == "search-api" for d in deploys.items)
    assert (await core.deployments.get(deploys.items[0].id)).version == deploys.items[0].version

    services = await core.services.all()
    assert len(services) >= 12
    kinds = {s.tags["kind"] for s in services}
    assert {"web", "gateway", "api", "worker", "database", "cache", "queue", "external"} <= kinds
    assert "orders-api" in (await core.services.get("checkout-api")).dependencies
    assert {s.name for s in await core.services.dependents("orders-api")} >= {"checkout-api"}
    assert (await core.services.query(ServiceQuery(scope=QueryScope(team="payments")))).items
    assert "# orders-api runbook" in (await core.services.runbook("orders-api")).body

    teams = await core.teams.query()
    assert len(teams.items) >= 4
    assert len(await core.teams.members("commerce")) >= 4
    shifts = await core.teams.oncall("commerce")
    assert [s.escalation_level for s in shifts] == [1, 2]
    assert shifts[0].start <= core.clock.now() < shifts[0].end
    later = await core.teams.oncall("commerce", at=core.clock.now() + timedelta(days=7))
    assert later[0].member.id != shifts[0].member.id
    paged = await core.teams.page(PageOnCallInput(service="orders-api", summary="pool"), actor=ACTOR)
    assert paged.paged[0].id == shifts[0].member.id

    sent = await core.messaging.send(Message(channel="#team-commerce", body="hello"), actor=ACTOR)
    assert (
        await core.messaging.send(Message(channel="#team-commerce", body="hello"), actor=ACTOR)
    ).id == sent.id


async def test_a_ticket_is_found_by_its_incident_and_appended_to_keeping_its_text(core: CoreClient) -> None:
    created = await core.tickets.create(
        CreateTicketInput(
            title="pool",
            description="First finding.",
            fields={"incidentId": "INC-X1", "service": "orders-api"},
        ),
        actor=ACTOR,
    )
    assert created.fields["team"]  # the service's team, so a team's scope finds it
    found = await core.tickets.query(TicketQuery(metadata={"incidentId": "INC-X1"}))
    assert [t.id for t in found.items] == [created.id]
    core.gate.key = "edit"  # type: ignore[attr-defined]
    await core.tickets.update(
        created.id, UpdateTicketInput(description="First finding, edited."), actor=ACTOR
    )
    core.gate.key = "append"  # type: ignore[attr-defined]
    appended = await core.tickets.update(
        created.id,
        UpdateTicketInput(fields={"faultKind": "disk_full"}),
        actor=ACTOR,
        append_description="## Update\n\nSecond finding.",
    )
    # What someone wrote in between is kept; the fields given are merged into the ticket's.
    assert appended.description == "First finding, edited.\n\n## Update\n\nSecond finding.\n"
    assert appended.fields["incidentId"] == "INC-X1" and appended.fields["faultKind"] == "disk_full"
    with pytest.raises(BadQuery, match="not both"):
        await core.tickets.update(
            created.id, UpdateTicketInput(description="x"), actor=ACTOR, append_description="y"
        )


async def test_logs_are_served_from_the_world(core: CoreClient) -> None:
    page = await core.logs.query(
        LogQuery(
            expression=LogExpression(search="timeout acquiring connection"),
            scope=QueryScope(service="orders-api"),
            limit=5,
        )
    )
    assert page.items and all(e.service == "orders-api" for e in page.items)
    assert page.items[0].timestamp <= core.clock.now()


async def _all_pages(core: CoreClient, query: IncidentQuery) -> list[list[Incident]]:
    pages, cursor = [], None
    while True:
        page = await core.incidents.query(query, cursor=cursor)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_each_sort_runs_across_pages_without_gaps_or_repeats(core: CoreClient) -> None:
    assert honors_incident_order(core.provider_for(Capability.INCIDENT).instance)
    everything = (await core.incidents.query(IncidentQuery(limit=100))).items
    assert len(everything) == 33
    expected = {
        "newest": sorted(everything, key=lambda i: (i.created_at, i.id), reverse=True),
        "oldest": sorted(everything, key=lambda i: (i.created_at, i.id)),
        "updated": sorted(everything, key=lambda i: (i.updated_at, i.id), reverse=True),
    }
    for sort, order in expected.items():
        pages = await _all_pages(core, IncidentQuery(limit=10, metadata=incident_order_metadata(sort)))
        assert [len(p) for p in pages] == [10, 10, 10, 3]
        assert [i.id for p in pages for i in p] == [i.id for i in order], sort

    pages = await _all_pages(core, IncidentQuery(limit=10, metadata=incident_order_metadata("severity")))
    flat = [i for p in pages for i in p]
    assert sorted(i.id for i in flat) == sorted(i.id for i in everything)
    keys = [(RANK[i.severity], -i.created_at.timestamp()) for i in flat if i.created_at]
    assert keys == sorted(keys) and flat[0].severity == "sev1" and flat[-1].severity == "sev4"
    # Page 2 carries on where page 1 stopped: no sev1 after the first sev2.
    assert [i.severity for i in pages[1]][:1] != ["sev1"] and RANK[pages[1][0].severity] >= RANK[
        pages[0][-1].severity
    ]


async def test_a_creation_range_keeps_only_incidents_started_inside_it(core: CoreClient) -> None:
    now = core.clock.now()
    metadata = incident_order_metadata("oldest", now - timedelta(days=30), now)
    pages = await _all_pages(core, IncidentQuery(limit=2, metadata=metadata))
    inside = [i for p in pages for i in p]
    assert [i.id for i in inside] == ["INC-4003", "INC-4002", "INC-4029", "INC-4001", "INC-4033"]
    assert all(i.created_at and now - timedelta(days=30) <= i.created_at < now for i in inside)
    older = incident_order_metadata("newest", None, now - timedelta(days=340))
    assert [i.id for i in (await core.incidents.query(IncidentQuery(metadata=older))).items] == [
        "INC-4024",
        "INC-4031",
    ]


async def test_a_cursor_belongs_to_its_sort_and_bad_metadata_is_a_bad_query(core: CoreClient) -> None:
    first = await core.incidents.query(IncidentQuery(limit=5, metadata=incident_order_metadata("severity")))
    with pytest.raises(BadQuery, match="cursor does not belong to this query"):
        await core.incidents.query(
            IncidentQuery(limit=5, metadata=incident_order_metadata("oldest")), cursor=first.next_cursor
        )
    with pytest.raises(BadQuery, match="bad incident order in query metadata: sort"):
        await core.incidents.query(IncidentQuery(metadata={"sort": "loudest"}))
    with pytest.raises(BadQuery, match="createdFrom"):
        await core.incidents.query(IncidentQuery(metadata={"createdFrom": "yesterday"}))
    # Metadata the convention does not name is left alone.
    assert len((await core.incidents.query(IncidentQuery(metadata={"trace": "x"}))).items) == 33

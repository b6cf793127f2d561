"""The service catalog, one service's page and the Overview's grid on the small demo world; a missing provider fails only
its column."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.backend.services import service_detail, services_page
from console.state.overview import OverviewState
from console.state.scope import ScopeState
from console.state.services import ServicesState, ServiceState
from core_client.client import CoreClient
from core_client.errors import NotFound
from core_client.schemas import QueryScope
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]


async def test_the_catalog_with_owners_on_call_runbooks_and_health(demo_core: CoreClient) -> None:
    page = await services_page(demo_core, QueryScope(), "", None)

    assert len(page.rows) == 15 and page.next_cursor is None and page.notes == []
    rows = {row.name: row for row in page.rows}
    checkout = rows["checkout-api"]
    assert (checkout.team, checkout.tier, checkout.status) == ("commerce", "tier 1", "critical")
    assert (checkout.open_incidents, checkout.firing_alerts) == (1, 1)
    assert checkout.tags == ["kind=api", "language=java"]
    assert checkout.oncall and checkout.runbook.startswith("https://")
    assert checkout.link == "/services/checkout-api"
    assert rows["payflow"].status == "healthy"


async def test_the_catalog_follows_the_scope_and_the_search(demo_core: CoreClient) -> None:
    commerce = await services_page(demo_core, QueryScope(team="commerce"), "", None)
    assert {row.team for row in commerce.rows} == {"commerce"} and len(commerce.rows) < 15
    named = await services_page(demo_core, QueryScope(), "orders", None)
    assert [row.name for row in named.rows] == ["orders-api"]


async def test_one_service_in_the_dependency_graph(demo_core: CoreClient) -> None:
    detail = await service_detail(demo_core, "orders-api")

    assert [(n.name, n.known) for n in detail.calls] == [("postgres-main", True), ("order-events", True)]
    assert [n.name for n in detail.called_by] == ["checkout-api", "fulfillment-worker"]
    assert {n.name: n.status for n in detail.called_by}["checkout-api"] == "critical"
    assert detail.status == "warning" and [a.title for a in detail.alerts] == [
        "orders-api p99 latency above 1s"
    ]
    assert [shift.level for shift in detail.oncall.value or []] == [1, 2]
    assert detail.runbook.value is not None and "orders-api runbook" in detail.runbook.value.title
    assert detail.service.environments == "prod, staging" and detail.service.team == "commerce"
    with pytest.raises(NotFound):
        await service_detail(demo_core, "no-such-service")


async def test_a_service_off_its_baseline_is_not_healthy_with_nothing_on_record(
    demo_core: CoreClient,
) -> None:
    # In the demo's outage, fulfillment-worker fails through what it calls, with no incident or alert of its own.
    detail = await service_detail(demo_core, "fulfillment-worker")
    assert (detail.incidents, detail.alerts) == ([], [])
    assert detail.status == "warning"
    departures = detail.departures.value or []
    assert (
        departures and departures[0].reading.startswith("error_rate ") and "normally" in departures[0].reading
    )
    assert departures[0].link.startswith("/metrics?metric=error_rate&service=fulfillment-worker&")
    assert "&mark=" in departures[0].link

    # Its neighbours are rated by the same rule: orders-api, which it calls, is off its baseline too.
    assert {n.name: n.status for n in detail.calls}["orders-api"] == "warning"

    calm = await service_detail(demo_core, "payflow")
    assert (calm.status, calm.departures.value) == ("healthy", [])


async def test_without_a_team_provider_the_catalog_still_shows(make_core: Callable[..., CoreClient]) -> None:
    core = make_core()  # fakes: services, incidents, alerts and deploys, but no team provider and no runbooks

    page = await services_page(core, QueryScope(), "", None)

    assert [row.name for row in page.rows] == ["checkout", "mail", "payments", "search"]
    assert {row.oncall for row in page.rows} == {""}
    # No team provider is not a failure: the page says plainly that no source keeps schedules.
    assert not any(note.startswith("on-call:") for note in page.notes)
    assert any("keep no on-call schedules" in note for note in page.unserved)
    assert {row.name: row.status for row in page.rows}["checkout"] == "critical"


async def test_the_page_states(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", "/services?team=platform")
    await client.follow(await client.fire(ScopeState.open_page))
    catalog = await client.state(ServicesState)
    assert catalog.rows and {row.team for row in catalog.rows} == {"platform"} and catalog.notes == []

    # Nothing on record troubles fulfillment-worker, but it fails through what it calls: the list rates it by its
    # metrics once they are scanned, as its page does; payflow stays healthy.
    client.goto("/services")
    await client.follow(await client.fire(ScopeState.open_page))
    rows = {row.name: row for row in (await client.state(ServicesState)).rows}
    assert (rows["fulfillment-worker"].status, rows["fulfillment-worker"].off_baseline) == ("warning", True)
    assert (rows["checkout-api"].status, rows["checkout-api"].off_baseline) == ("critical", False)
    assert (rows["payflow"].status, rows["payflow"].off_baseline) == ("healthy", False)

    client.goto("/services/orders-api", route="/services/[service_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    one = await client.state(ServiceState)
    assert (one.service.name, one.status, one.error) == ("orders-api", "warning", "")
    assert one.departures and one.departures_error == ""
    assert [n.name for n in one.calls] == ["postgres-main", "order-events"]
    assert one.runbook_body.startswith("# orders-api runbook") and len(one.oncall) == 2

    client.goto("/services/nope", route="/services/[service_ref]")
    await client.fire(ServiceState.load)
    missing = await client.state(ServiceState)
    assert "no service named 'nope'" in missing.error and missing.calls == []


async def test_the_overview_rates_a_service_by_its_metrics_when_nothing_is_on_record(
    demo_core: CoreClient, people
) -> None:
    client = await signed_in(demo_core, "vera", "/")
    await client.follow(await client.fire(ScopeState.open_page))
    await client.fire(OverviewState.load)
    tiles = {tile.key: tile for tile in (await client.state(OverviewState)).services}
    # The same rule as the Services list and a service's page: failing with nothing on record is a warning.
    assert (tiles["fulfillment-worker"].status, tiles["fulfillment-worker"].off_baseline) == ("warning", True)
    assert (tiles["payflow"].status, tiles["payflow"].off_baseline) == ("healthy", False)
    order = {"critical": 0, "warning": 1, "healthy": 2}
    statuses = [order[tile.status] for tile in (await client.state(OverviewState)).services]
    assert statuses == sorted(statuses), "worst first, after the metrics too"

"""Alerts (firing first) and Deployments (within the scope's time range) on the small demo world (74 alerts, 3
firing; 35 deployments over the last three days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.backend.alerts import AlertFilters, alert_view, alerts_page
from console.backend.deployments import DeploymentFilters, deployment_view, deployments_page
from console.state.alerts import AlertsState, AlertState
from console.state.deployments import DeploymentsState, DeploymentState
from console.state.scope import ScopeState
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.schemas import QueryScope
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]

NOW = datetime(2025, 6, 11, 14, 20, tzinfo=UTC)


async def test_firing_alerts_come_first_then_the_rest_each_paged(demo_core: CoreClient) -> None:
    seen: list[str] = []
    statuses: list[list[str]] = []
    cursor = None
    while True:
        page = await alerts_page(demo_core, AlertFilters(), QueryScope(), cursor)
        seen += [row.id for row in page.rows]
        statuses.append([row.status for row in page.rows])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert statuses[0] == ["firing"] * 3  # the firing pass: one short page
    assert all(set(page) == {"resolved"} for page in statuses[1:])
    assert len(seen) == len(set(seen)) == 74

    resolved = await alerts_page(
        demo_core, AlertFilters(status="resolved", severity="sev4"), QueryScope(), None
    )
    assert resolved.rows and {(r.status, r.severity) for r in resolved.rows} == {("resolved", "sev4")}
    with pytest.raises(BadQuery, match="malformed"):
        await alerts_page(demo_core, AlertFilters(), QueryScope(), "bm90LWEtY3Vyc29y")


async def test_deployments_within_the_window_and_scope(demo_core: CoreClient) -> None:
    day = await deployments_page(
        demo_core, DeploymentFilters(), QueryScope(), (NOW - timedelta(hours=24), NOW), None
    )
    assert len(day.rows) == 5
    newest = day.rows[0]
    assert (newest.service, newest.environment, newest.status, newest.change) == (
        "search-api",
        "prod",
        "succeeded",
        "code",
    )
    assert newest.actor and newest.duration and newest.link.startswith("/deployments/dep-")
    prod = await deployments_page(
        demo_core, DeploymentFilters(), QueryScope(environment="prod"), (NOW - timedelta(hours=24), NOW), None
    )
    assert len(prod.rows) == 3 and {row.environment for row in prod.rows} == {"prod"}
    week = await deployments_page(
        demo_core, DeploymentFilters(), QueryScope(), (NOW - timedelta(days=7), NOW), None
    )
    assert len(week.rows) == 25 and week.next_cursor is not None


async def test_one_alert_and_one_deployment(demo_core: CoreClient) -> None:
    firing = (await alerts_page(demo_core, AlertFilters(status="firing"), QueryScope(), None)).rows[0]
    alert = await alert_view(demo_core, firing.id)
    assert (alert.id, alert.status, alert.service_link) == (
        firing.id,
        "firing",
        f"/services/{firing.service}",
    )
    newest = (await demo_core.deployments.query()).items[0]
    deploy = await deployment_view(demo_core, newest.id)
    assert (deploy.service, deploy.version, deploy.environment) == (
        newest.service,
        newest.version,
        newest.environment,
    )
    assert any(row.label == "commit" for row in deploy.fields)


async def test_the_page_states(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", "/alerts")
    await client.follow(await client.fire(ScopeState.open_page))
    alerts = await client.state(AlertsState)
    assert [row.status for row in alerts.rows] == ["firing"] * 3 and alerts.has_next
    await client.fire(AlertsState.next_page)
    assert {row.status for row in (await client.state(AlertsState)).rows} == {"resolved"}
    assert (await client.fire(AlertsState.filter_status, value="firing")).urls() == [
        ("pushState", "/alerts?status=firing")
    ]

    client.goto(f"/alerts/{alerts.rows[0].id}", route="/alerts/[alert_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    assert (await client.state(AlertState)).alert.id == alerts.rows[0].id

    client.goto("/deployments?range=7d&env=staging")
    await client.follow(await client.fire(ScopeState.open_page))
    deployments = await client.state(DeploymentsState)
    assert deployments.rows and {row.environment for row in deployments.rows} == {"staging"}

    client.goto(deployments.rows[0].link, route="/deployments/[deployment_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    one = await client.state(DeploymentState)
    assert (one.deployment.id, one.error, one.loading) == (deployments.rows[0].id, "", False)

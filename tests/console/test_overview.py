"""The Overview's load logic over a real CoreClient whose providers are in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable

from console.backend import overview as overview_module
from console.backend.overview import load_overview
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.schemas import Incident

from .conftest import NOW, FakeProvider, core_over, world


async def test_every_panel_loads_from_its_provider(make_core: Callable[..., CoreClient]) -> None:
    overview = await load_overview(make_core())

    assert overview.as_of == "2026-11-01 12:00 UTC"
    incidents = overview.incidents.value
    assert incidents is not None and overview.incidents.error == ""
    # Only open statuses count: the resolved sev1 on search is left out.
    assert [(c.severity, c.count) for c in incidents.by_severity] == [
        ("sev1", 1),
        ("sev2", 1),
        ("sev3", 2),
        ("sev4", 1),
    ]
    assert incidents.total == 5 and not incidents.capped
    assert [row.id for row in incidents.recent] == ["INC-1", "INC-2", "INC-3", "INC-4", "INC-5"]
    assert incidents.recent[0].age == "10m ago"
    assert incidents.recent[0].started == "2026-11-01 11:50 UTC"

    alerts = overview.alerts.value
    assert alerts is not None
    assert [row.id for row in alerts.rows] == ["A-2", "A-1"]  # firing only, newest first
    assert alerts.total == 2

    assert [(d.id, d.version, d.age) for d in overview.deploys.value or []] == [
        ("D-1", "v1.1", "1h ago"),
        ("D-2", "v1.2", "2h ago"),
        ("D-3", "v1.3", "3h ago"),
    ]

    tiles = {tile.name: tile for tile in overview.services.value or []}
    assert tiles["checkout"].status == "critical"  # a sev1 incident and a critical alert
    assert tiles["payments"].status == "critical"  # a sev2 incident
    assert tiles["search"].status == "warning"  # sev3/sev4 incidents and a warning alert
    assert (tiles["search"].open_incidents, tiles["search"].firing_alerts) == (2, 1)
    assert tiles["mail"].status == "healthy"
    assert (tiles["mail"].team, tiles["mail"].tier) == ("platform", "tier 3")
    assert [tile.name for tile in overview.services.value or []][:2] == ["checkout", "payments"]


async def test_a_failing_provider_only_breaks_its_own_panel(make_core: Callable[..., CoreClient]) -> None:
    overview = await load_overview(make_core(broken={Capability.ALERT}))

    assert overview.alerts.value is None
    assert "fake-alert" in overview.alerts.error and "connection refused" in overview.alerts.error
    assert overview.incidents.value is not None and overview.incidents.error == ""
    assert overview.deploys.value and overview.services.value
    # Without alerts the grid still rates services from their incidents.
    tiles = {tile.name: tile for tile in overview.services.value}
    assert tiles["search"].firing_alerts == 0 and tiles["search"].status == "warning"


async def test_a_failing_catalog_leaves_the_other_panels(make_core: Callable[..., CoreClient]) -> None:
    overview = await load_overview(make_core(broken={Capability.SERVICE, Capability.DEPLOYMENT}))

    assert overview.services.value is None and "fake-service" in overview.services.error
    assert overview.deploys.value is None and "fake-deployment" in overview.deploys.error
    assert overview.incidents.value is not None and overview.alerts.value is not None


async def test_counts_walk_every_page_up_to_the_cap(monkeypatch) -> None:
    providers = world()
    many = [
        Incident(id=f"INC-{n}", severity="sev3", status="open", service="search", created_at=NOW)
        for n in range(450)
    ]
    providers[Capability.INCIDENT] = FakeProvider(Capability.INCIDENT, many)
    core = core_over(providers)

    incidents = (await load_overview(core)).incidents.value
    assert incidents is not None
    assert incidents.total == 450 and not incidents.capped
    assert len(providers[Capability.INCIDENT].queries) == 3  # pages of 200, 200 and 50
    assert len(incidents.recent) == overview_module.RECENT_ROWS

    monkeypatch.setattr(overview_module, "MAX_COUNTED", 300)
    capped = (await load_overview(core)).incidents.value
    assert capped is not None and capped.total == 300 and capped.capped

"""One clock per investigation: a frozen demo world beside a live source (the mixed mode) keeps its own time, which
never sets the window a live source is read over, and the answer says whose clock its times are on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from copilot.planners.offline.readings import Findings
from copilot.planners.offline.rounds import (
    SIGNAL_WINDOW,
    clock_note,
    incident_of,
    patterns_request,
    window_start,
)
from copilot.planning import PlanContext
from core_client.client import CoreClient
from core_client.clock import FixedClock, SourceClock, SystemClock
from core_client.schemas import Incident
from core_client.settings import load_settings
from tests.console.demo_world import built_world
from tests.demo.world_fixture import install

__all__ = ["built_world"]

NOW = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
FROZEN = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)


async def test_the_demo_alone_keeps_one_clock_its_own(built_world: Path) -> None:
    install(built_world)
    core = CoreClient.from_settings(load_settings())
    try:
        assert isinstance(core.clock, FixedClock) and core.clocks_apart() == []
    finally:
        await core.aclose()


async def test_beside_a_live_source_the_demo_s_capabilities_keep_their_frozen_clock_apart(
    built_world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text(yaml.safe_dump({"services": [{"name": "edge-host"}]}))
    monkeypatch.setenv("OPSORCH_SERVICE_PROVIDER", "files")
    monkeypatch.setenv("OPSORCH_SERVICE_CONFIG", json.dumps({"catalog": str(catalog)}))
    world = install(built_world)
    core = CoreClient.from_settings(load_settings())
    try:
        apart = {c.capability: c for c in core.clocks_apart()}
        assert isinstance(core.clock, SystemClock)
        assert "service" not in apart and {"incident", "log", "metric", "deployment"} <= set(apart)
        assert all(c.provider == "demo" and c.now < core.clock.now() for c in apart.values()), world
        assert apart["incident"].describe().startswith("incident (demo): frozen at ")
    finally:
        await core.aclose()


def context(*apart: str) -> PlanContext:
    return PlanContext(
        run_id="r",
        question="Why is edge-host slow?",
        now=NOW,
        clocks_apart=[SourceClock(capability, "demo", FROZEN) for capability in apart],
    )


def findings() -> Findings:
    old = Incident(id="INC-1", title="Checkout errors", status="open", service="checkout", created_at=FROZEN)
    return Findings(incidents=[old])


def test_an_incident_on_another_clock_neither_sets_the_window_nor_is_the_investigations() -> None:
    mixed = context("incident", "log", "deployment")
    assert incident_of(mixed, findings()) is None
    assert window_start(mixed, findings()) == NOW - SIGNAL_WINDOW
    assert patterns_request(mixed, findings(), NOW - timedelta(minutes=5), ["error"]) is None
    note = clock_note(mixed)
    assert (
        note is not None
        and "2026-12-04 14:00" in note
        and "incident (demo): frozen at 2025-06-11 12:00" in note
    )


def test_on_one_clock_the_incident_stretches_the_window_as_before() -> None:
    recent = Findings(
        incidents=[findings().incidents[0].model_copy(update={"created_at": NOW - timedelta(hours=2)})]
    )
    assert incident_of(context(), recent) is not None
    assert window_start(context(), recent) == NOW - timedelta(hours=2, minutes=30)
    assert clock_note(context()) is None

"""The console's composition root builds one CoreClient per process, does not cache failures, and starts the
Copilot with the backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from console.runtime import CoreRuntime
from copilot.machine import RunState
from copilot.store import RunStore
from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.clock import FixedClock, SystemClock
from core_client.errors import ConfigurationError
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from core_client.store import Database
from tests.copilot.conftest import until

ALICE = Actor(user="alice", role=Role.RESPONDER, via="console")


async def test_builds_once_even_when_asked_concurrently(make_core) -> None:
    built = []

    def factory():
        built.append(make_core())
        return built[-1]

    runtime = CoreRuntime(factory)
    first, second = await asyncio.gather(runtime.core(), runtime.core())

    assert first is second and len(built) == 1
    assert await runtime.core() is first


async def test_a_failed_build_is_retried_and_closing_starts_over(make_core) -> None:
    attempts = []

    def factory():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConfigurationError("OPSORCH_ALERT_CONFIG is not valid JSON", source="settings")
        return make_core()

    runtime = CoreRuntime(factory)
    with pytest.raises(ConfigurationError, match="OPSORCH_ALERT_CONFIG"):
        await runtime.core()
    core = await runtime.core()
    assert len(attempts) == 2

    await runtime.aclose()
    assert await runtime.core() is not core
    assert len(attempts) == 3


async def test_the_copilot_starts_with_the_backend_and_handles_what_a_dead_worker_left(make_core) -> None:
    """Nobody opens a page: a run whose worker died is resumed, and an approval past its expiry expires."""
    settings = load_settings()
    database = Database.from_settings(settings, upgrade=True)
    wall = SystemClock()
    store = RunStore(database, clock=wall)
    orphan = store.create_run("why?", user=ALICE, planner="offline", owner="dead-worker", lease_seconds=0.3)
    an_hour_ago = FixedClock(wall.now() - timedelta(hours=2))
    overdue = ApprovalBook(database, clock=an_hour_ago, settings=settings).request(
        "create_ticket",
        {"ticket": {"title": "t"}},
        requester=ALICE,
        evidence=[],
        risk="low",
        environment=None,
    )
    runtime = CoreRuntime(make_core)
    try:
        async with runtime.serving():
            book = ApprovalBook(database, clock=wall, settings=settings)
            await until(lambda: book.get(overdue.id).status == "expired")
            await until(lambda: store.get(orphan.id).state in (RunState.DONE, RunState.FAILED), within=30)
    finally:
        database.dispose()
    assert runtime._copilot is None, "leaving the lifespan closes the Copilot"


async def test_a_copilot_that_cannot_start_is_tried_again_while_the_backend_serves(make_core) -> None:
    attempts: list[int] = []

    def factory() -> CoreClient:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConfigurationError("OPSORCH_LOG_CONFIG is not valid JSON", source="settings")
        return make_core()

    runtime = CoreRuntime(factory)
    async with runtime.serving(retry_seconds=0.05):
        await until(lambda: runtime._copilot is not None)
    assert len(attempts) == 2

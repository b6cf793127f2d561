"""The run event stream: history then live, no gaps, no repeats; in-process and across processes through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from copilot.events import Bus, LocalBus, RedisBus, RunEvent, RunEvents
from copilot.machine import RunState
from copilot.records import StepView
from copilot.store import Entry, RunStore, transition_entry
from core_client.errors import NotFound
from tests.copilot.conftest import (
    ALICE,
    BOB,
    FakeTools,
    RigFactory,
    ScriptedPlanner,
    finish_citing_everything,
    settled,
    ticket_call,
)


@pytest.fixture(params=["local", "redis"])
async def any_bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    """The in-process bus, or one Redis connection (a process of its own)."""
    chosen: Bus = LocalBus() if request.param == "local" else RedisBus(request.getfixturevalue("redis_url"))
    yield chosen
    await chosen.aclose()


def note(store: RunStore, run_id: str, text: str) -> list[StepView]:
    return store.append(run_id, [Entry("note", {"text": text})], owner=None)


def finish(store: RunStore, run_id: str) -> list[StepView]:
    return store.append(run_id, [transition_entry(RunState.PLAN, RunState.FAILED, "done here")], owner=None)


async def collect(events: RunEvents, run_id: str, *, after: int = 0) -> list[RunEvent]:
    async with asyncio.timeout(10):
        return [event async for event in events.subscribe(run_id, after=after)]


async def joined(subscription: asyncio.Task[list[RunEvent]], bus: Bus) -> None:
    """Give the subscriber time to read the history and start listening (it may not have, which is also fine)."""
    await asyncio.sleep(0.3 if isinstance(bus, RedisBus) else 0.05)
    assert not subscription.done()


async def test_a_late_subscriber_gets_the_history_then_live_steps(store: RunStore, any_bus: Bus) -> None:
    events = RunEvents(any_bus, store)
    run = store.create_run("q", user=ALICE, planner="p")
    for text in ("one", "two"):
        await events.publish(run.id, note(store, run.id, text))
    subscription = asyncio.create_task(collect(events, run.id))
    await joined(subscription, any_bus)
    await events.publish(run.id, note(store, run.id, "three"))
    await events.publish(run.id, finish(store, run.id))
    received = await subscription
    assert [event.seq for event in received] == [1, 2, 3, 4]
    assert [event.data.get("text") for event in received[:3]] == ["one", "two", "three"]
    assert received[-1].ends_run and received[-1].state == RunState.FAILED
    assert {event.run_id for event in received} == {run.id}


async def test_a_lost_message_is_filled_from_the_store_and_a_repeat_is_dropped(
    store: RunStore, any_bus: Bus
) -> None:
    events = RunEvents(any_bus, store)
    run = store.create_run("q", user=ALICE, planner="p")
    subscription = asyncio.create_task(collect(events, run.id))
    await joined(subscription, any_bus)
    first = note(store, run.id, "one")
    note(store, run.id, "two")  # persisted, never published: its message was lost
    await events.publish(run.id, first)
    await events.publish(run.id, first)  # published twice
    await events.publish(run.id, finish(store, run.id))
    assert [event.seq for event in await subscription] == [1, 2, 3]


async def test_a_quiet_stream_catches_up_from_the_store(store: RunStore, any_bus: Bus) -> None:
    # Another worker without a shared bus writes the steps; the subscriber still sees them all.
    events = RunEvents(any_bus, store, catch_up_seconds=0.1)
    run = store.create_run("q", user=ALICE, planner="p")
    subscription = asyncio.create_task(collect(events, run.id))
    await joined(subscription, any_bus)
    note(store, run.id, "from elsewhere")
    finish(store, run.id)
    assert [event.seq for event in await subscription] == [1, 2]


async def test_subscribing_after_a_step_skips_what_came_before(store: RunStore, any_bus: Bus) -> None:
    events = RunEvents(any_bus, store)
    run = store.create_run("q", user=ALICE, planner="p")
    note(store, run.id, "one")
    note(store, run.id, "two")
    finish(store, run.id)
    assert [event.seq for event in await collect(events, run.id, after=2)] == [3]


async def test_nudges_reach_listeners_of_that_run_only(store: RunStore, any_bus: Bus) -> None:
    events = RunEvents(any_bus, store)
    async with events.nudges("run-a") as a, events.nudges("run-b") as b:
        await events.nudge("run-a", "approved")
        assert await a.receive(5) == "approved"
        assert await b.receive(0.2) is None


async def test_events_cross_processes_through_redis(store: RunStore, redis_url: str) -> None:
    publisher, watcher = RedisBus(redis_url), RedisBus(redis_url)
    try:
        run = store.create_run("q", user=ALICE, planner="p")
        # Catch-up is slow here, so only Redis can deliver the live steps in time.
        watching = RunEvents(watcher, store, catch_up_seconds=60)
        subscription = asyncio.create_task(collect(watching, run.id))
        await joined(subscription, watcher)
        publishing = RunEvents(publisher, store)
        await publishing.publish(run.id, note(store, run.id, "one"))
        await publishing.publish(run.id, finish(store, run.id))
        assert [event.seq for event in await subscription] == [1, 2]
    finally:
        await publisher.aclose()
        await watcher.aclose()


async def test_an_approval_in_another_process_wakes_the_run_through_redis(
    make_rig: RigFactory, redis_url: str
) -> None:
    driver_bus, approver_bus = RedisBus(redis_url), RedisBus(redis_url)
    try:
        # The worker re-reads its request only every minute: the wake-up can only come from the nudge.
        driver = make_rig(
            ScriptedPlanner(ticket_call, finish_citing_everything), events_bus=driver_bus, poll_seconds=60
        )
        approver = make_rig(ScriptedPlanner(finish_citing_everything), FakeTools(), events_bus=approver_bus)
        run = await driver.runner.create("why?", user=ALICE)
        task = asyncio.create_task(driver.runner.drive(run.id))
        waiting = await settled(driver, run.id)
        assert waiting.state == RunState.NEEDS_APPROVAL
        approver.approvals.approve(waiting.pending_request_id or "", approver=BOB)
        await approver.runner.events.nudge(run.id, "approved")
        view = await asyncio.wait_for(task, 10)
        assert view is not None and view.state == RunState.DONE
        assert len(driver.tools.made("opspilot.create_ticket")) == 1
    finally:
        await driver_bus.aclose()
        await approver_bus.aclose()


async def test_subscribing_to_an_unknown_run_is_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound, match="no run 'nope'"):
        await collect(RunEvents(LocalBus(), store), "nope")

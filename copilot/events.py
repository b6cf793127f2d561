"""The run event stream: every persisted step of a run, published for the clients watching it.

A step is written to the store first and published second, so the store is the record and the stream only says
"something new": a subscriber reads the history from the store, then live events, and whenever it sees a gap in
the step numbers (or hears nothing for a while) it catches up from the store. It never misses or repeats a step.

Events travel in-process by default and through Redis pub/sub when ``REDIS_URL`` is set, so a console worker sees
a run driven by another worker. The same channels carry nudges that wake a runner waiting for an approval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from copilot.machine import TERMINAL
from copilot.records import StepView
from copilot.store import RunStore

logger = logging.getLogger(__name__)

# A subscriber that hears nothing for this long reads the store, in case a message was lost on the way.
CATCH_UP_SECONDS = 2.0
REDIS_PREFIX = "opspilot:"


class RunEvent(StepView):
    """One step of one run, as subscribers receive it."""

    run_id: str

    @property
    def ends_run(self) -> bool:
        """The run's last event: the transition to DONE or FAILED."""
        return self.kind == "transition" and self.state in TERMINAL


class Subscription(Protocol):
    async def receive(self, within: float) -> str | None:
        """The next message on the topic, or None when none came within ``within`` seconds."""
        ...


class Bus(Protocol):
    """Topics carrying short text messages to every current listener (no history, no delivery guarantee)."""

    async def publish(self, topic: str, message: str) -> None: ...

    def listen(self, topic: str) -> AbstractAsyncContextManager[Subscription]: ...

    async def aclose(self) -> None: ...


class _Queue:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    async def receive(self, within: float) -> str | None:
        try:
            return await asyncio.wait_for(self.queue.get(), within)
        except TimeoutError:
            return None


class LocalBus:
    """Topics within this process."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[_Queue]] = {}

    async def publish(self, topic: str, message: str) -> None:
        for listener in self._listeners.get(topic, ()):
            listener.queue.put_nowait(message)

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[Subscription]:
        listener = _Queue()
        self._listeners.setdefault(topic, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners.get(topic, set())
            listeners.discard(listener)
            if not listeners:
                self._listeners.pop(topic, None)

    async def aclose(self) -> None:
        self._listeners.clear()


class _RedisSubscription:
    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self.pubsub = pubsub

    async def receive(self, within: float) -> str | None:
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            except (RedisError, OSError) as error:
                # The subscriber catches up from the store; the client re-subscribes when Redis is back.
                logger.warning("run events: Redis subscription failed: %s", error)
                await asyncio.sleep(min(left, 0.5))
                return None
            if message is not None and message.get("type") == "message":
                data = message["data"]
                return data.decode() if isinstance(data, bytes) else str(data)
        return None


class RedisBus:
    """Topics shared by every process using the same Redis (pub/sub channels ``opspilot:<topic>``)."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url)

    async def publish(self, topic: str, message: str) -> None:
        try:
            await self._redis.publish(REDIS_PREFIX + topic, message)
        except (RedisError, OSError) as error:
            # Subscribers poll the store when they hear nothing, so a lost message only delays them.
            logger.warning("run events: could not publish on %s: %s", topic, error)

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[Subscription]:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(REDIS_PREFIX + topic)
            # Wait for Redis to confirm, so whatever is published from now on reaches this listener.
            async with asyncio.timeout(10):
                while (await pubsub.get_message(timeout=1.0)) is None:
                    pass
            yield _RedisSubscription(pubsub)
        finally:
            await pubsub.aclose()

    async def aclose(self) -> None:
        await self._redis.aclose()


def bus_for(redis_url: str | None) -> Bus:
    """Redis pub/sub when a URL is configured, else in-process topics."""
    return RedisBus(redis_url) if redis_url else LocalBus()


class RunEvents:
    """Publishes runs' steps and wake-ups; hands each subscriber a run's steps in order, history first."""

    def __init__(self, bus: Bus, store: RunStore, *, catch_up_seconds: float = CATCH_UP_SECONDS) -> None:
        self.bus = bus
        self._store = store
        self._catch_up = catch_up_seconds

    async def publish(self, run_id: str, steps: list[StepView]) -> None:
        """Announce steps already persisted."""
        for step in steps:
            event = RunEvent(run_id=run_id, **step.model_dump())
            await self.bus.publish(_run_topic(run_id), event.model_dump_json())

    async def subscribe(self, run_id: str, *, after: int = 0) -> AsyncGenerator[RunEvent, None]:
        """Every step of the run numbered above ``after``, then each new one, until the run ends.

        A subscriber that stops early closes the generator (``contextlib.aclosing``) to stop listening at once.
        """
        async with self.bus.listen(_run_topic(run_id)) as live:
            last = after
            pending: RunEvent | None = None
            while True:
                if pending is None or pending.seq > last + 1:
                    # Catch up from the store: first the history, then any gap the live channel left.
                    for step in await asyncio.to_thread(self._store.steps, run_id, after=last):
                        event = RunEvent(run_id=run_id, **step.model_dump())
                        yield event
                        last = event.seq
                        if event.ends_run:
                            return
                elif pending.seq == last + 1:
                    yield pending
                    last = pending.seq
                    if pending.ends_run:
                        return
                message = await live.receive(self._catch_up)
                pending = RunEvent.model_validate_json(message) if message is not None else None

    async def nudge(self, run_id: str, reason: str) -> None:
        """Wake whichever worker drives the run (after an approval, a rejection, a cancel)."""
        await self.bus.publish(_wake_topic(run_id), reason)

    def nudges(self, run_id: str) -> AbstractAsyncContextManager[Subscription]:
        """Listen for the nudges of one run."""
        return self.bus.listen(_wake_topic(run_id))


def _run_topic(run_id: str) -> str:
    return f"run:{run_id}"


def _wake_topic(run_id: str) -> str:
    return f"wake:{run_id}"

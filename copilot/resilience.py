"""Retries with backoff for reads and model calls, and circuit breakers per provider or MCP server.

Retries (tenacity): exponential backoff with jitter, a Retry-After hint honoured when the error carries one, and
never more than one attempt for a mutation: DESIGN.md says mutations are never retried above the adapter.

Circuit breakers: closed -> open after ``threshold`` consecutive failures; open -> half-open once ``cooldown``
seconds have passed; half-open lets exactly one probe through, whose success closes the circuit and whose
failure opens it for another cooldown. The state lives in Redis when ``REDIS_URL`` is set, so every worker sees
the same circuits; otherwise in this process. One transition function serves both stores.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, TypeVar, cast

import anyio
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from core_client.errors import (
    ApprovalRequired,
    BadQuery,
    CapabilityNotConfigured,
    Forbidden,
    NotFound,
    ProviderUnavailable,
)
from core_client.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class RetryPolicy(BaseModel):
    """How often and how patiently to retry: waits grow from ``initial`` by doubling, plus up to ``jitter``
    random seconds, never above ``maximum``; a server's Retry-After is honoured up to ``retry_after_cap``."""

    attempts: int = Field(default=3, ge=1, description="attempts in all, the first included")
    initial: float = Field(default=0.5, gt=0, description="seconds before the first retry, before jitter")
    maximum: float = Field(default=8.0, gt=0, description="the longest backoff, jitter included")
    jitter: float = Field(default=0.5, ge=0, description="up to this many random seconds added to each wait")
    retry_after_cap: float = Field(default=60.0, gt=0, description="the longest Retry-After hint obeyed")

    def backoff(self, retry: int) -> float:
        """The backoff before retry number ``retry`` (1 for the first), jitter included and capped."""
        return min(self.initial * 2 ** (retry - 1) + random.uniform(0, self.jitter), self.maximum)

    def wait_after(self, retry: int, error: BaseException | None) -> float:
        """The wait before retry number ``retry`` after ``error``: the backoff, or longer if the error asks."""
        wait = self.backoff(retry)
        hint = retry_after_of(error) if error is not None else None
        if hint is not None:
            wait = max(wait, min(hint, self.retry_after_cap))
        return wait


def retry_after_of(error: BaseException) -> float | None:
    """Seconds the failed service asked us to wait, if ``error`` says: a ``retry_after`` attribute, or the
    ``retry-after-ms`` / ``Retry-After`` header (seconds or an HTTP date) of the response it carries."""
    value = getattr(error, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(float(value), 0.0)
    lookup = getattr(getattr(getattr(error, "response", None), "headers", None), "get", None)
    if not callable(lookup):
        return None
    milliseconds = _number(lookup("retry-after-ms"))
    if milliseconds is not None:
        return max(milliseconds / 1000, 0.0)
    raw = lookup("retry-after")
    seconds = _number(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    if isinstance(raw, str):
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return None


def _number(raw: Any) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool],
    what: str,
    mutation: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """Run ``operation``, retrying it while it fails with an error ``retryable`` accepts.

    A ``mutation`` runs exactly once, whatever the policy. The last error is raised when attempts run out.
    ``sleep`` is how waits are spent (tests pass one that records them).
    """
    attempts = 1 if mutation else policy.attempts

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return policy.wait_after(state.attempt_number, error)

    def announce(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        pause = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.2f s",
            what,
            state.attempt_number,
            attempts,
            error,
            pause,
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        # Cancellation is never a failure to retry, whatever ``retryable`` says.
        retry=retry_if_exception(lambda error: isinstance(error, Exception) and retryable(error)),
        before_sleep=announce,
        sleep=sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity either returns, retries or re-raises")


CircuitName = Literal["closed", "open", "half_open"]


class CircuitStatus(BaseModel):
    """One circuit as seen now: its state, consecutive failures, and seconds until it lets a call through."""

    key: str
    state: CircuitName
    failures: int
    retry_after: float = 0.0


@dataclass(frozen=True)
class Admission:
    allowed: bool
    probe: bool = False
    retry_after: float = 0.0


@dataclass(frozen=True)
class Circuit:
    """The stored state of one circuit. ``open_until`` 0 means closed; ``probe_until`` bounds a probe in flight,
    so a probe whose process died stops blocking others after that time."""

    failures: int = 0
    open_until: float = 0.0
    probe_until: float = 0.0

    def status(self, key: str, now: float) -> CircuitStatus:
        if not self.open_until:
            return CircuitStatus(key=key, state="closed", failures=self.failures)
        if now < self.open_until:
            return CircuitStatus(
                key=key, state="open", failures=self.failures, retry_after=self.open_until - now
            )
        waiting = max(self.probe_until - now, 0.0)
        return CircuitStatus(key=key, state="half_open", failures=self.failures, retry_after=waiting)

    def admit(self, now: float, probe_timeout: float) -> tuple[Circuit, Admission]:
        if not self.open_until:
            return self, Admission(allowed=True)
        if now < self.open_until:
            return self, Admission(allowed=False, retry_after=self.open_until - now)
        if self.probe_until > now:
            return self, Admission(allowed=False, retry_after=self.probe_until - now)
        return replace(self, probe_until=now + probe_timeout), Admission(allowed=True, probe=True)

    def succeeded(self, admission: Admission) -> Circuit:
        # A call admitted before the circuit opened proves little; only the probe may close an open circuit.
        if admission.probe or not self.open_until:
            return Circuit()
        return self

    def failed(self, admission: Admission, now: float, threshold: int, cooldown: float) -> Circuit:
        if admission.probe:
            return replace(self, open_until=now + cooldown, probe_until=0.0)
        failures = self.failures + 1
        opens = not self.open_until and failures >= threshold
        return replace(self, failures=failures, open_until=now + cooldown if opens else self.open_until)

    def abandoned(self, admission: Admission) -> Circuit:
        return replace(self, probe_until=0.0) if admission.probe else self


class CircuitStore(Protocol):
    """Where circuits live; ``update`` applies ``change`` atomically and returns what it returns."""

    async def update(self, key: str, change: Callable[[Circuit], tuple[Circuit, R]]) -> R: ...

    async def aclose(self) -> None: ...


class MemoryCircuits:
    """Circuits of this process only. Updates never await, so each is atomic on the event loop."""

    def __init__(self) -> None:
        self._circuits: dict[str, Circuit] = {}

    async def update(self, key: str, change: Callable[[Circuit], tuple[Circuit, R]]) -> R:
        circuit, result = change(self._circuits.get(key, Circuit()))
        if circuit == Circuit():
            self._circuits.pop(key, None)
        else:
            self._circuits[key] = circuit
        return result

    async def aclose(self) -> None:
        return None


class RedisCircuits:
    """Circuits shared by every process on one Redis: a hash per circuit, changed under WATCH/MULTI.

    Redis trouble never blocks a call: the circuit reads as closed and a warning is logged.
    """

    PREFIX = "opspilot:circuit:"

    def __init__(self, redis: Redis, *, ttl_seconds: float, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._ttl_ms = max(int(ttl_seconds * 1000), 1000)
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, ttl_seconds: float, prefix: str = PREFIX) -> RedisCircuits:
        """Circuits on the Redis at ``url``, stored under ``prefix`` + the circuit's key."""
        return cls(
            Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0),
            ttl_seconds=ttl_seconds,
            prefix=prefix,
        )

    async def update(self, key: str, change: Callable[[Circuit], tuple[Circuit, R]]) -> R:
        name = self._prefix + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(name)
                        # Watching puts the pipeline in immediate mode: this read runs now.
                        stored = await cast(Awaitable[dict[Any, Any]], pipe.hgetall(name))
                        before = _circuit_from(stored)
                        circuit, result = change(before)
                        if circuit == before:
                            return result  # nothing to write: the common case, a closed circuit
                        pipe.multi()
                        if circuit == Circuit():
                            pipe.delete(name)
                        else:
                            pipe.hset(name, mapping=_circuit_fields(circuit))
                            pipe.pexpire(name, self._ttl_ms)
                        await pipe.execute()
                        return result
                    except WatchError:
                        continue  # another process changed this circuit meanwhile: read it again
        except RedisError as error:
            log.warning("circuit %s: Redis unavailable (%s); treating the circuit as closed", key, error)
            return change(Circuit())[1]

    async def aclose(self) -> None:
        await self._redis.aclose()


def _circuit_from(raw: Mapping[bytes | str, bytes | str]) -> Circuit:
    fields = {_text(name): float(_text(value)) for name, value in raw.items()}
    return Circuit(
        failures=int(fields.get("failures", 0)),
        open_until=fields.get("open_until", 0.0),
        probe_until=fields.get("probe_until", 0.0),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _circuit_fields(circuit: Circuit) -> dict[str, str]:
    return {
        "failures": str(circuit.failures),
        "open_until": repr(circuit.open_until),
        "probe_until": repr(circuit.probe_until),
    }


# The caller's own mistakes say nothing about the health of the service that refused them.
CALLER_ERRORS: tuple[type[Exception], ...] = (
    BadQuery,
    NotFound,
    ApprovalRequired,
    Forbidden,
    CapabilityNotConfigured,
)


def counts_as_failure(error: BaseException) -> bool:
    """Whether ``error`` counts against a circuit: any failure except the caller's own mistakes."""
    return isinstance(error, Exception) and not isinstance(error, CALLER_ERRORS)


class CircuitBreakers:
    """One circuit per key (a provider, an MCP server), in ``store``; see the module docstring."""

    def __init__(
        self,
        store: CircuitStore,
        *,
        threshold: int = 5,
        cooldown: float = 30.0,
        probe_timeout: float | None = None,
        counts: Callable[[BaseException], bool] = counts_as_failure,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("a circuit needs threshold >= 1 and cooldown > 0")
        self._store = store
        self.threshold = threshold
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout if probe_timeout is not None else cooldown
        self._counts = counts
        # Wall-clock seconds: circuits shared through Redis compare times taken in different processes.
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> CircuitBreakers:
        """Shared through Redis when ``settings.redis_url`` is set, in this process otherwise."""
        store: CircuitStore
        if settings.redis_url:
            store = RedisCircuits.from_url(settings.redis_url, ttl_seconds=max(cooldown * 10, 3600))
        else:
            store = MemoryCircuits()
        return cls(store, threshold=threshold, cooldown=cooldown, clock=clock)

    @asynccontextmanager
    async def guard(
        self, key: str, *, counts: Callable[[BaseException], bool] | None = None
    ) -> AsyncIterator[None]:
        """Run the body if the circuit for ``key`` lets it through, and record how it went.

        Raises ``ProviderUnavailable("circuit open for <key>; retrying after N s")`` instead when it does not.
        ``counts`` overrides, for this body, which errors count against the circuit (the others leave it as
        it was).
        """
        counted = counts or self._counts
        now = self._clock()
        admission = await self._store.update(key, lambda circuit: circuit.admit(now, self.probe_timeout))
        if not admission.allowed:
            raise ProviderUnavailable(
                f"circuit open for {key}; retrying after {max(math.ceil(admission.retry_after), 1)} s",
                source=key,
            )
        try:
            yield
        except BaseException as error:
            if counted(error):
                await self._record(
                    key, lambda c: c.failed(admission, self._clock(), self.threshold, self.cooldown)
                )
            else:
                await self._record(key, lambda c: c.abandoned(admission))
            raise
        await self._record(key, lambda c: c.succeeded(admission))

    async def _record(self, key: str, change: Callable[[Circuit], Circuit]) -> None:
        # Shielded: a cancelled caller must still hand back the probe it holds.
        with anyio.CancelScope(shield=True):
            await self._store.update(key, lambda circuit: (change(circuit), None))

    async def status(self, key: str) -> CircuitStatus:
        """How the circuit for ``key`` stands now (for health pages and tests)."""
        now = self._clock()
        return await self._store.update(key, lambda circuit: (circuit, circuit.status(key, now)))

    async def aclose(self) -> None:
        """Close the Redis connection, if any."""
        await self._store.aclose()

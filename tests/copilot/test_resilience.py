"""Retries with backoff and circuit breakers: counts and computed waits (never wall-clock), and circuits shared
through the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anthropic
import httpx2
import pytest
from redis.asyncio import Redis

from copilot.resilience import (
    CircuitBreakers,
    MemoryCircuits,
    RedisCircuits,
    RetryPolicy,
    retry_after_of,
    with_retries,
)
from core_client.errors import NotFound, ProviderUnavailable
from core_client.settings import load_settings

from .toolbox_fixtures import free_port


class Flaky:
    """An operation that fails with ``error()`` ``failures`` times, then returns ``"done"``; calls are counted."""

    def __init__(
        self, failures: int, error: Callable[[], BaseException] = lambda: TimeoutError("slow")
    ) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error()
        return "done"


class Waits:
    """A sleep that records how long it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


def rate_limited(headers: dict[str, str]) -> anthropic.RateLimitError:
    request = httpx2.Request("POST", "http://anthropic.fake/v1/messages")
    response = httpx2.Response(429, headers=headers, request=request)
    return anthropic.RateLimitError("rate limited", response=response, body=None)


def always(_: BaseException) -> bool:
    return True


POLICY = RetryPolicy(attempts=4, initial=0.5, maximum=3.0, jitter=0.25)


async def test_a_retryable_failure_is_retried_until_it_succeeds() -> None:
    operation, waits = Flaky(failures=2), Waits()
    result = await with_retries(operation, policy=POLICY, retryable=always, what="read", sleep=waits)
    assert result == "done"
    assert operation.calls == 3
    assert len(waits.asked) == 2


async def test_attempts_run_out_and_the_last_error_is_raised() -> None:
    operation, waits = Flaky(failures=10), Waits()
    with pytest.raises(TimeoutError, match="slow"):
        await with_retries(operation, policy=POLICY, retryable=always, what="read", sleep=waits)
    assert operation.calls == POLICY.attempts
    assert len(waits.asked) == POLICY.attempts - 1


async def test_an_error_that_is_not_retryable_is_raised_at_once() -> None:
    operation, waits = Flaky(failures=1, error=lambda: NotFound("no incident INC-9")), Waits()

    def transient(error: BaseException) -> bool:
        return isinstance(error, TimeoutError)

    with pytest.raises(NotFound):
        await with_retries(operation, policy=POLICY, retryable=transient, what="read", sleep=waits)
    assert operation.calls == 1
    assert waits.asked == []


async def test_a_mutation_is_never_retried_whatever_the_policy() -> None:
    operation, waits = Flaky(failures=1), Waits()
    with pytest.raises(TimeoutError):
        await with_retries(
            operation, policy=POLICY, retryable=always, what="create_ticket", mutation=True, sleep=waits
        )
    assert operation.calls == 1
    assert waits.asked == []


async def test_cancellation_is_never_retried() -> None:
    operation, waits = Flaky(failures=1, error=asyncio.CancelledError), Waits()
    with pytest.raises(asyncio.CancelledError):
        await with_retries(operation, policy=POLICY, retryable=always, what="read", sleep=waits)
    assert operation.calls == 1


def test_backoff_doubles_from_initial_with_bounded_jitter_and_a_cap() -> None:
    for retry in range(1, 8):
        floor = min(POLICY.initial * 2 ** (retry - 1), POLICY.maximum)
        ceiling = min(POLICY.initial * 2 ** (retry - 1) + POLICY.jitter, POLICY.maximum)
        waits = [POLICY.backoff(retry) for _ in range(200)]
        assert all(floor <= wait <= ceiling for wait in waits), (retry, min(waits), max(waits))
    assert len({round(POLICY.backoff(1), 6) for _ in range(50)}) > 1, "no jitter"
    assert RetryPolicy(jitter=0).backoff(3) == 2.0


async def test_the_waits_taken_follow_the_backoff_bounds() -> None:
    operation, waits = Flaky(failures=3), Waits()
    await with_retries(operation, policy=POLICY, retryable=always, what="read", sleep=waits)
    for retry, wait in enumerate(waits.asked, start=1):
        assert (
            POLICY.initial * 2 ** (retry - 1)
            <= wait
            <= min(POLICY.initial * 2 ** (retry - 1) + POLICY.jitter, POLICY.maximum)
        )


async def test_a_retry_after_hint_is_honoured_and_capped() -> None:
    operation, waits = Flaky(failures=2, error=lambda: rate_limited({"retry-after": "7"})), Waits()
    await with_retries(operation, policy=POLICY, retryable=always, what="model call", sleep=waits)
    assert waits.asked == [7.0, 7.0]

    capped = POLICY.model_copy(update={"retry_after_cap": 5.0})
    operation, waits = Flaky(failures=1, error=lambda: rate_limited({"retry-after": "120"})), Waits()
    await with_retries(operation, policy=capped, retryable=always, what="model call", sleep=waits)
    assert waits.asked == [5.0]


def test_retry_after_is_read_in_every_form_servers_send() -> None:
    assert retry_after_of(rate_limited({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_of(rate_limited({"retry-after": "2"})) == 2.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    from_date = retry_after_of(rate_limited({"retry-after": format_datetime(later, usegmt=True)}))
    assert from_date is not None and 25 <= from_date <= 30
    assert retry_after_of(rate_limited({})) is None
    assert retry_after_of(TimeoutError("no response at all")) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def fail(breakers: CircuitBreakers, key: str, error: Exception | None = None) -> None:
    raised = error or ConnectionError("refused")
    with pytest.raises(type(raised)):
        async with breakers.guard(key):
            raise raised


async def succeed(breakers: CircuitBreakers, key: str) -> None:
    async with breakers.guard(key):
        pass


@pytest.fixture(params=["memory", "redis"])
async def make_breakers(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[FakeClock], CircuitBreakers]]:
    """Breakers over a fresh store of the parametrized kind; ``make(clock)`` gives another over the same store."""
    made: list[CircuitBreakers] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")

        def make(clock: FakeClock) -> CircuitBreakers:
            # Each instance has its own connection, as two processes would.
            store = RedisCircuits(Redis.from_url(url), ttl_seconds=600)
            made.append(CircuitBreakers(store, threshold=3, cooldown=30, clock=clock))
            return made[-1]
    else:
        shared = MemoryCircuits()

        def make(clock: FakeClock) -> CircuitBreakers:
            made.append(CircuitBreakers(shared, threshold=3, cooldown=30, clock=clock))
            return made[-1]

    yield make
    for breakers in made:
        await breakers.aclose()


def new_key() -> str:
    return f"test:{uuid.uuid4().hex[:12]}"


async def tripped(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> tuple[CircuitBreakers, str, FakeClock]:
    """Breakers on a fake clock with one circuit just opened by three consecutive failures."""
    clock = FakeClock()
    breakers, key = make_breakers(clock), new_key()
    for _ in range(3):
        await fail(breakers, key)
    return breakers, key, clock


async def test_a_circuit_opens_after_consecutive_failures_and_refuses_without_calling(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> None:
    breakers, key, clock = await tripped(make_breakers)
    ran = False
    with pytest.raises(ProviderUnavailable, match=rf"circuit open for {key}; retrying after 30 s") as refused:
        async with breakers.guard(key):
            ran = True
    assert not ran
    assert refused.value.source == key
    clock.advance(12.2)
    with pytest.raises(ProviderUnavailable, match="retrying after 18 s"):
        await succeed(breakers, key)
    assert (await breakers.status(key)).state == "open"


async def test_a_success_resets_the_count_and_caller_mistakes_do_not_count(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> None:
    breakers, key = make_breakers(FakeClock()), new_key()
    for _ in range(2):
        await fail(breakers, key)
    await succeed(breakers, key)
    for _ in range(2):
        await fail(breakers, key)
    for _ in range(5):
        await fail(breakers, key, NotFound("no such incident"))
    status = await breakers.status(key)
    assert status.state == "closed"
    assert status.failures == 2


async def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes_the_circuit(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> None:
    breakers, key, clock = await tripped(make_breakers)
    clock.advance(30)
    assert (await breakers.status(key)).state == "half_open"
    async with breakers.guard(key):
        with pytest.raises(ProviderUnavailable, match="circuit open"):
            await succeed(breakers, key)  # a second caller while the probe is in flight
    assert (await breakers.status(key)).state == "closed"
    await succeed(breakers, key)


async def test_a_failed_probe_opens_the_circuit_for_another_cooldown(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> None:
    breakers, key, clock = await tripped(make_breakers)
    clock.advance(31)
    await fail(breakers, key)
    status = await breakers.status(key)
    assert status.state == "open"
    assert status.retry_after == pytest.approx(30)


async def test_a_cancelled_probe_hands_its_turn_back(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> None:
    breakers, key, clock = await tripped(make_breakers)
    clock.advance(30)
    entered = asyncio.Event()

    async def probe() -> None:
        async with breakers.guard(key):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(probe())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await succeed(breakers, key)
    assert (await breakers.status(key)).state == "closed"


async def test_a_guard_may_say_which_errors_count_against_its_circuit(
    make_breakers: Callable[[FakeClock], CircuitBreakers],
) -> None:
    breakers, key = make_breakers(FakeClock()), new_key()

    def only_timeouts(error: BaseException) -> bool:
        return isinstance(error, TimeoutError)

    for _ in range(5):
        with pytest.raises(ConnectionError):
            async with breakers.guard(key, counts=only_timeouts):
                raise ConnectionError("someone else's trouble")
    assert (await breakers.status(key)).failures == 0
    for _ in range(3):
        with pytest.raises(TimeoutError):
            async with breakers.guard(key, counts=only_timeouts):
                raise TimeoutError("slow")
    assert (await breakers.status(key)).state == "open"


async def test_redis_circuits_under_another_prefix_are_other_circuits(redis_url: str) -> None:
    key = new_key()
    mine, theirs = (
        CircuitBreakers(RedisCircuits(Redis.from_url(redis_url), ttl_seconds=600, prefix=prefix), threshold=1)
        for prefix in (f"test:{uuid.uuid4().hex[:12]}:", f"test:{uuid.uuid4().hex[:12]}:")
    )
    try:
        await fail(mine, key)
        assert (await mine.status(key)).state == "open"
        assert (await theirs.status(key)).state == "closed"
    finally:
        await mine.aclose()
        await theirs.aclose()


async def test_two_instances_share_circuits_through_redis(redis_url: str) -> None:
    clock = FakeClock()
    first = CircuitBreakers.from_settings(load_settings(redis_url=redis_url), threshold=2, clock=clock)
    second = CircuitBreakers.from_settings(load_settings(redis_url=redis_url), threshold=2, clock=clock)
    key = new_key()
    try:
        await fail(first, key)
        await fail(second, key)
        with pytest.raises(ProviderUnavailable, match=f"circuit open for {key}"):
            await succeed(first, key)
        clock.advance(30)
        async with second.guard(key):  # the probe, taken in one process...
            with pytest.raises(ProviderUnavailable):
                await succeed(first, key)  # ...is the only one, in every process
        await succeed(first, key)
        assert (await second.status(key)).state == "closed"
    finally:
        await first.aclose()
        await second.aclose()


async def test_circuits_are_in_process_without_redis_and_fail_open_when_redis_is_down() -> None:
    local_a = CircuitBreakers.from_settings(load_settings(), threshold=1)
    local_b = CircuitBreakers.from_settings(load_settings(), threshold=1)
    await fail(local_a, "payments")
    with pytest.raises(ProviderUnavailable):
        await succeed(local_a, "payments")
    await succeed(local_b, "payments")

    unreachable = CircuitBreakers.from_settings(
        load_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"), threshold=1
    )
    try:
        await fail(unreachable, "payments")
        await succeed(unreachable, "payments")  # Redis trouble never blocks a call
    finally:
        await unreachable.aclose()

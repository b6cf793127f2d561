"""Brute force against the console's sign-in: throttled per account and per client, shared by every worker.

Each test drives ``ConsoleSessions`` (what the backend's sign-in route calls) over a real database, on a clock the
test moves, so backoff and locks are checked without waiting; the route itself is driven once end to end.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from console.backend.session import (
    ACCOUNT_RULE,
    CLIENT_RULE,
    WRONG_CREDENTIALS,
    ConsoleSessions,
    SignInThrottle,
    Throttled,
    client_address,
)
from console.backend.sign_in import SIGN_IN_PATH, sign_in_routes
from core_client.audit import AuditTrail
from core_client.clock import FixedClock
from core_client.errors import Forbidden
from core_client.identity import Role
from core_client.settings import load_settings
from core_client.store import Database, migrate
from core_client.users import UserDirectory
from tests.console.demo_world import PASSWORD, built_world, demo_core, people

__all__ = ["built_world", "demo_core", "people"]

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class MovingClock:
    """A clock the test sets."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def set(self, instant: datetime) -> None:
        self.instant = instant


class Attacker:
    """Sign-in attempts from one client at the moments the test picks."""

    def __init__(self, database: Database, clock: MovingClock, client: str = "198.51.100.9") -> None:
        self.clock, self.client = clock, client
        self.database = database

    def sessions(self) -> ConsoleSessions:
        users = UserDirectory(self.database, clock=self.clock, settings=load_settings())
        return ConsoleSessions(
            users, SignInThrottle(self.database, users.audit, self.clock), timedelta(hours=12)
        )

    async def attempt(self, username: str, password: str) -> str:
        """``ok``, ``wrong`` or ``throttled``, as the person at the form would learn."""
        try:
            await self.sessions().sign_in(username, password, client=self.client)
        except Throttled:
            return "throttled"
        except Forbidden as exc:
            assert exc.message == WRONG_CREDENTIALS
            return "wrong"
        return "ok"


@pytest.fixture
def database(tmp_path) -> Database:
    url = f"sqlite:///{tmp_path / 'opspilot.db'}"
    migrate(url)
    database = Database(url)
    UserDirectory(database, clock=FixedClock(T0), settings=load_settings()).add(
        "alice", Role.RESPONDER, PASSWORD
    )
    return database


def audited(database: Database, action: str) -> list[dict]:
    trail = AuditTrail(database, clock=FixedClock(T0))
    return [event.arguments for event in trail.list(action=action, limit=200).items]  # type: ignore[arg-type]


async def test_fifty_fast_guesses_then_the_right_password_is_refused(database: Database) -> None:
    """The issue's reproduction: 50 wrong passwords at ~9 a second, then the right one."""
    clock = MovingClock(T0)
    attacker = Attacker(database, clock)
    outcomes = []
    for n in range(50):
        clock.set(T0 + timedelta(seconds=n / 9))
        outcomes.append(await attacker.attempt("alice", f"guess {n}"))
    clock.set(T0 + timedelta(seconds=50 / 9))

    assert await attacker.attempt("alice", PASSWORD) == "throttled"
    # Only the free tries and the few the backoff let through reached the password check.
    assert outcomes[: ACCOUNT_RULE.free] == ["wrong"] * ACCOUNT_RULE.free
    assert outcomes.count("wrong") <= 6
    assert len(audited(database, "sign_in_failed")) == outcomes.count("wrong")


async def test_backoff_then_a_lock_that_ends(database: Database) -> None:
    clock = MovingClock(T0)
    attacker = Attacker(database, clock)
    now = T0
    for n in range(ACCOUNT_RULE.lock_at):
        now += ACCOUNT_RULE.wait_after(n)  # the attacker waits exactly as long as asked
        clock.set(now)
        assert await attacker.attempt("alice", "wrong guess") == "wrong", n
    # Locked: even the right password is refused, without saying so.
    assert await attacker.attempt("alice", PASSWORD) == "throttled"
    locks = audited(database, "sign_in_locked")
    assert [lock["key"] for lock in locks] == ["account:alice"]
    clock.set(now + ACCOUNT_RULE.lock - timedelta(seconds=1))
    assert await attacker.attempt("alice", PASSWORD) == "throttled"

    clock.set(now + ACCOUNT_RULE.lock)
    assert await attacker.attempt("alice", PASSWORD) == "ok"
    # A success starts the account afresh: a typo right after costs nothing.
    assert await attacker.attempt("alice", "typo") == "wrong"
    assert await attacker.attempt("alice", PASSWORD) == "ok"


async def test_a_user_that_does_not_exist_is_throttled_the_same_way(database: Database) -> None:
    clock = MovingClock(T0)
    real, ghost = Attacker(database, clock, "192.0.2.1"), Attacker(database, clock, "192.0.2.2")
    outcomes_real = [await real.attempt("alice", "wrong guess") for _ in range(6)]
    outcomes_ghost = [await ghost.attempt("nobody", "wrong guess") for _ in range(6)]
    assert outcomes_real == outcomes_ghost == ["wrong"] * ACCOUNT_RULE.free + ["throttled"] * 3
    with pytest.raises(Throttled) as real_refusal:
        await real.sessions().sign_in("alice", PASSWORD, client="192.0.2.1")
    with pytest.raises(Throttled) as ghost_refusal:
        await ghost.sessions().sign_in("nobody", PASSWORD, client="192.0.2.2")
    assert real_refusal.value.message == ghost_refusal.value.message


async def test_one_client_guessing_many_accounts_is_throttled(database: Database) -> None:
    clock = MovingClock(T0)
    attacker = Attacker(database, clock)
    outcomes = [await attacker.attempt(f"user{n}", "password1") for n in range(CLIENT_RULE.free + 1)]
    assert outcomes == ["wrong"] * CLIENT_RULE.free + ["throttled"]
    # Someone else, from another address, signs in meanwhile.
    assert await Attacker(database, clock, "203.0.113.50").attempt("alice", PASSWORD) == "ok"


async def test_parallel_guesses_cannot_slip_past_the_count(database: Database) -> None:
    clock = MovingClock(T0)
    attackers = [Attacker(database, clock) for _ in range(20)]
    outcomes = await asyncio.gather(*(a.attempt("alice", f"guess {n}") for n, a in enumerate(attackers)))
    assert outcomes.count("wrong") <= ACCOUNT_RULE.free
    assert outcomes.count("ok") == 0


async def test_two_workers_on_postgresql_share_the_count(postgres_url: str) -> None:
    migrate(postgres_url)
    clock = MovingClock(T0)
    first, second = Database(postgres_url), Database(postgres_url)
    UserDirectory(first, clock=clock, settings=load_settings()).add("bob", Role.VIEWER, PASSWORD)
    try:
        workers = [Attacker(first, clock), Attacker(second, clock)]
        outcomes = [await workers[n % 2].attempt("bob", "wrong guess") for n in range(8)]
        assert outcomes == ["wrong"] * ACCOUNT_RULE.free + ["throttled"] * 5
    finally:
        first.dispose()
        second.dispose()


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "headers": headers, "client": (peer, 1234)})


def test_the_client_address_comes_from_forwarding_headers_only_behind_a_trusted_proxy() -> None:
    spoofed = _request("198.51.100.9", "10.0.0.1")
    assert client_address(spoofed, trusted_proxy_hops=0) == "198.51.100.9"
    proxied = _request("10.0.0.2", "1.2.3.4, 198.51.100.9")
    assert client_address(proxied, trusted_proxy_hops=1) == "198.51.100.9"
    assert client_address(proxied, trusted_proxy_hops=2) == "1.2.3.4"
    # A header shorter than the proxy chain cannot be trusted for any of it.
    assert client_address(_request("10.0.0.2", None), trusted_proxy_hops=1) == "10.0.0.2"


async def test_the_sign_in_page_says_when_to_try_again(demo_core, people) -> None:
    app = Starlette(routes=sign_in_routes())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.9", 4000)),
        base_url="http://testserver",
        headers={"origin": "http://testserver"},
    ) as browser:
        answers = [
            await browser.post(SIGN_IN_PATH, data={"username": "rick", "password": "nope"}) for _ in range(4)
        ]
    places = [answer.headers["location"] for answer in answers]
    assert all("failed=credentials" in place for place in places[:3])
    assert "failed=throttled&wait=1" in places[3]
    assert all("set-cookie" not in answer.headers for answer in answers)

"""Signing in to the console: password sign-in, its throttling, console sessions, and the first-run admin.

Sessions are ``UserDirectory`` sessions (their token hashed in the database) that expire after
``session_ttl_hours``. They run on the wall clock, not the demo world's frozen one, so they really expire. Every
call that touches the database runs in a worker thread: scrypt and SQL must not stall the event loop.

Throttling counts failed sign-ins per account (the name typed, whether or not it exists) and per client address,
in the database every worker shares (``sign_in_failures``). After a few failures each attempt waits longer
(doubling), then the account or client is locked for a while; an attempt refused so never reaches the password
check, and the message is the same for every account. Each attempt is counted before its password is checked (a
compare-and-swap on the count), so parallel guesses cannot slip past the count; a success takes it back.
Failures and locks are audited (tool ``sign-in``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from pydantic import BaseModel
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from starlette.requests import Request

from core_client.audit import AuditTrail
from core_client.client import CoreClient
from core_client.clock import Clock, SystemClock
from core_client.errors import BadQuery, Forbidden
from core_client.identity import Actor, Role
from core_client.store import Database, SignInFailures, User
from core_client.users import UserDirectory

COOKIE_NAME = "opspilot_session"
LOGIN_ROUTE = "/login"
SETUP_ROUTE = "/setup"
ACTING_ROLES = frozenset({Role.RESPONDER, Role.APPROVER, Role.ADMIN})
APPROVING_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
WRONG_CREDENTIALS = "wrong username or password"
# Who the audit names for an attempt nobody has signed in with yet.
NOBODY = Actor(user="(not signed in)", role=Role.VIEWER, via="console")
# A typed name is kept to this length in keys and audit rows.
NAME_CHARS = 64


@dataclass(frozen=True)
class ThrottleRule:
    """How many failures within ``window`` are free, when each further attempt waits (doubling from one second,
    at most ``max_wait``), and after how many the key is locked for ``lock``."""

    free: int
    lock_at: int
    lock: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=15)
    max_wait: timedelta = timedelta(minutes=1)

    def wait_after(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(timedelta(seconds=2 ** (failures - self.free)), self.max_wait)


# One person mistyping gets three tries at once; a guesser gets ten in about a minute, then a lock. A client
# address (possibly an office behind one NAT) gets more before its own lock.
ACCOUNT_RULE = ThrottleRule(free=3, lock_at=10)
CLIENT_RULE = ThrottleRule(free=10, lock_at=50)


class Throttled(Forbidden):
    """Too many failed sign-ins from this account or client: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(
            f"too many failed sign-ins: try again in {self.retry_after} seconds", source="sign-in"
        )


def client_address(request: Request, trusted_proxy_hops: int | None = None) -> str:
    """The client's address: the connection's peer, or, only behind as many trusted proxies as configured
    (Reflex's ``trusted_proxy_hops``), the address the nearest of them saw in ``X-Forwarded-For``."""
    if trusted_proxy_hops is None:
        from reflex.config import get_config

        trusted_proxy_hops = get_config().trusted_proxy_hops
    peer = request.client.host if request.client is not None else "unknown"
    if trusted_proxy_hops:
        forwarded = [ip.strip() for ip in request.headers.get("x-forwarded-for", "").split(",") if ip.strip()]
        if len(forwarded) >= trusted_proxy_hops:
            return forwarded[-trusted_proxy_hops]
    return peer


class SignInThrottle:
    """Failed sign-ins per account and per client, in the shared database (see the module docstring)."""

    def __init__(self, database: Database, audit: AuditTrail, clock: Clock) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def count_attempt(self, username: str, client: str) -> None:
        """Count this attempt as a failure in advance; ``Throttled`` (nothing counted) while it must wait."""
        now = self._clock.now()
        keys = ((f"account:{username}", ACCOUNT_RULE), (f"client:{client}", CLIENT_RULE))
        for key, rule in keys:
            self._check(key, rule, now)
        for key, rule in keys:
            self._count(key, rule, now, username, client)

    def succeeded(self, username: str, client: str) -> None:
        """The password was right: the account starts afresh, and the client's advance count is taken back."""
        with self._database.transaction() as session:
            session.execute(delete(SignInFailures).where(col(SignInFailures.key) == f"account:{username}"))
            session.execute(
                update(SignInFailures)
                .where(col(SignInFailures.key) == f"client:{client}", col(SignInFailures.failures) > 0)
                .values(failures=SignInFailures.failures - 1)  # type: ignore[operator]
            )

    def failed(self, username: str, client: str) -> None:
        """Audit a wrong password (already counted)."""
        self._audit.record(
            "sign_in_failed", actor=NOBODY, tool="sign-in", arguments={"user": username, "client": client}
        )

    def _check(self, key: str, rule: ThrottleRule, now: datetime) -> None:
        with self._database.transaction() as session:
            row = session.get(SignInFailures, key)
            if row is None:
                return
            lock_over = row.locked_until is not None and row.locked_until <= now
            window_over = row.locked_until is None and row.last_at + rule.window <= now
            if lock_over or window_over:
                session.delete(row)  # the lock has ended, or the window has passed: a fresh start
                return
            _refuse_early(row, rule, now)

    def _count(self, key: str, rule: ThrottleRule, now: datetime, username: str, client: str) -> None:
        with self._database.transaction() as session:
            row = session.get(SignInFailures, key)
            seen = row.failures if row is not None else 0
            locks = seen + 1 >= rule.lock_at
            locked_until = now + rule.lock if locks else None
            if row is None:
                try:
                    with session.begin_nested():
                        session.add(
                            SignInFailures(
                                key=key, failures=1, first_at=now, last_at=now, locked_until=locked_until
                            )
                        )
                except IntegrityError:
                    raise Throttled(timedelta(seconds=1)) from None  # another attempt was counted first
            else:
                # Checked again on the very count this attempt replaces: a parallel attempt may have been counted
                # since _check, and its wait applies to this one too.
                _refuse_early(row, rule, now)
                changed = session.execute(
                    update(SignInFailures)
                    .where(col(SignInFailures.key) == key, col(SignInFailures.failures) == seen)
                    .values(failures=seen + 1, last_at=now, locked_until=locked_until)
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    raise Throttled(timedelta(seconds=1))
            if locks:
                self._audit.record(
                    "sign_in_locked",
                    actor=NOBODY,
                    tool="sign-in",
                    arguments={
                        "key": key,
                        "user": username,
                        "client": client,
                        "until": locked_until.isoformat(),
                    },
                    session=session,
                )


def _refuse_early(row: SignInFailures, rule: ThrottleRule, now: datetime) -> None:
    """``Throttled`` while ``row``'s lock holds or its failures' wait has not passed."""
    if row.locked_until is not None and row.locked_until > now:
        raise Throttled(row.locked_until - now)
    ready_at = row.last_at + rule.wait_after(row.failures)
    if ready_at > now:
        raise Throttled(ready_at - now)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this console, never another site or the sign-in pages."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if target.split("?")[0].rstrip("/") in (LOGIN_ROUTE, SETUP_ROUTE):
        return "/"
    return target


def login_url(path: str, params: Mapping[str, str]) -> str:
    """``/login?next=...`` coming back to ``path`` with its query."""
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    target = f"{path}?{query}" if query else path
    return f"{LOGIN_ROUTE}?next={quote(safe_next(target), safe='')}"


def session_token(cookie_header: str) -> str:
    """The console session's token in a ``Cookie`` header (``""`` when absent or unreadable)."""
    jar: SimpleCookie[str] = SimpleCookie()
    try:
        jar.load(cookie_header or "")
    except CookieError:
        return ""
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel is not None else ""


class SessionUser(BaseModel):
    """Who is signed in: what the console shows and what it acts as."""

    username: str
    display_name: str
    role: Role

    @classmethod
    def of(cls, user: User) -> SessionUser:
        return cls(
            username=user.username, display_name=user.display_name or user.username, role=Role(user.role)
        )

    def actor(self) -> Actor:
        """This person acting in the console."""
        return Actor(user=self.username, role=self.role, via="console")


def may_act(role: Role | str) -> bool:
    """Whether ``role`` may start a mutating action (every role but viewer)."""
    return role in ACTING_ROLES


def may_approve(role: Role | str) -> bool:
    """Whether ``role`` may approve requests (approver and admin; policy may narrow it per tool)."""
    return role in APPROVING_ROLES


class ConsoleSessions:
    """Sign-in, sign-out and session checks over one user directory."""

    def __init__(self, users: UserDirectory, throttle: SignInThrottle, session_ttl: timedelta) -> None:
        self.users = users
        self.throttle = throttle
        self.ttl_seconds = int(session_ttl.total_seconds())

    @classmethod
    def of(cls, core: CoreClient, *, clock: Clock | None = None) -> ConsoleSessions:
        """The sessions of the users in ``core``'s database (the one approvals and audit use)."""
        clock = clock or SystemClock()
        database = core.gate.approvals.database
        users = UserDirectory(database, clock=clock, settings=core.settings)
        throttle = SignInThrottle(database, users.audit, clock)
        return cls(users, throttle, timedelta(hours=core.settings.session_ttl_hours))

    async def needs_setup(self) -> bool:
        """Whether no user exists yet, so the first-run page may create the first admin."""
        return await asyncio.to_thread(self.users.count) == 0

    async def create_first_admin(
        self, username: str, password: str, *, display_name: str = ""
    ) -> tuple[str, SessionUser]:
        """Create the first user, an admin, and sign them in; ``Forbidden`` once any user exists."""

        def create() -> tuple[str, User]:
            user = self.users.bootstrap_admin(
                username.strip(), password, via="console", display_name=display_name.strip() or None
            )
            return self.users.start_session(user), user

        token, user = await asyncio.to_thread(create)
        return token, SessionUser.of(user)

    async def sign_in(
        self, username: str, password: str, *, client: str = "unknown"
    ) -> tuple[str, SessionUser]:
        """A new session for the user with this password; ``Forbidden`` without saying which part was wrong,
        ``Throttled`` (the same for every account) after too many failures from the account or the client."""
        name = username.strip()[:NAME_CHARS]
        if not name or not password:
            raise BadQuery("enter a username and a password", source="sign-in")

        def check() -> tuple[str, User] | None:
            self.throttle.count_attempt(name.lower(), client)
            user = self.users.authenticate(name, password)
            if user is None:
                self.throttle.failed(name.lower(), client)
                return None
            self.throttle.succeeded(name.lower(), client)
            return self.users.start_session(user), user

        started = await asyncio.to_thread(check)
        if started is None:
            raise Forbidden(WRONG_CREDENTIALS, source="sign-in")
        token, user = started
        return token, SessionUser.of(user)

    async def resume(self, token: str) -> SessionUser | None:
        """The user of a live session; ``None`` when the token is empty, unknown, signed out or expired."""
        if not token:
            return None
        user = await asyncio.to_thread(self.users.session_user, token)
        return SessionUser.of(user) if user is not None else None

    async def sign_out(self, token: str) -> None:
        """End the session (an unknown token is ignored)."""
        if token:
            await asyncio.to_thread(self.users.end_session, token)

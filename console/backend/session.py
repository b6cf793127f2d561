"""Signing in to the console: password sign-in, console sessions, and the first-run admin.

Sessions are ``UserDirectory`` sessions (their token hashed in the database) that expire after
``session_ttl_hours``. They run on the wall clock, not the demo world's frozen one, so they really expire. Every
call that touches the database runs in a worker thread: scrypt and SQL must not stall the event loop.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from core_client.client import CoreClient
from core_client.clock import Clock, SystemClock
from core_client.errors import BadQuery, Forbidden
from core_client.identity import Actor, Role
from core_client.store import User
from core_client.users import UserDirectory

ACTING_ROLES = frozenset({Role.RESPONDER, Role.APPROVER, Role.ADMIN})
APPROVING_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
WRONG_CREDENTIALS = "wrong username or password"


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

    def __init__(self, users: UserDirectory) -> None:
        self.users = users

    @classmethod
    def of(cls, core: CoreClient, *, clock: Clock | None = None) -> ConsoleSessions:
        """The sessions of the users in ``core``'s database (the one approvals and audit use)."""
        users = UserDirectory(
            core.gate.approvals.database, clock=clock or SystemClock(), settings=core.settings
        )
        return cls(users)

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

    async def sign_in(self, username: str, password: str) -> tuple[str, SessionUser]:
        """A new session for the user with this password; ``Forbidden`` without saying which part was wrong."""
        if not username.strip() or not password:
            raise BadQuery("enter a username and a password", source="sign-in")

        def check() -> tuple[str, User] | None:
            user = self.users.authenticate(username.strip(), password)
            return (self.users.start_session(user), user) if user is not None else None

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

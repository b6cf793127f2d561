"""Who is signed in to the console: the base state every page state can read.

API (keep it small; other pages rely on it):

- ``SessionState.user`` (username, ``""`` when signed out), ``display_name`` and ``role`` (``viewer``,
  ``responder``, ``approver`` or ``admin``): vars for the UI.
- ``SessionState.can_act`` and ``can_approve``: computed vars that decide which buttons to show. Showing is not
  checking: every handler that changes anything calls ``await self.verified_user()`` first (or passes the token
  to :func:`verified_user`), which re-reads the session from the database and raises ``Forbidden`` when it has
  ended, and then acts as that user's ``Actor`` (``user.actor()``), which the approval policy and the mutation
  gate check again.
- ``SessionState.sign_out``: an event for a button.

Page states subclass ``ScopeState`` (console/state/scope.py), itself a ``SessionState``, so ``self.user`` and
``self.can_act`` are theirs too; a state that does not can ``await self.get_state(SessionState)``. Every page made
with ``console_page`` is behind sign-in: ``ScopeState.open_page`` checks the session before the page's own
``on_load`` runs. The session token lives in a cookie; only its sha256 is stored (``UserDirectory`` sessions,
expiring after ``session_ttl_hours``).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from urllib.parse import quote

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.session import ConsoleSessions, SessionUser, may_act, may_approve
from core_client.errors import Forbidden, OpsPilotError
from core_client.settings import load_settings

COOKIE_NAME = "opspilot_session"
LOGIN_ROUTE = "/login"
SETUP_ROUTE = "/setup"
SESSION_ENDED = "your session has ended: sign in again"


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


async def verified_user(token: str) -> SessionUser:
    """The user of a live session; ``Forbidden`` when it is unknown, ended or expired."""
    core = await runtime.core()
    user = await ConsoleSessions.of(core).resume(token)
    if user is None:
        raise Forbidden(SESSION_ENDED, source="console")
    return user


class SessionState(rx.State):
    """The signed-in person (see the module docstring for the API)."""

    session_token: str = rx.Cookie(
        "",
        name=COOKIE_NAME,
        path="/",
        max_age=int(load_settings().session_ttl_hours * 3600),
        same_site="strict",
    )
    user: str = ""
    display_name: str = ""
    role: str = ""
    # The sign-in and first-run forms.
    auth_error: str = ""
    auth_busy: bool = False

    @rx.var
    def signed_in(self) -> bool:
        return self.user != ""

    @rx.var
    def can_act(self) -> bool:
        """Whether to offer actions that change something (every role but viewer)."""
        return may_act(self.role)

    @rx.var
    def can_approve(self) -> bool:
        """Whether to offer Approve and Reject (approver and admin)."""
        return may_approve(self.role)

    async def verified_user(self) -> SessionUser:
        """The signed-in user, re-checked in the database; ``Forbidden`` when the session has ended.

        Call it outside ``async with self`` in a background event (it waits on the database).
        """
        return await verified_user(self.session_token)

    def _remember(self, user: SessionUser) -> None:
        self.user, self.display_name, self.role = user.username, user.display_name, user.role.value

    async def _start(self, token: str, user: SessionUser) -> None:
        """A session began: the cookie takes its token (from a background event, outside ``async with``)."""
        async with self:
            self.session_token = token
            self._remember(user)
            self.auth_busy = False

    async def _refuse(self, message: str) -> None:
        """Show ``message`` on the sign-in form (``""`` clears it) and let the form be used again."""
        async with self:
            self.auth_busy, self.auth_error = False, message

    def _forget(self) -> None:
        self.session_token = ""
        self.user = self.display_name = self.role = ""

    def _next(self) -> str:
        return safe_next(self.router.url.query_parameters.get("next"))

    @rx.event(background=True)
    async def open_login(self) -> EventSpec | None:
        """``/login``'s on_load: straight on when already signed in; to ``/setup`` while no user exists."""
        try:
            core = await runtime.core()
            sessions = ConsoleSessions.of(core)
            user = await sessions.resume(self.session_token)
            first_run = user is None and await sessions.needs_setup()
        except OpsPilotError as exc:
            await self._refuse(str(exc))
            return None
        async with self:
            self.auth_error, self.auth_busy = "", False
            if user is not None:
                self._remember(user)
                return rx.redirect(self._next(), replace=True)
        return rx.redirect(SETUP_ROUTE, replace=True) if first_run else None

    @rx.event(background=True)
    async def sign_in(self, form: dict[str, str]) -> EventSpec | None:
        """Check the password and start a session; the message never says which of the two was wrong."""
        async with self:
            self.auth_busy, self.auth_error = True, ""
            target = self._next()
        try:
            token, user = await ConsoleSessions.of(await runtime.core()).sign_in(
                form.get("username", ""), form.get("password", "")
            )
        except OpsPilotError as exc:
            await self._refuse(exc.message)
            return None
        await self._start(token, user)
        return rx.redirect(target, replace=True)

    @rx.event(background=True)
    async def open_setup(self) -> EventSpec | None:
        """``/setup``'s on_load: only while no user exists; otherwise to sign-in."""
        try:
            first_run = await ConsoleSessions.of(await runtime.core()).needs_setup()
        except OpsPilotError as exc:
            await self._refuse(str(exc))
            return None
        await self._refuse("")
        return None if first_run else rx.redirect(LOGIN_ROUTE, replace=True)

    @rx.event(background=True)
    async def create_first_admin(self, form: dict[str, str]) -> list[EventSpec] | None:
        """Create the first admin (refused once any user exists) and sign them in."""
        if form.get("password", "") != form.get("confirm", ""):
            await self._refuse("the two passwords differ")
            return None
        async with self:
            self.auth_busy, self.auth_error = True, ""
        try:
            token, user = await ConsoleSessions.of(await runtime.core()).create_first_admin(
                form.get("username", ""), form.get("password", ""), display_name=form.get("display_name", "")
            )
        except OpsPilotError as exc:
            await self._refuse(exc.message)
            return None
        await self._start(token, user)
        return [
            rx.redirect("/", replace=True),
            rx.toast.success(f"Welcome, {user.display_name}: you are the admin."),
        ]

    @rx.event(background=True)
    async def sign_out(self) -> EventSpec:
        """End the session here and in the database, then go to sign-in."""
        token = self.session_token
        # The cookie goes anyway: an unreachable database cannot keep anyone signed in here.
        with suppress(OpsPilotError):
            await ConsoleSessions.of(await runtime.core()).sign_out(token)
        async with self:
            self._forget()
        return rx.redirect(LOGIN_ROUTE, replace=True)

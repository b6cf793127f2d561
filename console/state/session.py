"""Who is signed in to the console, checked on every event: the base state of every console state.

API (keep it small; other pages rely on it):

- Subclass ``SessionState`` (page states do, through ``ScopeState``). Every event handler of a subclass, its
  mixins' included, runs only for a live session: the check wraps each handler as the class is made
  (``_create_event_handler``), so a new handler cannot forget it. Without a live session (none, signed out,
  expired, user disabled) the handler does not run; the tab's state is cleared and sent to sign in.
- ``@acts`` (responder, approver, admin), ``@approves`` (approver, admin) and ``@administers`` (admin), under
  ``@rx.event``: the roles a handler needs; any other role is refused with a toast. Every other handler is a
  read, open to viewers too. The policy and the mutation gate still check the acting user again.
- ``@public``: a handler that needs no session (the sign-in and first-run pages' own).
- ``@plain``: a method of a state that is not an event (Reflex would otherwise expose it to the browser).
- ``SessionState.user`` (username, ``""`` when signed out), ``display_name`` and ``role``: vars for the UI;
  ``can_act``/``can_approve``/``is_admin`` decide which buttons to show. Showing is not checking.
- ``await self.verified_user()``: the ``SessionUser`` of this event's session, re-read from the database
  (``Forbidden`` once it has ended); act as ``user.actor()``.

The session token is in an HttpOnly cookie that only the backend's sign-in routes write
(console/backend/sign_in.py); script never sees it. The websocket reads it from its handshake's headers. Only its
sha256 is stored (``UserDirectory`` sessions, expiring after ``session_ttl_hours``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, TypeVar

import reflex as rx
from reflex.event import EventSpec
from reflex.istate.proxy import StateProxy
from reflex.state import EventHandlerSetVar
from reflex_base.event import BACKGROUND_TASK_MARKER, EventHandler

from console import runtime
from console.backend.session import (
    COOKIE_NAME,
    LOGIN_ROUTE,
    SETUP_ROUTE,
    ConsoleSessions,
    SessionUser,
    login_url,
    may_act,
    may_approve,
    safe_next,
    session_token,
)
from console.backend.sign_in import failure_message
from core_client.errors import Forbidden, OpsPilotError
from core_client.identity import Role

SESSION_ENDED = "your session has ended: sign in again"
# The attribute that holds the roles a handler needs (absent: any signed-in role).
ROLES_MARKER = "_opspilot_roles"
PUBLIC_MARKER = "_opspilot_public"

F = TypeVar("F", bound=Callable[..., Any])


async def verified_user(token: str) -> SessionUser:
    """The user of a live session; ``Forbidden`` when it is unknown, ended or expired."""
    core = await runtime.core()
    user = await ConsoleSessions.of(core).resume(token)
    if user is None:
        raise Forbidden(SESSION_ENDED, source="console")
    return user


def _needs(roles: Collection[Role], refusal: str) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        setattr(fn, ROLES_MARKER, (frozenset(roles), refusal))
        return fn

    return mark


acts = _needs({Role.RESPONDER, Role.APPROVER, Role.ADMIN}, "viewers cannot change anything")
approves = _needs({Role.APPROVER, Role.ADMIN}, "only approvers and admins decide requests")
administers = _needs({Role.ADMIN}, "only admins manage users and tokens")


def public(fn: F) -> F:
    """Mark a handler that runs without a session (only the sign-in and first-run pages have any)."""
    setattr(fn, PUBLIC_MARKER, True)
    return fn


def plain(fn: F) -> F:
    """Mark a public method of a state as a plain method, not an event the browser may send (also how a state
    overrides one of Reflex's own methods)."""
    # Reflex's own marker for methods that are not event handlers (it skips them when it makes handlers).
    fn.__override_base_method__ = True  # type: ignore[attr-defined]
    return fn


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run only for a live session of a role it allows (see the module docstring)."""
    if getattr(fn, PUBLIC_MARKER, False) or getattr(fn, "_opspilot_guarded", False):
        return fn
    if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        async def stream(self: SessionState, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            refusal = await self._admit(fn)
            if refusal is not None:
                yield refusal
                return
            events = fn(self, *args, **kwargs)
            if inspect.isasyncgen(events):
                async for event in events:
                    yield event
                return
            for event in events:
                yield event

        wrapper: Callable[..., Any] = stream
    else:

        @functools.wraps(fn)
        async def call(self: SessionState, *args: Any, **kwargs: Any) -> Any:
            refusal = await self._admit(fn)
            if refusal is not None:
                return refusal
            result = fn(self, *args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        wrapper = call
    wrapper._opspilot_guarded = True  # type: ignore[attr-defined]
    return wrapper


class _RefusedSetVar(EventHandlerSetVar):
    """``setvar`` from the browser: the console sets its vars only through named handlers, checked."""

    def setvar(self, var_name: str, value: Any) -> EventSpec:  # type: ignore[override]
        return rx.toast.error("The console sets its values through its own events only.")


class SessionState(rx.State):
    """The signed-in person, and the session check of every event (see the module docstring)."""

    user: str = ""
    display_name: str = ""
    role: str = ""
    # The sign-in and first-run pages: why the last form came back, and where to go after signing in.
    auth_error: str = ""
    next_target: str = "/"

    @classmethod
    @plain
    def _create_event_handler(
        cls, fn: Any, event_handler_cls: type[EventHandler] = EventHandler
    ) -> EventHandler:
        # Every handler made for this state or a subclass (mixins' included) checks the session first.
        return super()._create_event_handler(guarded(fn), event_handler_cls)

    @classmethod
    @plain
    def _create_setvar(cls) -> None:
        cls.setvar = cls.event_handlers["setvar"] = _RefusedSetVar(state_cls=cls)

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

    @rx.var
    def is_admin(self) -> bool:
        """Whether to offer the administration of users and tokens."""
        return self.role == Role.ADMIN.value

    def _session_token(self) -> str:
        return session_token(self.router.headers.cookie)

    @plain
    async def verified_user(self) -> SessionUser:
        """The signed-in user, re-checked in the database; ``Forbidden`` when the session has ended.

        Call it outside ``async with self`` in a background event (it waits on the database).
        """
        return await verified_user(self._session_token())

    async def _admit(self, fn: Callable[..., Any]) -> EventSpec | None:
        """``None`` when this event may run ``fn``; otherwise what to send instead."""
        background = isinstance(self, StateProxy) or getattr(fn, BACKGROUND_TASK_MARKER, False)
        try:
            user = await ConsoleSessions.of(await runtime.core()).resume(self._session_token())
        except OpsPilotError as exc:
            # Without the database nobody can be checked, so nothing runs.
            return rx.toast.error(str(exc), duration=8000)
        if user is None:
            await self._write_session(background, self._drop_session_view)
            url = self.router.url
            return rx.redirect(login_url(url.path, dict(url.query_parameters)), replace=True)
        needed: tuple[frozenset[Role], str] | None = getattr(fn, ROLES_MARKER, None)
        if needed is not None and user.role not in needed[0]:
            return rx.toast.error(f"{user.username} is a {user.role.value}: {needed[1]}", duration=8000)
        if (self.user, self.role, self.display_name) != (user.username, user.role.value, user.display_name):
            await self._write_session(background, lambda: self._remember(user))
        return None

    async def _write_session(self, background: bool, change: Callable[[], None]) -> None:
        if background:
            async with self:
                change()
        else:
            change()

    def _drop_session_view(self) -> None:
        """Forget who was signed in and what this state showed them."""
        self.reset()
        self._forget()

    def _remember(self, user: SessionUser) -> None:
        self.user, self.display_name, self.role = user.username, user.display_name, user.role.value

    def _forget(self) -> None:
        self.user = self.display_name = self.role = ""

    @rx.event(background=True)
    @public
    async def open_login(self) -> EventSpec | None:
        """``/login``'s on_load: straight on when already signed in; to ``/setup`` while no user exists."""
        params = self.router.url.query_parameters
        async with self:
            self.auth_error = failure_message(params.get("failed", ""), params.get("wait", ""))
            self.next_target = safe_next(params.get("next"))
        try:
            sessions = ConsoleSessions.of(await runtime.core())
            user = await sessions.resume(self._session_token())
            first_run = user is None and await sessions.needs_setup()
        except OpsPilotError:
            return None  # the sign-in form still works once the database is back
        async with self:
            if user is None:
                self._forget()
            else:
                self._remember(user)
                return rx.redirect(self.next_target, replace=True)
        return rx.redirect(SETUP_ROUTE, replace=True) if first_run else None

    @rx.event(background=True)
    @public
    async def open_setup(self) -> EventSpec | None:
        """``/setup``'s on_load: only while no user exists; otherwise to sign-in."""
        async with self:
            self.auth_error = failure_message(self.router.url.query_parameters.get("failed", ""))
        try:
            first_run = await ConsoleSessions.of(await runtime.core()).needs_setup()
        except OpsPilotError:
            return None
        return None if first_run else rx.redirect(LOGIN_ROUTE, replace=True)

    @rx.event(background=True)
    async def sign_out(self) -> None:
        """End the session in the database and forget this tab's data (the menu's link to the backend's sign-out
        route drops the cookie meanwhile)."""
        # Ended here first: every socket still open on this session is refused at its next event.
        await ConsoleSessions.of(await runtime.core()).sign_out(self._session_token())
        async with self:
            root = self
            while root.parent_state is not None:
                root = root.parent_state
            root.reset()


__all__ = [
    "COOKIE_NAME",
    "LOGIN_ROUTE",
    "SESSION_ENDED",
    "SETUP_ROUTE",
    "SessionState",
    "acts",
    "administers",
    "approves",
    "login_url",
    "plain",
    "public",
    "safe_next",
    "verified_user",
]

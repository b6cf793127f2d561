"""The global scope (service, team, environment, time range) shared by every page and kept in the URL.

API for page states (subclass ``ScopeState``; it is a ``SessionState``, so the signed-in user comes with it):

- ``self.query_scope()``: the current scope as a ``QueryScope`` for any provider query.
- ``self.window()``: the time range as two aware UTC datetimes (a preset such as "last 24h" ends at the clock's
  now, the demo world's frozen ``world_now`` included).
- Vars for views: ``scope_service``, ``scope_team``, ``scope_environment``, ``time_range`` (a preset, or ``""`` when absolute),
  ``window_label``, ``window_start``/``window_end`` (ISO-8601 UTC).

The URL is the source of truth: the scope bar's handlers navigate to the same page with new parameters (see
console/backend/scope.py), and every page made with ``console_page`` runs ``open_page`` on load, which checks the
session, reads the scope from the URL, and only then runs the page's own ``on_load``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import reflex as rx
from reflex.event import EventSpec, EventType
from reflex_base.utils.format import format_route

from console import runtime
from console.backend.scope import (
    ANY,
    DEFAULT_RANGE,
    PRESETS,
    Scope,
    ScopeOption,
    scope_changes,
    scope_options,
    url_with,
)
from console.state.session import SessionState, plain
from core_client.errors import OpsPilotError
from core_client.links import format_time, parse_time
from core_client.schemas import QueryScope

# Each console page's own on_load, by route, filled once as the pages are declared (console_page): open_page runs
# it after the session check, so no page loads data for someone who is not signed in.
_PAGE_LOADS: dict[str, tuple[EventType[()], ...]] = {}


def register_page_load(route: str, on_load: EventType[()] | None) -> None:
    """Declare what ``open_page`` runs, once the session is checked, on the page at ``route``."""
    if on_load is None:
        loads: tuple[EventType[()], ...] = ()
    elif isinstance(on_load, Sequence):
        loads = tuple(on_load)
    else:
        loads = (on_load,)
    _PAGE_LOADS[format_route(route)] = loads


def page_loads(route_id: str) -> list[EventType[()]]:
    """The on_load of the page whose route pattern is ``route_id`` (as Reflex's router names it)."""
    return list(_PAGE_LOADS.get(format_route(route_id), ()))


def _picked(value: str) -> str | None:
    return None if value in ("", ANY) else value


def _utc_input(text: str) -> datetime | None:
    """A ``datetime-local`` input's value (``2026-11-01T14:00``), read as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ScopeState(SessionState):
    """The scope the URL holds, for the scope bar and every page state (see the module docstring)."""

    scope_service: str = ""
    scope_team: str = ""
    scope_environment: str = ""
    time_range: str = DEFAULT_RANGE
    # Whether the URL chose the range (else it is the default: see chosen_window).
    range_chosen: bool = False
    window_start: str = ""
    window_end: str = ""
    window_label: str = f"Last {DEFAULT_RANGE}"
    # Why the URL's time range could not be used (shown under the scope bar).
    range_problem: str = ""
    service_options: list[ScopeOption] = []
    team_options: list[ScopeOption] = []
    environment_options: list[str] = []
    scope_error: str = ""
    # The custom range form (datetime-local values, UTC).
    custom_from: str = ""
    custom_to: str = ""
    _options_loaded: bool = False

    @plain
    def query_scope(self) -> QueryScope:
        """The current scope, for a provider query."""
        return QueryScope(
            service=self.scope_service or None,
            team=self.scope_team or None,
            environment=self.scope_environment or None,
        )

    @plain
    def window(self) -> tuple[datetime, datetime]:
        """The time range as absolute UTC times (resolved when the page opened)."""
        return parse_time(self.window_start), parse_time(self.window_end)

    @plain
    def chosen_window(self) -> tuple[datetime, datetime] | None:
        """The time range only when the person chose one (the URL sets it); ``None`` for the page's default.

        Lists of records that happened once (incidents) and investigations use this: the default "last 24h"
        suits charts and logs, but would hide every older incident from a list that never asked for a range.
        """
        return self.window() if self.range_chosen and self.window_start else None

    def _scope(self) -> Scope:
        return Scope.from_params(self.router.url.query_parameters)

    def _show(self, scope: Scope, now: datetime) -> None:
        start, end = scope.window(now)
        self.scope_service, self.scope_team = scope.service, scope.team
        self.scope_environment = scope.environment
        self.time_range, self.range_chosen = scope.range, scope.chosen
        self.window_start, self.window_end = format_time(start), format_time(end)
        self.window_label = scope.label()
        self.range_problem = scope.problem
        self.custom_from, self.custom_to = start.strftime("%Y-%m-%dT%H:%M"), end.strftime("%Y-%m-%dT%H:%M")

    @rx.event(background=True)
    async def open_page(self) -> EventSpec | list[EventType[()]] | None:
        """Every console page's on_load (after the session check every handler has): read the scope from the URL,
        then run the page's own."""
        params = dict(self.router.url.query_parameters)
        route = self.router.route_id
        core = await runtime.core()
        options = None
        if not self._options_loaded:
            try:
                options = await scope_options(core)
            except OpsPilotError as exc:
                async with self:
                    self.scope_error = str(exc)
        async with self:
            self._show(Scope.from_params(params), core.clock.now())
            if options is not None:
                self.service_options, self.team_options = options.services, options.teams
                self.environment_options = options.environments
                self.scope_error = options.error
                self._options_loaded = not options.error
        return page_loads(route)

    def _go(self, changes: Mapping[str, str | None]) -> EventSpec:
        return rx.redirect(url_with(self.router.url.path, self.router.url.query_parameters, changes))

    @rx.event
    def pick_service(self, value: str) -> EventSpec:
        return self._go({"service": _picked(value)})

    @rx.event
    def pick_team(self, value: str) -> EventSpec:
        return self._go({"team": _picked(value)})

    @rx.event
    def pick_environment(self, value: str) -> EventSpec:
        return self._go({"env": _picked(value)})

    @rx.event
    def pick_range(self, value: str | list[str]) -> EventSpec | None:
        """A preset; ``custom`` keeps the current window until the custom form is applied."""
        if not isinstance(value, str) or value not in PRESETS:
            return None
        scope = self._scope().model_copy(update={"range": value, "start": None, "end": None, "chosen": True})
        return self._go(scope_changes(scope))

    @rx.event
    def set_custom_from(self, value: str) -> None:
        self.custom_from = value

    @rx.event
    def set_custom_to(self, value: str) -> None:
        self.custom_to = value

    @rx.event
    def apply_custom_range(self) -> EventSpec:
        """The absolute window typed in the custom form (UTC)."""
        start, end = _utc_input(self.custom_from), _utc_input(self.custom_to)
        if start is None or end is None or start >= end:
            return rx.toast.error("Give a start and an end, the start first (times in UTC).")
        scope = self._scope().model_copy(update={"range": "", "start": start, "end": end})
        return self._go(scope_changes(scope))

    @rx.event
    def clear_scope(self) -> EventSpec:
        """Back to every service, team and environment over the last 24 hours."""
        return self._go(scope_changes(Scope()))

"""A list page's paging, shared by the list states: one page of rows in state, the provider's cursors kept back.

A list state mixes ``PagedList`` into a ``ScopeState`` subclass, declares a ``rows`` var and one var per field of
its filters model (``_filter_type``), and provides ``_fetch``: one page from the provider for those filters and
the current scope. Filters live in the URL: a filter handler writes the new URL into the address bar
(``history.pushState``, no navigation, so the page is neither re-rendered nor re-opened) and opens page 1 for
them, in the same event; ``load``, the page's on_load (a link, a reload, Back, Forward), reads them back from the
URL and opens page 1; ``next_page`` and ``previous_page`` move with the cursors remembered for the pages
seen, and only with the query that made them (a cursor is bound to its query): a click while a newer page 1 is
on its way waits for it, and a query changed since opens page 1 of the new one. A load overtaken by a newer one
(a quick second filter change) is dropped instead of overwriting it.

Everything is read under the state lock except the event's own address, read before it: with the state kept in
Redis (several workers), the state fetched under the lock carries the router of whichever event saved it last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal, Protocol

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.records import ListFilters
from console.backend.scope import ANY, url_with
from console.state.address import history_event
from core_client.client import CoreClient
from core_client.errors import OpsPilotError

# The scope bar's vars (console/state/scope.py) that a list's query reads.
SCOPE_VARS = (
    "scope_service",
    "scope_team",
    "scope_environment",
    "window_start",
    "window_end",
    "range_chosen",
)


class RowsPage(Protocol):
    """One page of a list as the backend returns it."""

    @property
    def rows(self) -> Sequence[Any]: ...

    @property
    def next_cursor(self) -> str | None: ...

    @property
    def truncated(self) -> bool: ...


class PagedList(rx.State, mixin=True):
    """Paging for a list page (mix into a ``ScopeState`` subclass; see the module docstring)."""

    loading: bool = True
    error: str = ""
    page_number: int = 1
    has_next: bool = False
    # The provider read only up to its cap to order the results (Page.truncated): the pages hold some matches.
    truncated: bool = False
    # Changes whenever the filters are set by anything but the search box itself (the box's key: see
    # ``listing.search_box``).
    search_box_version: int = 0
    # The cursor that opened each page seen so far (page 1 has none), and the next page's.
    _cursors: list[str | None] = []
    _next_cursor: str | None = None
    _generation: int = 0
    # The load whose page is shown (its cursors above), and the query vars it fetched with.
    _shown_generation: int = 0
    _shown_query: dict[str, Any] = {}

    async def _fetch(self, core: CoreClient, cursor: str | None) -> RowsPage:
        """One page from the provider for the filter vars and the scope (a background task may read them)."""
        raise NotImplementedError

    def _show_page(self, page: RowsPage | None) -> None:
        """Put the page's rows in the state's ``rows`` var (none when the page could not be loaded)."""
        self.rows = list(page.rows) if page is not None else []

    async def _enrich(self, core: CoreClient, generation: int) -> None:
        """Add what is slow to learn about the rows shown once they are on screen, unless a newer load replaced
        them (``generation`` is the load that showed them; nothing by default)."""

    @classmethod
    def _filter_type(cls) -> type[ListFilters]:
        raise NotImplementedError

    def _filters(self) -> ListFilters:
        """The filters the page shows (its vars)."""
        model = self._filter_type()
        return model.from_params({}).model_copy(
            update={name: getattr(self, name) for name in model.model_fields}
        )

    def _query_vars(self) -> dict[str, Any]:
        """The vars a page's fetch depends on: the filters and the scope bar's (service, team, environment, range)."""
        names = [*self._filter_type().model_fields, *SCOPE_VARS]
        return {name: getattr(self, name, None) for name in names}

    def _read_url(self, parameters: dict[str, Any]) -> None:
        """Set the filter vars from the URL's query parameters (under the state lock, before page 1 is fetched)."""
        filters = self._filter_type().from_params(parameters)
        for name in self._filter_type().model_fields:
            setattr(self, name, getattr(filters, name))

    async def _refilter(self, *, typed: bool = False, **changes: str) -> AsyncIterator[EventSpec]:
        """This page with the filters changed (and the scope and everything else in the URL kept), in this one
        event: the URL written into the address bar, then page 1 of those filters. Navigating instead would cost
        two round trips more, re-render the page and run its whole on_load (the session, the scope options, the
        sources) for a change of one filter."""
        path, query = self.router.url.path, self.router.url.query_parameters
        async with self:
            params = self._filters().model_copy(update=changes).to_params()
        yield history_event(url_with(path, query, params), push=True)
        await self._open(
            "first", {name: value for name, value in params.items() if value is not None}, typed=typed
        )

    @rx.event(background=True)
    async def filter_status(self, value: str) -> AsyncIterator[EventSpec]:
        async for event in self._refilter(status="" if value == ANY else value):
            yield event

    @rx.event(background=True)
    async def search(self, form: dict[str, str]) -> AsyncIterator[EventSpec]:
        """The filter form's text fields (``q`` is the free-text search)."""
        fields = self._filter_type().model_fields
        changes = {("text" if key == "q" else key): value.strip() for key, value in form.items()}
        chosen = {key: value for key, value in changes.items() if key in fields}
        async for event in self._refilter(typed=True, **chosen):
            yield event

    @rx.event(background=True)
    async def clear_filters(self) -> AsyncIterator[EventSpec]:
        defaults = self._filter_type().from_params({})
        names = self._filter_type().model_fields
        async for event in self._refilter(**{name: getattr(defaults, name) for name in names}):
            yield event

    async def _open(
        self,
        step: Literal["first", "next", "previous"],
        filters: Mapping[str, str] | None = None,
        *,
        typed: bool = False,
    ) -> None:
        """Load page 1 (of ``filters``, else of the URL's), or the page after or before the one shown, and make it
        current; ``typed`` when the filters come from the search box itself."""
        parameters = dict(self.router.url.query_parameters if filters is None else filters)
        async with self:
            if not getattr(self, "signed_in", False):
                # Only open_page (after the session check) loads data; a stray event shows nothing.
                self.loading = False
                return
            if step != "first" and self._generation != self._shown_generation:
                return  # a newer page 1 is on its way; the cursors shown are not its query's
            if step == "first":
                self._read_url(parameters)
                self.search_box_version += 0 if typed else 1
                cursors: list[str | None] = [None]
            elif self._query_vars() != self._shown_query:
                cursors = [None]
            elif step == "next" and self._next_cursor is not None:
                cursors = [*self._cursors, self._next_cursor]
            elif step == "previous" and len(self._cursors) > 1:
                cursors = self._cursors[:-1]
            else:
                return
            self._generation += 1
            generation = self._generation
            self.loading = True
        try:
            page = await self._fetch(await runtime.core(), cursors[-1])
        except OpsPilotError as exc:
            async with self:
                if generation == self._generation:
                    self.error, self.loading, self.has_next, self.truncated = str(exc), False, False, False
                    self._shown_generation, self._cursors, self._next_cursor = generation, cursors, None
                    self._shown_query = self._query_vars()
                    self._show_page(None)
            return
        async with self:
            if generation != self._generation:
                return
            self._shown_generation, self._shown_query = generation, self._query_vars()
            self._cursors, self._next_cursor = cursors, page.next_cursor
            self.page_number, self.has_next = len(cursors), page.next_cursor is not None
            self.truncated = page.truncated
            self.error, self.loading = "", False
            self._show_page(page)
        await self._enrich(await runtime.core(), generation)

    @rx.event(background=True)
    async def load(self) -> None:
        """Page 1 for the URL's filters and the current scope."""
        await self._open("first")

    @rx.event(background=True)
    async def next_page(self) -> None:
        """The page after the one shown, of the query that made it."""
        await self._open("next")

    @rx.event(background=True)
    async def previous_page(self) -> None:
        """The page before the one shown, of the query that made it."""
        await self._open("previous")

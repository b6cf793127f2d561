"""The Logs page's state: the query (mirrored in the URL), one page of lines, the volume, patterns, a context.

The scope bar (``ScopeState``) owns service, team, environment and the time range; this state owns the text,
the severity, the tab, the comparison point and the highlighted line. Only the visible page of rows is held;
the cursors that reach the pages before it stay in backend-only vars. Every change of the query writes the URL
(``history.pushState``, no reload), and opening a URL (a link, a reload, back and forward) restores the query
from it. Results of a superseded query are dropped, never shown.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import asdict
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.logs import (
    HighlightPage,
    LinesPage,
    LogRow,
    LogSearch,
    PatternReport,
    PatternRow,
    Volume,
    highlight_page,
    highlight_window,
    line_context,
    lines_page,
    pattern_report,
    severity_hint,
)
from console.backend.logs import volume as line_volume
from console.backend.scope import ANY
from console.backend.timewindow import input_value, parse_input
from console.state.address import AddressedQuery, history_event
from console.state.scope import ScopeState
from core_client.errors import BadQuery, OpsPilotError
from core_client.links import format_time

PAGE = "/logs"
# The severity picker's "no filter" value (a select cannot hold an empty value).
ANY_SEVERITY = ANY
SEVERITY_CHOICES: dict[str, str] = {
    ANY_SEVERITY: "any severity",
    "warn,error,fatal": "warn and worse",
    "error,fatal": "error and worse",
    "fatal": "fatal",
    "error": "error",
    "warn": "warn",
    "info": "info",
    "debug": "debug",
}


def reveal_event(element_id: str) -> EventSpec:
    """Scroll the element with ``element_id`` to the middle of the view once it is rendered."""
    target = json.dumps(element_id)
    return rx.call_script(
        "(function reveal(tries) {"
        f" const element = document.getElementById({target});"
        " if (element) element.scrollIntoView({block: 'center'});"
        " else if (tries > 0) setTimeout(() => reveal(tries - 1), 50);"
        " })(60)"
    )


def row_element_id(log_id: str) -> str:
    return f"log-{log_id}"


class LogsState(AddressedQuery, ScopeState):
    """What the Logs page shows. The query fields mirror the URL; ``_search`` is the query last run."""

    q: str = ""
    severity: str = ANY_SEVERITY
    tab: str = "lines"
    since: str = ""
    highlight: str = ""

    rows: list[LogRow] = []
    page_number: int = 1
    has_next: bool = False
    truncated: bool = False
    loading: bool = True
    # Rows of the query before are on screen while a new one runs.
    refreshing: bool = False
    lines_error: str = ""
    notice: str = ""
    # The search names a level (see ``severity_hint``): the word, the filter meant and its picker label.
    hint_word: str = ""
    hint_severity: str = ""
    hint_label: str = ""

    # One dict per bar (label, other, warn, error): recharts takes rows of plain objects.
    volume: list[dict[str, Any]] = []
    volume_total: str = ""
    volume_loading: bool = True
    volume_error: str = ""

    patterns: list[PatternRow] = []
    patterns_note: str = ""
    patterns_loading: bool = False
    patterns_error: str = ""

    expanded: str = ""
    context: list[LogRow] = []
    context_loading: bool = False
    context_error: str = ""

    _search: LogSearch = LogSearch()
    # The cursor of every page up to the current one ("" for the first): the way back.
    _cursors: list[str] = []
    _next_cursor: str = ""
    _turning: bool = False
    _generation: int = 0

    @rx.event
    def set_q(self, value: str) -> None:
        self.q = value

    @rx.event
    def set_since(self, value: str) -> None:
        self.since = value

    # --- what starts a query ----------------------------------------------------------------------------------

    # Each of these is one background event that starts the query and loads it: no second round trip.

    @rx.event(background=True)
    async def load(self) -> AsyncIterator[EventSpec]:
        """The page's on_load (after the scope bar read the URL): run the query the URL describes."""
        async with self:
            search = self._query_from_url(LogSearch)
            if search is None:
                return
            generation = self._begin(search)
        async for event in self._fetch(generation, search):
            yield event

    @rx.event(background=True)
    async def submit(self, form: dict[str, Any]) -> AsyncIterator[EventSpec]:
        """The query bar's text (Enter or Search)."""
        async for event in self._refine(q=str(form.get("q", "")).strip()):
            yield event

    @rx.event(background=True)
    async def pick_severity(self, value: str) -> AsyncIterator[EventSpec]:
        async for event in self._refine(severity="" if value == ANY_SEVERITY else value):
            yield event

    @rx.event(background=True)
    async def use_severity(self) -> AsyncIterator[EventSpec]:
        """Take the hint: filter by the level the search named, and search for the rest of its words."""
        async with self:
            hint = severity_hint(self._search.q, self._search.severity)
        if hint is not None:
            async for event in self._refine(q=hint.rest, severity=hint.severity):
                yield event

    @rx.event(background=True)
    async def show_line(self, log_id: str) -> AsyncIterator[EventSpec]:
        """Highlight one line (a pattern's example) among the current query's lines."""
        async for event in self._refine(highlight=log_id, tab="lines"):
            yield event

    async def _refine(self, **changes: Any) -> AsyncIterator[EventSpec]:
        async with self:
            # A new query drops the highlight and the comparison point, unless it names them.
            search = self._search.model_copy(update={"highlight": "", "since": None, **changes})
            generation = self._begin(search)
            url = self._url_with(search.page_params())
        yield history_event(url, push=True)
        async for event in self._fetch(generation, search):
            yield event

    def _begin(self, search: LogSearch) -> int:
        """Show ``search`` as the query being run; the generation its results must carry to be shown."""
        self._generation += 1
        self._search = search
        self._show_query(search)
        # What is on screen stays (marked as refreshing) until the new results replace it; a first load shows
        # skeletons instead.
        self.patterns, self.context, self.expanded = [], [], ""
        self.loading, self.refreshing, self.volume_loading = not self.rows, bool(self.rows), not self.volume
        self.patterns_loading = search.tab == "patterns"
        self.lines_error = self.volume_error = self.patterns_error = self.notice = self.patterns_note = ""
        return self._generation

    def _show_query(self, search: LogSearch) -> None:
        self.q = search.q
        self.severity = search.severity or ANY_SEVERITY
        hint = severity_hint(search.q, search.severity)
        self.hint_word = hint.word if hint else ""
        self.hint_severity = hint.severity if hint else ""
        self.hint_label = SEVERITY_CHOICES.get(hint.severity, hint.severity) if hint else ""
        self.tab, self.highlight = search.tab, search.highlight
        self.since = input_value(search.since or search.window().midpoint)

    # --- loading ----------------------------------------------------------------------------------------------

    async def _fetch(self, generation: int, search: LogSearch) -> AsyncIterator[EventSpec]:
        """Lines (or the page of the highlighted line), volume and, on their tab, patterns, as each comes."""
        try:
            core = await runtime.core()
            moved = await highlight_window(core, search)
        except OpsPilotError as exc:
            async with self:
                if self._generation == generation:
                    self._fail(str(exc))
            return
        if moved is not None:
            # The line is outside the scope's window (a link without times): open the window around it instead.
            async with self:
                url = None if self._left(PAGE) else self._url_at(moved)
            if url is not None:
                yield rx.redirect(url, replace=True)
            return
        loads: dict[str, Awaitable[Any]] = {
            "lines": highlight_page(core, search) if search.highlight else lines_page(core, search),
            "volume": line_volume(core, search),
        }
        if search.tab == "patterns":
            loads["patterns"] = pattern_report(core, search)
        async for part, value, error in _settled(loads):
            async with self:
                if self._generation != generation:
                    return
                reveal = self._apply(part, value, error)
            if reveal:
                yield reveal

    def _apply(self, part: str, value: Any, error: str) -> EventSpec | None:
        if part == "lines":
            return self._show_lines(value, error)
        if part == "volume":
            self._show_volume(value, error)
        else:
            self._show_patterns(value, error)
        return None

    def _show_lines(self, value: LinesPage | HighlightPage | None, error: str) -> EventSpec | None:
        self.loading, self.refreshing, self.lines_error = False, False, error
        if value is None:
            self.rows, self.has_next, self.truncated = [], False, False
            return None
        if isinstance(value, HighlightPage):
            self._cursors = [cursor or "" for cursor in value.cursors]
            self.notice = value.note
            self._search = value.search
            self._show_page(value.page)
            return reveal_event(row_element_id(value.search.highlight)) if value.found else None
        self._cursors = [""]
        self._show_page(value)
        return None

    def _show_page(self, page: LinesPage) -> None:
        self.rows = page.rows
        self._next_cursor = page.next_cursor or ""
        self.has_next = page.next_cursor is not None
        self.truncated = page.truncated
        self.page_number = len(self._cursors)

    def _show_volume(self, value: Volume | None, error: str) -> None:
        self.volume_loading, self.volume_error = False, error
        self.volume = [asdict(bar) for bar in value.bars] if value else []
        self.volume_total = _volume_note(value, self._search) if value else ""

    def _show_patterns(self, value: PatternReport | None, error: str) -> None:
        self.patterns_loading, self.patterns_error = False, error
        self.patterns = value.rows if value else []
        self.patterns_note = _pattern_note(value) if value else ""

    def _fail(self, message: str) -> None:
        self.lines_error = self.volume_error = message
        self.patterns_error = message if self.tab == "patterns" else ""
        self.loading = self.refreshing = self.volume_loading = self.patterns_loading = False

    # --- paging, tabs, context --------------------------------------------------------------------------------

    @rx.event(background=True)
    async def next_page(self) -> None:
        """The next page (older lines)."""
        await self._turn(forward=True)

    @rx.event(background=True)
    async def previous_page(self) -> None:
        """The page before (newer lines)."""
        await self._turn(forward=False)

    async def _turn(self, *, forward: bool) -> None:
        # The rows on screen stay until the next page replaces them: one render, no skeleton in between.
        async with self:
            if (
                self._turning
                or self.loading
                or not (self._next_cursor if forward else len(self._cursors) > 1)
            ):
                return
            cursor = self._next_cursor if forward else self._cursors[-2]
            generation, search, self._turning = self._generation, self._search, True
            if self.expanded:
                self.expanded, self.context = "", []
        try:
            page, error = await lines_page(await runtime.core(), search, cursor=cursor or None), ""
        except OpsPilotError as exc:
            page, error = None, str(exc)
        async with self:
            self._turning = False
            if self._generation != generation:
                return
            self.lines_error = error
            if page is None:
                return
            # Reassigned, not changed in place, so the state manager sees the change.
            self._cursors = [*self._cursors, cursor] if forward else self._cursors[:-1]
            self._show_page(page)

    @rx.event
    def pick_tab(self, tab: str) -> list[EventSpec]:
        """Lines or Patterns; patterns are mined the first time their tab opens for a query."""
        self.tab = "patterns" if tab == "patterns" else "lines"
        self._search = self._search.model_copy(update={"tab": self.tab})
        events = [self._push_url(self._search.page_params())]
        if self.tab == "patterns" and not self.patterns and not self.patterns_loading:
            self.patterns_loading, self.patterns_error = True, ""
            events.append(LogsState.fetch_patterns)
        return events

    @rx.event
    def compare_at(self, form: dict[str, Any]) -> list[EventSpec] | None:
        """Mark patterns new or grown relative to another point of the window."""
        try:
            since = parse_input(str(form.get("since", "")))
        except BadQuery as exc:
            self.patterns_error = str(exc)
            return None
        self._search = self._search.model_copy(update={"since": since})
        self._show_query(self._search)
        self.patterns_loading, self.patterns_error = True, ""
        return [self._push_url(self._search.page_params()), LogsState.fetch_patterns]

    @rx.event(background=True)
    async def fetch_patterns(self) -> None:
        async with self:
            generation, search = self._generation, self._search
        try:
            report, error = await pattern_report(await runtime.core(), search), ""
        except OpsPilotError as exc:
            report, error = None, str(exc)
        async with self:
            if self._generation == generation and self._search.since == search.since:
                self._show_patterns(report, error)

    @rx.event(background=True)
    async def toggle_context(self, log_id: str) -> None:
        """Show (or hide) the lines of the same stream around one line."""
        async with self:
            if self.expanded == log_id:
                self.expanded, self.context = "", []
                return
            self.expanded, self.context, self.context_loading, self.context_error = log_id, [], True, ""
        try:
            rows, error = await line_context(await runtime.core(), log_id), ""
        except OpsPilotError as exc:
            rows, error = [], str(exc)
        async with self:
            if self.expanded == log_id:
                self.context, self.context_error, self.context_loading = rows, error, False


def _volume_note(volume: Volume, search: LogSearch) -> str:
    """How many lines the bars count: every line of the window, or those the search matches."""
    minutes = volume.bucket_seconds / 60
    bucket = f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"
    counted = " counted, the source has more" if volume.truncated else ""
    matched = " match this search" if search.q or search.severity else ""
    return f"{volume.total:,} lines{matched}{counted} · {bucket} bars"


def _pattern_note(report: PatternReport) -> str:
    sampled = [
        side for side, cut in (("before", report.sampled_before), ("after", report.sampled_after)) if cut
    ]
    note = (
        f"{report.patterns} patterns in {report.lines:,} lines; {report.new} new and {report.grown} grown "
        f"since {format_time(report.since)}"
    )
    if sampled:
        note += f" (the newest lines {' and '.join(sampled)} the point were sampled)"
    return note


async def _settled(loads: dict[str, Awaitable[Any]]) -> AsyncIterator[tuple[str, Any, str]]:
    """Each load's name, value and error message, in the order they finish."""

    async def settle(name: str, load: Awaitable[Any]) -> tuple[str, Any, str]:
        try:
            return name, await load, ""
        except OpsPilotError as exc:
            return name, None, str(exc)

    tasks = [asyncio.ensure_future(settle(name, load)) for name, load in loads.items()]
    try:
        for finished in asyncio.as_completed(tasks):
            yield await finished
    finally:
        for task in tasks:
            task.cancel()

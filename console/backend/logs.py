"""The Logs page's data: a page of lines newest first, the volume histogram, patterns, and a line's context.

The page's whole query is a :class:`LogSearch`; it is read from the URL and written back to it, so a link
reproduces what the page shows. Paging uses the provider's own cursors: only one page of rows is ever held.
Patterns are mined here, in the backend, on a bounded sample of the window's lines.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from console.backend.timewindow import ScopedQuery, Window, axis_format, time_param, window_around
from core_client.analysis.patterns import compare_patterns, mine_patterns
from core_client.client import CoreClient
from core_client.errors import BadQuery, NotFound, Unsupported
from core_client.links import format_time, logs_link
from core_client.schemas import (
    LogEntry,
    LogExpression,
    LogFilter,
    LogPattern,
    LogQuery,
    PatternChange,
)

PAGE_SIZE = 50
HISTOGRAM_BUCKETS = 60
CONTEXT_LINES = 10
# A highlighted line is looked for in this many pages; further back, the window is narrowed to end at it.
HIGHLIGHT_PAGES = 20
# Lines mined for patterns on each side of the comparison point (the newest ones of each side).
PATTERN_SAMPLE_PER_SIDE = 5_000
PATTERN_ROWS = 50
SAMPLE_PAGE = 1_000
ERROR_SEVERITIES = frozenset({"error", "fatal", "critical", "emergency", "alert"})
WARN_SEVERITIES = frozenset({"warn", "warning"})
# /regex/ as a whole word of the query text; "\/" inside it is a literal slash.
REGEX_TERM = re.compile(r"(?<!\S)/((?:\\.|[^/\\])+)/(?!\S)")

Tab = Literal["lines", "patterns"]


class LogSearch(ScopedQuery):
    """What the Logs page shows: its URL parameters, parsed.

    ``q`` is words and ``"phrases"`` that must all occur, ``-word`` to exclude, and ``/regex/`` terms matched
    against the message. ``severity`` is a comma-separated list. ``since`` is the point patterns are
    compared around (default: the window's midpoint).
    """

    q: str = ""
    severity: str = ""
    highlight: str = ""
    tab: Tab = "lines"
    since: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> LogSearch:
        """The search a URL's query parameters describe; a malformed time is a ``BadQuery``."""
        tab = params.get("tab", "lines")
        return cls(
            **cls.scope_fields(params),
            q=params.get("q", "").strip(),
            severity=",".join(_severities(params.get("severity", ""))),
            highlight=params.get("highlight", "").strip(),
            tab="patterns" if tab == "patterns" else "lines",
            since=time_param(params, "since"),
        )

    def url(self) -> str:
        """``/logs?q=&service=&severity=&from=&to=&highlight=`` (the link scheme), then the console's own
        ``env``, ``team``, ``tab`` and ``since``; empty parameters are left out."""
        link = logs_link(
            q=self.q or None,
            service=self.service or None,
            severity=self.severity or None,
            start=self.start,
            end=self.end,
            highlight=self.highlight or None,
        ).build()
        extra = {
            "tab": "" if self.tab == "lines" else self.tab,
            "since": format_time(self.since) if self.since else "",
        }
        return self.with_console_params(link, extra)

    def page_params(self) -> dict[str, str | None]:
        """The Logs page's own URL parameters (the scope bar owns service, team, env and the time range);
        ``None`` removes one."""
        return {
            "q": self.q or None,
            "severity": self.severity or None,
            "highlight": self.highlight or None,
            "tab": None if self.tab == "lines" else self.tab,
            "since": format_time(self.since) if self.since else None,
        }

    def severities(self) -> list[str]:
        return _severities(self.severity)

    def log_query(self, *, start: datetime, end: datetime, limit: int = PAGE_SIZE) -> LogQuery:
        """The provider query over ``[start, end)``."""
        return LogQuery(
            expression=log_expression(self.q, self.severities()),
            start=start,
            end=end,
            scope=self.scope(),
            limit=limit,
        )


def _severities(text: str) -> list[str]:
    return [part.strip().lower() for part in text.split(",") if part.strip()]


# Words people search for when they mean a level, and the severity filter (as the picker offers it) they mean.
LEVEL_WORDS: dict[str, str] = {
    "error": "error,fatal",
    "errors": "error,fatal",
    "err": "error,fatal",
    "warn": "warn,error,fatal",
    "warning": "warn,error,fatal",
    "warnings": "warn,error,fatal",
    "fatal": "fatal",
    "critical": "fatal",
    "crit": "fatal",
    "info": "info",
    "debug": "debug",
}


@dataclass
class SeverityHint:
    """The search names a level: the word, the severity filter meant, and the search without the word."""

    word: str
    severity: str
    rest: str


def severity_hint(q: str, severity: str) -> SeverityHint | None:
    """When a bare word of ``q`` is a log level and no severity filter is set: the filter that finds every line
    logged at that level (a search only finds the word in the message text, which many such lines lack)."""
    if severity:
        return None
    words = q.split()
    for index, word in enumerate(words):
        chosen = LEVEL_WORDS.get(word.lower())
        if chosen is not None:
            return SeverityHint(word, chosen, " ".join(words[:index] + words[index + 1 :]))
    return None


def log_expression(text: str, severities: list[str]) -> LogExpression:
    """The query bar's text as a provider expression: ``/regex/`` terms become message filters."""
    filters = [
        LogFilter(field="message", operator="regex", value=match.group(1))
        for match in REGEX_TERM.finditer(text)
    ]
    words = " ".join(REGEX_TERM.sub(" ", text).split())
    return LogExpression(search=words or None, filters=filters, severity_in=severities)


async def highlight_window(core: CoreClient, search: LogSearch) -> Window | None:
    """A window of the same span around the highlighted line when the search's window does not hold it
    (a link that gave no times, say); None when it does, or when the provider cannot say when it was written."""
    window = search.window()
    try:
        anchor = await _anchor_time(core, search.highlight) if search.highlight else None
    except NotFound:
        return None  # the page says so, over the window asked for
    if anchor is None or window.contains(anchor):
        return None
    return window_around(anchor, window.span, now=core.clock.now())


async def _anchor_time(core: CoreClient, log_id: str) -> datetime | None:
    """When line ``log_id`` was written, or None when the provider cannot look a line up."""
    try:
        context = await core.logs.context(log_id, before=0, after=0)
    except Unsupported:
        return None
    return context.anchor.timestamp


# --- lines ----------------------------------------------------------------------------------------------------


@dataclass
class LogRow:
    id: str
    date: str
    time: str
    service: str
    environment: str
    severity: str
    message: str
    # The line a context was asked around.
    anchor: bool = False


def log_row(entry: LogEntry, *, anchor: bool = False) -> LogRow:
    """One line as the table shows it."""
    environment = entry.metadata.get("environment") or entry.labels.get("environment", "")
    return LogRow(
        id=entry.id,
        date=entry.timestamp.strftime("%Y-%m-%d"),
        time=entry.timestamp.strftime("%m-%d %H:%M:%S.") + f"{entry.timestamp.microsecond // 1000:03d}",
        service=entry.service,
        environment=str(environment),
        severity=entry.severity or "unknown",
        message=entry.message,
        anchor=anchor,
    )


@dataclass
class LinesPage:
    rows: list[LogRow]
    next_cursor: str | None
    # The source had more matching lines than OpsPilot reads to order them: these pages hold some, not all.
    truncated: bool = False


async def lines_page(core: CoreClient, search: LogSearch, *, cursor: str | None = None) -> LinesPage:
    """One page of the search's lines, newest first; ``cursor`` is a ``next_cursor`` of the page before."""
    window = search.window()
    query = search.log_query(start=window.start, end=window.end)
    page = await core.logs.query(query, cursor=cursor)
    return LinesPage(
        rows=[log_row(entry) for entry in page.items], next_cursor=page.next_cursor, truncated=page.truncated
    )


@dataclass
class HighlightPage:
    """The page holding a highlighted line, with the cursors of the pages before it (``None`` for the first)."""

    page: LinesPage
    cursors: list[str | None]
    found: bool
    # The search the page belongs to: the window may have been narrowed to reach the line.
    search: LogSearch
    note: str = ""


async def highlight_page(core: CoreClient, search: LogSearch) -> HighlightPage:
    """The page of ``search`` that holds line ``search.highlight``.

    Pages are walked newest first, up to ``HIGHLIGHT_PAGES``; a line further back is reached by ending the
    window at it. A line the query does not match, or outside the window, leaves the first page and a note.
    """
    window = search.window()
    try:
        anchor = await _anchor_time(core, search.highlight)
    except NotFound as exc:
        return HighlightPage(await lines_page(core, search), [None], False, search, exc.message)
    if anchor is not None and not window.contains(anchor):
        first = await lines_page(core, search)
        note = f"line {search.highlight} ({format_time(anchor)}) is outside the window {window.label()}"
        return HighlightPage(first, [None], False, search, note)
    found = await _walk_to(core, search, search.highlight)
    if found.found or anchor is None or found.page.next_cursor is None:
        if not found.found:
            found.note = f"line {search.highlight} does not match this query"
        return found
    narrowed = search.model_copy(update={"end": anchor + timedelta(milliseconds=1)})
    again = await _walk_to(core, narrowed, search.highlight)
    again.note = (
        f"more than {HIGHLIGHT_PAGES * PAGE_SIZE} newer lines: the window now ends at line {search.highlight}"
    )
    return again


async def _walk_to(core: CoreClient, search: LogSearch, log_id: str) -> HighlightPage:
    cursors: list[str | None] = [None]
    first: LinesPage | None = None
    for _ in range(HIGHLIGHT_PAGES):
        page = await lines_page(core, search, cursor=cursors[-1])
        first = first or page
        if any(row.id == log_id for row in page.rows):
            return HighlightPage(page, cursors, True, search)
        if page.next_cursor is None:
            break
        cursors.append(page.next_cursor)
    assert first is not None
    return HighlightPage(first, [None], False, search)


async def line_context(core: CoreClient, log_id: str, *, lines: int = CONTEXT_LINES) -> list[LogRow]:
    """The lines of the same stream around ``log_id``, oldest first, the line itself marked."""
    context = await core.logs.context(log_id, before=lines, after=lines)
    return [
        *(log_row(entry) for entry in context.before),
        log_row(context.anchor, anchor=True),
        *(log_row(entry) for entry in context.after),
    ]


# --- volume ---------------------------------------------------------------------------------------------------


@dataclass
class VolumeBar:
    label: str
    other: int
    warn: int
    error: int


@dataclass
class Volume:
    bars: list[VolumeBar]
    total: int
    bucket_seconds: int
    # Only the newest lines were counted (a provider without native histograms, a very busy window).
    truncated: bool


async def volume(core: CoreClient, search: LogSearch, *, buckets: int = HISTOGRAM_BUCKETS) -> Volume:
    """Matching lines per slice of the window, errors and warnings apart from the rest."""
    window = search.window()
    histogram = await core.logs.histogram(
        search.log_query(start=window.start, end=window.end), buckets=buckets
    )
    fmt = axis_format(window.span, histogram.bucket_seconds)
    bars = []
    for bucket in histogram.buckets:
        error = sum(n for severity, n in bucket.by_severity.items() if severity.lower() in ERROR_SEVERITIES)
        warn = sum(n for severity, n in bucket.by_severity.items() if severity.lower() in WARN_SEVERITIES)
        bars.append(
            VolumeBar(
                label=bucket.start.strftime(fmt), other=bucket.count - error - warn, warn=warn, error=error
            )
        )
    return Volume(
        bars=bars,
        total=histogram.total,
        bucket_seconds=histogram.bucket_seconds,
        truncated=histogram.truncated,
    )


# --- patterns -------------------------------------------------------------------------------------------------


@dataclass
class PatternRow:
    id: str
    template: str
    count: int
    # "new", "grown" or "" (neither, relative to the comparison point)
    change: str
    # For a new or grown pattern: its lines before and after the point (and the growth of its rate).
    shift: str
    severity: str
    services: str
    last_seen: str
    example_id: str


@dataclass
class PatternReport:
    rows: list[PatternRow]
    since: datetime
    lines: int
    patterns: int
    new: int
    grown: int
    # Which side of the comparison point held more lines than the sample takes.
    sampled_before: bool
    sampled_after: bool


async def pattern_report(core: CoreClient, search: LogSearch) -> PatternReport:
    """The window's patterns, most frequent first after those new or grown since ``search.since``.

    Mining reads at most ``PATTERN_SAMPLE_PER_SIDE`` lines each side of the point, the newest of each side.
    When the side before holds more, the comparison starts at the oldest line read, so rates stay honest.
    """
    window = search.window()
    since = search.since or window.midpoint
    if not window.start < since < window.end:
        raise BadQuery(
            f"the comparison point {format_time(since)} is outside the window {window.label()}",
            source="console",
        )
    before, after = await asyncio.gather(
        _sample(core, search.log_query(start=window.start, end=since, limit=SAMPLE_PAGE)),
        _sample(core, search.log_query(start=since, end=window.end, limit=SAMPLE_PAGE)),
    )
    (before_lines, before_full), (after_lines, after_full) = before, after
    start = before_lines[-1].timestamp if before_full and before_lines else window.start
    entries = before_lines + after_lines
    return await asyncio.to_thread(
        _report, entries, since, start, window.end, sampled=(before_full, after_full)
    )


async def _sample(core: CoreClient, query: LogQuery) -> tuple[list[LogEntry], bool]:
    """The newest lines of the query, up to the sample size, and whether more were left unread."""
    lines: list[LogEntry] = []
    cursor: str | None = None
    while True:
        page = await core.logs.query(query, cursor=cursor)
        lines.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return lines, False
        if len(lines) >= PATTERN_SAMPLE_PER_SIDE:
            return lines[:PATTERN_SAMPLE_PER_SIDE], True


def _report(
    entries: list[LogEntry], since: datetime, start: datetime, end: datetime, *, sampled: tuple[bool, bool]
) -> PatternReport:
    mined = mine_patterns(entries)
    comparison = compare_patterns(entries, since, start=start, end=end, limit=len(mined) or 1)
    changes = {change.id: change for change in comparison.changes}
    order = {change.id: rank for rank, change in enumerate(comparison.changes)}
    ranked = sorted(mined, key=lambda p: (order.get(p.id, len(order)), -p.count, p.template))
    rows = [_pattern_row(pattern, changes.get(pattern.id)) for pattern in ranked[:PATTERN_ROWS]]
    kinds = Counter(change.change for change in comparison.changes)
    return PatternReport(
        rows=rows,
        since=since,
        lines=len(entries),
        patterns=len(mined),
        new=kinds["new"],
        grown=kinds["grown"],
        sampled_before=sampled[0],
        sampled_after=sampled[1],
    )


def _pattern_row(pattern: LogPattern, change: PatternChange | None) -> PatternRow:
    severity = max(pattern.by_severity.items(), key=lambda item: item[1])[0] if pattern.by_severity else ""
    shift = ""
    if change is not None:
        shift = f"{change.count_before} → {change.count_after} lines"
        if change.growth is not None:
            shift += f", rate x{change.growth:g}"
    return PatternRow(
        id=pattern.id,
        template=pattern.template,
        count=pattern.count,
        change=change.change if change else "",
        shift=shift,
        severity=severity,
        services=", ".join(pattern.services),
        last_seen=pattern.last_seen.strftime("%Y-%m-%d %H:%M:%S"),
        example_id=pattern.example_id,
    )

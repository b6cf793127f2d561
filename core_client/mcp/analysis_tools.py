"""The compact analysis tools: anomalies instead of raw points, pattern changes instead of raw lines.

Both read through CoreClient (so they work over any provider) and hand the work to core_client.analysis.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from core_client.analysis.patterns import compare_patterns
from core_client.analysis.scan import Scan, scan_signals
from core_client.analysis.signals import Signal
from core_client.client import CoreClient
from core_client.errors import BadQuery, OpsPilotError
from core_client.mcp.results import error_result, object_result
from core_client.schemas import (
    LogEntry,
    LogExpression,
    LogQuery,
    QueryScope,
)
from core_client.schemas.analysis import MetricAnomalyReport, PatternComparison

# Enough lines to see a pattern's rate on both sides of an onset, few enough to mine in well under a second.
MAX_PATTERN_LINES = 20_000


def register(server: MCPServer, core: CoreClient, budget: int, annotations: ToolAnnotations) -> None:
    """Add ``detect_metric_anomalies`` and ``compare_log_patterns`` to ``server``."""

    @server.tool(annotations=annotations)
    async def detect_metric_anomalies(
        service: Annotated[str | None, Field(description="Only this service's metrics.")] = None,
        metric_names: Annotated[
            list[str] | None,
            Field(description="Metrics to check (names or families); default: every metric the source has."),
        ] = None,
        signals: Annotated[
            list[Signal] | None,
            Field(
                description="Only these signals (RED: traffic, errors, latency; USE: cpu, memory, disk...)."
            ),
        ] = None,
        since: Annotated[
            datetime | None,
            Field(description="Look for departures from here on (ISO-8601 UTC); default 3 h ago."),
        ] = None,
        until: Annotated[datetime | None, Field(description="End of the window; default now.")] = None,
        reference_hours: Annotated[
            float, Field(gt=0, le=24 * 14, description="Hours before `since` that define normal.")
        ] = 48,
        environment: Annotated[str | None, Field(description="e.g. 'prod'.")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> Annotated[CallToolResult, MetricAnomalyReport]:
        """Which metric series left their baseline, when (the onset of a sustained change, not a spike), which
        way and by how much, strongest first. Every metric the source has is read by what it measures (RED for
        request-serving services, USE for hosts and resources); counters are compared as rates and histograms
        as quantiles and error ratios. Each anomaly says its signal, facet, unit, shape (step or ramp) and the
        kind of baseline (same hour on earlier days, trailing, seasonal); `unchecked` lists what had too little
        history to be compared. Use this to find when trouble began and where, instead of reading raw points."""
        try:
            end = until or core.clock.now()
            start = since or end - timedelta(hours=3)
            if start >= end:
                raise BadQuery("`since` must be before `until`", source="detect_metric_anomalies")
            report = await scan_signals(
                core,
                Scan(
                    since=start,
                    until=end,
                    reference_start=start - timedelta(hours=reference_hours),
                    scope=QueryScope(service=service, environment=environment),
                    signals=frozenset(s.value for s in signals) if signals else None,
                    metric_names=frozenset(metric_names) if metric_names else None,
                    limit=limit,
                ),
            )
        except OpsPilotError as error:
            return error_result(error)
        summary = (
            f"{len(report.anomalies)} of {report.series_checked} series left their baseline "
            f"between {start.isoformat()} and {end.isoformat()}"
        )
        if report.series_skipped:
            summary += f"; {report.series_skipped} had too little history to compare"
        return object_result(report, summary=summary, budget=budget)

    @server.tool(annotations=annotations)
    async def compare_log_patterns(
        since: Annotated[
            datetime, Field(description="The moment to compare around, e.g. an anomaly's onset.")
        ],
        service: Annotated[str | None, Field(description="Only this service's lines.")] = None,
        search: Annotated[str | None, Field(description="Only lines matching this text.")] = None,
        severities: Annotated[list[str] | None, Field(description="e.g. ['warn', 'error', 'fatal']")] = None,
        before_hours: Annotated[
            float, Field(gt=0, le=168, description="Hours before `since` to compare with.")
        ] = 6,
        until: Annotated[
            datetime | None, Field(description="End of the window after `since`; default now.")
        ] = None,
        environment: Annotated[str | None, Field(description="e.g. 'prod'.")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> Annotated[CallToolResult, PatternComparison]:
        """Log patterns (templates with counts, first/last seen and an example line id) that are new or grew
        after `since`, new ones first, and the most frequent patterns after `since` whatever their change
        (`frequent`). Use this to see what the logs started saying when trouble began, or what a window logged."""
        try:
            end = until or core.clock.now()
            start = since - timedelta(hours=before_hours)
            if since >= end:
                raise BadQuery("`since` must be before `until`", source="compare_log_patterns")
            query = LogQuery(
                expression=LogExpression(search=search, severity_in=severities or []),
                scope=QueryScope(service=service, environment=environment),
                limit=1000,
            )
            # Each side of `since` is read on its own, so a busy "after" cannot crowd out the "before".
            before, after = await asyncio.gather(
                _collect_lines(core, query.model_copy(update={"start": start, "end": since})),
                _collect_lines(core, query.model_copy(update={"start": since, "end": end})),
            )
            entries = before + after
            # Mining thousands of lines takes a core for a while: off the event loop, so every other request
            # (the console's pages, other Copilot runs) is served meanwhile.
            comparison = await asyncio.to_thread(
                compare_patterns, entries, since, start=start, end=end, limit=limit
            )
            if any(len(side) >= MAX_PATTERN_LINES // 2 for side in (before, after)):
                comparison = comparison.model_copy(update={"sampled": True})
        except OpsPilotError as error:
            return error_result(error)
        summary = (
            f"{len(comparison.changes)} patterns new or grown after {since.isoformat()} "
            f"({comparison.lines_before} lines before, {comparison.lines_after} after)"
        )
        return object_result(comparison, summary=summary, budget=budget)


async def _collect_lines(core: CoreClient, query: LogQuery) -> list[LogEntry]:
    """The newest lines of the query's window, up to half of MAX_PATTERN_LINES."""
    entries: list[LogEntry] = []
    cursor: str | None = None
    while len(entries) < MAX_PATTERN_LINES // 2:
        page = await core.logs.query(query, cursor=cursor)
        entries.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return entries

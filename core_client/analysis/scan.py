"""A scan of every signal a metric source has: which series left their baseline, for any service.

1. Discovery: every metric the source describes (all of them, not a first page), planned into the signals that
   matter (see :mod:`core_client.analysis.selection`).
2. Resolution: a probe finds how much history the source really has, so the step fits it: a server that
   started minutes ago is read every few seconds, a window of hours at a step that keeps each series to a few
   hundred points.
3. Detection against a trailing baseline (see :mod:`core_client.analysis.anomalies`), then the departures found
   are checked again against the same hour on earlier days when the source keeps two days or more: what the
   series does every day at that hour is not an anomaly, and onsets are measured from the days before.

Reads go through CoreClient, so every provider is scanned alike; counters are compared as rates and histograms
as quantiles whatever the source.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core_client.analysis.anomalies import (
    SAME_HOUR_MAX_DAYS,
    SAME_HOUR_MIN_DAYS,
    SeriesKey,
    anomaly_key,
    detect_anomalies,
    merge_rechecked,
    reading_from,
    series_key,
)
from core_client.analysis.selection import SignalPlan, plan
from core_client.analysis.semantics import gauge_reading, read_as_gauge
from core_client.analysis.signals import Kind, family_name, for_series
from core_client.errors import BadQuery, NotFound, Unsupported
from core_client.schemas import (
    MetricExpression,
    MetricPoint,
    MetricQuery,
    MetricSeries,
    QueryScope,
)
from core_client.schemas.analysis import MetricAnomalyReport

if TYPE_CHECKING:
    from core_client.client import CoreClient

# A series is read at a step that gives it about this many points over the whole window, and never finer than
# this many seconds (sources rarely keep finer samples).
TARGET_POINTS = 600
MIN_STEP_SECONDS = 5
PROBE_POINTS = 120
ROUND_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
SAME_HOUR_STEP_SECONDS = 300
# Bounds that keep a scan of a large Prometheus to seconds.
MAX_PLANS = 600
MAX_SERIES = 4000
FETCHES_AT_ONCE = 8
RECHECK_LIMIT = 60
_DAY = timedelta(days=1)


@dataclass
class Scan:
    """What to scan: a scope, a window, and optionally only some signals or metrics."""

    since: datetime
    until: datetime
    reference_start: datetime
    scope: QueryScope = field(default_factory=QueryScope)
    signals: frozenset[str] | None = None
    metric_names: frozenset[str] | None = None
    threshold: float = 4.0
    limit: int = 20
    # Check departures against the same hour on earlier days when the source keeps them.
    same_hour: bool = True


def chosen(plans: Iterable[SignalPlan], scan: Scan) -> list[SignalPlan]:
    """The plans a scan asked for: by signal, and by metric (a family, one of its names, or an expression)."""
    found = []
    for one in plans:
        if scan.signals is not None and one.spec.signal.value not in scan.signals:
            continue
        if scan.metric_names is not None and not any(
            name in (one.family, one.expression) or family_name(name) == one.family
            for name in scan.metric_names
        ):
            continue
        found.append(one)
    return found


def fitted_step(span: timedelta, points: int = TARGET_POINTS) -> int:
    """Seconds per point so that ``span`` takes at most about ``points`` points: a round step (5 s, 15 s, 1 min,
    5 min...) so points fall on the same instants in every query and on whole minutes when they are minutes."""
    wanted = max(MIN_STEP_SECONDS, math.ceil(span.total_seconds() / points))
    return next((step for step in ROUND_STEPS if step >= wanted), wanted)


def aligned(moment: datetime, step: int) -> datetime:
    """``moment`` moved back to a multiple of ``step`` seconds, so windows of one step share their instants."""
    return datetime.fromtimestamp(moment.timestamp() // step * step, moment.tzinfo)


async def scan_signals(core: CoreClient, scan: Scan) -> MetricAnomalyReport:
    """Every planned signal of the scope checked over ``[since, until]`` against its baseline."""
    described = await core.metrics.describe(scan.scope if scan.scope.service else None)
    plans = chosen(plan(described), scan)
    notes: list[str] = []
    if len(plans) > MAX_PLANS:
        notes.append(
            f"{len(plans) - MAX_PLANS} of {len(plans)} metric queries left out (the scan reads at most {MAX_PLANS})"
        )
        plans = plans[:MAX_PLANS]
    earliest, days = await _history(core, plans, scan)
    start = max(scan.reference_start, earliest) if earliest else scan.reference_start
    step = fitted_step(scan.until - start)
    series, failed = await _fetch(core, plans, scan.scope, aligned(start, step), scan.until, step)
    notes += failed
    if len(series) > MAX_SERIES:
        notes.append(
            f"{len(series) - MAX_SERIES} of {len(series)} series left out (the scan compares at most {MAX_SERIES})"
        )
        series = series[:MAX_SERIES]
    report = await _detect(series, scan, limit=max(scan.limit, RECHECK_LIMIT))
    if scan.same_hour and days >= SAME_HOUR_MIN_DAYS and report.anomalies:
        report = await _same_hour(core, report, plans, series, scan, step)
    truncated = report.truncated or len(report.anomalies) > scan.limit
    return report.model_copy(
        update={
            "anomalies": report.anomalies[: scan.limit],
            "truncated": truncated,
            "step_seconds": step,
            "notes": [*report.notes, *notes],
        }
    )


async def _history(core: CoreClient, plans: Sequence[SignalPlan], scan: Scan) -> tuple[datetime | None, int]:
    """When the source's data begins within the window (to a few dozen seconds), and how many whole days before
    the window it keeps (for same-hour baselines): two coarse reads of the first gauge planned."""
    probe = next((p for p in plans if p.kind is Kind.GAUGE), plans[0] if plans else None)
    if probe is None:
        return None, 0

    async def first_point(start: datetime) -> datetime | None:
        step = fitted_step(scan.until - start, PROBE_POINTS)
        try:
            found = await _series(core, probe, scan.scope, start, scan.until, step)
        except (BadQuery, NotFound, Unsupported):
            return None
        firsts = [min(p.timestamp for p in one.points) for one in found if one.points]
        return min(firsts) - timedelta(seconds=step) if firsts else None

    days_back, in_window = await asyncio.gather(
        first_point(scan.since - SAME_HOUR_MAX_DAYS * _DAY), first_point(scan.reference_start)
    )
    days = int((scan.since - days_back) / _DAY) if days_back else 0
    return in_window, days


async def _series(
    core: CoreClient, one: SignalPlan, scope: QueryScope, start: datetime, end: datetime, step: int
) -> list[MetricSeries]:
    query = MetricQuery(
        expression=MetricExpression(metric_name=one.expression),
        start=start,
        end=end,
        step=step,
        scope=scope,
    )
    found = await core.metrics.every_series(query)
    for series in found:
        spec = for_series(one.spec, series.labels)
        semantics = str(series.metadata.get("semantics") or "as reported")
        if read_as_gauge(semantics):
            spec = gauge_reading(spec)
        series.metadata = {**series.metadata, **reading_from(spec, semantics=semantics).model_dump()}
    return found


async def _fetch(
    core: CoreClient,
    plans: Sequence[SignalPlan],
    scope: QueryScope,
    start: datetime,
    end: datetime,
    step: int,
) -> tuple[list[MetricSeries], list[str]]:
    """Every plan's series, a few queries at a time; queries the source refuses are noted, not fatal."""
    gate = asyncio.Semaphore(FETCHES_AT_ONCE)

    async def fetch(one: SignalPlan) -> list[MetricSeries] | str:
        async with gate:
            try:
                found = await _series(core, one, scope, start, end, step)
                if not found and one.fallback:
                    as_reported = replace(one, expression=one.fallback, kind=Kind.GAUGE, fallback=None)
                    found = await _series(core, as_reported, scope, start, end, step)
                return found
            except (BadQuery, NotFound, Unsupported) as error:
                return f"{one.expression}: {error.message}"

    results = await asyncio.gather(*(fetch(one) for one in plans))
    series = [s for r in results if not isinstance(r, str) for s in r if s.points]
    refused = [r for r in results if isinstance(r, str)]
    notes = [f"{len(refused)} metric queries refused by the source, e.g. {refused[0]}"] if refused else []
    return series, notes


async def _same_hour(
    core: CoreClient,
    report: MetricAnomalyReport,
    plans: Sequence[SignalPlan],
    series: Sequence[MetricSeries],
    scan: Scan,
    step: int,
) -> MetricAnomalyReport:
    """The departures found, checked again against the same hour on earlier days: the window and its reference,
    one day back, two days back..., for the services and metrics that departed only."""
    keys = {anomaly_key(a) for a in report.anomalies}
    candidates = [s for s in series if series_key(s) in keys]
    by_expression = {p.expression: p for p in plans}
    wanted = sorted({(a.name, a.service) for a in report.anomalies if a.name in by_expression})
    history_step = max(step, SAME_HOUR_STEP_SECONDS)
    gate = asyncio.Semaphore(FETCHES_AT_ONCE)

    async def one_day(name: str, service: str, day: int) -> list[MetricSeries]:
        scope = scan.scope.model_copy(update={"service": service or scan.scope.service})
        start = aligned(scan.reference_start - day * _DAY, history_step)
        async with gate:
            try:
                return await _series(
                    core, by_expression[name], scope, start, scan.until - day * _DAY, history_step
                )
            except (BadQuery, NotFound, Unsupported):
                return []

    days = await asyncio.gather(
        *(one_day(name, service, day) for name, service in wanted for day in range(1, SAME_HOUR_MAX_DAYS + 1))
    )
    earlier: dict[SeriesKey, list[MetricPoint]] = {}
    for found in days:
        for one in found:
            earlier.setdefault(series_key(one), []).extend(one.points)
    if not earlier:
        return report
    rechecked = await _detect(candidates, scan, limit=len(candidates) or 1, earlier=earlier)
    return merge_rechecked(report, rechecked, keys)


async def _detect(
    series: Sequence[MetricSeries],
    scan: Scan,
    *,
    limit: int,
    earlier: Mapping[SeriesKey, Sequence[MetricPoint]] | None = None,
) -> MetricAnomalyReport:
    """The scan's departures among ``series``. Comparing thousands of series is CPU work: it runs off the event
    loop, so the process serves its other requests (console pages, other Copilot runs) meanwhile."""
    return await asyncio.to_thread(
        detect_anomalies,
        series,
        detect_start=scan.since,
        detect_end=scan.until,
        reference_start=scan.reference_start,
        reference_end=scan.since,
        threshold=scan.threshold,
        limit=limit,
        earlier=earlier,
    )

"""The Metrics page's data: the metric picker, series downsampled for a chart, a baseline band and anomalies.

The page's whole query is a :class:`MetricView` read from and written to the URL. Series are fetched at a step
that gives a chart a few hundred points, with the two days before the window as the reference that defines
normal: the band is the expected value ± 3 robust deviations of the first series shown, and anomalies are the
sustained departures ``core_client.analysis.anomalies`` finds in the window.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.backend.timewindow import (
    ScopedQuery,
    Window,
    axis_format,
    time_param,
    window_around,
)
from core_client.analysis.anomalies import baseline_band, detect_anomalies
from core_client.client import CoreClient
from core_client.links import format_time, metrics_link
from core_client.schemas import (
    MetricAnomaly,
    MetricAnomalyReport,
    MetricDescriptor,
    MetricExpression,
    MetricPoint,
    MetricQuery,
    MetricSeries,
    QueryScope,
)

REFERENCE_SPAN = timedelta(hours=48)
# What a chart can show: more points per series than this are averaged away before they reach the page.
CHART_POINTS = 400
REFERENCE_POINTS = 600
MAX_SERIES = 8
NOTHING_DEPARTED = "No series left its baseline in this window."
BAND_WIDTH = 3.0
REFERENCE_BAND_NOTE = "±3 robust deviations, from the 48 hours before the window"
SOURCE_BAND_NOTE = (
    "the values its source expected (its baseline series), ±3 robust deviations of it from them"
)
SERIES_COLORS = ("indigo", "teal", "orange", "crimson", "grass", "violet", "amber", "cyan")
# Units of quantities that are never negative, whatever a baseline band's arithmetic says.
NON_NEGATIVE_UNITS = frozenset(
    {"percent", "%", "ratio", "ms", "s", "seconds", "bytes", "mb", "req/s", "count"}
)
# Labels that name a series, in this order, before any other label.
NAME_ORDER = ("service", "environment", "team")
SeriesKey = tuple[tuple[str, str], ...]


class MetricView(ScopedQuery):
    """What the Metrics page shows: its URL parameters, parsed (``group_by`` is comma-separated there)."""

    metric: str = ""
    group_by: tuple[str, ...] = ()
    mark: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> MetricView:
        """The view a URL's query parameters describe; a malformed time is a ``BadQuery``."""
        return cls(
            **cls.scope_fields(params),
            metric=params.get("metric", "").strip(),
            group_by=tuple(label.strip() for label in params.get("group_by", "").split(",") if label.strip()),
            mark=time_param(params, "mark"),
        )

    def url(self) -> str:
        """``/metrics?metric=&service=&group_by=&from=&to=&mark=`` (the link scheme), then ``env`` and ``team``."""
        link = metrics_link(
            metric=self.metric or None,
            service=self.service or None,
            group_by=list(self.group_by) or None,
            start=self.start,
            end=self.end,
            mark=self.mark,
        ).build()
        return self.with_console_params(link)

    def page_params(self) -> dict[str, str | None]:
        """The Metrics page's own URL parameters (the scope bar owns service, team, env and the time range);
        ``None`` removes one."""
        return {
            "metric": self.metric or None,
            "group_by": ",".join(self.group_by) or None,
            "mark": format_time(self.mark) if self.mark else None,
        }


def mark_window(view: MetricView, *, now: datetime) -> Window | None:
    """A window of the same span around the mark when the view's window does not hold it (a link that gave
    no times, say); None when it does or there is no mark."""
    window = view.window()
    if view.mark is None or window.contains(view.mark):
        return None
    return window_around(view.mark, window.span, now=now)


@dataclass
class MetricOption:
    name: str
    type: str
    unit: str
    description: str
    labels: list[str]


async def metric_options(core: CoreClient, service: str = "") -> list[MetricOption]:
    """The metrics the provider describes (only ``service``'s when given), by name."""
    described: list[MetricDescriptor] = await core.metrics.describe(
        QueryScope(service=service) if service else None
    )
    return sorted(
        (MetricOption(d.name, d.type, d.unit, d.description, list(d.labels)) for d in described),
        key=lambda option: option.name,
    )


@dataclass
class ChartSeries:
    # The field of each chart point holding this series' value.
    key: str
    name: str
    color: str


@dataclass
class AnomalyMark:
    series: str
    color: str
    direction: str
    onset: str
    peak_at: str
    peak_value: float
    expected: float
    peak_z: float
    ongoing: bool


@dataclass
class OnsetLine:
    """A vertical line where anomalies began: one per place on the time axis, in the color of the series that
    began there first; only the earliest carries a label, so no two labels overlap."""

    x: str
    color: str
    label: str


@dataclass
class MetricChart:
    # One dict per time: ``label``, then each series' key, and ``band`` ([low, high]) when there is a band.
    points: list[dict[str, Any]]
    series: list[ChartSeries]
    band_of: str
    # How the band was made, for its caption: from the series' own source, or learned from the reference window.
    band_note: str
    anomalies: list[AnomalyMark]
    onsets: list[OnsetLine]
    # The label of the point nearest to the view's mark ("" without a mark in the window).
    mark: str
    step_seconds: int
    shown: int
    total: int
    # Where the value axis starts: 0 for a quantity that is never negative, else wherever the data goes.
    floor: float | None = None
    # What the anomaly table says when nothing departed: that nothing did, or which series had no baseline to
    # compare with (minutes of history are not a baseline, and "nothing departed" would be a guess).
    quiet: str = NOTHING_DEPARTED


def chart_step(span: timedelta, points: int) -> int:
    """Whole minutes per point so that ``span`` fits in about ``points`` points."""
    return max(60, math.ceil(span.total_seconds() / points / 60) * 60)


async def metric_chart(core: CoreClient, view: MetricView, option: MetricOption | None = None) -> MetricChart:
    """The view's series over its window, at most ``MAX_SERIES`` (anomalous ones first), with the band of the
    first one and the anomalies of those shown."""
    window = view.window()
    step = chart_step(window.span, CHART_POINTS)
    reference = Window(window.start - REFERENCE_SPAN, window.start)
    aggregation = ("sum" if option and option.type == "counter" else "avg") if view.group_by else None
    expression = MetricExpression(
        metric_name=view.metric, aggregation=aggregation, group_by=list(view.group_by)
    )
    shown_now, history = await asyncio.gather(
        _series(core, expression, view.scope(), window, step),
        _series(core, expression, view.scope(), reference, chart_step(reference.span, REFERENCE_POINTS)),
    )
    combined = [_joined(history.get(key), series) for key, series in shown_now.items()]
    # A metric with hundreds of series is seconds of CPU work: off the event loop, as the console serves many.
    report = await asyncio.to_thread(
        detect_anomalies,
        combined,
        detect_start=window.start,
        detect_end=window.end,
        reference_start=reference.start,
        reference_end=reference.end,
        limit=len(combined) or 1,
    )
    by_key = {_key(anomaly.labels): anomaly for anomaly in report.anomalies}
    ranked = sorted(combined, key=lambda s: _rank(s, by_key.get(_key(s.labels))))[:MAX_SERIES]
    floor = _floor(ranked, option.unit if option else "")
    return _chart(
        view, window, step, ranked, by_key, reference, total=len(combined), floor=floor, quiet=_quiet(report)
    )


def _quiet(report: MetricAnomalyReport) -> str:
    """Nothing departed, said only of the series that had a baseline; the others named with how little history
    they had."""
    if not report.unchecked:
        return NOTHING_DEPARTED
    compared = report.series_checked - report.series_skipped
    reasons = "; ".join(u.reason for u in report.unchecked)
    return f"{NOTHING_DEPARTED if compared else ''} Not compared with a baseline: {reasons}.".strip()


def _floor(series: list[MetricSeries], unit: str) -> float | None:
    """0 when the metric cannot go below it (its unit says so, or it never has); None otherwise."""
    if unit.strip().lower() in NON_NEGATIVE_UNITS:
        return 0.0
    values = [point.value for s in series for point in s.points]
    return 0.0 if values and min(values) >= 0 else None


async def _series(
    core: CoreClient, expression: MetricExpression, scope: QueryScope, window: Window, step: int
) -> dict[SeriesKey, MetricSeries]:
    query = MetricQuery(expression=expression, start=window.start, end=window.end, step=step, scope=scope)
    found: dict[SeriesKey, MetricSeries] = {}
    cursor: str | None = None
    while True:
        page = await core.metrics.query(query, cursor=cursor)
        for series in page.items:
            found[_key(series.labels)] = series
        cursor = page.next_cursor
        if cursor is None:
            return found


def _key(labels: Mapping[str, str]) -> SeriesKey:
    return tuple(sorted(labels.items()))


def _joined(history: MetricSeries | None, series: MetricSeries) -> MetricSeries:
    # The reference points first, so baselines and anomalies see normal before the window.
    earlier = (
        [p for p in history.points if p.timestamp < series.points[0].timestamp]
        if history and series.points
        else []
    )
    return series.model_copy(update={"points": [*earlier, *_thin(series.points, CHART_POINTS)]})


def _thin(points: list[MetricPoint], limit: int) -> list[MetricPoint]:
    """At most ``limit`` points: runs of neighbours averaged, for providers that ignore the step asked for."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    return [
        MetricPoint(
            timestamp=points[i].timestamp,
            value=sum(p.value for p in points[i : i + size]) / len(points[i : i + size]),
        )
        for i in range(0, len(points), size)
    ]


def _rank(series: MetricSeries, anomaly: MetricAnomaly | None) -> tuple[float, float, str]:
    peak = max((p.value for p in series.points), default=0.0)
    return (-abs(anomaly.peak_z) if anomaly else 0.0, -peak, series.name + str(sorted(series.labels.items())))


def _names(series: list[MetricSeries]) -> list[str]:
    """Each series named by the labels that tell it apart (service first; team only when service does not)."""
    varying = {name for s in series for name in s.labels if len({t.labels.get(name, "") for t in series}) > 1}
    if "service" in varying:
        varying.discard("team")
    rank = {name: index for index, name in enumerate(NAME_ORDER)}
    order = sorted(varying, key=lambda name: (rank.get(name, len(rank)), name))
    # A label a series lacks is left out of its name, and a series no varying label names goes by its metric's
    # name: never "-" or blank.
    return [" · ".join(s.labels[name] for name in order if s.labels.get(name)) or s.name for s in series]


def _chart(
    view: MetricView,
    window: Window,
    step: int,
    shown: list[MetricSeries],
    anomalies: dict[SeriesKey, MetricAnomaly],
    reference: Window,
    *,
    total: int,
    floor: float | None,
    quiet: str,
) -> MetricChart:
    fmt = axis_format(window.span, step)
    names = _names(shown)
    chart_series = [
        ChartSeries(key=f"s{i}", name=names[i], color=SERIES_COLORS[i % len(SERIES_COLORS)])
        for i in range(len(shown))
    ]
    rows: dict[datetime, dict[str, Any]] = {}
    for entry, series in zip(chart_series, shown, strict=True):
        for point in series.points:
            if window.contains(point.timestamp):
                rows.setdefault(point.timestamp, {"label": point.timestamp.strftime(fmt)})[entry.key] = (
                    point.value
                )
    band_of = chart_series[0].name if shown and _add_band(rows, shown[0], reference, floor) else ""
    band_note = (SOURCE_BAND_NOTE if shown[0].expected else REFERENCE_BAND_NOTE) if band_of else ""
    times = sorted(rows)

    def label(moment: datetime) -> str:
        nearest = min(times, key=lambda t: abs((t - moment).total_seconds()))
        return str(rows[nearest]["label"])

    found = [
        (entry, anomaly)
        for entry, series in zip(chart_series, shown, strict=True)
        if (anomaly := anomalies.get(_key(series.labels))) is not None and times
    ]
    marks = [
        AnomalyMark(
            series=entry.name,
            color=entry.color,
            direction=anomaly.direction,
            onset=label(anomaly.onset),
            peak_at=label(anomaly.peak_at),
            peak_value=_readable(anomaly.peak_value),
            expected=_readable(anomaly.expected_at_peak),
            peak_z=anomaly.peak_z,
            ongoing=anomaly.ongoing,
        )
        for entry, anomaly in found
    ]
    onsets: dict[str, OnsetLine] = {}
    for entry, anomaly in sorted(found, key=lambda pair: pair[1].onset):
        x = label(anomaly.onset)
        onsets.setdefault(x, OnsetLine(x=x, color=entry.color, label="" if onsets else "onset"))
    mark = label(view.mark) if view.mark and times and window.contains(view.mark) else ""
    return MetricChart(
        points=[rows[t] for t in times],
        series=chart_series,
        band_of=band_of,
        band_note=band_note,
        anomalies=marks,
        onsets=list(onsets.values()),
        mark=mark,
        step_seconds=step,
        shown=len(shown),
        total=total,
        floor=floor,
        quiet=quiet,
    )


def _add_band(
    rows: dict[datetime, dict[str, Any]], series: MetricSeries, reference: Window, floor: float | None
) -> bool:
    """Put ``series``' baseline band ([low, high], never below ``floor``) in the chart rows; False when it has
    no baseline.

    A source that sends its own expectation (``series.expected``, from a ``.baseline`` companion series) is
    taken at its word; otherwise the band is learned from the reference window.
    """
    if series.expected:
        return _expected_band(rows, series, floor)
    band = baseline_band(
        series, reference_start=reference.start, reference_end=reference.end, width=BAND_WIDTH
    )
    if band is None:
        return False
    for expected in band.points:
        if expected.timestamp in rows:
            lower = expected.lower if floor is None else max(expected.lower, floor)
            rows[expected.timestamp]["band"] = [round(lower, 4), round(expected.upper, 4)]
    return True


def _expected_band(rows: dict[datetime, dict[str, Any]], series: MetricSeries, floor: float | None) -> bool:
    """The band around the source's expected values: ± ``BAND_WIDTH`` robust deviations of the series from them
    (never below ``floor``)."""
    expected = {point.timestamp: point.value for point in series.expected}
    residuals = [
        point.value - expected[point.timestamp] for point in series.points if point.timestamp in expected
    ]
    if not residuals:
        return False
    centre = statistics.median(residuals)
    spread = 1.4826 * statistics.median(abs(r - centre) for r in residuals)
    # Residuals that never vary (a source whose expectation is a fixed ratio of the values) still get a visible band.
    spread = spread or statistics.fmean(abs(value) for value in expected.values()) * 0.01
    for moment, row in rows.items():
        if moment in expected:
            middle = expected[moment]
            lower = middle - BAND_WIDTH * spread
            lower = lower if floor is None else max(lower, floor)
            row["band"] = [round(lower, 4), round(middle + BAND_WIDTH * spread, 4)]
    return True


def _readable(value: float) -> float:
    """Four significant digits: what a person reads in a table of anomalies."""
    return float(f"{value:.4g}")

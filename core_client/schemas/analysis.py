"""What the analysis of core_client returns: log patterns and their changes, metric baselines and anomalies.

These are compact on purpose: they are the output of MCP tools, so a planner reads "which pattern is new since
the onset" or "which series left its baseline, when, by how much" instead of raw lines or weeks of points.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core_client.schemas.base import CamelModel, UtcDatetime


class LogPattern(CamelModel):
    """A template lines share, with how often and when it was seen.

    A variable is a placeholder: named where its shape says what it is (``<ip>``, ``<host>``, ``<duration>``...;
    see core_client/analysis/variables.py), ``<*>`` otherwise.
    """

    id: str
    template: str
    count: int
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    example: str
    example_id: str = ""
    by_severity: dict[str, int] = Field(default_factory=dict)
    services: list[str] = Field(default_factory=list)


PatternChangeKind = Literal["new", "grown"]


class PatternChange(LogPattern):
    """A pattern that appeared, or became more frequent, after a given time.

    Rates are lines per hour in the window before and after ``since``; ``growth`` is their ratio (None when new).
    """

    change: PatternChangeKind
    count_before: int
    count_after: int
    rate_before: float
    rate_after: float
    growth: float | None = None


class PatternComparison(CamelModel):
    """Patterns new or grown after ``since``, new first, then by growth; and the most frequent patterns after
    ``since`` whatever their change (``frequent``: counts, severities and examples of the lines after it alone)."""

    since: UtcDatetime
    start: UtcDatetime
    end: UtcDatetime
    lines_before: int
    lines_after: int
    patterns: int
    changes: list[PatternChange] = Field(default_factory=list)
    truncated: bool = False
    frequent: list[LogPattern] = Field(default_factory=list)
    # Whether a side had more lines than were read (the newest were): its counts are of the lines read.
    sampled: bool = False


AnomalyDirection = Literal["up", "down"]
WorseDirection = Literal["up", "down", "both"]
# trailing: the window just before; same-hour: the same time of day on earlier days; seasonal: a time-of-day
# profile fitted over a reference of two days or more.
BaselineKind = Literal["trailing", "same-hour", "seasonal"]
# step: the series moved to a new level and stays there; ramp: it keeps moving the same way (a leak, a filling disk).
AnomalyShape = Literal["step", "ramp"]


class MetricBaseline(CamelModel):
    """A series' normal level: robust center and scale from a reference window, optionally by time of day."""

    median: float
    scale: float
    reference_start: UtcDatetime
    reference_end: UtcDatetime
    points: int
    seasonal: bool = False
    kind: BaselineKind = "trailing"
    # How much history the baseline had (minutes), so a thin baseline says so.
    history_minutes: float | None = None


class SignalReading(CamelModel):
    """What a series measures, in the vocabulary of ``core_client.analysis.signals``.

    ``signal`` is what it is about (traffic, errors, latency, cpu, memory, disk, disk_io, network,
    file_descriptors, pool, queue, restarts, certificate, availability, other); ``facet`` the RED/USE dimension
    (rate, errors, duration, utilization, saturation, headroom, capacity, level); ``worse`` the direction that is
    bad; ``semantics`` how the values were computed from the source (a counter as a rate, a histogram as a quantile).
    """

    signal: str = "other"
    facet: str = "level"
    worse: WorseDirection = "both"
    unit: str = ""
    semantics: str = ""


class MetricAnomaly(SignalReading):
    """A series that left its baseline: from when (a sustained change, not a spike), which way, by how much.

    ``shape`` tells a step from a ramp (steady growth or decline, as a leak or a filling disk makes), with the
    ramp's ``trend_per_minute`` in the series' unit.
    """

    name: str
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    direction: AnomalyDirection
    onset: UtcDatetime
    peak_at: UtcDatetime
    peak_value: float
    expected_at_peak: float
    peak_z: float
    magnitude: float | None = None
    anomalous_points: int
    ongoing: bool
    baseline: MetricBaseline
    shape: AnomalyShape = "step"
    trend_per_minute: float | None = None


class UncheckedSignal(CamelModel):
    """Series that could not be compared with a baseline, grouped by service and signal, and why."""

    service: str = ""
    signal: str = "other"
    metric: str
    series: int = 1
    history_minutes: float = 0.0
    reason: str


class MetricAnomalyReport(CamelModel):
    """Every series checked over a detection window, the anomalous ones ranked by peak deviation.

    ``unchecked`` says what could not be checked (too little history for a baseline), so "nothing departed" is
    never said of series that were never compared; ``explained`` counts departures the same hour on earlier days
    shows to be the series' daily rhythm.
    """

    detect_start: UtcDatetime
    detect_end: UtcDatetime
    threshold: float
    series_checked: int
    series_skipped: int = 0
    anomalies: list[MetricAnomaly] = Field(default_factory=list)
    truncated: bool = False
    unchecked: list[UncheckedSignal] = Field(default_factory=list)
    explained: int = 0
    step_seconds: int | None = None
    notes: list[str] = Field(default_factory=list)


class BandPoint(CamelModel):
    timestamp: UtcDatetime
    value: float
    expected: float
    lower: float
    upper: float


class BaselineBand(CamelModel):
    """The expected range of a series at every point, for charting beside its values."""

    name: str
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    baseline: MetricBaseline
    points: list[BandPoint] = Field(default_factory=list)

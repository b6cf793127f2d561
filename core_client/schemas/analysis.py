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
    """Patterns new or grown after ``since``, new first, then by growth."""

    since: UtcDatetime
    start: UtcDatetime
    end: UtcDatetime
    lines_before: int
    lines_after: int
    patterns: int
    changes: list[PatternChange] = Field(default_factory=list)
    truncated: bool = False


AnomalyDirection = Literal["up", "down"]


class MetricBaseline(CamelModel):
    """A series' normal level: robust center and scale from a reference window, optionally by time of day."""

    median: float
    scale: float
    reference_start: UtcDatetime
    reference_end: UtcDatetime
    points: int
    seasonal: bool = False


class MetricAnomaly(CamelModel):
    """A series that left its baseline: from when (a sustained change, not a spike), which way, by how much."""

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


class MetricAnomalyReport(CamelModel):
    """Every series checked over a detection window, the anomalous ones ranked by peak deviation."""

    detect_start: UtcDatetime
    detect_end: UtcDatetime
    threshold: float
    series_checked: int
    series_skipped: int = 0
    anomalies: list[MetricAnomaly] = Field(default_factory=list)
    truncated: bool = False


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

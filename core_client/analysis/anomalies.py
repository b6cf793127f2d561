"""Metric baselines and anomalies: which series left their baseline, when, which way and by how much.

A baseline is robust: the median of a reference window and the MAD scaled to a standard deviation
(1.4826 x MAD), so the outliers it should reveal do not inflate it. When the reference spans at least two days
and a time-of-day profile explains the series better than a flat level, the expected value at a time is the
median of the reference points at the same time of day (a slot and its neighbours): a normal daily peak is
then not an anomaly. A point's deviation is its robust z-score. The onset is a change point: the first point
of the first run of ``sustain`` consecutive points beyond the threshold in one direction (a lone spike is not
an onset), moved back over the preceding points already beyond half the threshold in that direction.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from core_client.schemas import (
    BandPoint,
    BaselineBand,
    MetricAnomaly,
    MetricAnomalyReport,
    MetricBaseline,
    MetricPoint,
    MetricSeries,
)

MAD_TO_SIGMA = 1.4826
SEASONAL_MIN_SPAN = timedelta(days=2)
# A time-of-day profile is used only when it cuts the spread of the reference by at least this factor.
SEASONAL_GAIN = 0.8
_DAY_SECONDS = 86_400
_MIN_SLOT_SECONDS = 900


@dataclass(frozen=True)
class Baseline:
    """The expected value of a series at any time, and the spread around it."""

    center: float
    scale: float
    reference_start: datetime
    reference_end: datetime
    points: int
    slot_seconds: int | None = None
    profile: tuple[float, ...] = ()

    def expected(self, at: datetime) -> float:
        """The value the series normally has at ``at``."""
        if self.slot_seconds is None or not self.profile:
            return self.center
        return self.profile[_slot(at, self.slot_seconds)]

    def z(self, value: float, at: datetime) -> float:
        """How many robust standard deviations ``value`` is from normal at ``at``."""
        return (value - self.expected(at)) / self.scale

    def summary(self) -> MetricBaseline:
        return MetricBaseline(
            median=self.center,
            scale=self.scale,
            reference_start=self.reference_start,
            reference_end=self.reference_end,
            points=self.points,
            seasonal=self.slot_seconds is not None,
        )


def _slot(at: datetime, slot_seconds: int) -> int:
    seconds = (at.timestamp() % _DAY_SECONDS) // slot_seconds
    return int(seconds)


def _mad(values: Sequence[float], center: float) -> float:
    return statistics.median(abs(v - center) for v in values)


def _scale_floor(center: float) -> float:
    # A flat reference (MAD 0) still needs a finite scale: 1% of its level, or a tiny absolute amount.
    return max(abs(center) * 0.01, 1e-6)


def _step_seconds(points: Sequence[MetricPoint]) -> float:
    if len(points) < 2:
        return 60.0
    gaps = [(b.timestamp - a.timestamp).total_seconds() for a, b in pairwise(points)]
    return max(statistics.median(gaps), 1.0)


def _seasonal_profile(points: Sequence[MetricPoint], slot_seconds: int) -> tuple[float, ...] | None:
    slots = _DAY_SECONDS // slot_seconds
    by_slot: list[list[float]] = [[] for _ in range(slots)]
    for point in points:
        by_slot[_slot(point.timestamp, slot_seconds)].append(point.value)
    profile: list[float] = []
    for index in range(slots):
        near = [v for offset in (-1, 0, 1) for v in by_slot[(index + offset) % slots]]
        if not near:
            return None
        profile.append(statistics.median(near))
    return tuple(profile)


def fit_baseline(
    points: Sequence[MetricPoint], *, start: datetime, end: datetime, seasonal: bool | None = None
) -> Baseline | None:
    """The baseline of the points in ``[start, end)``; None when there are fewer than 3 of them.

    ``seasonal`` None decides by itself (two days or more, and a profile that explains the data better).
    """
    reference = [p for p in points if start <= p.timestamp < end]
    if len(reference) < 3:
        return None
    values = [p.value for p in reference]
    center = statistics.median(values)
    flat_scale = _mad(values, center) * MAD_TO_SIGMA
    flat = Baseline(
        center=center,
        scale=max(flat_scale, _scale_floor(center)),
        reference_start=start,
        reference_end=end,
        points=len(reference),
    )
    span = reference[-1].timestamp - reference[0].timestamp
    if seasonal is False or (seasonal is None and span < SEASONAL_MIN_SPAN):
        return flat
    slot_seconds = int(max(_step_seconds(reference), _MIN_SLOT_SECONDS))
    profile = _seasonal_profile(reference, slot_seconds)
    if profile is None:
        return flat
    residuals = [p.value - profile[_slot(p.timestamp, slot_seconds)] for p in reference]
    seasonal_scale = statistics.median(abs(r) for r in residuals) * MAD_TO_SIGMA
    if seasonal is None and seasonal_scale > flat_scale * SEASONAL_GAIN:
        return flat
    return Baseline(
        center=center,
        scale=max(seasonal_scale, _scale_floor(center)),
        reference_start=start,
        reference_end=end,
        points=len(reference),
        slot_seconds=slot_seconds,
        profile=profile,
    )


def _sorted_points(series: MetricSeries) -> list[MetricPoint]:
    return sorted(series.points, key=lambda p: p.timestamp)


def _find_anomaly(
    series: MetricSeries,
    points: Sequence[MetricPoint],
    baseline: Baseline,
    *,
    threshold: float,
    sustain: int,
) -> MetricAnomaly | None:
    if not points:
        return None
    zs = [baseline.z(p.value, p.timestamp) for p in points]
    need = min(sustain, len(points))
    run_start: int | None = None
    for index in range(len(zs) - need + 1):
        window = zs[index : index + need]
        if all(z >= threshold for z in window) or all(z <= -threshold for z in window):
            run_start = index
            break
    if run_start is None:
        return None
    sign = 1.0 if zs[run_start] > 0 else -1.0
    onset = run_start
    while onset > 0 and sign * zs[onset - 1] >= threshold / 2:
        onset -= 1
    after = range(onset, len(zs))
    peak = max(after, key=lambda i: (sign * zs[i], -i))
    expected = baseline.expected(points[peak].timestamp)
    return MetricAnomaly(
        name=series.name,
        service=series.service,
        labels=series.labels,
        direction="up" if sign > 0 else "down",
        onset=points[onset].timestamp,
        peak_at=points[peak].timestamp,
        peak_value=points[peak].value,
        expected_at_peak=round(expected, 6),
        peak_z=round(zs[peak], 2),
        magnitude=round(points[peak].value / expected, 3) if expected else None,
        anomalous_points=sum(1 for i in after if sign * zs[i] >= threshold),
        ongoing=sign * zs[-1] >= threshold,
        baseline=baseline.summary(),
    )


def detect_anomalies(
    series: Iterable[MetricSeries],
    *,
    detect_start: datetime,
    detect_end: datetime | None = None,
    reference_start: datetime | None = None,
    reference_end: datetime | None = None,
    threshold: float = 4.0,
    sustain: int = 3,
    seasonal: bool | None = None,
    limit: int = 20,
) -> MetricAnomalyReport:
    """The series that left their baseline within ``[detect_start, detect_end]``, strongest first.

    The reference window defaults to every point before ``detect_start``. A series with fewer than 3 reference
    points is skipped (counted in ``series_skipped``). Ranked by |peak z|, then earliest onset, then name.
    """
    checked = skipped = 0
    found: list[MetricAnomaly] = []
    latest = detect_start
    for one in series:
        points = _sorted_points(one)
        checked += 1
        if points:
            latest = max(latest, points[-1].timestamp)
        start = reference_start or (points[0].timestamp if points else detect_start)
        baseline = fit_baseline(points, start=start, end=reference_end or detect_start, seasonal=seasonal)
        if baseline is None:
            skipped += 1
            continue
        window = [
            p
            for p in points
            if p.timestamp >= detect_start and (detect_end is None or p.timestamp <= detect_end)
        ]
        anomaly = _find_anomaly(one, window, baseline, threshold=threshold, sustain=sustain)
        if anomaly is not None:
            found.append(anomaly)
    found.sort(key=lambda a: (-abs(a.peak_z), a.onset, a.name, sorted(a.labels.items())))
    return MetricAnomalyReport(
        detect_start=detect_start,
        detect_end=detect_end or latest,
        threshold=threshold,
        series_checked=checked,
        series_skipped=skipped,
        anomalies=found[:limit],
        truncated=len(found) > limit,
    )


def baseline_band(
    series: MetricSeries,
    *,
    reference_start: datetime,
    reference_end: datetime,
    width: float = 3.0,
    seasonal: bool | None = None,
) -> BaselineBand | None:
    """Expected value and ``expected ± width x scale`` at every point, for charting; None without a baseline."""
    points = _sorted_points(series)
    baseline = fit_baseline(points, start=reference_start, end=reference_end, seasonal=seasonal)
    if baseline is None:
        return None
    band = []
    for point in points:
        expected = baseline.expected(point.timestamp)
        band.append(
            BandPoint(
                timestamp=point.timestamp,
                value=point.value,
                expected=expected,
                lower=expected - width * baseline.scale,
                upper=expected + width * baseline.scale,
            )
        )
    return BaselineBand(
        name=series.name,
        service=series.service,
        labels=series.labels,
        baseline=baseline.summary(),
        points=band,
    )

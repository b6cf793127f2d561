"""Metric baselines and anomalies: which series left their baseline, when, which way and by how much.

A baseline says what is normal from whatever history a series has, and says which kind it is:

- **same-hour**: the same time of day on earlier days (two days or more), when they are at hand: a daily peak
  is then normal, and a change stands out from the first minute it departs from the days before;
- **trailing**: the window just before the one looked at. When that window holds too little (a server that
  started minutes ago), the series' own history is split where it changed most (flat before, moving after),
  and the part before is the baseline;
- **seasonal**: over a reference of two days or more, a time-of-day profile (the median at the same time of
  day, a slot and its neighbours), when it explains the series better than a flat level.

Spread is robust: the MAD scaled to a standard deviation (1.4826 x MAD), so the outliers a baseline should reveal
do not inflate it. A point's deviation is its robust z-score. The onset is a change point: the first point of the
first run of ``sustain`` consecutive points beyond the threshold in one direction (a lone spike is not an onset),
moved back over the preceding points already beyond half the threshold that way. A series too short for any
baseline is reported as unchecked, with how much history it had, never as normal.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise

from pydantic import ValidationError

from core_client.analysis.signals import ADVERSE_FACETS, Kind, Signal, SignalSpec, for_series, recognize
from core_client.schemas import (
    BandPoint,
    BaselineBand,
    MetricAnomaly,
    MetricAnomalyReport,
    MetricBaseline,
    MetricPoint,
    MetricSeries,
    SignalReading,
    UncheckedSignal,
)
from core_client.schemas.analysis import AnomalyShape, BaselineKind

MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
# Changes smaller than this share of a series' magnitude are below what a departure can be measured by.
RESOLUTION = 0.001
SEASONAL_MIN_SPAN = timedelta(days=2)
# A time-of-day profile is used only when it cuts the spread of the reference by at least this factor.
SEASONAL_GAIN = 0.8
# A baseline needs at least this many points spanning at least this long.
MIN_REFERENCE_POINTS = 5
MIN_REFERENCE_SPAN = timedelta(minutes=2)
# The same hour on earlier days: at least this many days, covering most of the window looked at.
SAME_HOUR_MIN_DAYS = 2
SAME_HOUR_MAX_DAYS = 7
SAME_HOUR_COVERAGE = 0.8
# A ramp: values after the onset follow a line this closely (R^2) and move at least this many spreads, and
# over at least this share of the departure.
RAMP_FIT = 0.6
RAMP_SPREADS = 3.0
RAMP_SHARE = 0.5
UNCHECKED_LIMIT = 25
# What is left of a resource is running out when it is down to this share of its normal, or would be gone within
# this long at its current trend.
SCARCE_SHARE = 0.5
EXHAUSTION_HORIZON = timedelta(hours=1)
# A departure smaller than this share of the series' normal level is no trouble, however steady the series was.
MATERIAL_SHARE = 0.1
# A shift under this many thresholds, before a larger departure of the same series, is drift, not its onset.
WEAK_SHIFT = 2.0
_DAY = timedelta(days=1)
_DAY_SECONDS = 86_400
_MIN_SLOT_SECONDS = 900

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


def series_key(series: MetricSeries) -> SeriesKey:
    """What identifies a series across queries: its name, service and labels."""
    return (series.name, series.service, tuple(sorted(series.labels.items())))


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
    # Same-hour baselines: the expected value at given times (epoch seconds, ascending).
    expected_times: tuple[float, ...] = ()
    expected_values: tuple[float, ...] = ()
    kind: BaselineKind = "trailing"
    history_minutes: float | None = None

    def expected(self, at: datetime) -> float:
        """The value the series normally has at ``at``."""
        if self.expected_times:
            return self.expected_values[_nearest(self.expected_times, at.timestamp())]
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
            seasonal=self.kind != "trailing",
            kind=self.kind,
            history_minutes=None if self.history_minutes is None else round(self.history_minutes, 1),
        )


def _nearest(times: Sequence[float], at: float) -> int:
    index = bisect_left(times, at)
    if index == 0:
        return 0
    if index == len(times):
        return len(times) - 1
    return index if times[index] - at < at - times[index - 1] else index - 1


def _slot(at: datetime, slot_seconds: int) -> int:
    # The day's last slot may be shorter when the slot does not divide a day; it is still a slot of its own.
    seconds = (at.timestamp() % _DAY_SECONDS) // slot_seconds
    return int(seconds)


def _spread(values: Sequence[float], center: float) -> float:
    """The robust standard deviation: 1.4826 x MAD; when most values are equal (MAD 0), the mean absolute
    deviation scaled alike, so the few that differ still count."""
    mad = statistics.median(abs(v - center) for v in values)
    if mad > 0:
        return mad * MAD_TO_SIGMA
    return statistics.fmean(abs(v - center) for v in values) * MEAN_AD_TO_SIGMA


def _scale_floor(center: float) -> float:
    # A flat reference still needs a finite scale: a thousandth of its level, or a tiny absolute amount.
    return max(abs(center) * RESOLUTION, 1e-9)


def _noise_floor(points: Sequence[MetricPoint], center: float) -> float:
    """The least spread a baseline of ``points`` around ``center`` can have: what the series can resolve."""
    return max(_scale_floor(center), _quantum([p.value for p in points]))


def _quantum(values: Sequence[float]) -> float:
    """Half the smallest step between the distinct values a series takes (0 with fewer than three: two levels
    are a jump, not a resolution).

    A counter read at a coarse resolution (CPU seconds in hundredths, over a 20 s rate window) moves in whole
    steps: one step more is not a departure, however quiet the reference was between them."""
    distinct = sorted(set(values))
    if len(distinct) < 3:
        return 0.0
    return min(b - a for a, b in pairwise(distinct)) / 2


def _step_seconds(points: Sequence[MetricPoint]) -> float:
    if len(points) < 2:
        return 60.0
    gaps = [(b.timestamp - a.timestamp).total_seconds() for a, b in pairwise(points)]
    return max(statistics.median(gaps), 1.0)


def _seasonal_profile(points: Sequence[MetricPoint], slot_seconds: int) -> tuple[float, ...] | None:
    slots = -(-_DAY_SECONDS // slot_seconds)
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
    flat_scale = _spread(values, center)
    span = reference[-1].timestamp - reference[0].timestamp
    floor = _noise_floor(points, center)
    flat = Baseline(
        center=center,
        scale=max(flat_scale, floor),
        reference_start=start,
        reference_end=end,
        points=len(reference),
        history_minutes=span.total_seconds() / 60,
    )
    # Points every step over two days span two days less one step: what they cover is one step more.
    covered = span + timedelta(seconds=_step_seconds(reference))
    if seasonal is False or (seasonal is None and covered < SEASONAL_MIN_SPAN):
        return flat
    slot_seconds = int(max(_step_seconds(reference), _MIN_SLOT_SECONDS))
    profile = _seasonal_profile(reference, slot_seconds)
    if profile is None:
        return flat
    residuals = [p.value - profile[_slot(p.timestamp, slot_seconds)] for p in reference]
    seasonal_scale = _spread(residuals, 0.0)
    if seasonal is None and seasonal_scale > flat_scale * SEASONAL_GAIN:
        return flat
    return Baseline(
        center=center,
        scale=max(seasonal_scale, floor),
        reference_start=start,
        reference_end=end,
        points=len(reference),
        slot_seconds=slot_seconds,
        profile=profile,
        kind="seasonal",
        history_minutes=span.total_seconds() / 60,
    )


def same_hour_baseline(
    window: Sequence[MetricPoint],
    earlier: Sequence[MetricPoint],
    *,
    reference: Sequence[MetricPoint] = (),
    floor: float = 0.0,
) -> Baseline | None:
    """What the series did at the same time of day on earlier days, for every point of ``window``.

    The shape of the day is the median of the values around ``t`` minus one, two... days (at most
    :data:`SAME_HOUR_MAX_DAYS`). Its level is moved to today's: by how far the ``reference`` (the hours just
    before the window) sits from the earlier days at its own times, so a series that grows from day to day (a
    disk filling slowly) is not an anomaly all morning. The spread is how far the reference strays from that
    expectation, else how much the days differ; never below ``floor``. None unless at least
    :data:`SAME_HOUR_MIN_DAYS` days cover most of the window.
    """
    history = sorted(earlier, key=lambda p: p.timestamp)
    if not window or len(history) < 2:
        return None
    times = [p.timestamp.timestamp() for p in history]
    # Each earlier day contributes the points around the same time of day, not one sample: a lone spike in a
    # coarse history would otherwise stand for minutes of the window.
    reach = max(_step_seconds(history), _step_seconds(window)) * 1.5

    def typical(at: datetime) -> tuple[float, list[float], set[int]] | None:
        values: list[float] = []
        days: set[int] = set()
        for day in range(1, SAME_HOUR_MAX_DAYS + 1):
            moment = at.timestamp() - day * _DAY_SECONDS
            lo = bisect_left(times, moment - reach)
            hi = bisect_left(times, moment + reach, lo)
            if hi > lo:
                values += [p.value for p in history[lo:hi]]
                days.add(day)
        if len(days) < SAME_HOUR_MIN_DAYS:
            return None
        return statistics.median(values), values, days

    shape: list[tuple[float, float]] = []
    day_residuals: list[float] = []
    days_seen: set[int] = set()
    for point in window:
        found = typical(point.timestamp)
        if found is None:
            continue
        value, values, days = found
        shape.append((point.timestamp.timestamp(), value))
        day_residuals += [v - value for v in values]
        days_seen |= days
    if len(shape) < SAME_HOUR_COVERAGE * len(window):
        return None
    offsets = [p.value - found[0] for p in reference if (found := typical(p.timestamp)) is not None]
    level = statistics.median(offsets) if len(offsets) >= MIN_REFERENCE_POINTS else 0.0
    if len(offsets) >= MIN_REFERENCE_POINTS:
        spread = _spread(offsets, level)
    else:
        spread = _spread(day_residuals, 0.0) if day_residuals else 0.0
    expected = [(t, v + level) for t, v in shape]
    center = statistics.median(v for _, v in expected)
    return Baseline(
        center=center,
        scale=max(spread, floor, _scale_floor(center)),
        reference_start=window[0].timestamp - max(days_seen) * _DAY,
        reference_end=window[-1].timestamp - min(days_seen) * _DAY,
        points=len(day_residuals),
        expected_times=tuple(t for t, _ in expected),
        expected_values=tuple(v for _, v in expected),
        kind="same-hour",
        history_minutes=(window[0].timestamp - history[0].timestamp).total_seconds() / 60,
    )


def _sorted_points(series: MetricSeries) -> list[MetricPoint]:
    return sorted(series.points, key=lambda p: p.timestamp)


def reading_of(series: MetricSeries) -> SignalReading:
    """What a series measures: as the scan that read it said (``metadata.signal``...), else from its name."""
    meta = series.metadata
    if isinstance(meta.get("signal"), str):
        given = {k: meta[k] for k in SignalReading.model_fields if isinstance(meta.get(k), str)}
        try:
            return SignalReading.model_validate(given)
        except ValidationError:
            pass  # not a reading this version knows: read the name instead
    spec = for_series(recognize(series.name, Kind.GAUGE), series.labels)
    return reading_from(spec, semantics=str(meta.get("semantics") or ""))


def reading_from(spec: SignalSpec, *, semantics: str = "") -> SignalReading:
    """The reading a signal spec gives a series."""
    return SignalReading(
        signal=spec.signal.value,
        facet=spec.facet.value,
        worse=spec.worse,
        unit=spec.unit,
        semantics=semantics,
    )


def _shape(
    points: Sequence[MetricPoint], scale: float, departure: float
) -> tuple[AnomalyShape, float | None]:
    """``ramp`` with its slope per minute when the points follow a line that covers most of the departure
    (a leak, a filling disk: still moving); ``step`` when they jumped and stay near the new level."""
    if len(points) < 4:
        return "step", None
    xs = [(p.timestamp - points[0].timestamp).total_seconds() / 60 for p in points]
    ys, unit = _unit_scaled([p.value for p in points])
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return "step", None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    fit = slope * slope * sxx / syy
    moved = abs(slope * (xs[-1] - xs[0]))
    if fit >= RAMP_FIT and moved >= max(RAMP_SPREADS * scale, RAMP_SHARE * departure) / unit:
        trend = slope * unit
        return "ramp", trend if math.isfinite(trend) else None
    return "step", None


def _unit_scaled(values: Sequence[float]) -> tuple[list[float], float]:
    """The values divided by the largest magnitude among them, and that magnitude (1 when all are 0).

    Line fits are the same at any scale, but squares of values near 1e155 or sums near 1e308 overflow: fitting
    in units of the largest value keeps every intermediate result finite, whatever a source reports."""
    unit = max((abs(v) for v in values), default=0.0) or 1.0
    return [v / unit for v in values], unit


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
    runs = _runs(zs, threshold=threshold, sustain=min(sustain, len(points)))
    if not runs:
        return None
    # The strongest departure is the one reported (the latest of equals): an earlier dip does not hide a surge.
    onset, sign = max(runs, key=lambda run: (max(run[1] * z for z in zs[run[0] :]), run[0]))
    after = range(onset, len(zs))
    peak = max(after, key=lambda i: (sign * zs[i], -i))
    expected = baseline.expected(points[peak].timestamp)
    shape, trend = _shape(points[onset:], baseline.scale, abs(points[peak].value - expected))
    onset = _departure_start(points, zs, onset, peak, sign, ramp=shape == "ramp", threshold=threshold)
    return MetricAnomaly(
        **reading_of(series).model_dump(),
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
        shape=shape,
        trend_per_minute=None if trend is None else round(trend, 6),
    )


def _departure_start(
    points: Sequence[MetricPoint],
    zs: Sequence[float],
    onset: int,
    peak: int,
    sign: float,
    *,
    ramp: bool,
    threshold: float,
) -> int:
    """Where the departure that holds the peak began, within the run that starts at ``onset``.

    A run can hold a small shift and, later, the large one (a noisy drift an outage then steepens, a dip before a
    leak): the onset is where the series leaves the small level for the large one. The large departure is found
    walking back from the peak over points at no less than half the run's typical deviation (its upper quartile,
    so one spike does not set it); then the knot of "a level, then a rise" over the run up to there is its start,
    when the level before it was a weak shift of its own (past the threshold, under :data:`WEAK_SHIFT` thresholds
    and half the large one). A clean step, a ramp from normal, or a clear first departure keeps its onset.
    """
    run = sorted(sign * z for z in zs[onset:])
    level = run[(3 * len(run)) // 4]
    large = peak
    while large > onset and sign * zs[large - 1] >= max(threshold, level / 2):
        large -= 1
    end = peak + 1 if ramp else max(large, onset) + 3
    knot = onset + _knot(points[onset : min(len(points), max(end, onset + 4))])
    before = [sign * z for z in zs[onset:knot]]
    # Only a weak shift of its own (past the threshold, but under twice it and under half the large one) is set
    # aside: the gentle start of a ramp is part of the ramp, and a clear departure is where trouble began even
    # when a later one (a second fault reaching the same series) is larger.
    small = min(level / 2, WEAK_SHIFT * threshold)
    return knot if before and threshold <= statistics.fmean(before) < small else onset


def _knot(points: Sequence[MetricPoint]) -> int:
    """Where a series that ends in a ramp starts to climb: the split with the least squared error for a level
    before and a line after (at least three points after). 0 when a line from the start fits as well."""
    ys, _ = _unit_scaled([p.value for p in points])
    xs = [(p.timestamp - points[0].timestamp).total_seconds() for p in points]
    best_cost, best = _line_error(xs, ys), 0
    for k in range(1, len(points) - 2):
        before = ys[:k]
        level = statistics.fmean(before)
        cost = sum((y - level) ** 2 for y in before) + _line_error(xs[k:], ys[k:])
        if cost < best_cost * 0.9:
            best_cost, best = cost, k
    return best


def _line_error(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The squared error left by the least-squares line through the points."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0:
        return syy
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(syy - sxy * sxy / sxx, 0.0)


def _runs(zs: Sequence[float], *, threshold: float, sustain: int) -> list[tuple[int, float]]:
    """Every sustained departure: where it began (moved back over the points already beyond half the threshold
    that way) and its sign. A run is ``sustain`` consecutive points beyond the threshold in one direction."""
    runs: list[tuple[int, float]] = []
    index = 0
    while index <= len(zs) - sustain:
        window = zs[index : index + sustain]
        sign = (
            1.0
            if all(z >= threshold for z in window)
            else -1.0
            if all(z <= -threshold for z in window)
            else 0.0
        )
        if not sign:
            index += 1
            continue
        onset = index
        while onset > 0 and sign * zs[onset - 1] >= threshold / 2:
            onset -= 1
        runs.append((onset, sign))
        index += sustain
        while index < len(zs) and sign * zs[index] >= threshold / 2:
            index += 1
    return runs


def _enough(reference: Sequence[MetricPoint]) -> bool:
    return (
        len(reference) >= MIN_REFERENCE_POINTS
        and reference[-1].timestamp - reference[0].timestamp >= MIN_REFERENCE_SPAN
    )


def change_split(points: Sequence[MetricPoint], *, sustain: int) -> int | None:
    """Where a short history changed most: the index that best splits it into a flat part and a part that
    moves (a level or a line), leaving a flat part long enough for a baseline. None when it cannot."""
    n = len(points)
    lowest = next((k for k in range(n) if _enough(points[:k])), None)
    if lowest is None or lowest > n - sustain:
        return None
    xs = [(p.timestamp - points[0].timestamp).total_seconds() for p in points]
    ys = [p.value for p in points]
    # Prefix sums make each candidate split O(1): a constant fit before, a least-squares line after.
    s = [0.0]
    ss = [0.0]
    for y in ys:
        s.append(s[-1] + y)
        ss.append(ss[-1] + y * y)
    sx, sxx, sxy = [0.0], [0.0], [0.0]
    for x, y in zip(xs, ys, strict=True):
        sx.append(sx[-1] + x)
        sxx.append(sxx[-1] + x * x)
        sxy.append(sxy[-1] + x * y)
    best: tuple[float, int] | None = None
    for k in range(lowest, n - sustain + 1):
        before = ss[k] - s[k] ** 2 / k
        m = n - k
        ty, tyy = s[n] - s[k], ss[n] - ss[k]
        tx, txx, txy = sx[n] - sx[k], sxx[n] - sxx[k], sxy[n] - sxy[k]
        vx = txx - tx * tx / m
        vy = tyy - ty * ty / m
        cov = txy - tx * ty / m
        after = vy - (cov * cov / vx if vx > 0 else 0.0)
        cost = before + max(after, 0.0)
        if best is None or cost < best[0]:
            best = (cost, k)
    return best[1] if best else None


@dataclass
class _Unchecked:
    service: str
    signal: str
    metric: str
    series: int
    history: float


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
    earlier: Mapping[SeriesKey, Sequence[MetricPoint]] | None = None,
) -> MetricAnomalyReport:
    """The series that left their baseline within ``[detect_start, detect_end]``, strongest first.

    The reference window defaults to every point before ``detect_start``. ``earlier`` holds, per series, its
    values on earlier days (see :func:`same_hour_baseline`), preferred when they cover the window. A series whose
    reference is too short is split where it changed (see :func:`change_split`); one too short for that is
    counted in ``series_skipped`` and listed in ``unchecked``. Ranked by |peak z|, then earliest onset, then name.
    """
    checked = skipped = 0
    found: list[MetricAnomaly] = []
    unchecked: dict[tuple[str, str], _Unchecked] = {}
    latest = detect_start
    for one in series:
        points = _sorted_points(one)
        checked += 1
        if points:
            latest = max(latest, points[-1].timestamp)
        window = [
            p
            for p in points
            if p.timestamp >= detect_start and (detect_end is None or p.timestamp <= detect_end)
        ]
        start = reference_start or (points[0].timestamp if points else detect_start)
        end = reference_end or detect_start
        reference = [p for p in points if start <= p.timestamp < end]
        baseline = (
            fit_baseline(points, start=start, end=end, seasonal=seasonal) if _enough(reference) else None
        )
        history = earlier.get(series_key(one)) if earlier else None
        if history:
            # Floored by what the series can resolve, not by the trailing spread: on a series with a daily
            # rhythm that spread is the rhythm itself, which would hide a real change or date it hours early.
            same_hour = same_hour_baseline(
                window,
                history,
                reference=reference,
                floor=_noise_floor(points, statistics.median(p.value for p in points)),
            )
            baseline = same_hour or baseline
        if baseline is None:
            usable = [
                p
                for p in points
                if p.timestamp >= start and (detect_end is None or p.timestamp <= detect_end)
            ]
            split = change_split(usable, sustain=sustain)
            if split is not None:
                baseline = fit_baseline(
                    usable, start=usable[0].timestamp, end=usable[split].timestamp, seasonal=False
                )
                window = usable[split:]
        if baseline is None:
            skipped += 1
            _note_unchecked(unchecked, one, points)
            continue
        magnitude = max((abs(p.value) for p in points), default=0.0)
        baseline = replace(baseline, scale=max(baseline.scale, RESOLUTION * magnitude))
        anomaly = _find_anomaly(one, window, baseline, threshold=threshold, sustain=sustain)
        if anomaly is not None:
            found.append(anomaly)
    found.sort(key=rank_key)
    return MetricAnomalyReport(
        detect_start=detect_start,
        detect_end=detect_end or latest,
        threshold=threshold,
        series_checked=checked,
        series_skipped=skipped,
        anomalies=found[:limit],
        truncated=len(found) > limit,
        unchecked=_unchecked_report(unchecked),
    )


def _note_unchecked(
    table: dict[tuple[str, str], _Unchecked], series: MetricSeries, points: Sequence[MetricPoint]
) -> None:
    signal = reading_of(series).signal
    history = (points[-1].timestamp - points[0].timestamp).total_seconds() / 60 if len(points) > 1 else 0.0
    entry = table.get((series.service, signal))
    if entry is None:
        table[(series.service, signal)] = _Unchecked(series.service, signal, series.name, 1, history)
    else:
        entry.series += 1
        entry.history = max(entry.history, history)


def _unchecked_report(table: dict[tuple[str, str], _Unchecked]) -> list[UncheckedSignal]:
    # Signals first (what a service's callers and resources show), then the rest.
    ordered = sorted(table.values(), key=lambda u: (u.signal == Signal.OTHER.value, u.service, u.signal))
    return [
        UncheckedSignal(
            service=u.service,
            signal=u.signal,
            metric=u.metric,
            series=u.series,
            history_minutes=round(u.history, 1),
            reason=(
                f"no baseline for {u.service + ' ' if u.service else ''}{u.signal} ({u.metric}"
                f"{f' and {u.series - 1} more series' if u.series > 1 else ''}): only {u.history:.0f} minutes "
                "of history"
            ),
        )
        for u in ordered[:UNCHECKED_LIMIT]
    ]


def merge_rechecked(
    report: MetricAnomalyReport, rechecked: MetricAnomalyReport, keys: set[SeriesKey]
) -> MetricAnomalyReport:
    """``report`` with the anomalies of ``keys`` replaced by what ``rechecked`` (same series, better baselines)
    found: those no longer anomalous are counted as ``explained``."""
    kept = [a for a in report.anomalies if anomaly_key(a) not in keys]
    anomalies = sorted(
        [*kept, *rechecked.anomalies],
        key=lambda a: (-abs(a.peak_z), a.onset, a.name, sorted(a.labels.items())),
    )
    explained = len(keys) - len({anomaly_key(a) for a in rechecked.anomalies} & keys)
    return report.model_copy(update={"anomalies": anomalies, "explained": report.explained + explained})


def adverse(anomaly: MetricAnomaly) -> bool:
    """Whether a departure is a known signal moving the way that is worse (errors up, free space down...) by a
    material amount (see :func:`material`); for what is left of a resource, only when it is running out (see
    :func:`running_out`)."""
    worse = (
        anomaly.signal != Signal.OTHER.value
        and anomaly.facet in ADVERSE_FACETS
        and (anomaly.worse == "both" or anomaly.direction == anomaly.worse)
    )
    if anomaly.facet == "headroom":
        return worse and running_out(anomaly)
    return worse and material(anomaly)


def material(anomaly: MetricAnomaly) -> bool:
    """Whether a departure moved the series by at least :data:`MATERIAL_SHARE` of its normal level, whatever its
    z-score: a steady series' tight baseline turns a few percent (a few MiB of another process's memory, a
    latency 3 ms up, one thread more) into a huge z, which is no trouble. A series normally at zero moves
    materially by anything."""
    normal = abs(anomaly.expected_at_peak)
    return normal == 0 or abs(anomaly.peak_value - anomaly.expected_at_peak) >= MATERIAL_SHARE * normal


def running_out(anomaly: MetricAnomaly) -> bool:
    """Whether what is left of a resource is running out: down to a fraction of its normal, or falling fast
    enough to be gone within :data:`EXHAUSTION_HORIZON`. A disk with 66 GiB free that lost 1.5 GiB to another
    process has not filled up, however far that is from its baseline."""
    left, normal = anomaly.peak_value, anomaly.expected_at_peak
    if normal > 0 and left <= SCARCE_SHARE * normal:
        return True
    trend = anomaly.trend_per_minute
    if anomaly.shape != "ramp" or trend is None or trend >= 0:
        return False
    return left / -trend <= EXHAUSTION_HORIZON.total_seconds() / 60


def rank_key(anomaly: MetricAnomaly) -> tuple[bool, float, datetime, str, list[tuple[str, str]]]:
    """Known signals moving the worse way first (what RED and USE look at), then by |peak z|, onset, name."""
    return (
        not adverse(anomaly),
        -abs(anomaly.peak_z),
        anomaly.onset,
        anomaly.name,
        sorted(anomaly.labels.items()),
    )


def anomaly_key(anomaly: MetricAnomaly) -> SeriesKey:
    """The :func:`series_key` of the series an anomaly was found on."""
    return (anomaly.name, anomaly.service, tuple(sorted(anomaly.labels.items())))


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

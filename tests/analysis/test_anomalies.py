"""Metric anomalies: robust baselines, sustained change points, daily seasonality, ranking and bands."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from core_client.analysis.anomalies import baseline_band, detect_anomalies, fit_baseline
from core_client.schemas import MetricPoint, MetricSeries

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _series(name: str, values: list[float], *, step: timedelta = timedelta(minutes=1)) -> MetricSeries:
    return MetricSeries(
        name=name,
        service="checkout",
        labels={"pod": name},
        points=[MetricPoint(timestamp=T0 + i * step, value=v) for i, v in enumerate(values)],
    )


def _noise(seed: int, n: int, level: float, spread: float) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0, spread) for _ in range(n)]


def test_a_sustained_shift_is_found_with_its_onset_direction_and_magnitude() -> None:
    values = _noise(1, 120, 100.0, 2.0) + _noise(2, 30, 300.0, 2.0)
    report = detect_anomalies([_series("latency", values)], detect_start=T0 + timedelta(minutes=100))
    assert report.series_checked == 1 and len(report.anomalies) == 1
    anomaly = report.anomalies[0]
    assert anomaly.direction == "up" and anomaly.onset == T0 + timedelta(minutes=120)
    assert anomaly.magnitude is not None and 2.8 < anomaly.magnitude < 3.2
    assert anomaly.ongoing and anomaly.anomalous_points == 30 and anomaly.peak_z > 50
    assert 99 < anomaly.baseline.median < 101 and not anomaly.baseline.seasonal


def test_a_single_spike_is_not_an_anomaly_but_a_drop_is() -> None:
    spiky = _noise(3, 150, 50.0, 1.0)
    spiky[130] = 500.0
    dropping = _noise(4, 130, 50.0, 1.0) + [5.0] * 20
    report = detect_anomalies(
        [_series("spiky", spiky), _series("dropping", dropping)], detect_start=T0 + timedelta(minutes=120)
    )
    assert [(a.name, a.direction) for a in report.anomalies] == [("dropping", "down")]
    assert report.anomalies[0].onset == T0 + timedelta(minutes=130)


def test_anomalies_are_ranked_by_peak_deviation_and_limited() -> None:
    base = _noise(5, 100, 10.0, 1.0)
    small = _series("small", base + [20.0] * 10)
    large = _series("large", base + [80.0] * 10)
    report = detect_anomalies([small, large], detect_start=T0 + timedelta(minutes=100), limit=1)
    assert [a.name for a in report.anomalies] == ["large"] and report.truncated


def test_daily_peaks_in_a_long_reference_are_not_flagged_but_a_peak_at_night_is() -> None:
    step = timedelta(minutes=10)
    per_day = 144

    def daily(i: int) -> float:
        hour = (i % per_day) / 6
        return 100 + 80 * math.exp(-((hour - 14) ** 2) / 4)  # a busy afternoon every day

    rng = random.Random(6)
    values = [daily(i) + rng.gauss(0, 2) for i in range(per_day * 8)]
    normal = _series("requests", values, step=step)
    night = list(values)
    for i in range(per_day * 7 + 12, per_day * 7 + 30):  # 02:00 to 05:00 on the last day
        night[i] = 175.0
    odd = _series("odd", night, step=step)
    detect_start = T0 + timedelta(days=7)
    report = detect_anomalies([normal, odd], detect_start=detect_start)
    assert [a.name for a in report.anomalies] == ["odd"]
    assert report.anomalies[0].baseline.seasonal
    assert report.anomalies[0].onset == detect_start + timedelta(hours=2)
    # Without the time-of-day profile, the normal afternoon looks like an anomaly.
    flat = detect_anomalies([normal], detect_start=detect_start, seasonal=False)
    assert [a.name for a in flat.anomalies] == ["requests"]


def test_too_little_reference_is_skipped_not_guessed() -> None:
    report = detect_anomalies(
        [_series("new", [1.0, 50.0, 50.0, 50.0])], detect_start=T0 + timedelta(minutes=1)
    )
    assert report.series_skipped == 1 and report.anomalies == []


def test_baseline_band_gives_expected_range_at_every_point() -> None:
    values = _noise(7, 60, 20.0, 1.0) + [40.0] * 5
    series = _series("cpu", values)
    band = baseline_band(series, reference_start=T0, reference_end=T0 + timedelta(minutes=60), width=3)
    baseline = fit_baseline(series.points, start=T0, end=T0 + timedelta(minutes=60))
    assert band is not None and baseline is not None and len(band.points) == 65
    last = band.points[-1]
    assert last.value == 40.0 and last.upper < 40.0 < last.value + 1
    assert math.isclose(last.upper - last.lower, 6 * baseline.scale)
    assert sum(p.lower <= p.value <= p.upper for p in band.points[:60]) >= 57
    assert band.to_json()["points"][0].keys() >= {"timestamp", "value", "expected", "lower", "upper"}

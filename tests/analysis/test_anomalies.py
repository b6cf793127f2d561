"""Metric anomalies: robust baselines, sustained change points, daily seasonality, ranking and bands."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from core_client.analysis.anomalies import (
    adverse,
    baseline_band,
    detect_anomalies,
    fit_baseline,
    material,
    running_out,
)
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


def test_a_short_history_is_split_where_it_changed_and_the_part_before_is_the_baseline() -> None:
    # Eight minutes of data at 15 s: a flat start, then a jump a minute before the end.
    step = timedelta(seconds=15)
    values = _noise(11, 28, 10.0, 0.5) + [30.0] * 4
    series = _series("load", values, step=step)
    report = detect_anomalies(
        [series], detect_start=T0 - timedelta(minutes=90), reference_start=T0 - timedelta(hours=3)
    )
    [anomaly] = report.anomalies
    assert anomaly.onset == T0 + 28 * step and anomaly.direction == "up"
    assert anomaly.baseline.kind == "trailing" and 6 < (anomaly.baseline.history_minutes or 0) < 8


def test_too_little_history_is_reported_as_unchecked_with_how_much_there_was() -> None:
    step = timedelta(seconds=15)
    report = detect_anomalies(
        [_series("up", [1.0] * 6, step=step), _series("free_bytes", [5.0] * 5, step=step)],
        detect_start=T0 - timedelta(minutes=90),
    )
    assert report.series_skipped == 2 and report.anomalies == []
    assert [u.reason for u in report.unchecked] == [
        "no baseline for checkout availability (up): only 1 minutes of history",
        "no baseline for checkout other (free_bytes): only 1 minutes of history",
    ]


def test_the_same_hour_on_earlier_days_explains_a_daily_rise_and_dates_a_real_change() -> None:
    # A busy hour every day from 14:00; today, on top of it, errors from 14:40.
    step = timedelta(minutes=1)
    day = timedelta(days=1)
    start = T0 + timedelta(hours=13)

    def busy(moment: datetime) -> float:
        return 100.0 + (60.0 if moment.hour >= 14 else 0.0)

    rng = random.Random(12)
    earlier = [
        MetricPoint(timestamp=start - d * day + i * step, value=busy(start + i * step) + rng.gauss(0, 2))
        for d in range(1, 4)
        for i in range(120)
    ]
    today = [busy(start + i * step) + rng.gauss(0, 2) + (80.0 if i >= 100 else 0.0) for i in range(120)]
    series = MetricSeries(
        name="requests",
        service="checkout",
        points=[MetricPoint(timestamp=start + i * step, value=v) for i, v in enumerate(today)],
    )
    since = start + timedelta(minutes=30)
    plain = detect_anomalies([series], detect_start=since)
    # Against the hour before, the daily rise itself looks like trouble: the busy level is not what it expects.
    assert plain.anomalies[0].expected_at_peak < 110
    key = (series.name, series.service, ())
    report = detect_anomalies([series], detect_start=since, earlier={key: earlier})
    [anomaly] = report.anomalies
    assert anomaly.baseline.kind == "same-hour" and anomaly.onset == start + timedelta(minutes=100)
    assert 150 < anomaly.expected_at_peak < 170


def test_the_onset_is_the_large_departures_not_an_earlier_small_shift() -> None:
    # A drift to z~6 for twenty minutes, then an outage: the outage's start is the onset.
    values = _noise(17, 60, 100.0, 1.0) + _noise(18, 20, 107.0, 1.0) + _noise(19, 10, 180.0, 1.0)
    [anomaly] = detect_anomalies(
        [_series("errors", values)], detect_start=T0 + timedelta(minutes=55)
    ).anomalies
    assert anomaly.onset == T0 + timedelta(minutes=80)


def test_a_daily_profile_with_slots_that_do_not_divide_a_day_has_a_last_slot() -> None:
    step = timedelta(seconds=1300)
    values = _noise(20, 400, 10.0, 1.0)
    baseline = fit_baseline(
        _series("x", values, step=step).points, start=T0, end=T0 + 400 * step, seasonal=True
    )
    assert baseline is not None and baseline.expected(T0 + timedelta(hours=23, minutes=59)) > 0


def test_the_same_hour_follows_a_series_that_grows_from_day_to_day() -> None:
    step = timedelta(minutes=5)
    day = timedelta(days=1)
    earlier = [
        MetricPoint(timestamp=T0 - d * day + i * step, value=50.0 - 2.0 * d + 0.01 * (i % 3))
        for d in range(1, 4)
        for i in range(48)
    ]
    today = MetricSeries(
        name="disk_used_percent",
        service="db",
        points=[MetricPoint(timestamp=T0 + i * step, value=50.0 + 0.01 * (i % 3)) for i in range(48)],
    )
    report = detect_anomalies(
        [today], detect_start=T0 + timedelta(hours=2), earlier={(today.name, "db", ()): earlier}
    )
    assert report.anomalies == []


def test_a_steady_climb_is_a_ramp_and_a_jump_is_a_step() -> None:
    base = _noise(13, 60, 1000.0, 5.0)
    leak = _series("memory", base + [1000.0 + 40.0 * i for i in range(1, 11)])
    jump = _series("errors", base + [1400.0 + (i % 2) * 5 for i in range(10)])
    found = {
        a.name: a for a in detect_anomalies([leak, jump], detect_start=T0 + timedelta(minutes=50)).anomalies
    }
    assert found["memory"].shape == "ramp" and 35 < (found["memory"].trend_per_minute or 0) < 45
    assert found["errors"].shape == "step" and found["errors"].trend_per_minute is None


@pytest.mark.parametrize("unit", [1e-6, 1e150, 1e290])
def test_huge_or_tiny_readings_are_judged_as_their_ordinary_twins(unit: float) -> None:
    """Squares of values past 1e154 overflow a float: a source reporting such numbers still gets the same shapes,
    and onsets within a reading (rounding differs at other scales)."""
    base = _noise(13, 60, 1000.0, 5.0)
    values = {"memory": base + [1000.0 + 40.0 * i for i in range(1, 11)], "errors": base + [1400.0] * 10}

    def readings(factor: float) -> dict[str, tuple[str, datetime, float]]:
        series = [_series(name, [v * factor for v in vs]) for name, vs in values.items()]
        report = detect_anomalies(series, detect_start=T0 + timedelta(minutes=50))
        return {a.name: (a.shape, a.onset, (a.trend_per_minute or 0.0) / factor) for a in report.anomalies}

    ordinary, scaled = readings(1.0), readings(unit)
    assert set(scaled) == set(ordinary) == {"memory", "errors"}
    for name, (shape, onset, trend) in ordinary.items():
        assert scaled[name][0] == shape
        assert abs(scaled[name][1] - onset) <= timedelta(minutes=1)
        assert scaled[name][2] == pytest.approx(trend, rel=1e-6)


def test_a_surge_after_a_dip_is_the_departure_reported() -> None:
    values = _noise(14, 60, 50.0, 1.0) + [40.0] * 5 + [50.0] * 5 + [200.0] * 5
    [anomaly] = detect_anomalies(
        [_series("requests", values)], detect_start=T0 + timedelta(minutes=55)
    ).anomalies
    assert anomaly.direction == "up" and anomaly.onset == T0 + timedelta(minutes=70)


def test_the_reading_comes_from_the_scan_or_the_name() -> None:
    named = _series("disk_used_percent", _noise(15, 60, 50.0, 0.5) + [90.0] * 5)
    read = _series("weird", _noise(16, 60, 50.0, 0.5) + [10.0] * 5)
    read.metadata = {
        "signal": "disk",
        "facet": "headroom",
        "worse": "down",
        "unit": "bytes",
        "semantics": "as reported",
    }
    found = {
        a.name: a for a in detect_anomalies([named, read], detect_start=T0 + timedelta(minutes=55)).anomalies
    }
    assert (found["disk_used_percent"].signal, found["disk_used_percent"].worse) == ("disk", "up")
    assert (found["weird"].signal, found["weird"].facet, found["weird"].worse) == ("disk", "headroom", "down")


def test_a_counter_read_in_whole_steps_is_not_anomalous_one_step_up() -> None:
    """CPU seconds counted in hundredths, as a rate over 20 s, move by 0.0005: a step more is resolution, not a
    departure, however flat the reference; a level never seen before still is."""
    quantum = 0.0005
    values = [0.002] * 60 + [0.002 + quantum, 0.002, 0.002 + quantum] * 3 + [0.002 + 2 * quantum] * 10
    report = detect_anomalies(
        [_series("rate(process_cpu_seconds_total)", values)], detect_start=T0 + timedelta(minutes=60)
    )
    assert all(abs(a.peak_z) < 10 for a in report.anomalies), report.anomalies
    jumped = [0.0] * 60 + [0.4] * 10
    found = detect_anomalies([_series("cpu_nice", jumped)], detect_start=T0 + timedelta(minutes=60)).anomalies
    assert found and found[0].onset == T0 + timedelta(minutes=60) and found[0].peak_z > 100


def _business_day(moment: datetime) -> float:
    """Quiet at night, busy by day: a steep rise towards 08:00 and a fall towards 18:00."""
    hour = (moment.timestamp() % 86_400) / 3600
    return 20 + 100 / (1 + math.exp(-(hour - 8) * 2.5)) - 100 / (1 + math.exp(-(hour - 18) * 2.5))


@pytest.mark.parametrize("change_hour", [8.5, 9.5, 13.0])
@pytest.mark.parametrize("step", [timedelta(minutes=1), timedelta(minutes=5)], ids=["1min", "5min"])
def test_a_change_on_a_series_with_a_daily_rhythm_is_dated_when_it_happened(
    change_hour: float, step: timedelta
) -> None:
    # Three days of a daily rhythm (3% noise); on the last, a lasting rise of 25 an hour before the question.
    change = T0 + timedelta(days=3, hours=change_hour)
    now = change + timedelta(hours=1)
    rng = random.Random(int(change_hour * 10))
    points = []
    moment = now - timedelta(days=3)
    while moment <= now:
        value = _business_day(moment) * (1 + rng.gauss(0, 0.03)) + (25.0 if moment >= change else 0.0)
        points.append(MetricPoint(timestamp=moment, value=value))
        moment += step
    series = MetricSeries(name="queue_depth", service="checkout", points=points)
    since = now - timedelta(hours=3)

    # Two days of reference (the scan's default) hold the daily rhythm: the baseline is seasonal.
    [seasonal] = detect_anomalies(
        [series], detect_start=since, detect_end=now, reference_start=since - timedelta(days=2)
    ).anomalies
    assert seasonal.baseline.kind == "seasonal"
    assert abs(seasonal.onset - change) <= step, seasonal.onset

    # A day of reference alone is flat, and the morning's rise reads as the change, up to hours early...
    day = since - timedelta(days=1)
    [flat] = detect_anomalies([series], detect_start=since, detect_end=now, reference_start=day).anomalies
    assert flat.baseline.kind == "trailing"
    # ...but the same hour on the earlier days dates it right.
    earlier = {
        (series.name, series.service, ()): [p for p in points if p.timestamp < now - timedelta(hours=20)]
    }
    [same_hour] = detect_anomalies(
        [series], detect_start=since, detect_end=now, reference_start=day, earlier=earlier
    ).anomalies
    assert same_hour.baseline.kind == "same-hour"
    assert abs(same_hour.onset - change) <= step, same_hour.onset


def _free_space(values: list[float]) -> MetricSeries:
    series = _series("node_filesystem_avail_bytes", values)
    series.metadata = {"signal": "disk", "facet": "headroom", "worse": "down", "unit": "bytes"}
    return series


@pytest.mark.parametrize(
    ("after", "running"),
    [
        # Another process wrote 1.5 GiB to a disk with 68 GiB free: far from its baseline, nowhere near full.
        ([66.8] * 20, False),
        # Filling steadily at 1 GiB a minute: three quarters still free, but gone within the hour.
        ([68.3 - i for i in range(20)], True),
        # Down to a third of its normal at once.
        ([22.0] * 20, True),
    ],
    ids=["lost-a-little", "filling-fast", "mostly-gone"],
)
def test_free_space_falling_is_trouble_only_when_it_runs_out(after: list[float], running: bool) -> None:
    gib = 1024.0**3
    values = [v * gib for v in _noise(3, 120, 68.3, 0.01) + after]
    report = detect_anomalies([_free_space(values)], detect_start=T0 + timedelta(minutes=100))
    (anomaly,) = report.anomalies
    assert anomaly.direction == "down" and abs(anomaly.peak_z) > 10
    assert (running_out(anomaly), adverse(anomaly)) == (running, running)


@pytest.mark.parametrize(
    ("after", "matters"),
    [
        # 3% slower on a very steady service: a huge z, and no one would notice.
        ([103.0] * 20, False),
        # Half as slow again: trouble.
        ([150.0] * 20, True),
    ],
    ids=["three-percent", "half-again"],
)
def test_a_departure_is_trouble_only_when_it_moved_the_series_materially(
    after: list[float], matters: bool
) -> None:
    latency = _series("request_latency_ms", _noise(21, 120, 100.0, 0.05) + after)
    latency.metadata = {"signal": "latency", "facet": "duration", "worse": "up", "unit": "ms"}
    (anomaly,) = detect_anomalies([latency], detect_start=T0 + timedelta(minutes=100)).anomalies
    assert anomaly.direction == "up" and anomaly.peak_z > 10
    assert (material(anomaly), adverse(anomaly)) == (matters, matters)

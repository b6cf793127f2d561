"""Metric semantics: counters as rates (resets included), histograms as quantiles, status counts as error ratios."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_client.analysis.semantics import (
    Derived,
    counter_rates,
    error_ratios,
    histogram_quantile,
    quantiles,
    rate_window,
    summed,
)
from core_client.schemas import MetricPoint, MetricSeries

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _points(values: list[float], step: int = 15) -> list[MetricPoint]:
    return [MetricPoint(timestamp=T0 + timedelta(seconds=i * step), value=v) for i, v in enumerate(values)]


def _series(values: list[float], service: str = "api", **labels: str) -> MetricSeries:
    return MetricSeries(name="x", service=service, labels=labels, points=_points(values))


@pytest.mark.parametrize(
    "text",
    [
        "rate(http_requests_total)",
        "sum(rate(http_requests_total))",
        "sum by (mode) (rate(node_cpu_seconds_total))",
        "p99(http_request_duration_seconds)",
        "p50(http_request_duration_seconds)",
        "error_ratio(http_requests_total)",
    ],
)
def test_a_derived_name_reads_back_as_itself(text: str) -> None:
    derived = Derived.parse(text)
    assert derived is not None and derived.name == text


def test_plain_names_and_broken_expressions_are_not_derived() -> None:
    assert Derived.parse("node_load1") is None
    assert Derived.parse("rate(x") is None
    assert Derived.parse("avg(rate(x))") is None
    quantile = Derived.parse("p99(h)")
    assert quantile is not None and quantile.source_metric == "h_bucket" and quantile.quantile == 0.99


def test_the_rate_window_holds_four_scrapes_and_a_step() -> None:
    assert rate_window(15, 5) == 20
    assert rate_window(60, 15) == 75
    assert rate_window(5, 1) == 6


def test_a_counter_is_a_rate_and_a_reset_is_a_restart_from_zero() -> None:
    rates = counter_rates(_points([0, 30, 60, 90, 15, 45]), window_seconds=15)
    assert [p.value for p in rates] == [2.0, 2.0, 2.0, 1.0, 2.0]
    assert rates[0].timestamp == T0 + timedelta(seconds=15)
    assert counter_rates(_points([5]), window_seconds=15) == []


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=2, max_size=40))
def test_rates_of_a_counter_are_never_negative(increments: list[float]) -> None:
    total, values = 0.0, []
    for step in increments:
        total += step
        values.append(total)
    assert all(p.value >= 0 for p in counter_rates(_points(values), window_seconds=45))


def test_histogram_quantiles_interpolate_inside_the_bucket_as_prometheus_does() -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.95)
    # In the +Inf bucket: the highest finite bound. Nothing observed: no value.
    assert histogram_quantile(0.99, [(0.1, 1.0), (math.inf, 10.0)]) == 0.1
    assert histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None


def test_quantiles_per_service_from_bucket_rates() -> None:
    bucket_rates = [
        _series([5.0, 0.0], le="0.1"),
        _series([9.0, 1.0], le="0.5"),
        _series([10.0, 10.0], le="+Inf"),
        _series([1.0, 1.0], service="other", le="+Inf"),
    ]
    found = {s.service: s for s in quantiles(bucket_rates, 0.5, by=[], name="p50(x)")}
    assert [round(p.value, 3) for p in found["api"].points] == [0.1, 0.5]
    assert found["api"].labels == {"quantile": "0.5"} and found["api"].name == "p50(x)"


def test_error_ratio_is_the_failed_share_by_status() -> None:
    rates = [
        _series([9.0, 5.0], code="200"),
        _series([1.0, 5.0], code="503"),
        _series([0.0, 0.0], code="404"),
        _series([2.0, 2.0], service="quiet", code="200"),
    ]
    found = {
        s.service: [p.value for p in s.points] for s in error_ratios(rates, by=[], name="error_ratio(x)")
    }
    assert found == {"api": [0.1, 0.5], "quiet": [0.0, 0.0]}
    assert error_ratios([_series([1.0])], by=[], name="e") == []


def test_sums_keep_services_and_environments_apart() -> None:
    rates = [
        _series([1.0, 2.0], env="prod", mode="user", cpu="0"),
        _series([3.0, 4.0], env="prod", mode="user", cpu="1"),
        _series([5.0, 5.0], env="staging", mode="user", cpu="0"),
    ]
    found = {s.labels["env"]: [p.value for p in s.points] for s in summed(rates, ["mode"], name="cpu")}
    assert found == {"prod": [4.0, 6.0], "staging": [5.0, 5.0]}

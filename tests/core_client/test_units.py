"""Metric values as a person reads them: units from the catalog, no raw floats."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from core_client.schemas import MetricAnomaly
from core_client.schemas.analysis import MetricBaseline
from core_client.units import against_normal, anomaly_reading, number, quantile_name, quantity


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (14.3, "percent", "14.3%"),
        (0.1373, "percent", "0.14%"),
        (0.143, "ratio", "14.3%"),
        (860.19, "ms", "860 ms"),
        (1234.0, "ms", "1.23 s"),
        (0.86, "seconds", "860 ms"),
        (5400.0, "seconds", "90 min"),
        (1400.0, "MiB", "1.37 GiB"),
        (3.2e9, "bytes", "2.98 GiB"),
        (5e6, "bytes/s", "4.77 MiB/s"),
        (340.2, "req/s", "340 req/s"),
        (12.5, "requests/s", "12.5 req/s"),
        (40.0, "connections", "40 connections"),
        (3.0, "count", "3"),
        (12400.0, "", "12,400"),
        (71.23, "celsius", "71.2°C"),
        (2.5, "cores", "2.5 cores"),
    ],
)
def test_a_value_is_shown_in_its_unit_with_few_digits(value: float, unit: str, expected: str) -> None:
    assert quantity(value, unit) == expected


def test_numbers_keep_at_most_three_significant_digits() -> None:
    assert [number(v) for v in (0.0, 0.00312, 0.1373, 1.0, 9.236, 14.3, 113.6, -2.5)] == [
        "0",
        "0.0031",
        "0.14",
        "1",
        "9.24",
        "14.3",
        "114",
        "-2.5",
    ]
    assert number(math.nan) == "no value"
    assert [number(v) for v in (999_999.0, 3_240_000.0, 7.5e9, 2.56e37)] == [
        "999,999",
        "3.24 million",
        "7.5 billion",
        "2.6e37",
    ]


def test_quantiles_are_named_as_people_say_them() -> None:
    assert [quantile_name(q) for q in ("p95", "0.95", "0.999", "", None)] == ["p95", "p95", "p99.9", "", ""]


def test_a_reading_says_what_it_measures_and_what_is_normal() -> None:
    assert against_normal(14.3, 0.1373, unit="percent", signal="errors", facet="errors") == (
        "14.3% errors, normally 0.14%"
    )
    assert against_normal(860.2, 113.6, unit="ms", signal="latency", facet="duration", quantile="p95") == (
        "860 ms p95, normally 114 ms"
    )
    assert against_normal(40, 10.87, unit="connections", signal="pool", facet="utilization") == (
        "40 connections in use, normally 10.9"
    )
    assert against_normal(92.4, 40, unit="percent", name="cpu_usage", signal="cpu", facet="utilization") == (
        "cpu_usage 92.4%, normally 40%"
    )


def test_an_anomaly_reads_from_its_own_unit_and_signal() -> None:
    at = datetime(2025, 6, 11, 13, 38, tzinfo=UTC)
    anomaly = MetricAnomaly(
        name="http_request_duration_seconds",
        service="orders-api",
        labels={"quantile": "0.99"},
        direction="up",
        onset=at,
        peak_at=at,
        peak_value=1.7,
        expected_at_peak=0.12,
        peak_z=9.0,
        anomalous_points=10,
        ongoing=True,
        baseline=MetricBaseline(median=0.12, scale=0.01, reference_start=at, reference_end=at, points=60),
        signal="latency",
        facet="duration",
        unit="seconds",
    )
    assert anomaly_reading(anomaly) == "1.7 s p99, normally 120 ms"

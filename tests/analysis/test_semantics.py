"""Metric semantics: counters as rates (resets included), histograms as quantiles, status counts as error ratios;
a "counter" that cannot be one read as a gauge."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_client.analysis.scan import Scan, scan_signals
from core_client.analysis.semantics import (
    Derived,
    counter_rates,
    error_ratios,
    histogram_quantile,
    not_a_counter,
    quantiles,
    rate_window,
    read_as_gauge,
    summed,
)
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.schemas import (
    MetricDescriptor,
    MetricExpression,
    MetricPoint,
    MetricQuery,
    MetricSeries,
    Page,
    QueryScope,
)
from tests.adapters.prometheus.servers import ReadOnlyGate

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


class RawSamples:
    """A metric source that serves raw samples only (no rates of its own), as OpsOrch's Core does."""

    def __init__(self, series: list[MetricSeries], described: list[MetricDescriptor] | None = None) -> None:
        self.series = series
        self.described = described or []

    async def describe(self, scope: QueryScope | None = None) -> list[MetricDescriptor]:
        return self.described

    async def query(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        wanted = query.expression.metric_name
        return Page[MetricSeries](items=[s for s in self.series if s.name == wanted])


def _source(*series: MetricSeries, described: list[MetricDescriptor] | None = None) -> CoreClient:
    loaded = LoadedProvider(Capability.METRIC, "raw", RawSamples(list(series), described), timeout=5)
    return CoreClient({Capability.METRIC: loaded}, gate=ReadOnlyGate())  # type: ignore[arg-type]


def _rate_query(expression: str) -> MetricQuery:
    return MetricQuery(
        expression=MetricExpression(metric_name=expression), start=T0, end=T0 + timedelta(hours=1), step=15
    )


async def test_a_counter_from_raw_samples_is_a_per_second_rate() -> None:
    counter = MetricSeries(name="jobs_total", service="api", points=_points([0, 30, 60, 90, 15, 45]))
    (rate,) = (await _source(counter).metrics.query(_rate_query("rate(jobs_total)"))).items
    assert rate.name == "rate(jobs_total)"
    assert [p.value for p in rate.points] == [2.0, 2.0, 2.0, 1.0, 2.0]
    assert str(rate.metadata["semantics"]).startswith("per-second rate of jobs_total")


# A "counter" that compounds (each value a multiple of the last, as a mock's series did): monotonic, but a rate of it
# reached 2.8e37 per second. And one whose values wave up and down: a gauge with a counter's name.
COMPOUNDING = [13.0 * 1.6**i for i in range(200)]
WAVING = [0.3 + 0.18 * math.sin(i / 3.5) + 0.02 * i for i in range(120)]


@pytest.mark.parametrize(
    ("values", "why"),
    [(COMPOUNDING, "beyond what a counter can count"), (WAVING, "a counter falls only on a restart")],
    ids=["compounding", "waving"],
)
async def test_a_counter_that_cannot_be_one_is_read_as_a_gauge_and_says_so(
    values: list[float], why: str
) -> None:
    errors = MetricSeries(name="http_errors_total", service="search", points=_points(values))
    core = _source(errors)
    (read,) = (await core.metrics.query(_rate_query("rate(http_errors_total)"))).items
    assert read.name == "http_errors_total"  # named as what it is, not as a rate
    assert [p.value for p in read.points] == values  # as reported, never differentiated
    semantics = str(read.metadata["semantics"])
    assert read_as_gauge(semantics) and why in semantics
    (total,) = (await core.metrics.query(_rate_query("sum(rate(http_errors_total))"))).items
    assert total.name == "sum(http_errors_total)" and read_as_gauge(str(total.metadata["semantics"]))


async def test_a_scan_shows_a_counter_that_cannot_be_one_as_a_level_in_its_own_unit() -> None:
    # OpsOrch's mock: container restarts "counted" by a compounding series, declared a counter of restarts.
    minute = 60
    restarts = MetricSeries(
        name="container_restarts_total", service="checkout", points=_points(COMPOUNDING[:150], step=minute)
    )
    described = [MetricDescriptor(name="container_restarts_total", type="counter", unit="restarts")]
    scan = Scan(since=T0 + timedelta(hours=2), until=T0 + timedelta(minutes=149), reference_start=T0)
    report = await scan_signals(_source(restarts, described=described), scan)
    (shown,) = report.anomalies
    assert shown.name == "container_restarts_total" and read_as_gauge(shown.semantics)
    # Values as reported carry the counter's unit, not "per second", and how high they went is a level only.
    assert (shown.signal, shown.unit, shown.facet) == ("restarts", "restarts", "level")


def test_a_counter_with_rare_restarts_is_still_a_counter() -> None:
    restarted = [float(v) for v in range(0, 400, 4)] + [float(v) for v in range(0, 400, 4)]
    assert not_a_counter(_points(restarted)) is None
    assert not_a_counter(_points([0.0, 2.0**54])) is not None

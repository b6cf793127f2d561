"""The prometheus provider against a real Prometheus, read back through CoreClient."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import BadQuery, ConfigurationError, ProviderUnavailable
from core_client.schemas import MetricExpression, MetricFilter, MetricQuery, MetricSeries, QueryScope
from tests.adapters.prometheus.conftest import ODD_QUEUE, Shop
from tests.adapters.prometheus.servers import Server, core_client, free_port

pytestmark = pytest.mark.services


def depth_query(**expression: Any) -> MetricQuery:
    return MetricQuery(expression=MetricExpression(metric_name="shop_queue_depth", **expression))


def latest(series: MetricSeries) -> float:
    assert series.points, f"series {series.labels} has no points"
    return series.points[-1].value


def by_label(series: list[MetricSeries], label: str) -> dict[str, float]:
    return {s.labels[label]: latest(s) for s in series}


async def test_raw_series_carry_values_labels_service_and_a_graph_link(core: CoreClient, prometheus: Server):
    page = await core.metrics.query(depth_query())
    assert page.next_cursor is None
    assert {(s.service, s.labels["queue"], latest(s)) for s in page.items} == {
        ("checkout", "orders", 5.0),
        ("checkout", "emails", 7.0),
        ("checkout", ODD_QUEUE, 3.0),
        ("search", "orders", 11.0),
    }
    first = page.items[0]
    assert first.name == "shop_queue_depth"
    assert {"job", "instance", "env", "team", "queue"} <= set(first.labels)
    assert "__name__" not in first.labels
    link = urlsplit(first.url)
    assert f"{link.scheme}://{link.netloc}" == prometheus.url and link.path == "/graph"
    assert parse_qs(link.query)["g0.expr"] == ["shop_queue_depth"]
    # The window defaults to the hour before now; the step to about 250 points in it.
    assert first.metadata["step"] == 15
    assert 1 <= len(first.points) <= 241


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("sum", 26.0), ("avg", 6.5), ("max", 11.0), ("min", 3.0), ("count", 4.0)],
)
async def test_aggregations(core: CoreClient, aggregation: str, expected: float):
    page = await core.metrics.query(depth_query(aggregation=aggregation))
    assert [latest(s) for s in page.items] == [expected]
    assert page.items[0].labels == {}
    assert page.items[0].name == "shop_queue_depth"


async def test_group_by_keeps_only_the_grouped_labels(core: CoreClient):
    page = await core.metrics.query(depth_query(aggregation="sum", group_by=["job"]))
    assert by_label(page.items, "job") == {"checkout": 15.0, "search": 11.0}
    assert {s.service for s in page.items} == {"checkout", "search"}
    assert all(set(s.labels) == {"job"} for s in page.items)

    # Grouping without an aggregation averages.
    page = await core.metrics.query(depth_query(group_by=["queue"]))
    assert by_label(page.items, "queue") == {"orders": 8.0, "emails": 7.0, ODD_QUEUE: 3.0}


@pytest.mark.parametrize(
    ("operator", "value", "queues"),
    [
        ("=", "orders", ["orders", "orders"]),
        ("!=", "orders", [ODD_QUEUE, "emails"]),
        ("=~", "ord.*|emails", ["emails", "orders", "orders"]),
        ("!~", "ord.*", [ODD_QUEUE, "emails"]),
        ("=", ODD_QUEUE, [ODD_QUEUE]),
    ],
)
async def test_label_filters_and_escaping(core: CoreClient, operator: str, value: str, queues: list[str]):
    query = depth_query(filters=[MetricFilter(label="queue", operator=operator, value=value)])  # type: ignore[arg-type]
    page = await core.metrics.query(query)
    assert sorted(s.labels["queue"] for s in page.items) == sorted(queues)


async def test_scope_becomes_label_matchers_with_configured_names(core: CoreClient):
    query = depth_query(aggregation="sum").model_copy(update={"scope": QueryScope(service="checkout")})
    page = await core.metrics.query(query)
    assert [(s.service, latest(s)) for s in page.items] == [("checkout", 15.0)]
    assert 'job="checkout"' in page.items[0].metadata["promql"]

    query = depth_query().model_copy(update={"scope": QueryScope(environment="staging", team="discovery")})
    page = await core.metrics.query(query)
    assert [(s.service, s.labels["queue"], latest(s)) for s in page.items] == [("search", "orders", 11.0)]


async def test_scope_label_names_are_configurable(configure_metrics: Any):
    # Here "team" names the service: scope.service=payments selects the checkout job's series.
    configure_metrics(scope_labels={"service": "team", "environment": None})
    core = core_client(Capability.METRIC)
    try:
        page = await core.metrics.query(
            depth_query(aggregation="sum", group_by=["team"]).model_copy(
                update={"scope": QueryScope(service="payments")}
            )
        )
        assert [(s.service, latest(s)) for s in page.items] == [("payments", 15.0)]
        with pytest.raises(BadQuery, match=r"scope\.environment"):
            await core.metrics.query(
                depth_query().model_copy(update={"scope": QueryScope(environment="prod")})
            )
    finally:
        await core.aclose()


async def test_the_test_drives_the_values_prometheus_serves(core: CoreClient, shop: Shop):
    shop.index_documents.set(4321)
    query = MetricQuery(expression=MetricExpression(metric_name="search_index_documents"), step=1)
    deadline = time.monotonic() + 10
    while True:
        page = await core.metrics.query(query)
        if page.items and latest(page.items[0]) == 4321.0:
            break
        assert time.monotonic() < deadline, "Prometheus never scraped the new value"
        await asyncio.sleep(0.2)
    assert [s.service for s in page.items] == ["search"]
    # At a one-second step the series shows the value before the change, then the new one.
    values = [p.value for p in page.items[0].points]
    assert values[0] == 1234.0 and values[-1] == 4321.0


async def test_counters_are_rates_histograms_quantiles_and_statuses_error_ratios(
    core: CoreClient, shop: Shop
):
    # One payment in five fails, the first of them fifth; every payment takes 0.3 s (the 0.1-0.5 bucket). Both
    # statuses are exported at zero and scraped before the first payment: a rate window where only the failures'
    # series had two samples yet would read as all errors.
    shop.payments.labels(status="200")
    shop.payments.labels(status="500")
    await asyncio.sleep(1.5)

    async def pay() -> None:
        for n in range(60):
            shop.payments.labels(status="500" if n % 5 == 4 else "200").inc()
            shop.payment_seconds.observe(0.3)
            await asyncio.sleep(0.1)

    await pay()
    await asyncio.sleep(2)  # scraped every second

    async def last(name: str) -> MetricSeries:
        query = MetricQuery(
            expression=MetricExpression(metric_name=name), step=1, scope=QueryScope(service="checkout")
        )
        [series] = (await core.metrics.query(query)).items
        return series

    rate = await last("sum(rate(shop_payments_total))")
    assert max(p.value for p in rate.points) == pytest.approx(10.0, rel=0.35)
    assert rate.metadata["rateWindow"] == 4 and "per-second rate" in rate.metadata["semantics"]
    assert rate.service == "checkout" and "rate(shop_payments_total{job=" in rate.metadata["promql"]
    ratio = await last("error_ratio(shop_payments_total)")
    assert max(p.value for p in ratio.points[-8:]) == pytest.approx(0.2, abs=0.1)
    p50 = await last("p50(shop_payment_seconds)")
    assert 0.1 < max(p.value for p in p50.points) < 0.5 and p50.labels == {"env": "prod", "quantile": "0.5"}


async def test_the_rate_window_fits_the_step_and_the_scrape_interval(core: CoreClient):
    query = MetricQuery(expression=MetricExpression(metric_name="rate(shop_requests_total)"), step=60)
    series = (await core.metrics.query(query)).items
    assert {s.metadata["rateWindow"] for s in series} == {61}  # a step plus the 1 s scrape interval


async def test_raw_promql_passthrough(core: CoreClient):
    query = MetricQuery(
        expression=MetricExpression(metric_name=""),
        metadata={"promql": 'sum by (job) (shop_queue_depth{queue="orders"}) * 2'},
    )
    page = await core.metrics.query(query)
    assert by_label(page.items, "job") == {"checkout": 10.0, "search": 22.0}
    assert page.items[0].name == 'sum by (job) (shop_queue_depth{queue="orders"}) * 2'

    counter = MetricQuery(expression=MetricExpression(metric_name="shop_requests_total"))
    page = await core.metrics.query(counter)
    assert by_label(page.items, "code") == {"200": 40.0, "500": 2.0}


async def test_series_are_paged_with_cursors_over_the_same_window(core: CoreClient):
    query = depth_query().model_copy(update={"metadata": {"limit": 3}})
    first = await core.metrics.query(query)
    assert len(first.items) == 3 and first.next_cursor
    second = await core.metrics.query(query, cursor=first.next_cursor)
    assert len(second.items) == 1 and second.next_cursor is None
    keys = [(s.labels["job"], s.labels["queue"]) for s in first.items + second.items]
    assert len(set(keys)) == 4
    assert second.items[0].url == first.items[0].url


async def test_step_is_clamped_to_the_servers_point_limit(core: CoreClient, prometheus: Server):
    end = core.clock.now()
    start = end - timedelta(seconds=10_999 * 300)  # about 38 days
    unclamped = {
        "query": "sum(shop_queue_depth)",
        "start": start.timestamp(),
        "end": end.timestamp(),
        "step": 1,
    }
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{prometheus.url}/api/v1/query_range", params=unclamped)
    assert response.status_code == 400 and "11,000 points" in response.json()["error"]

    query = depth_query(aggregation="sum").model_copy(update={"start": start, "end": end, "step": 1})
    page = await core.metrics.query(query)
    assert page.items[0].metadata["step"] == 300  # exactly 11,000 points: the last one at ``end``
    assert latest(page.items[0]) == 26.0


async def test_describe_reports_types_help_units_and_labels(core: CoreClient):
    descriptors = {d.name: d for d in await core.metrics.describe()}
    depth = descriptors["shop_queue_depth"]
    assert depth.type == "gauge"
    assert depth.description == "Jobs waiting in a queue."
    assert {"queue", "job", "instance", "env", "team"} <= set(depth.labels)
    assert "__name__" not in depth.labels
    assert descriptors["shop_requests_total"].type == "counter"
    assert "code" in descriptors["shop_requests_total"].labels
    latency = descriptors["shop_latency_seconds_bucket"]
    assert (latency.type, latency.unit, latency.description) == (
        "histogram",
        "seconds",
        "Time to serve a request.",
    )
    assert "le" in latency.labels
    assert descriptors["up"].labels and descriptors["up"].type == "unknown"
    assert descriptors["search_index_documents"].url.endswith("g0.expr=search_index_documents&g0.tab=0")

    scoped = {d.name for d in await core.metrics.describe(QueryScope(service="search"))}
    assert "search_index_documents" in scoped and "shop_queue_depth" in scoped
    assert "shop_requests_total" not in scoped


async def test_describe_bounds_the_label_lookups(configure_metrics: Any):
    configure_metrics(describe_labels_limit=1)
    core = core_client(Capability.METRIC)
    try:
        descriptors = await core.metrics.describe()
        assert len(descriptors) > 1
        assert descriptors[0].labels and "labelsOmitted" not in descriptors[0].metadata
        assert all(d.metadata == {"labelsOmitted": True} and d.labels == [] for d in descriptors[1:])
    finally:
        await core.aclose()


@pytest.mark.parametrize(
    ("promql", "message"),
    [("sum(shop_queue_depth", "parse error"), ("rate(shop_queue_depth)", "expected type range vector")],
)
async def test_bad_promql_is_a_bad_query_with_prometheus_message(core: CoreClient, promql: str, message: str):
    query = MetricQuery(expression=MetricExpression(metric_name=""), metadata={"promql": promql})
    with pytest.raises(BadQuery, match=message) as caught:
        await core.metrics.query(query)
    assert caught.value.source == "prometheus"
    assert "bad_data" in caught.value.message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            depth_query().model_copy(update={"expression": MetricExpression(metric_name="shop-depth")}),
            "metric name",
        ),
        (depth_query(filters=[MetricFilter(label="bad-label", value="x")]), "label name"),
        (depth_query(aggregation="sum", group_by=["a b"]), "label name"),
        (depth_query().model_copy(update={"step": 0}), "step"),
        (depth_query().model_copy(update={"metadata": {"promql": "  "}}), "promql"),
    ],
)
async def test_malformed_queries_are_refused_before_reaching_prometheus(
    core: CoreClient, query: MetricQuery, message: str
):
    with pytest.raises(BadQuery, match=message):
        await core.metrics.query(query)


async def test_start_must_precede_end(core: CoreClient):
    now = core.clock.now()
    with pytest.raises(BadQuery, match="not before end"):
        await core.metrics.query(depth_query().model_copy(update={"start": now, "end": now - timedelta(1)}))


async def test_a_query_prometheus_times_out_is_unavailable_with_its_reason(configure_metrics: Any):
    configure_metrics(query_timeout=0.000001)
    core = core_client(Capability.METRIC)
    try:
        with pytest.raises(ProviderUnavailable, match="timeout") as caught:
            await core.metrics.query(depth_query(aggregation="sum"))
        assert "503" in caught.value.message
    finally:
        await core.aclose()


async def test_health_reports_the_version(core: CoreClient):
    report = await core.health()
    [health] = report.providers
    assert (report.status, health.provider, health.capability, health.status) == (
        "ok",
        "prometheus",
        "metric",
        "ok",
    )
    assert health.message.startswith("Prometheus 2.")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


SECRET = "s3cr3t-bearer-7f1d2c"


async def test_unreachable_server_is_unavailable_and_never_leaks_the_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPSORCH_METRIC_PROVIDER", "prometheus")
    monkeypatch.setenv(
        "OPSORCH_METRIC_CONFIG",
        f'{{"url": "http://127.0.0.1:{free_port()}", "bearer_token": "{SECRET}"}}',
    )
    core = core_client(Capability.METRIC)
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await core.metrics.query(depth_query())
        assert "ConnectError" in caught.value.message
        health = (await core.health()).providers[0]
        assert health.status == "down"
        texts = [str(caught.value), repr(caught.value), health.model_dump_json(), caplog.text]
        assert all(SECRET not in text for text in texts)
    finally:
        await core.aclose()


async def test_a_silent_server_times_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, silent_port: int
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPSORCH_METRIC_PROVIDER", "prometheus")
    monkeypatch.setenv(
        "OPSORCH_METRIC_CONFIG",
        f'{{"url": "http://127.0.0.1:{silent_port}", "timeout": 0.1, "bearer_token": "{SECRET}"}}',
    )
    core = core_client(Capability.METRIC)
    try:
        with pytest.raises(ProviderUnavailable, match="timed out") as caught:
            await core.metrics.describe()
        assert SECRET not in str(caught.value) and SECRET not in caplog.text
    finally:
        await core.aclose()


async def test_a_configured_token_is_never_logged_on_success_or_bad_query(
    configure_metrics: Any, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    configure_metrics(bearer_token=SECRET)
    core = core_client(Capability.METRIC)
    try:
        page = await core.metrics.query(depth_query(aggregation="count"))
        assert latest(page.items[0]) == 4.0
        with pytest.raises(BadQuery) as caught:
            await core.metrics.query(
                MetricQuery(expression=MetricExpression(metric_name=""), metadata={"promql": "sum("})
            )
        assert SECRET not in str(caught.value)
        assert all(SECRET not in item.url for item in page.items)
        assert SECRET not in caplog.text
    finally:
        await core.aclose()


def test_bad_config_names_the_variable_and_hides_the_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPSORCH_METRIC_PROVIDER", "prometheus")
    monkeypatch.setenv("OPSORCH_METRIC_CONFIG", f'{{"bearer_token": "{SECRET}", "max_points": 20000}}')
    with pytest.raises(ConfigurationError) as caught:
        core_client(Capability.METRIC)
    message = str(caught.value)
    assert "OPSORCH_METRIC_CONFIG" in message and "'url'" in message and "'max_points'" in message
    assert SECRET not in message

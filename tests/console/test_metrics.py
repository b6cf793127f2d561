"""The Metrics page on the small demo world (orders-api's database pool fills up about 45 minutes before the
world's now): the backend functions, and the page state driven without a browser."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

import console.pages.metrics  # noqa: F401  (declares /metrics and its on_load)
from console.backend.metrics import (
    CHART_POINTS,
    MAX_SERIES,
    MetricView,
    chart_step,
    mark_window,
    metric_chart,
    metric_options,
)
from console.state.metrics import DEFAULT_METRIC, MetricsState
from console.state.scope import ScopeState
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.links import format_time, metrics_link, parse_link
from core_client.schemas import MetricPoint, MetricQuery, MetricSeries, Page
from tests.console.demo_world import built_world, demo_core, people, signed_in
from tests.console.test_logs import open_page, run

__all__ = ["built_world", "demo_core", "people"]


def last(core: CoreClient, hours: float, **fields: object) -> MetricView:
    now = core.clock.now()
    return MetricView(start=now - timedelta(hours=hours), end=now, **fields)  # type: ignore[arg-type]


def test_the_url_holds_the_view_and_restores_it() -> None:
    view = MetricView.from_params(
        {
            "metric": "latency_ms",
            "service": "orders-api",
            "group_by": "environment, quantile",
            "from": "2025-06-11T11:20:00Z",
            "to": "2025-06-11T14:20:00Z",
            "mark": "2025-06-11T13:35:00Z",
            "team": "commerce",
        }
    )
    assert view.group_by == ("environment", "quantile") and view.team == "commerce"
    url = view.url()
    assert url.startswith("/metrics?metric=latency_ms&service=orders-api&group_by=environment,quantile&from=")
    assert url.endswith("&team=commerce")
    assert MetricView.from_params(dict(parse_qsl(urlsplit(url).query))) == view
    plain = view.model_copy(update={"team": ""})
    assert parse_link(plain.url()) == metrics_link(
        metric="latency_ms",
        service="orders-api",
        group_by=["environment", "quantile"],
        start=view.start,
        end=view.end,
        mark=view.mark,
    )
    assert view.page_params() == {
        "metric": "latency_ms",
        "group_by": "environment,quantile",
        "mark": "2025-06-11T13:35:00Z",
    }
    with pytest.raises(BadQuery):
        MetricView.from_params({"mark": "soon"})


async def test_the_picker_lists_what_describe_says(demo_core: CoreClient) -> None:
    everything = await metric_options(demo_core)
    orders = await metric_options(demo_core, "orders-api")

    assert [option.name for option in everything] == sorted(option.name for option in everything)
    assert {"db_pool_in_use", "error_rate", "queue_depth"} <= {option.name for option in everything}
    assert "db_pool_in_use" in {o.name for o in orders} and "queue_depth" not in {o.name for o in orders}
    latency = next(option for option in everything if option.name == "latency_ms")
    assert latency.labels == ["service", "environment", "quantile"] and latency.unit == "ms"


async def test_series_with_their_band_anomalies_and_mark(demo_core: CoreClient) -> None:
    now = demo_core.clock.now()
    options = {option.name: option for option in await metric_options(demo_core, "orders-api")}
    view = last(demo_core, 3, metric="db_pool_in_use", service="orders-api", mark=now - timedelta(minutes=45))

    chart = await metric_chart(demo_core, view, options["db_pool_in_use"])
    assert [series.name for series in chart.series] == ["prod", "staging"]
    assert (chart.step_seconds, len(chart.points)) == (60, 180)
    assert chart.points[0]["label"] == (now - timedelta(hours=3)).strftime("%H:%M")
    # The band describes the first series, from the two days before the window: lower below upper, the pool's
    # normal use inside it before the onset, and the full pool (40) far above it after.
    assert chart.band_of == "prod"
    assert all(point["band"][0] < point["band"][1] for point in chart.points)
    assert chart.points[0]["band"][0] <= chart.points[0]["s0"] <= chart.points[0]["band"][1]
    assert chart.points[-1]["s0"] == 40 and chart.points[-1]["s0"] > chart.points[-1]["band"][1]
    # One anomaly, on prod: up, from about the scenario's onset, still going; the mark sits at 45 minutes ago.
    assert [(a.series, a.direction, a.ongoing) for a in chart.anomalies] == [("prod", "up", True)]
    onset = chart.anomalies[0].onset
    labels = [point["label"] for point in chart.points]
    assert abs(labels.index(onset) - labels.index(chart.mark)) <= 10
    assert chart.mark == (now - timedelta(minutes=45)).strftime("%H:%M")


async def test_group_by_names_series_and_keeps_the_anomalous_first(demo_core: CoreClient) -> None:
    options = {option.name: option for option in await metric_options(demo_core)}
    view = last(demo_core, 3, metric="error_rate", group_by=("service",))

    chart = await metric_chart(demo_core, view, options["error_rate"])
    assert chart.total == 15 and chart.shown == len(chart.series) == MAX_SERIES
    assert chart.series[0].name == "orders-api" and chart.band_of == "orders-api"
    anomalous = [anomaly.series for anomaly in chart.anomalies]
    assert anomalous[0] == "orders-api" and "checkout-api" in anomalous
    assert [series.name for series in chart.series[: len(anomalous)]] == anomalous
    assert {key for point in chart.points for key in point} <= {
        "label",
        "band",
        *(s.key for s in chart.series),
    }


async def test_a_percentage_never_goes_below_0_and_onsets_carry_one_label(demo_core: CoreClient) -> None:
    options = {option.name: option for option in await metric_options(demo_core)}
    assert options["error_rate"].unit == "percent"
    view = last(demo_core, 24, metric="error_rate")

    chart = await metric_chart(demo_core, view, options["error_rate"])
    assert chart.floor == 0.0
    assert min(point["band"][0] for point in chart.points if "band" in point) >= 0.0
    # Several series began at nearly the same time: one line per place on the axis, and one label in all.
    assert len(chart.anomalies) > 1
    assert len({line.x for line in chart.onsets}) == len(chart.onsets)
    assert {line.x for line in chart.onsets} == {anomaly.onset for anomaly in chart.anomalies}
    labels = [point["label"] for point in chart.points]
    first = min(chart.onsets, key=lambda line: labels.index(line.x))
    assert [line.label for line in chart.onsets if line.label] == ["onset"] and first.label == "onset"


async def test_series_are_downsampled_to_what_a_chart_can_show(demo_core: CoreClient, monkeypatch) -> None:
    assert chart_step(timedelta(days=7), CHART_POINTS) == 1560
    week = await metric_chart(demo_core, last(demo_core, 24 * 7, metric="error_rate", service="orders-api"))
    assert 0 < len(week.points) <= CHART_POINTS

    # A provider that ignores the step asked for still yields a chart of at most CHART_POINTS points.
    now = demo_core.clock.now()

    async def every_second(query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        assert query.start is not None
        points = [
            MetricPoint(timestamp=query.start + timedelta(seconds=s), value=float(s % 7))
            for s in range(3 * 3600)
        ]
        return Page[MetricSeries](items=[MetricSeries(name="hits", labels={"service": "x"}, points=points)])

    monkeypatch.setattr(demo_core.provider_for(Capability.METRIC).instance, "query", every_second)
    dense = await metric_chart(demo_core, MetricView(metric="hits", start=now - timedelta(hours=3), end=now))
    assert 0 < len(dense.points) <= CHART_POINTS


def test_a_mark_outside_the_window_moves_the_window_to_it() -> None:
    view = MetricView.from_params(
        {"from": "2025-06-11T11:20:00Z", "to": "2025-06-11T14:20:00Z", "mark": "2025-06-10T08:00:00Z"}
    )
    now = view.end
    assert now is not None
    moved = mark_window(view, now=now)
    assert moved is not None and moved.span == timedelta(hours=3)
    assert (format_time(moved.start), format_time(moved.end)) == (
        "2025-06-10T06:30:00Z",
        "2025-06-10T09:30:00Z",
    )
    inside = view.model_copy(update={"mark": now - timedelta(hours=1)})
    assert (
        mark_window(inside, now=now) is None
        and mark_window(view.model_copy(update={"mark": None}), now=now) is None
    )


# --- the page state -------------------------------------------------------------------------------------------


def metrics_url(core: CoreClient, **params: str) -> str:
    now = core.clock.now()
    window = {"from": format_time(now - timedelta(hours=3)), "to": format_time(now)}
    return "/metrics?" + "&".join(f"{name}={value}" for name, value in {**window, **params}.items())


async def test_the_state_charts_a_metrics_link_with_its_mark(demo_core: CoreClient, people) -> None:
    mark = format_time(demo_core.clock.now() - timedelta(minutes=45))
    client = await signed_in(
        demo_core, "vera", metrics_url(demo_core, metric="db_pool_in_use", service="orders-api", mark=mark)
    )
    await open_page(client)

    state = await client.state(MetricsState)
    assert (state.metric, state.mark, state.group_by) == ("db_pool_in_use", mark[:16], [])
    assert not state.chart_loading and state.chart_error == state.options_error == ""
    assert [series.name for series in state.series] == ["prod", "staging"] and state.band_of == "prod"
    assert state.mark_label and state.anomalies[0].direction == "up"
    assert "db_pool_in_use" in [option.name for option in state.options]
    assert state.labels == ["service", "environment"] and state.unit == "connections"


async def test_a_bare_url_picks_a_metric_and_changes_write_the_url(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", metrics_url(demo_core))
    sent = await open_page(client)

    state = await client.state(MetricsState)
    assert state.metric == DEFAULT_METRIC and state.series
    mode, url = sent.urls()[0]
    assert mode == "replaceState" and dict(parse_qsl(urlsplit(url).query))["metric"] == DEFAULT_METRIC

    grouped = await run(client, await client.fire(MetricsState.toggle_group, label="service"))
    mode, url = grouped.urls()[0]
    assert mode == "pushState" and dict(parse_qsl(urlsplit(url).query))["group_by"] == "service"
    state = await client.state(MetricsState)
    assert state.group_by == ["service"] and state.series[0].name == "orders-api"

    other = await signed_in(demo_core, "vera", url)  # another tab, opening the URL written
    await open_page(other)
    assert [s.name for s in (await other.state(MetricsState)).series] == [s.name for s in state.series]

    marked = await run(client, await client.fire(MetricsState.place_mark, form={"mark": "2025-06-11T13:35"}))
    assert dict(parse_qsl(urlsplit(marked.urls()[0][1]).query))["mark"] == "2025-06-11T13:35:00Z"
    assert (await client.state(MetricsState)).mark_label == "13:35"


async def test_a_link_whose_mark_needs_another_window_moves_only_while_the_page_is_open(
    demo_core: CoreClient, people
) -> None:
    # A citation's link with a mark a day before the window: the page opens the window around the mark...
    mark = format_time(demo_core.clock.now() - timedelta(days=1))
    link = metrics_url(demo_core, metric="error_rate", mark=mark)
    client = await signed_in(demo_core, "vera", link)
    await client.fire(ScopeState.open_page)
    await client.fire(MetricsState.load)
    moved = await client.fire(MetricsState.fetch)
    [target] = moved.redirects()
    assert dict(parse_qsl(urlsplit(target).query))["mark"] == mark

    # ... but not once the person has gone Back: the page they are on keeps its address.
    late = await signed_in(demo_core, "vera", link)
    await late.fire(ScopeState.open_page)
    await late.fire(MetricsState.load)
    late.goto("/incidents")
    assert (await late.fire(MetricsState.fetch)).redirects() == []


async def test_a_failing_metric_provider_shows_on_its_panel(
    demo_core: CoreClient, people, monkeypatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection refused")

    provider = demo_core.provider_for(Capability.METRIC).instance
    monkeypatch.setattr(provider, "query", broken)
    monkeypatch.setattr(provider, "describe", broken)
    client = await signed_in(demo_core, "vera", metrics_url(demo_core, metric="error_rate"))
    await open_page(client)

    state = await client.state(MetricsState)
    assert "connection refused" in state.chart_error and "connection refused" in state.options_error
    assert state.points == [] and not state.chart_loading

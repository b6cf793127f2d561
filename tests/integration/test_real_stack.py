"""Issue 7's "done when": with a real Prometheus and a real Alertmanager configured (every other capability on the
demo world), the console's Metrics and Alerts pages and the Copilot show their real data.

The servers are Debian's ``prometheus`` and ``prometheus-alertmanager``, started once by the adapter tests'
fixtures (imported here): Prometheus scrapes two prometheus_client exporters whose values the fixture set
(checkout's queues orders 5, emails 7 and an oddly named one 3; search's orders 11 and 1234 index documents), and
Alertmanager holds four posted alerts, NoisyProbe silenced.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import console.pages.metrics  # noqa: F401  (declares /metrics and its on_load)
from console import runtime
from console.backend.alerts import AlertFilters, alert_view, alerts_page
from console.backend.metrics import ChartSeries, MetricView, metric_chart, metric_options
from console.backend.session import ConsoleSessions
from console.state.alerts import AlertsState, AlertState
from console.state.metrics import MetricsState
from copilot.answer import Evidence, EvidenceKind
from copilot.evidence import extract_evidence
from copilot.planning import ToolOutcome, ToolRequest
from copilot.toolbox import Toolbox
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.links import format_time, parse_link
from core_client.schemas import QueryScope
from core_client.settings import load_settings
from tests.adapters.alertmanager.conftest import GENERATOR, AlertWorld, alertmanager
from tests.adapters.prometheus.conftest import ODD_QUEUE, prometheus, shop
from tests.adapters.prometheus.servers import Server
from tests.console.demo_world import PASSWORD, built_world, signed_in
from tests.console.test_logs import open_page
from tests.demo.world_fixture import install

__all__ = ["alertmanager", "built_world", "prometheus", "shop"]

pytestmark = pytest.mark.services

CHECKOUT_DEPTHS = {"orders": 5.0, "emails": 7.0, ODD_QUEUE: 3.0}
FIRING = {"HighErrorRate", "DiskFilling", "Billing export lagging"}
HIGH_ERROR_RATE = "Checkout 5xx above 5%"  # the summary annotation the fixture's fingerprints are keyed by


@pytest.fixture
async def core(
    monkeypatch: pytest.MonkeyPatch, prometheus: Server, alertmanager: AlertWorld, built_world: Path
) -> AsyncIterator[CoreClient]:
    """The console's CoreClient as an operator configures it: metrics from Prometheus, alerts from Alertmanager,
    everything else from the demo world. One viewer, vera, may sign in."""
    monkeypatch.setenv("OPSORCH_METRIC_PROVIDER", "prometheus")
    monkeypatch.setenv("OPSORCH_METRIC_CONFIG", json.dumps({"url": prometheus.url}))
    monkeypatch.setenv("OPSORCH_ALERT_PROVIDER", "alertmanager")
    monkeypatch.setenv("OPSORCH_ALERT_CONFIG", json.dumps({"url": alertmanager.server.url}))
    install(built_world)
    client = CoreClient.from_settings(load_settings())
    assert {p.capability.value: p.name for p in client.providers() if p.name != "demo"} == {
        "metric": "prometheus",
        "alert": "alertmanager",
    }
    monkeypatch.setattr(runtime, "RUNTIME", runtime.CoreRuntime(lambda: client))
    ConsoleSessions.of(client).users.add("vera", Role.VIEWER, PASSWORD)
    yield client
    await client.aclose()


def hour_to_a_minute_ahead() -> tuple[datetime, datetime]:
    """An hour's window ending a minute from now.

    The chart reads one point a minute in a half-open window: the point at the window's end is left out, and the
    point before it must be one Prometheus has data for. Ending a minute ahead puts that point at now, since the
    servers started seconds ago. Now is rounded up to the second: rounded down, it can fall before the first scrape
    when a test runs within a second of it, and every series would be empty."""
    now = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    return now + timedelta(minutes=1) - timedelta(hours=1), now + timedelta(minutes=1)


def latest(points: list[dict[str, Any]], series: list[ChartSeries]) -> dict[str, float]:
    """Each chart series' last value, by the name the page shows it under."""
    return {
        entry.name: next(point[entry.key] for point in reversed(points) if entry.key in point)
        for entry in series
    }


# --- the Metrics page ------------------------------------------------------------------------------------------


async def test_the_metric_picker_lists_what_prometheus_describes(core: CoreClient) -> None:
    options = {option.name: option for option in await metric_options(core)}
    depth = options["shop_queue_depth"]
    assert (depth.type, depth.description) == ("gauge", "Jobs waiting in a queue.")
    assert "queue" in depth.labels
    assert options["shop_requests_total"].type == "counter"
    assert "search_index_documents" in options

    checkout = {option.name for option in await metric_options(core, "checkout")}
    assert "shop_queue_depth" in checkout and "search_index_documents" not in checkout


async def test_the_metrics_backend_charts_the_exporters_values(core: CoreClient) -> None:
    start, end = hour_to_a_minute_ahead()
    option = next(o for o in await metric_options(core) if o.name == "shop_queue_depth")
    view = MetricView(metric="shop_queue_depth", service="checkout", start=start, end=end)

    chart = await metric_chart(core, view, option)
    assert (chart.total, chart.step_seconds) == (3, 60)
    assert latest(chart.points, chart.series) == CHECKOUT_DEPTHS
    # Prometheus started seconds ago: nothing is said to have stayed within a baseline that does not exist.
    assert chart.anomalies == [] and chart.quiet.startswith(
        "Not compared with a baseline: no baseline for"
    ), chart

    # A gauge grouped is averaged: checkout's three queues (5, 7, 3) and search's one (11).
    grouped = await metric_chart(core, view.model_copy(update={"service": "", "group_by": ("job",)}), option)
    assert latest(grouped.points, grouped.series) == {"checkout": 5.0, "search": 11.0}


async def test_the_metrics_page_state_shows_the_exporters_values(core: CoreClient) -> None:
    start, end = hour_to_a_minute_ahead()
    url = f"/metrics?metric=shop_queue_depth&service=checkout&from={format_time(start)}&to={format_time(end)}"
    client = await signed_in(core, "vera", url)
    await open_page(client)

    state = await client.state(MetricsState)
    assert (state.chart_error, state.options_error, state.chart_loading) == ("", "", False)
    assert (state.metric, state.description) == ("shop_queue_depth", "Jobs waiting in a queue.")
    assert "queue" in state.labels and "shop_queue_depth" in {option.name for option in state.options}
    assert latest(state.points, state.series) == CHECKOUT_DEPTHS


async def test_the_metrics_page_on_its_default_range_shows_the_real_series(core: CoreClient) -> None:
    client = await signed_in(core, "vera", "/metrics?metric=shop_queue_depth&service=checkout")
    await open_page(client)

    state = await client.state(MetricsState)
    assert state.chart_error == ""
    assert sorted(series.name for series in state.series) == sorted(CHECKOUT_DEPTHS)


# --- the Alerts page -------------------------------------------------------------------------------------------


async def test_the_alerts_backend_lists_firing_alerts_first_then_the_silenced_one(
    core: CoreClient, alertmanager: AlertWorld
) -> None:
    firing = await alerts_page(core, AlertFilters(), QueryScope(), None)
    assert {row.title for row in firing.rows} == FIRING and {row.status for row in firing.rows} == {"firing"}
    fingerprint = alertmanager.fingerprints[HIGH_ERROR_RATE]
    high = next(row for row in firing.rows if row.title == "HighErrorRate")
    assert (high.id, high.severity, high.service, high.link) == (
        fingerprint,
        "critical",
        "checkout",
        f"/alerts/{fingerprint}",
    )
    assert firing.next_cursor is not None
    rest = await alerts_page(core, AlertFilters(), QueryScope(), firing.next_cursor)
    assert [(row.title, row.status) for row in rest.rows] == [("NoisyProbe", "silenced")]
    assert rest.next_cursor is None

    scoped = await alerts_page(core, AlertFilters(status="firing"), QueryScope(service="checkout"), None)
    assert [row.title for row in scoped.rows] == ["HighErrorRate"]
    warnings = await alerts_page(core, AlertFilters(severity="warning"), QueryScope(), None)
    assert {row.title for row in warnings.rows} == {"DiskFilling", "Billing export lagging"}


def pairs(text: str) -> set[str]:
    return set(text.split(", "))


async def test_one_alert_shows_its_labels_and_annotations(core: CoreClient, alertmanager: AlertWorld) -> None:
    alert = await alert_view(core, alertmanager.fingerprints[HIGH_ERROR_RATE])
    assert alert.title == "HighErrorRate"
    assert (alert.status, alert.severity, alert.service) == ("firing", "critical", "checkout")
    assert alert.description == "checkout returns 502 for 7% of requests"
    assert (alert.url, alert.service_link) == (GENERATOR, "/services/checkout")
    fields = {row.label: row.value for row in alert.fields}
    assert pairs(fields["labels"]) == {
        "alertname=HighErrorRate",
        "severity=critical",
        "service=checkout",
        "env=prod",
        "team=payments",
    }
    assert pairs(fields["annotations"]) == {
        f"summary={HIGH_ERROR_RATE}",
        "description=checkout returns 502 for 7% of requests",
    }


async def test_the_alerts_page_states(core: CoreClient, alertmanager: AlertWorld) -> None:
    client = await signed_in(core, "vera", "/alerts")
    await open_page(client)
    alerts = await client.state(AlertsState)
    assert {row.title for row in alerts.rows} == FIRING and alerts.has_next

    client.goto(f"/alerts/{alertmanager.fingerprints[HIGH_ERROR_RATE]}", route="/alerts/[alert_ref]")
    await open_page(client)
    one = await client.state(AlertState)
    assert (one.error, one.alert.title, one.alert.description) == (
        "",
        "HighErrorRate",
        "checkout returns 502 for 7% of requests",
    )


async def test_an_alerts_age_counts_from_the_real_now(core: CoreClient) -> None:
    # The fixture posted every alert as started ten minutes before it ran.
    firing = await alerts_page(core, AlertFilters(status="firing"), QueryScope(), None)
    assert all(re.fullmatch(r"1[01]m ago", row.age) for row in firing.rows), [row.age for row in firing.rows]


# --- the Copilot -----------------------------------------------------------------------------------------------


async def copilot_calls(core: CoreClient, *requests: ToolRequest) -> list[tuple[ToolOutcome, list[Evidence]]]:
    """Each request made through the Copilot's toolbox (OpsPilot's own MCP server over ``core``), with the
    evidence the Copilot extracts from its outcome."""
    notes: list[str] = []
    made = []
    async with Toolbox.open(core.settings, core, Actor.copilot_for("vera", Role.VIEWER), notes) as box:
        for n, request in enumerate(requests):
            outcome = await box.call(request, call_id=f"call-{n}")
            spec = box.spec(request.tool)
            assert spec is not None, request.tool
            made.append((outcome, extract_evidence(spec, outcome)))
    assert notes == []
    return made


async def test_the_copilot_reads_and_cites_the_real_metrics(core: CoreClient) -> None:
    [(described, nothing), (queried, evidence)] = await copilot_calls(
        core,
        ToolRequest(tool="opspilot.describe_metrics", arguments={"service": "checkout"}),
        ToolRequest(
            tool="opspilot.query_metrics",
            arguments={"metric_name": "shop_queue_depth", "service": "checkout"},
        ),
    )
    assert described.ok and "shop_queue_depth" in {item["name"] for item in described.structured["items"]}
    assert nothing == []
    assert queried.ok, queried.error
    series = {item["labels"]["queue"]: item for item in queried.structured["items"]}
    assert {queue: item["points"][-1]["value"] for queue, item in series.items()} == CHECKOUT_DEPTHS

    cited = {item.ref: item for item in evidence}
    orders_ref = next(ref for ref in cited if "queue=orders" in ref)
    orders = cited[orders_ref]
    assert len(cited) == 3 and orders_ref.startswith("checkout:shop_queue_depth{")
    assert (orders.id, orders.kind, orders.tool_call_id) == (
        f"metric:{orders_ref}",
        EvidenceKind.METRIC,
        "call-1",
    )
    assert ": 5 at " in orders.excerpt and "min 5, max 5" in orders.excerpt
    assert orders.link is not None
    link = parse_link(orders.link)
    assert (link.kind, link.params["metric"], link.params["service"]) == (
        "metrics",
        "shop_queue_depth",
        "checkout",
    )


async def test_the_copilot_reads_and_cites_the_real_alerts(
    core: CoreClient, alertmanager: AlertWorld
) -> None:
    [(outcome, evidence)] = await copilot_calls(
        core, ToolRequest(tool="opspilot.query_alerts", arguments={"statuses": ["firing"]})
    )
    assert outcome.ok, outcome.error
    assert {item["title"] for item in outcome.structured["items"]} == FIRING

    fingerprint = alertmanager.fingerprints[HIGH_ERROR_RATE]
    cited = {item.id: item for item in evidence}
    assert len(cited) == 3
    high = cited[f"alert:{fingerprint}"]
    assert (high.kind, high.link) == (EvidenceKind.ALERT, f"/alerts/{fingerprint}")
    assert high.excerpt.startswith(f"{fingerprint} [critical, firing] HighErrorRate (checkout, since ")

    # The citation's link opens the real alert in the console.
    assert high.link is not None
    client = await signed_in(core, "vera", high.link, route="/alerts/[alert_ref]")
    await open_page(client)
    assert (await client.state(AlertState)).alert.title == "HighErrorRate"


async def test_the_copilots_anomaly_check_looks_at_the_present_by_default(core: CoreClient) -> None:
    asked = datetime.now(UTC)
    [(outcome, _)] = await copilot_calls(
        core,
        ToolRequest(
            tool="opspilot.detect_metric_anomalies",
            arguments={"service": "checkout", "metric_names": ["shop_queue_depth"]},
        ),
    )
    assert outcome.ok, outcome.error
    # Its window ends at the Copilot's "now", which must be the servers' present, not the demo world's day.
    assert datetime.fromisoformat(outcome.structured["detectEnd"].replace("Z", "+00:00")) >= asked

"""A real Prometheus scraping two test exporters (jobs ``checkout`` and ``search``) every second."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import Counter, Gauge, Histogram

from core_client.capabilities import Capability
from core_client.client import CoreClient
from tests.adapters.prometheus.servers import Exporter, Server, core_client, poll, prometheus_server

ODD_QUEUE = 'we"ird\\queue'


@dataclass
class Shop:
    """The metrics the tests drive, per job."""

    checkout: Exporter
    search: Exporter
    checkout_depth: Gauge
    search_depth: Gauge
    requests: Counter
    latency: Histogram
    index_documents: Gauge
    # Driven only by the tests of rates, quantiles and error ratios.
    payments: Counter
    payment_seconds: Histogram


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    checkout, search = Exporter(), Exporter()
    labels = ["queue"]
    shop = Shop(
        checkout=checkout,
        search=search,
        checkout_depth=Gauge(
            "shop_queue_depth", "Jobs waiting in a queue.", labels, registry=checkout.registry
        ),
        search_depth=Gauge("shop_queue_depth", "Jobs waiting in a queue.", labels, registry=search.registry),
        requests=Counter("shop_requests", "Requests served.", ["code"], registry=checkout.registry),
        latency=Histogram(
            "shop_latency_seconds", "Time to serve a request.", registry=checkout.registry, buckets=(0.1, 1.0)
        ),
        index_documents=Gauge("search_index_documents", "Documents in the index.", registry=search.registry),
        payments=Counter("shop_payments", "Payments taken.", ["status"], registry=checkout.registry),
        payment_seconds=Histogram(
            "shop_payment_seconds",
            "Time to take a payment.",
            registry=checkout.registry,
            buckets=(0.1, 0.5, 1.0),
        ),
    )
    shop.checkout_depth.labels(queue="orders").set(5)
    shop.checkout_depth.labels(queue="emails").set(7)
    shop.checkout_depth.labels(queue=ODD_QUEUE).set(3)
    shop.search_depth.labels(queue="orders").set(11)
    shop.requests.labels(code="200").inc(40)
    shop.requests.labels(code="500").inc(2)
    shop.latency.observe(0.05)
    shop.index_documents.set(1234)
    checkout.start()
    search.start()
    try:
        yield shop
    finally:
        checkout.stop()
        search.stop()


@pytest.fixture(scope="session")
def prometheus(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Prometheus, once both exporters' values have been scraped (and their metadata seen)."""
    jobs = {
        "checkout": (shop.checkout.port, {"env": "prod", "team": "payments"}),
        "search": (shop.search.port, {"env": "staging", "team": "discovery"}),
    }
    with prometheus_server(tmp_path_factory.mktemp("prometheus"), jobs) as server:

        def scraped() -> bool:
            result = server.get("/api/v1/query", query="count(shop_queue_depth) == 4 and count(up == 1) == 2")
            metadata = server.get("/api/v1/metadata")["data"]
            return bool(result["data"]["result"]) and "search_index_documents" in metadata

        poll(scraped, timeout=20, what="Prometheus to scrape both exporters")
        yield server


@pytest.fixture
def configure_metrics(monkeypatch: pytest.MonkeyPatch, prometheus: Server) -> Any:
    """Point OPSORCH_METRIC_* at the test Prometheus (or elsewhere), with extra config keys."""

    def configure(**config: Any) -> None:
        monkeypatch.setenv("OPSORCH_METRIC_PROVIDER", "prometheus")
        monkeypatch.setenv("OPSORCH_METRIC_CONFIG", json.dumps({"url": prometheus.url, **config}))

    return configure


@pytest.fixture
async def core(configure_metrics: Any) -> AsyncIterator[CoreClient]:
    """A CoreClient whose metric provider is the test Prometheus, with scope labels job/env/team."""
    configure_metrics(scope_labels={"service": "job", "environment": "env", "team": "team"})
    client = core_client(Capability.METRIC)
    try:
        yield client
    finally:
        await client.aclose()

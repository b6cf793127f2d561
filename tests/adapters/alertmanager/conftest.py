"""A real Alertmanager holding alerts the tests post, one of them silenced."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient
from tests.adapters.prometheus.servers import Server, alertmanager_server, core_client, poll

GENERATOR = "http://prometheus.example:9090/graph?g0.expr=up"

ALERTS: list[dict[str, Any]] = [
    {
        "labels": {
            "alertname": "HighErrorRate",
            "severity": "critical",
            "service": "checkout",
            "env": "prod",
            "team": "payments",
        },
        "annotations": {
            "summary": "Checkout 5xx above 5%",
            "description": "checkout returns 502 for 7% of requests",
        },
        "generatorURL": GENERATOR,
    },
    {
        "labels": {"alertname": "DiskFilling", "severity": "warning", "service": "search", "env": "staging"},
        "annotations": {"summary": "Disk 90% full on search-1"},
    },
    {
        "labels": {"alertname": "NoisyProbe", "severity": "info", "service": "checkout", "env": "prod"},
        "annotations": {"summary": "Blackbox probe flapping"},
    },
    {
        "labels": {"severity": "warning", "service": "billing", "env": "prod"},
        "annotations": {"summary": "Billing export lagging"},
    },
]


@dataclass
class AlertWorld:
    server: Server
    silence_id: str
    fingerprints: dict[str, str]  # summary annotation -> fingerprint


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertWorld]:
    """Alertmanager with ALERTS posted (started ten minutes ago) and NoisyProbe silenced for an hour."""
    with alertmanager_server(tmp_path_factory.mktemp("alertmanager")) as server:
        now = datetime.now(UTC)
        started = (now - timedelta(minutes=10)).isoformat()
        posted = [{**alert, "startsAt": started} for alert in ALERTS]
        httpx.post(f"{server.url}/api/v2/alerts", json=posted, timeout=5).raise_for_status()
        silence = {
            "matchers": [{"name": "alertname", "value": "NoisyProbe", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "opspilot-tests",
            "comment": "probe under maintenance",
        }
        response = httpx.post(f"{server.url}/api/v2/silences", json=silence, timeout=5)
        response.raise_for_status()

        def settled() -> list[dict[str, Any]] | None:
            alerts = server.get("/api/v2/alerts")
            states = sorted(a["status"]["state"] for a in alerts)
            return alerts if states == ["active", "active", "active", "suppressed"] else None

        alerts = poll(settled, timeout=15, what="Alertmanager to process the posted alerts")
        fingerprints = {a["annotations"]["summary"]: a["fingerprint"] for a in alerts}
        yield AlertWorld(server=server, silence_id=response.json()["silenceID"], fingerprints=fingerprints)


@pytest.fixture
def configure_alerts(monkeypatch: pytest.MonkeyPatch, alertmanager: AlertWorld) -> Any:
    """Point OPSORCH_ALERT_* at the test Alertmanager, with extra config keys."""

    def configure(**config: Any) -> None:
        monkeypatch.setenv("OPSORCH_ALERT_PROVIDER", "alertmanager")
        monkeypatch.setenv("OPSORCH_ALERT_CONFIG", json.dumps({"url": alertmanager.server.url, **config}))

    return configure


@pytest.fixture
async def core(configure_alerts: Any) -> AsyncIterator[CoreClient]:
    """A CoreClient whose alert provider is the test Alertmanager, with the default configuration."""
    configure_alerts()
    client = core_client(Capability.ALERT)
    try:
        yield client
    finally:
        await client.aclose()

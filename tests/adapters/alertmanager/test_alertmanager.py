"""The alertmanager provider against a real Alertmanager, read back through CoreClient."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.alertmanager import AlertmanagerAlerts
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import BadQuery, NotFound, ProviderUnavailable
from core_client.schemas import AlertQuery, QueryScope
from tests.adapters.alertmanager.conftest import GENERATOR, AlertWorld
from tests.adapters.prometheus.servers import core_client, free_port

pytestmark = pytest.mark.services

SECRET = "am-bearer-0c9e4b1a"


def titles(page: Any) -> set[str]:
    return {alert.title for alert in page.items}


async def test_alerts_are_mapped_from_labels_and_annotations(core: CoreClient, alertmanager: AlertWorld):
    page = await core.alerts.query()
    assert page.next_cursor is None
    assert titles(page) == {"HighErrorRate", "DiskFilling", "NoisyProbe", "Billing export lagging"}
    alert = next(a for a in page.items if a.title == "HighErrorRate")
    assert alert.id == alertmanager.fingerprints["Checkout 5xx above 5%"]
    assert alert.description == "checkout returns 502 for 7% of requests"
    assert (alert.status, alert.severity, alert.service) == ("firing", "critical", "checkout")
    assert alert.url == GENERATOR
    assert alert.created_at is not None and alert.updated_at is not None
    assert timedelta(minutes=9) < datetime.now(UTC) - alert.created_at < timedelta(minutes=11)
    assert alert.fields["labels"]["team"] == "payments"
    assert alert.fields["annotations"]["summary"] == "Checkout 5xx above 5%"
    assert alert.metadata["receivers"] == ["blackhole"] and alert.metadata["state"] == "active"

    disk = next(a for a in page.items if a.title == "DiskFilling")
    # No description annotation: the summary describes it. No generatorURL: a link to the alert in Alertmanager.
    assert disk.description == "Disk 90% full on search-1"
    assert disk.url.startswith(f"{alertmanager.server.url}/#/alerts?filter=")
    assert "DiskFilling" in disk.url

    # Without an alertname, the summary is the title.
    billing = next(a for a in page.items if a.service == "billing")
    assert (billing.title, billing.description) == ("Billing export lagging", "")

    # Newest first, ties broken by fingerprint: a stable order for cursors.
    assert [a.id for a in page.items] == sorted(a.id for a in page.items)


async def test_silenced_alerts_are_marked(core: CoreClient, alertmanager: AlertWorld):
    page = await core.alerts.query(AlertQuery(statuses=["silenced"]))
    [noisy] = page.items
    assert (noisy.title, noisy.status) == ("NoisyProbe", "silenced")
    assert noisy.metadata["silencedBy"] == [alertmanager.silence_id]

    assert titles(await core.alerts.query(AlertQuery(statuses=["suppressed"]))) == {"NoisyProbe"}
    firing = await core.alerts.query(AlertQuery(statuses=["firing"]))
    assert titles(firing) == {"HighErrorRate", "DiskFilling", "Billing export lagging"}
    assert titles(await core.alerts.query(AlertQuery(statuses=["active"]))) == titles(firing)
    assert len((await core.alerts.query(AlertQuery(statuses=["firing", "silenced"]))).items) == 4
    # Alertmanager drops resolved alerts from its API, so nothing it serves is resolved.
    assert (await core.alerts.query(AlertQuery(statuses=["resolved"]))).items == []


async def test_unknown_status_is_a_bad_query(core: CoreClient):
    with pytest.raises(BadQuery, match="unknown alert status 'acknowledged'"):
        await core.alerts.query(AlertQuery(statuses=["acknowledged"]))


async def test_severity_text_and_scope_filters(core: CoreClient):
    warning = await core.alerts.query(AlertQuery(severities=["warning"]))
    assert titles(warning) == {"DiskFilling", "Billing export lagging"}
    assert titles(await core.alerts.query(AlertQuery(severities=["CRITICAL", "info"]))) == {
        "HighErrorRate",
        "NoisyProbe",
    }
    # Free text covers alertname, summary and description, case-insensitively.
    assert titles(await core.alerts.query(AlertQuery(query="diskfill"))) == {"DiskFilling"}
    assert titles(await core.alerts.query(AlertQuery(query="502 FOR"))) == {"HighErrorRate"}
    assert titles(await core.alerts.query(AlertQuery(query="export"))) == {"Billing export lagging"}

    checkout = await core.alerts.query(AlertQuery(scope=QueryScope(service="checkout")))
    assert titles(checkout) == {"HighErrorRate", "NoisyProbe"}
    prod_payments = AlertQuery(scope=QueryScope(environment="prod", team="payments"))
    assert titles(await core.alerts.query(prod_payments)) == {"HighErrorRate"}
    combined = AlertQuery(scope=QueryScope(service="checkout"), statuses=["firing"], severities=["critical"])
    assert titles(await core.alerts.query(combined)) == {"HighErrorRate"}


async def test_scope_and_severity_label_names_are_configurable(configure_alerts: Any):
    configure_alerts(scope_labels={"service": "alertname", "environment": None}, severity_label="env")
    core = core_client(Capability.ALERT)
    try:
        page = await core.alerts.query(AlertQuery(scope=QueryScope(service="DiskFilling")))
        [disk] = page.items
        assert (disk.service, disk.severity) == ("DiskFilling", "staging")
        with pytest.raises(BadQuery, match=r"scope_labels\.environment"):
            await core.alerts.query(AlertQuery(scope=QueryScope(environment="prod")))
    finally:
        await core.aclose()


async def test_pages_follow_cursors(core: CoreClient):
    first = await core.alerts.query(AlertQuery(limit=3))
    assert len(first.items) == 3 and first.next_cursor
    second = await core.alerts.query(AlertQuery(limit=3), cursor=first.next_cursor)
    assert len(second.items) == 1 and second.next_cursor is None
    assert len({a.id for a in first.items + second.items}) == 4


async def test_get_by_fingerprint_or_not_found(core: CoreClient, alertmanager: AlertWorld):
    fingerprint = alertmanager.fingerprints["Disk 90% full on search-1"]
    alert = await core.alerts.get(fingerprint)
    assert (alert.id, alert.title, alert.service) == (fingerprint, "DiskFilling", "search")
    with pytest.raises(NotFound, match="0000000000000000") as caught:
        await core.alerts.get("0000000000000000")
    assert caught.value.source == "alertmanager"


async def test_silences_are_listed(core: CoreClient, alertmanager: AlertWorld):
    provider = core.provider_for(Capability.ALERT).instance
    assert isinstance(provider, AlertmanagerAlerts)
    [silence] = await provider.silences()
    assert silence.id == alertmanager.silence_id
    assert (silence.status, silence.created_by, silence.comment) == (
        "active",
        "opspilot-tests",
        "probe under maintenance",
    )
    assert [(m.name, m.value, m.is_regex, m.is_equal) for m in silence.matchers] == [
        ("alertname", "NoisyProbe", False, True)
    ]
    # Alertmanager starts a silence when it receives it, so it lasts a little under the hour asked for.
    assert silence.starts_at and silence.ends_at
    assert timedelta(minutes=59) < silence.ends_at - silence.starts_at <= timedelta(hours=1)
    assert silence.url == f"{alertmanager.server.url}/#/silences/{silence.id}"
    assert silence.to_json()["createdBy"] == "opspilot-tests"
    assert await provider.silences(states=["expired"]) == []


async def test_health_reports_version_and_cluster(core: CoreClient):
    report = await core.health()
    [health] = report.providers
    assert (health.provider, health.capability, health.status) == ("alertmanager", "alert", "ok")
    assert health.message.startswith("Alertmanager 0.") and "cluster disabled" in health.message


async def test_unreachable_alertmanager_is_unavailable_without_leaking_the_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPSORCH_ALERT_PROVIDER", "alertmanager")
    monkeypatch.setenv(
        "OPSORCH_ALERT_CONFIG", f'{{"url": "http://127.0.0.1:{free_port()}", "bearer_token": "{SECRET}"}}'
    )
    core = core_client(Capability.ALERT)
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await core.alerts.query()
        health = (await core.health()).providers[0]
        assert health.status == "down"
        assert all(SECRET not in text for text in (str(caught.value), health.message, caplog.text))
    finally:
        await core.aclose()


async def test_a_configured_token_is_never_logged(configure_alerts: Any, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    configure_alerts(bearer_token=SECRET)
    core = core_client(Capability.ALERT)
    try:
        assert len((await core.alerts.query()).items) == 4
        with pytest.raises(NotFound) as caught:
            await core.alerts.get("missing")
        assert SECRET not in str(caught.value) and SECRET not in caplog.text
    finally:
        await core.aclose()


async def test_scope_values_are_escaped_in_alertmanager_filters(core: CoreClient, alertmanager: AlertWorld):
    odd = {"labels": {"alertname": "OddService", "service": 'we"ird\\svc'}}
    async with httpx.AsyncClient(base_url=alertmanager.server.url) as http:
        (await http.post("/api/v2/alerts", json=[odd])).raise_for_status()
        try:
            query = AlertQuery(scope=QueryScope(service='we"ird\\svc'))
            deadline = time.monotonic() + 10
            while not (page := await core.alerts.query(query)).items:
                assert time.monotonic() < deadline, "Alertmanager never listed the posted alert"
                await asyncio.sleep(0.1)
            assert [(a.title, a.service) for a in page.items] == [("OddService", 'we"ird\\svc')]
        finally:
            resolved = {**odd, "endsAt": datetime.now(UTC).isoformat()}
            (await http.post("/api/v2/alerts", json=[resolved])).raise_for_status()


async def test_a_matcher_alertmanager_refuses_is_a_bad_query(configure_alerts: Any):
    configure_alerts(scope_labels={"service": "bad-label"})
    core = core_client(Capability.ALERT)
    try:
        with pytest.raises(BadQuery, match="bad matcher format"):
            await core.alerts.query(AlertQuery(scope=QueryScope(service="checkout")))
    finally:
        await core.aclose()

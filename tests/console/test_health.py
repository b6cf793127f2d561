"""Provider health for the Settings page, the backend's /health route and the sources banner on every page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import reflex as rx
from starlette.testclient import TestClient

from console import runtime
from console.backend.health import health_api, health_document, provider_health
from console.backend.session import COOKIE_NAME, ConsoleSessions
from console.components import layout
from console.state import scope
from console.state.incidents import IncidentsState
from console.state.scope import ScopeState, page_loads
from console.state.sources import SourcesState
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.errors import ConfigurationError
from core_client.identity import Role
from core_client.schemas import ProviderHealth
from tests.console.browserless import Client


@pytest.fixture
def use_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], CoreClient]], None]]:
    """Point the console's runtime at a factory for this test."""

    def use(factory: Callable[[], CoreClient]) -> None:
        monkeypatch.setattr(runtime, "RUNTIME", runtime.CoreRuntime(factory))

    yield use


async def test_settings_rows_show_each_provider_and_its_health(make_core: Callable[..., CoreClient]) -> None:
    report, rows = await provider_health(make_core(broken={Capability.ALERT}))

    assert report.status == "degraded"
    by_capability = {row.capability: row for row in rows}
    assert set(by_capability) == {"incident", "alert", "service", "deployment"}
    assert by_capability["incident"].status == "ok"
    assert by_capability["incident"].provider == "fake-incident"
    assert by_capability["incident"].latency.endswith(" ms")
    assert by_capability["incident"].chosen_by == "default"
    alert = by_capability["alert"]
    assert alert.status == "down" and "connection refused" in alert.message


async def test_health_document_reports_app_and_providers(make_core, use_core) -> None:
    core = make_core()
    use_core(lambda: core)

    status, body = await health_document()

    assert status == 200
    assert body["app"] == "ok" and body["status"] == "ok"
    assert {p["capability"]: p["status"] for p in body["providers"]} == {
        "incident": "ok",
        "alert": "ok",
        "service": "ok",
        "deployment": "ok",
    }
    assert all("latencyMs" in p and "checkedAt" in p for p in body["providers"])


async def test_health_is_503_when_every_provider_is_down(make_core, use_core) -> None:
    core = make_core(broken=set(Capability) - {Capability.MESSAGING})
    use_core(lambda: core)

    status, body = await health_document()

    assert status == 503 and body["status"] == "down" and body["app"] == "ok"


async def test_health_reports_a_configuration_error_instead_of_crashing(use_core) -> None:
    def broken() -> CoreClient:
        raise ConfigurationError("OPSORCH_LOG_PROVIDER: unknown provider 'nope'", source="settings")

    use_core(broken)

    status, body = await health_document()

    assert status == 503
    assert body["app"] == "error" and "OPSORCH_LOG_PROVIDER" in body["error"]


def test_health_route_serves_json(make_core, use_core) -> None:
    core = make_core(broken={Capability.DEPLOYMENT})
    use_core(lambda: core)

    with TestClient(health_api()) as client:
        response = client.get("/health")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "degraded"
    assert next(p for p in body["providers"] if p["capability"] == "deployment")["status"] == "down"


class Hanging:
    """A provider whose every call waits forever: a server that accepts the connection and never answers."""

    async def health(self) -> ProviderHealth:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def with_hanging_alerts(core: CoreClient) -> CoreClient:
    providers = {p.capability: p for p in core.providers()}
    providers[Capability.ALERT] = LoadedProvider(Capability.ALERT, "stuck-alerts", Hanging(), timeout=600)
    return CoreClient(providers, gate=core.gate, clock=core.clock, settings=core.settings)


async def test_health_checks_a_hanging_provider_only_as_long_as_the_health_timeout(
    make_core, use_core
) -> None:
    core = with_hanging_alerts(make_core())
    use_core(lambda: core)
    status, body = await asyncio.wait_for(health_document(), 30)
    assert status == 200 and body["status"] == "degraded"
    checks = {p["capability"]: p for p in body["providers"]}
    assert checks["alert"]["status"] == "down"
    assert checks["alert"]["message"] == "health got no answer within 2 s", (
        "the short per-check timeout, not 600 s"
    )
    assert {checks[c]["status"] for c in ("incident", "service", "deployment")} == {"ok"}


async def test_every_page_warns_about_the_sources_that_are_down(make_core, use_core) -> None:
    core = make_core(broken={Capability.ALERT, Capability.DEPLOYMENT})
    use_core(lambda: core)
    ConsoleSessions.of(core).users.add("rick", Role.RESPONDER, "correct horse battery")
    token, _ = await ConsoleSessions.of(core).sign_in("rick", "correct horse battery")
    tab = Client()
    tab.cookies[COOKIE_NAME] = token
    await tab.fire(SourcesState.check)
    down = (await tab.state(SourcesState)).down
    assert [(s.capability, s.provider, s.status) for s in down] == [
        ("alert", "fake-alert", "down"),
        ("deployment", "fake-deployment", "down"),
    ]
    assert all("connection refused" in s.message for s in down)

    stranger = Client()  # no session: nothing about the providers is told
    await stranger.fire(SourcesState.check)
    assert (await stranger.state(SourcesState)).down == []


async def test_the_banner_checks_the_providers_once_for_many_pages(make_core, use_core) -> None:
    core = make_core(broken={Capability.ALERT})
    use_core(lambda: core)
    alerts = next(p.instance for p in core.providers() if p.capability == Capability.ALERT)
    checks = 0
    health = alerts.health

    async def counted() -> ProviderHealth:
        nonlocal checks
        checks += 1
        return await health()

    alerts.health = counted
    reports = await asyncio.gather(*(runtime.sources() for _ in range(20)))
    assert checks == 1 and all(report is reports[0] for report in reports)
    assert await runtime.sources() is reports[0], "fresh enough: no new check"


def test_every_console_page_looks_at_the_sources_when_it_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    declared: list[dict[str, Any]] = []

    def page(**options: Any) -> Callable[[Any], Any]:
        declared.append(options)
        return lambda render: render

    monkeypatch.setattr(scope, "_PAGE_LOADS", {})
    monkeypatch.setattr(layout.rx, "page", page)  # record what the layout declares; no app to register with
    layout.console_page("/probe", "Probe", on_load=IncidentsState.load)(lambda: rx.text("probe"))
    assert declared[0]["on_load"] == [ScopeState.open_page, SourcesState.check]
    assert page_loads("/probe") == [IncidentsState.load], (
        "the page's own load still runs after the session check"
    )

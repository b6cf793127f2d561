"""Provider health for the Settings page and the backend's /health route."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from console import runtime
from console.backend.health import health_api, health_document, provider_health
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import ConfigurationError


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

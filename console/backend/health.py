"""Provider health for the Settings page and the backend's ``/health`` route: the same data in both places."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from console import runtime
from console.backend.display import utc_label
from core_client.client import CoreClient
from core_client.errors import OpsPilotError
from core_client.schemas import HealthReport


@dataclass
class ProviderRow:
    capability: str
    provider: str
    # ok | degraded | down | unconfigured
    status: str
    message: str
    latency: str
    checked: str
    # Where the provider choice came from: an environment variable, opspilot.toml, or "default".
    chosen_by: str


async def provider_health(core: CoreClient) -> tuple[HealthReport, list[ProviderRow]]:
    """Every provider's health (checked concurrently), and the same as rows for display."""
    report = await core.health()
    rows = [
        ProviderRow(
            capability=check.capability,
            provider=check.provider,
            status=check.status,
            message=check.message,
            latency=f"{check.latency_ms:.0f} ms" if check.latency_ms is not None else "",
            checked=utc_label(check.checked_at),
            chosen_by=_chosen_by(core, check.capability),
        )
        for check in report.providers
    ]
    return report, rows


@dataclass
class DownSource:
    """A source the banner names: its capability, provider, health (``down`` or ``degraded``) and why."""

    capability: str
    provider: str
    status: str
    message: str


def sources_down(report: HealthReport) -> list[DownSource]:
    """The providers that are down or degraded, in capability order: what every page warns about."""
    return [
        DownSource(
            capability=check.capability,
            provider=check.provider,
            status=check.status,
            message=check.message or check.status,
        )
        for check in report.providers
        if check.status in ("down", "degraded")
    ]


def _chosen_by(core: CoreClient, capability: str) -> str:
    choice = next((c for cap, c in core.settings.providers.items() if cap.value == capability), None)
    return choice.name_source if choice else ""


async def health_document() -> tuple[int, dict[str, Any]]:
    """The ``/health`` body and status code: 200 while the app can serve, 503 when it cannot.

    ``app`` is the console process itself; ``status`` is the providers' overall health (``ok``, ``degraded``
    when some are down, ``down`` when all are). A configuration that cannot load is reported, not raised.
    """
    try:
        core = await runtime.core()
    except OpsPilotError as exc:
        return 503, {"app": "error", "status": "down", "error": str(exc), "providers": []}
    report, _ = await provider_health(core)
    body = {"app": "ok", **report.model_dump(mode="json", by_alias=True)}
    return (503 if report.status == "down" else 200), body


async def _health(_: Request) -> JSONResponse:
    status, body = await health_document()
    return JSONResponse(body, status_code=status)


def health_api() -> Starlette:
    """The backend routes OpsPilot adds beside Reflex's own (mounted with ``rx.App(api_transformer=...)``)."""
    return Starlette(routes=[Route("/health", _health, methods=["GET"])])

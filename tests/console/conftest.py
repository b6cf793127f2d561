"""In-memory providers for the console's page-state tests, with a switch that makes any of them fail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.gate import MutationGate
from core_client.schemas import (
    Alert,
    Deployment,
    Incident,
    Page,
    ProviderHealth,
    Service,
)
from core_client.schemas.base import offset_page
from core_client.settings import load_settings

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Outage(Exception):
    """What a broken fake raises: an untyped error, as a real client library would."""


class FakeProvider:
    """Serves a fixed list from ``query`` with real cursor paging, and ``health``; ``broken`` fails both."""

    def __init__(self, capability: Capability, items: list[Any], *, broken: bool = False) -> None:
        self.capability = capability
        self.items = items
        self.broken = broken
        self.queries: list[Any] = []

    async def health(self) -> ProviderHealth:
        if self.broken:
            raise Outage("connection refused")
        return ProviderHealth(capability=self.capability.value, provider="fake", status="ok")

    async def query(self, query: Any, *, cursor: str | None = None) -> Page[Any]:
        if self.broken:
            raise Outage("connection refused")
        self.queries.append(query)
        statuses = getattr(query, "statuses", None)
        matching = [item for item in self.items if not statuses or item.status in statuses]
        return offset_page(matching, cursor=cursor, limit=query.limit, source="fake")


def _incident(n: int, severity: str, status: str, service: str) -> Incident:
    return Incident(
        id=f"INC-{n}",
        title=f"incident {n} on {service}",
        severity=severity,
        status=status,
        service=service,
        created_at=NOW - timedelta(minutes=10 * n),
    )


def world(broken: frozenset[Capability] = frozenset()) -> dict[Capability, FakeProvider]:
    """A small world: 3 services, 5 open and 1 resolved incident, 2 firing alerts, 3 deploys."""
    incidents = [
        _incident(1, "sev1", "investigating", "checkout"),
        _incident(2, "sev2", "open", "payments"),
        _incident(3, "sev3", "open", "payments"),
        _incident(4, "sev3", "monitoring", "search"),
        _incident(5, "sev4", "open", "search"),
        _incident(6, "sev1", "resolved", "search"),
    ]
    alerts = [
        Alert(
            id="A-1",
            title="p99 latency high",
            severity="warning",
            status="firing",
            service="search",
            created_at=NOW - timedelta(minutes=3),
        ),
        Alert(
            id="A-2",
            title="error rate",
            severity="critical",
            status="firing",
            service="checkout",
            created_at=NOW - timedelta(minutes=1),
        ),
        Alert(
            id="A-3",
            title="disk",
            severity="warning",
            status="resolved",
            service="payments",
            created_at=NOW - timedelta(hours=3),
        ),
    ]
    deploys = [
        Deployment(
            id=f"D-{n}",
            service=name,
            version=f"v1.{n}",
            environment="prod",
            status="succeeded",
            started_at=NOW - timedelta(hours=n),
        )
        for n, name in enumerate(["checkout", "payments", "search"], start=1)
    ]
    services = [
        Service(id="svc-checkout", name="checkout", owner_team="shop", tier=1),
        Service(id="svc-payments", name="payments", owner_team="money", tier=1),
        Service(id="svc-search", name="search", owner_team="discovery", tier=2),
        Service(id="svc-mail", name="mail", owner_team="platform", tier=3),
    ]
    data: dict[Capability, list[Any]] = {
        Capability.INCIDENT: incidents,
        Capability.ALERT: alerts,
        Capability.DEPLOYMENT: deploys,
        Capability.SERVICE: services,
    }
    return {cap: FakeProvider(cap, items, broken=cap in broken) for cap, items in data.items()}


def core_over(providers: dict[Capability, FakeProvider]) -> CoreClient:
    """A real CoreClient (real gate over the test's SQLite) whose providers are the fakes."""
    settings = load_settings()
    clock = FixedClock(NOW)
    loaded = {
        cap: LoadedProvider(capability=cap, name=f"fake-{cap.value}", instance=provider, timeout=2.0)
        for cap, provider in providers.items()
    }
    return CoreClient(
        loaded, gate=MutationGate.from_settings(settings, clock=clock), clock=clock, settings=settings
    )


@pytest.fixture
def make_core() -> Callable[..., CoreClient]:
    """``make_core(broken={Capability.ALERT})``: a CoreClient over a fresh fake world."""

    def build(broken: frozenset[Capability] | set[Capability] = frozenset()) -> CoreClient:
        return core_over(world(frozenset(broken)))

    return build

"""Fixtures for the SaaS providers: loopback fakes checked against the vendors' OpenAPI descriptions.

Each fake runs as a real HTTP server on 127.0.0.1 for the module; every test starts from fresh fake state, and
fails if any request the adapter sent or any response the fake gave differs from the API description.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The fakes are a package beside this file; --import-mode=importlib puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from saas_fakes.openapi import Erratum, OpenApiContract
from saas_fakes.server import LoopbackServer

from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import SystemClock
from core_client.identity import Actor, Role
from core_client.registry import load_provider
from core_client.schemas import LogEntry, LogQuery
from core_client.settings import load_settings

GRANT_ID = "grant-123"


class ApprovingGate:
    """Stands in for the mutation gate: every mutation is approved with one grant, and recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def run(
        self,
        tool: str,
        arguments: Any,
        *,
        actor: Actor,
        grant: str | None,
        environment: str | None,
        action: Callable[[str | None], Awaitable[Any]],
        **_: Any,
    ) -> Any:
        self.calls.append((tool, arguments))
        return await action(GRANT_ID)


# Where PagerDuty's description contradicts its own examples and the live API; each correction says why.
PAGERDUTY_ERRATA = {
    "/components/schemas/IncidentBody/properties/details": Erratum(
        {"type": "string"},
        "typed object, but the POST /incidents request example and the API reference send a string",
    ),
    "/components/schemas/AcknowledgeLogEntry/allOf/1/properties/type": Erratum(
        {"type": "string", "enum": ["acknowledge_log_entry"]},
        "says acknowledgement_log_entry, which LogEntry's own type enum (acknowledge_log_entry) rules out",
    ),
}


ERRATA: dict[str, dict[str, Erratum]] = {"pagerduty-rest-openapiv3.json": PAGERDUTY_ERRATA}
# Atlassian documents 429 + Retry-After for every REST endpoint in its rate-limiting guide, not per operation.
GLOBAL_STATUSES = {"jira-cloud-platform-openapiv3.json": frozenset({429})}


@functools.cache
def load_contract(path: Path) -> OpenApiContract:
    """Each description is parsed once per session (they are megabytes)."""
    return OpenApiContract(
        path, errata=ERRATA.get(path.name), global_statuses=GLOBAL_STATUSES.get(path.name, frozenset())
    )


@pytest.fixture
def pagerduty_contract(specs_dir: Path) -> OpenApiContract:
    return load_contract(specs_dir / "pagerduty-rest-openapiv3.json")


@pytest.fixture
def jira_contract(specs_dir: Path) -> OpenApiContract:
    return load_contract(specs_dir / "jira-cloud-platform-openapiv3.json")


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    """One server per test module; each test installs its fake with ``reset``."""
    server = LoopbackServer(lambda ex: None).start()  # type: ignore[arg-type,return-value]
    yield server
    server.stop()


@pytest.fixture
def actor() -> Actor:
    return Actor(user="alice", role=Role.RESPONDER, via="cli")


@pytest.fixture
async def make_core(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., CoreClient]]:
    """Builds a CoreClient whose named capabilities are served by ``provider`` configured through the
    ``OPSORCH_<CAP>_PROVIDER`` / ``OPSORCH_<CAP>_CONFIG`` variables."""
    clients: list[CoreClient] = []

    def build(provider: str, config: dict[str, Any], *capabilities: str) -> CoreClient:
        for cap in capabilities:
            monkeypatch.setenv(f"OPSORCH_{cap.upper()}_PROVIDER", provider)
            monkeypatch.setenv(f"OPSORCH_{cap.upper()}_CONFIG", json.dumps(config))
        settings = load_settings()
        # Only the capabilities under test are loaded (from the settings, through the registry), so the
        # others' default provider (the demo world) is not built for every test.
        shared: dict[str, Any] = {}
        loaded = {}
        for cap in map(Capability, capabilities):
            choice = settings.providers[cap]
            instance = load_provider(cap, choice, settings=settings, clock=SystemClock(), shared=shared)
            loaded[cap] = LoadedProvider(
                capability=cap, name=choice.name, instance=instance, timeout=choice.timeout
            )
        core = CoreClient(loaded, gate=ApprovingGate(), settings=settings)  # type: ignore[arg-type]
        clients.append(core)
        return core

    yield build
    for core in clients:
        await core.aclose()


def checked(server: LoopbackServer) -> Iterator[LoopbackServer]:
    """Yield ``server``; afterwards, fail on any exchange the API description does not allow."""
    yield server
    assert not server.violations, "exchanges the API description does not allow:\n" + "\n".join(
        server.violations
    )


async def every_page(core: CoreClient, query: LogQuery) -> tuple[list[LogEntry], int]:
    """Every log entry of ``query``, page after page through the cursors, and how many pages it took."""
    entries: list[LogEntry] = []
    cursor = None
    pages = 0
    while True:
        page = await core.logs.query(query, cursor=cursor)
        entries += page.items
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return entries, pages

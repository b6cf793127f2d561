"""Fixtures for the console's page tests on the small demo world (import them into a test module).

``demo_core``: a CoreClient over a copy of the small demo world in the test's data folder, with the real gate, and
installed as the console's process-wide CoreClient (``console.runtime``), so page states use it. ``people``: one
user per role (password ``PASSWORD``) in the test's database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console import runtime
from console.backend.session import COOKIE_NAME, ConsoleSessions, SessionUser
from console.state.alerts import AlertsState, AlertState
from console.state.deployments import DeploymentsState, DeploymentState
from console.state.incidents import IncidentsState, IncidentState
from console.state.scope import register_page_load
from console.state.services import ServicesState, ServiceState
from console.state.tickets import TicketsState, TicketState
from core_client.client import CoreClient
from core_client.identity import Role
from core_client.settings import load_settings
from tests.console.browserless import Client
from tests.demo.world_fixture import build_small, install

PASSWORD = "correct horse battery"
# What console_page declares for these routes (registered here, so these tests need no other page module).
PAGE_LOADS = {
    "/incidents": IncidentsState.load,
    "/incidents/[incident_ref]": IncidentState.load,
    "/alerts": AlertsState.load,
    "/alerts/[alert_ref]": AlertState.load,
    "/deployments": DeploymentsState.load,
    "/deployments/[deployment_ref]": DeploymentState.load,
    "/tickets": TicketsState.load,
    "/tickets/[ticket_ref]": TicketState.load,
    "/services": ServicesState.load,
    "/services/[service_ref]": ServiceState.load,
}
for _route, _load in PAGE_LOADS.items():
    register_page_load(_route, _load)
ROLES = {"vera": Role.VIEWER, "rick": Role.RESPONDER, "abby": Role.APPROVER, "ada": Role.ADMIN}


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo world (33 incidents), built once for the session."""
    return build_small(tmp_path_factory.mktemp("console-world"))


@pytest.fixture
async def demo_core(built_world: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CoreClient]:
    """A CoreClient over a fresh copy of the demo world, used by the console's states too."""
    install(built_world)
    core = CoreClient.from_settings(load_settings())
    monkeypatch.setattr(runtime, "RUNTIME", runtime.CoreRuntime(lambda: core))
    yield core
    await core.aclose()


@pytest.fixture
def people(demo_core: CoreClient) -> dict[str, SessionUser]:
    """vera (viewer), rick (responder), abby (approver) and ada (admin)."""
    users = ConsoleSessions.of(demo_core).users
    for name, role in ROLES.items():
        users.add(name, role, PASSWORD)
    return {name: SessionUser(username=name, display_name=name, role=role) for name, role in ROLES.items()}


async def signed_in(core: CoreClient, username: str, url: str = "/", route: str | None = None) -> Client:
    """A tab on ``url`` whose cookie holds a live session of ``username``."""
    token, _ = await ConsoleSessions.of(core).sign_in(username, PASSWORD)
    client = Client()
    client.goto(url, route)
    client.cookies[COOKIE_NAME] = token
    return client

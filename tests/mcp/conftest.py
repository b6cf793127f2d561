"""Fixtures for the MCP server's tests.

``core``: a CoreClient whose incident and ticket providers are small in-memory fakes. ``demo_core``: a CoreClient
over the small demo world (built once per session, copied into each test's data folder) with the real gate.
``people``: alice (responder) and bob (approver) stored in the test's database, for servers in other processes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mcp.types import CallToolResult, TextContent

from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.errors import NotFound
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.mcp.http import user_directory
from core_client.schemas import (
    CreateIncidentInput,
    CreateTicketInput,
    Incident,
    IncidentQuery,
    Page,
    ProviderHealth,
    Ticket,
    TicketQuery,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
    UpdateTicketInput,
    offset_page,
)
from core_client.settings import load_settings
from core_client.users import UserDirectory
from tests.demo.world_fixture import build_small, install

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALICE = Actor(user="alice", role=Role.RESPONDER, via="mcp")
BOB = Actor(user="bob", role=Role.APPROVER, via="console")
# The command a desktop client runs, from this virtualenv.
OPSPILOT = Path(sys.prefix) / "bin" / "opspilot"


def text_of(result: CallToolResult) -> str:
    """The text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


class InMemoryIncidents:
    def __init__(self, count: int) -> None:
        self.items = [
            Incident(
                id=f"INC-{i}",
                title=f"Checkout latency above SLO #{i}",
                description="p95 latency over 800 ms " + "x" * 300,
                status="open",
                severity="sev2",
                service="checkout-api",
                created_at=NOW - timedelta(minutes=i),
            )
            for i in range(count)
        ]
        self.notes: list[TimelineEntry] = []
        self.calls: list[str | None] = []

    async def health(self) -> ProviderHealth:
        return ProviderHealth(capability="incident", provider="memory", status="ok")

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        return offset_page(self.items, cursor=cursor, limit=query.limit)

    async def get(self, incident_id: str) -> Incident:
        for incident in self.items:
            if incident.id == incident_id:
                return incident
        raise NotFound(f"no incident {incident_id}")

    async def create(self, data: CreateIncidentInput, *, idempotency_key: str | None = None) -> Incident:
        self.calls.append(idempotency_key)
        incident = Incident(id=f"INC-{len(self.items)}", title=data.title, created_at=NOW)
        self.items.append(incident)
        return incident

    async def update(
        self, incident_id: str, changes: UpdateIncidentInput, *, idempotency_key: str | None = None
    ) -> Incident:
        self.calls.append(idempotency_key)
        incident = await self.get(incident_id)
        return incident.model_copy(update=changes.model_dump(exclude_none=True))

    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]:
        return offset_page([n for n in self.notes if n.incident_id == incident_id], cursor=cursor, limit=50)

    async def append_timeline(
        self, incident_id: str, entry: TimelineAppendInput, *, idempotency_key: str | None = None
    ) -> TimelineEntry:
        self.calls.append(idempotency_key)
        note = TimelineEntry(
            id=f"N-{len(self.notes)}", incident_id=incident_id, at=entry.at or NOW, body=entry.body
        )
        self.notes.append(note)
        return note


class InMemoryTickets:
    def __init__(self) -> None:
        self.items: list[Ticket] = []

    async def health(self) -> ProviderHealth:
        return ProviderHealth(capability="ticket", provider="memory", status="ok")

    async def query(self, query: TicketQuery, *, cursor: str | None = None) -> Page[Ticket]:
        return offset_page(self.items, cursor=cursor, limit=query.limit)

    async def get(self, ticket_id: str) -> Ticket:
        raise NotFound(ticket_id)

    async def create(self, data: CreateTicketInput, *, idempotency_key: str | None = None) -> Ticket:
        ticket = Ticket(id=f"T-{len(self.items)}", key=f"OPS-{len(self.items)}", title=data.title)
        self.items.append(ticket)
        return ticket

    async def update(
        self, ticket_id: str, changes: UpdateTicketInput, *, idempotency_key: str | None = None
    ) -> Ticket:
        raise NotFound(ticket_id)


@pytest.fixture
def incidents() -> InMemoryIncidents:
    return InMemoryIncidents(count=200)


@pytest.fixture
def core(incidents: InMemoryIncidents, tmp_path: Path) -> CoreClient:
    settings = load_settings(files_dir=tmp_path / "files")
    clock = FixedClock(NOW)
    providers = {
        Capability.INCIDENT: LoadedProvider(Capability.INCIDENT, "memory", incidents, 5.0),
        Capability.TICKET: LoadedProvider(Capability.TICKET, "memory", InMemoryTickets(), 5.0),
    }
    return CoreClient(
        providers, gate=MutationGate.from_settings(settings, clock=clock), clock=clock, settings=settings
    )


@pytest.fixture
def alice() -> Actor:
    return ALICE


@pytest.fixture
def bob() -> Actor:
    return BOB


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo world, built once for the session."""
    return build_small(tmp_path_factory.mktemp("world"))


@pytest.fixture
def demo_world(built_world: Path) -> Path:
    """A copy of the small demo world, active in this test's data folder; its database file."""
    return install(built_world)


@pytest.fixture
async def demo_core(demo_world: Path) -> AsyncIterator[CoreClient]:
    """A CoreClient over the demo world with the real mutation gate over the test's database."""
    core = CoreClient.from_settings(load_settings())
    yield core
    await core.aclose()


@pytest.fixture
def people() -> UserDirectory:
    """alice (responder) and bob (approver), stored in the test's database."""
    users = user_directory(load_settings())
    users.add("alice", Role.RESPONDER)
    users.add("bob", Role.APPROVER)
    return users

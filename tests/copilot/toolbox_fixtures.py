"""What the toolbox tests stand on: a CoreClient over small in-memory providers, and real foreign MCP servers.

The foreign servers are real processes: ``servers/legacy_stdio.py`` (a hand-written handshake-era server shaped
like the OpsOrch MCP server, array output schemas included) over stdio, and ``servers/http_tools.py`` (the SDK's
MCPServer behind a bearer token) over streamable HTTP on a free port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.schemas import CreateTicketInput, Incident, IncidentQuery, Page, Ticket
from core_client.settings import McpServerSettings, Settings, load_settings
from tests.conftest import port_open
from tests.mcp.conftest import NOW, InMemoryIncidents, InMemoryTickets

SERVERS = Path(__file__).parent / "servers"
HTTP_TOKEN = "test-token-3f9a"


class FlakyIncidents(InMemoryIncidents):
    """Incidents whose provider fails ``failures`` times in a row before it answers; queries are counted."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(count=3)
        self.failures = failures
        self.queries = 0

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        self.queries += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("incident backend refused the connection")
        return await super().query(query, cursor=cursor)


class FlakyTickets(InMemoryTickets):
    """Tickets whose creation fails ``failures`` times before it succeeds; every attempt is counted."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.creates = 0

    async def create(self, data: CreateTicketInput, *, idempotency_key: str | None = None) -> Ticket:
        self.creates += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("ticket backend timed out")
        return await super().create(data, idempotency_key=idempotency_key)


@dataclass
class World:
    core: CoreClient
    incidents: FlakyIncidents
    tickets: FlakyTickets


def make_world(settings: Settings, *, incident_failures: int = 0, ticket_failures: int = 0) -> World:
    clock = FixedClock(NOW)
    incidents = FlakyIncidents(failures=incident_failures)
    tickets = FlakyTickets(failures=ticket_failures)
    providers = {
        Capability.INCIDENT: LoadedProvider(Capability.INCIDENT, "memory", incidents, 5.0),
        Capability.TICKET: LoadedProvider(Capability.TICKET, "memory", tickets, 5.0),
    }
    core = CoreClient(
        providers, gate=MutationGate.from_settings(settings, clock=clock), clock=clock, settings=settings
    )
    return World(core=core, incidents=incidents, tickets=tickets)


def settings_with(tmp_path: Path, *servers: McpServerSettings, budget: int = 20_000) -> Settings:
    return load_settings(
        files_dir=tmp_path / "files",
        mcp_result_budget=budget,
        copilot={"mcp_servers": [server.model_dump() for server in servers]},
    )


def legacy_stdio(name: str = "opsorch", *, calls_file: Path | None = None) -> McpServerSettings:
    env = {"CALLS_FILE": str(calls_file)} if calls_file else {}
    return McpServerSettings(name=name, command=[sys.executable, str(SERVERS / "legacy_stdio.py")], env=env)


def copilot_actor() -> Actor:
    return Actor.copilot_for("alice", Role.RESPONDER)


def approver() -> Actor:
    return Actor(user="bob", role=Role.APPROVER, via="console")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_http_tools() -> Iterator[str]:
    """``servers/http_tools.py`` running on a free port; its URL (the token is :data:`HTTP_TOKEN`)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVERS / "http_tools.py"), str(port), HTTP_TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", port, timeout=0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"the HTTP MCP test server did not start: {stderr[-500:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)

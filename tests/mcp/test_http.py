"""``opspilot mcp --http``: a real server process on a free port, reached with real HTTP clients.

Only a valid API token gets in, and its user is the one the audit names; Host and Origin must name the server
(DNS-rebinding protection); an oversized body is refused before it is parsed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from core_client.client import CoreClient
from core_client.mcp.http import MAX_BODY_BYTES, MAX_OPENING_BODY_BYTES
from core_client.mcp.server import GRANT_META_KEY
from core_client.users import UserDirectory
from tests.conftest import port_open

from .conftest import ALICE, BOB, OPSPILOT, text_of
from .world_probe import changes, world_state

STARTUP_SECONDS = 60
# A legacy initialize: what any HTTP client sends first.
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
STREAMABLE = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(**env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``opspilot mcp --http 127.0.0.1:<port>`` on this test's data folder, with ``env`` added; its endpoint URL
    and process."""
    port = free_port()
    server = subprocess.Popen(
        [str(OPSPILOT), "mcp", "--http", f"127.0.0.1:{port}"],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not port_open("127.0.0.1", port, timeout=0.2):
            assert server.poll() is None, (
                f"the server exited: {server.stderr.read() if server.stderr else ''}"
            )
            assert time.monotonic() < deadline, "the server did not start listening"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", server
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def mcp_url(demo_world: Path, people: UserDirectory) -> Iterator[str]:
    """``opspilot mcp --http 127.0.0.1:<port>`` running on this test's data folder; its endpoint URL."""
    with serving() as (url, _):
        yield url


@asynccontextmanager
async def mcp_client(url: str, token: str) -> AsyncIterator[Client]:
    """The SDK's client over streamable HTTP, sending ``token`` as a bearer token."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def initialize(url: str, **headers: str) -> httpx.Response:
    return httpx.post(url, json=INITIALIZE, headers={**STREAMABLE, **headers}, timeout=30)


async def test_a_valid_token_acts_as_its_user(
    mcp_url: str, people: UserDirectory, demo_core: CoreClient, demo_world: Path
) -> None:
    token = people.issue_token("alice", "laptop")
    message = {"message": {"channel": "#incidents", "body": "orders-api is recovering"}}
    before = world_state(demo_world)
    async with mcp_client(mcp_url, token) as client:
        service = await client.call_tool("get_service", {"name": "orders-api"})
        assert not service.is_error and "postgres-main" in service.structured_content["dependencies"]
        refused = await client.call_tool("send_message", message)
        assert refused.is_error
        [request] = demo_core.gate.approvals.list(status="pending").items
        demo_core.gate.approvals.approve(request.id, approver=BOB)
        grant = demo_core.gate.approvals.grant_id_for(request.id, ALICE)
        sent = await client.call_tool("send_message", message, meta={GRANT_META_KEY: grant.id})
        assert not sent.is_error, text_of(sent)
    assert changes(before, world_state(demo_world)) == {"message": 1, "idempotency": 1}
    audit = demo_core.gate.audit.list(tool="send_message").items
    assert {event.action for event in audit} >= {"requested", "refused", "approved", "executed"}
    assert {event.actor_user for event in audit if event.action != "approved"} == {"alice"}
    assert request.requested_by == "alice"


def test_no_wrong_or_revoked_token_gets_in(mcp_url: str, people: UserDirectory) -> None:
    token = people.issue_token("alice")
    revoked = people.issue_token("bob")
    people.revoke_token(revoked.split("_")[1])
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert initialize(mcp_url, Authorization=f"Bearer {token}").status_code == 200
    for headers in (
        {},
        {"Authorization": f"Bearer {tampered}"},
        {"Authorization": "Bearer opspilot_000000000000_guess"},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Basic {token}"},
    ):
        response = initialize(mcp_url, **headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_disabled_users_token_stops_working(mcp_url: str, people: UserDirectory) -> None:
    token = people.issue_token("alice")
    assert initialize(mcp_url, Authorization=f"Bearer {token}").status_code == 200
    people.disable("alice")
    assert initialize(mcp_url, Authorization=f"Bearer {token}").status_code == 401


def test_dns_rebinding_protection_refuses_foreign_hosts_and_origins(
    mcp_url: str, people: UserDirectory
) -> None:
    bearer = f"Bearer {people.issue_token('alice')}"
    assert initialize(mcp_url, Authorization=bearer, Host="evil.example").status_code == 421
    assert initialize(mcp_url, Authorization=bearer, Origin="http://evil.example").status_code == 403
    assert initialize(mcp_url, Authorization=bearer, Host="localhost").status_code == 200


def test_an_oversized_body_is_refused(mcp_url: str, people: UserDirectory) -> None:
    bearer = f"Bearer {people.issue_token('alice')}"
    padding = "x" * (MAX_BODY_BYTES + 1)
    body = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": padding}}
    response = httpx.post(mcp_url, json=body, headers={**STREAMABLE, "Authorization": bearer}, timeout=30)
    assert response.status_code == 413


def test_a_bulky_initialize_is_refused_before_it_opens_a_session(mcp_url: str, people: UserDirectory) -> None:
    """A session keeps what its initialize sent for its whole life, so an opening request is kept small."""
    bearer = f"Bearer {people.issue_token('alice')}"
    padding = "x" * MAX_OPENING_BODY_BYTES
    body = {**INITIALIZE, "params": {**INITIALIZE["params"], "capabilities": {"padding": padding}}}
    response = httpx.post(mcp_url, json=body, headers={**STREAMABLE, "Authorization": bearer}, timeout=30)
    assert response.status_code == 413
    assert "mcp-session-id" not in response.headers


def resident_mb(process: subprocess.Popen[str]) -> float:
    """The process's resident set size, in MB (Linux /proc)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc status")


def hostile_round(client: httpx.Client, url: str, bearer: str, session: str, round_no: int) -> list[int]:
    """One round of what a fuzzer sends: sessions opened and abandoned, junk and bulky initializes, requests with
    no token or an unknown session, malformed JSON-RPC, tool calls with arguments of the wrong shape or size."""
    headers = {**STREAMABLE, "Authorization": bearer}
    in_session = {**headers, "mcp-session-id": session}
    bulky = {**INITIALIZE, "params": {**INITIALIZE["params"], "capabilities": {"x": "y" * 900_000}}}
    statuses = []
    for i in range(40):
        call = {"jsonrpc": "2.0", "id": i, "method": "tools/call"}
        requests = [
            client.post(url, headers=headers, json=INITIALIZE),
            client.post(url, headers=headers, json=bulky),
            client.post(url, headers=headers, content=b"\xff\xfe{not json" * (i + 1)),
            client.post(url, headers=STREAMABLE, json=INITIALIZE),
            client.post(url, headers={**headers, "mcp-session-id": f"gone-{round_no}-{i}"}, json=INITIALIZE),
            client.post(url, headers=in_session, json={"jsonrpc": "2.0", "id": i, "method": 12}),
            client.post(
                url,
                headers=in_session,
                json={**call, "params": {"name": "read_file", "arguments": {"path": "\x00" * 5000}}},
            ),
            client.post(
                url,
                headers=in_session,
                json={**call, "params": {"name": "search_logs", "arguments": {"query": "z" * 500_000}}},
            ),
        ]
        statuses += [response.status_code for response in requests]
    return statuses


def test_memory_settles_under_a_flood_of_malformed_requests(demo_world: Path, people: UserDirectory) -> None:
    """Three rounds of ~320 mostly malformed requests (issue #12: RSS grew 127 MB -> 1.5 GB over ~1,000 and kept it):
    after the first round has warmed the server up, later rounds leave its RSS where it was, abandoned sessions
    are closed once idle, and the server logs no traceback for any of it."""
    bearer = f"Bearer {people.issue_token('alice')}"
    idle = 1.5
    with (
        serving(OPSPILOT_MCP_SESSION_IDLE_SECONDS=str(idle)) as (url, server),
        httpx.Client(timeout=30) as client,
    ):
        opened = client.post(url, headers={**STREAMABLE, "Authorization": bearer}, json=INITIALIZE)
        session = opened.headers["mcp-session-id"]
        sizes = []
        for round_no in range(3):
            # The round's own session stays open throughout it; the ones it abandons lapse after it.
            session_headers = {**STREAMABLE, "Authorization": bearer, "mcp-session-id": session}
            client.post(
                url, headers=session_headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
            )
            statuses = hostile_round(client, url, bearer, session, round_no)
            assert 500 not in statuses and {200, 400, 401, 404, 413} <= set(statuses), statuses
            time.sleep(idle * 2)
            sizes.append(resident_mb(server))
            lapsed = client.post(
                url, headers=session_headers, json={"jsonrpc": "2.0", "id": 0, "method": "ping"}
            )
            assert lapsed.status_code == 404, "an idle session was kept"
            session = client.post(
                url, headers={**STREAMABLE, "Authorization": bearer}, json=INITIALIZE
            ).headers["mcp-session-id"]
        assert server.poll() is None
        server.terminate()
        _, logged = server.communicate(timeout=30)
    assert "Traceback" not in logged, logged[-2000:]
    warmed, *later = sizes
    assert max(later) - warmed < 25, f"RSS kept growing: {sizes} MB after each round"

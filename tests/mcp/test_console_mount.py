"""The MCP server mounted in the console's backend at ``/mcp``, beside ``/health``, spoken to with plain HTTP.

The app under test is the Starlette app the console module builds (its ``api_transformer``), with the MCP
endpoint's lifespan run as Reflex runs it when the backend starts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console import console, runtime
from core_client.client import CoreClient
from core_client.users import UserDirectory

from .test_http import INITIALIZE, STREAMABLE
from .world_probe import INCIDENT

BACKEND = "http://localhost:8000"


@pytest.fixture
async def backend(demo_world: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the console's backend app, with a fresh runtime over this test's settings."""
    fresh = runtime.CoreRuntime()
    monkeypatch.setattr(runtime, "RUNTIME", fresh)
    transport = httpx.ASGITransport(app=console.backend)
    async with httpx.AsyncClient(transport=transport, base_url=BACKEND) as client:
        yield client
    await fresh.aclose()


def rpc_result(response: httpx.Response) -> Any:
    """The JSON-RPC result in a streamable-HTTP response (an SSE event or plain JSON)."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[len("data:") :] for line in response.text.splitlines() if line.startswith("data:")]
        message = json.loads(data[-1])
    else:
        message = response.json()
    assert "error" not in message, message
    return message["result"]


def test_the_console_runs_the_mcp_endpoint_with_its_backend() -> None:
    assert console.mcp_endpoint.lifespan in console.app.get_lifespan_tasks()
    assert console.app.api_transformer is console.backend


async def test_mcp_at_slash_mcp_with_a_users_token(
    backend: httpx.AsyncClient, people: UserDirectory, demo_core: CoreClient
) -> None:
    assert (await backend.post("/mcp", json=INITIALIZE, headers=STREAMABLE)).status_code == 503
    token = people.issue_token("alice")
    bearer = {**STREAMABLE, "Authorization": f"Bearer {token}"}
    async with console.mcp_endpoint.lifespan():
        assert (await backend.post("/mcp", json=INITIALIZE, headers=STREAMABLE)).status_code == 401
        wrong = {**STREAMABLE, "Authorization": f"Bearer {token[:-2]}xx"}
        assert (await backend.post("/mcp", json=INITIALIZE, headers=wrong)).status_code == 401
        foreign = await backend.post("/mcp", json=INITIALIZE, headers={**bearer, "Host": "evil.example"})
        assert foreign.status_code == 421

        opened = await backend.post("/mcp", json=INITIALIZE, headers=bearer)
        assert rpc_result(opened)["serverInfo"]["name"] == "opspilot"
        session = {
            **bearer,
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-11-25",
        }

        async def call(name: str, arguments: dict[str, Any]) -> Any:
            request = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
            return rpc_result(await backend.post("/mcp", json=request, headers=session))

        incident = await call("get_incident", {"incident_id": INCIDENT})
        assert incident["structuredContent"]["title"] == (await demo_core.incidents.get(INCIDENT)).title
        refused = await call("update_incident", {"incident_id": INCIDENT, "changes": {"status": "resolved"}})
        assert refused["isError"] and "/approvals/" in refused["content"][0]["text"]

        assert (await backend.get("/health")).status_code == 200, "the console's own routes still answer"
    [request] = demo_core.gate.approvals.list(status="pending").items
    assert request.requested_by == "alice"
    assert (await demo_core.incidents.get(INCIDENT)).status != "resolved"

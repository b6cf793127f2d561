"""A real third-party client: the official MCP Inspector (npm, pinned in the Makefile) in CLI mode, starting
``opspilot mcp`` over stdio with alice's API token, listing the tools and calling them on the demo world."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core_client.client import CoreClient
from core_client.users import UserDirectory
from tests.conftest import REPO_ROOT, require, require_binary

from .conftest import OPSPILOT
from .test_server import MUTATIONS

INSPECTOR = REPO_ROOT / ".venv" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"


@pytest.fixture
def inspect(tmp_path: Path, demo_world: Path, people: UserDirectory) -> Any:
    """``inspect(*args, status=0)``: run the Inspector's CLI against ``opspilot mcp`` holding alice's token, expecting
    that exit status (it exits 5 when a tool returns an error); its JSON output."""
    require_binary("node")
    require(INSPECTOR.exists(), f"the MCP Inspector is not installed at {INSPECTOR} (make inspector)")
    home = tmp_path / "home"
    home.mkdir()
    # The Inspector gives the server only what -e names, so the test's settings are passed on explicitly.
    settings = [f"{name}={os.environ[name]}" for name in ("OPSPILOT_DATA_DIR", "OPSPILOT_CONFIG")]
    settings.append(f"OPSPILOT_TOKEN={people.issue_token('alice')}")

    def run(*args: str, status: int = 0) -> Any:
        command = [str(INSPECTOR), "--cli", *(f"-e{pair}" for pair in settings), str(OPSPILOT), "mcp"]
        done = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], "HOME": str(home)},
        )
        assert done.returncode == status, done.stdout + done.stderr
        return json.loads(done.stdout)

    return run


def test_the_inspector_lists_typed_annotated_tools(inspect: Any) -> None:
    tools = {tool["name"]: tool for tool in inspect("--method", "tools/list")["tools"]}
    assert set(tools) >= MUTATIONS | {"query_incidents", "search_logs", "detect_metric_anomalies"}
    assert tools["get_service"]["annotations"]["readOnlyHint"] is True
    assert tools["page_oncall"]["annotations"]["destructiveHint"] is True
    assert tools["get_service"]["inputSchema"]["required"] == ["name"]
    assert "outputSchema" in tools["get_service"]


async def test_the_inspector_calls_a_read_tool_on_the_demo_world(inspect: Any, demo_core: CoreClient) -> None:
    result = inspect(
        "--method", "tools/call", "--tool-name", "get_service", "--tool-arg", "name=checkout-api"
    )
    service = await demo_core.services.get("checkout-api")
    assert not result.get("isError")
    assert result["structuredContent"]["name"] == "checkout-api"
    assert result["structuredContent"]["dependencies"] == service.dependencies


def test_the_inspector_sees_a_mutation_refused_with_the_approval_link(
    inspect: Any, demo_core: CoreClient
) -> None:
    ticket = json.dumps({"title": "Raise the orders-api connection pool"})
    call = ("--method", "tools/call", "--tool-name", "create_ticket", "--tool-arg", f"ticket={ticket}")
    result = inspect(*call, status=5)
    [request] = demo_core.gate.approvals.list(status="pending").items
    assert result["isError"] is True
    assert demo_core.gate.approvals.approval_url(request.id) in result["content"][0]["text"]
    assert request.requested_by == "alice"

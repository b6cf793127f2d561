"""Foreign MCP servers as an operator configures them: the policy vouches for unannotated read tools (or denies
them), a stdio server gets the environment it is given, its stdout log lines are skipped, and its tools are mapped
to capabilities. The server is ``servers/opsorch_like.py``, reading from the faithful fake OpsOrch Core."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copilot.planning import ToolRequest
from copilot.toolbox import Toolbox, child_environment
from core_client.errors import ConfigurationError
from core_client.settings import McpServerSettings, Settings, load_settings
from tests.copilot.toolbox_fixtures import SERVERS, copilot_actor, make_world
from tests.remote.fake_core import TOKEN, RunningCore, serving

SERVER = [sys.executable, str(SERVERS / "opsorch_like.py")]


@pytest.fixture(scope="module")
def core_server() -> Iterator[RunningCore]:
    with serving() as running:
        yield running


def settings_for(
    tmp_path: Path, core_url: str, policy: dict[str, Any] | None = None, **entry: Any
) -> Settings:
    server = {"name": "opsorch", "command": SERVER, **entry}
    return load_settings(
        files_dir=tmp_path / "files",
        core_url=core_url,
        core_token=TOKEN,
        copilot={"mcp_servers": [server]},
        **({"policy": policy} if policy else {}),
    )


def window() -> dict[str, str]:
    return {"start": "2026-03-02T11:00:00Z", "end": "2026-03-02T12:00:00Z"}


async def test_unannotated_tools_wait_for_a_person_unless_the_server_is_marked_read_only(
    tmp_path: Path, core_server: RunningCore
) -> None:
    plain = settings_for(tmp_path, core_server.url, pass_env=["OPSORCH_CORE_*"])
    world = make_world(plain)
    async with Toolbox.open(plain, world.core, copilot_actor(), []) as box:
        assert box.spec("opsorch.query-logs").kind == "unannotated"  # type: ignore[union-attr]
        refused = await box.call(ToolRequest(tool="opsorch.query-logs", arguments=window()), call_id="c1")
    assert not refused.ok and "ApprovalRequired" in (refused.error or "")

    vouched = settings_for(tmp_path, core_server.url, pass_env=["OPSORCH_CORE_*"], read_only=True)
    world = make_world(vouched)
    notes: list[str] = []
    async with Toolbox.open(vouched, world.core, copilot_actor(), notes) as box:
        assert {spec.kind for spec in box.specs if spec.server == "opsorch"} == {"read_only"}
        answered = await box.call(ToolRequest(tool="opsorch.query-logs", arguments=window()), call_id="c2")
    assert answered.ok, answered.error
    assert len(answered.structured["entries"]) == 37  # through the server, from the fake core
    assert world.core.gate.approvals.list(status="pending").items == []
    # The server's own log lines on stdout were skipped, each with a note, and the session went on.
    skipped = [note for note in notes if "not JSON-RPC" in note]
    assert skipped and "OpsOrch MCP stdio transport ready" in skipped[0]


async def test_a_policy_rule_vouches_for_one_tool_or_denies_it(
    tmp_path: Path, core_server: RunningCore
) -> None:
    policy = {
        "rules": [
            {"tool": "opsorch.query-incidents", "mode": "auto"},
            {"tool": "opsorch.environment", "mode": "denied"},
        ]
    }
    settings = settings_for(tmp_path, core_server.url, policy=policy, pass_env=["OPSORCH_CORE_*"])
    world = make_world(settings)
    notes: list[str] = []
    async with Toolbox.open(settings, world.core, copilot_actor(), notes) as box:
        kinds = {spec.tool: spec.kind for spec in box.specs if spec.server == "opsorch"}
        incidents = await box.call(ToolRequest(tool="opsorch.query-incidents", arguments={}), call_id="c1")
    assert kinds == {"query-incidents": "read_only", "query-logs": "unannotated"}
    assert any("'environment' not offered (the policy denies it)" in note for note in notes)
    assert incidents.ok and len(incidents.structured) == 23


async def test_the_child_gets_the_cores_address_only_when_asked(
    tmp_path: Path, core_server: RunningCore
) -> None:
    for passed, expected in (([], None), (["OPSORCH_CORE_*"], core_server.url)):
        settings = settings_for(tmp_path, core_server.url, pass_env=passed, read_only=True)
        world = make_world(settings)
        async with Toolbox.open(settings, world.core, copilot_actor(), []) as box:
            said = await box.call(ToolRequest(tool="opsorch.environment", arguments={}), call_id="c1")
        assert said.ok and said.structured["url"] == expected
    # OPSORCH_CORE_URL came from the settings (as opspilot.toml would give it), not from our environment.
    entry = McpServerSettings(name="x", command=SERVER, pass_env=["OPSORCH_CORE_URL"], env={"A": "1"})
    assert child_environment(entry, settings) == {"OPSORCH_CORE_URL": core_server.url, "A": "1"}


async def test_capabilities_map_tools_and_a_missing_tool_is_a_note(
    tmp_path: Path, core_server: RunningCore
) -> None:
    settings = settings_for(
        tmp_path,
        core_server.url,
        read_only=True,
        capabilities={"logs": "query-logs", "runbook": "get-runbook"},
    )
    world = make_world(settings)
    notes: list[str] = []
    async with Toolbox.open(settings, world.core, copilot_actor(), notes) as box:
        assert box.spec("opsorch.query-logs").capability == "log"  # type: ignore[union-attr]
        assert box.spec("opsorch.query-incidents").capability is None  # type: ignore[union-attr]
    assert "MCP server opsorch: no tool 'get-runbook' for capability 'runbook'" in notes


def test_a_capability_nobody_knows_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown capability 'weather'"):
        settings_for(tmp_path, "http://127.0.0.1:9", capabilities={"weather": "forecast"})


def test_read_only_is_shorthand_for_a_policy_rule(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "http://127.0.0.1:9", read_only=True)
    assert settings.policy.vouched_read_only("opsorch.anything")
    assert not settings.policy.vouched_read_only("other.anything")
    assert settings.policy.decide("opsorch.query-logs", kind="unannotated").mode == "auto"

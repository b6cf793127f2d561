"""``opspilot mcp`` as a desktop client runs it, with alice's API token in ``OPSPILOT_TOKEN``: a subprocess spoken
to over stdio, on the demo world.

The server process and this test share the data folder (and so the database): the approval is given here, as a
person would in the console, and the server sees it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from core_client.client import CoreClient
from core_client.mcp.server import GRANT_META_KEY
from core_client.users import UserDirectory

from .conftest import ALICE, BOB, OPSPILOT, text_of
from .test_server import MUTATIONS
from .world_probe import INCIDENT, changes, world_state


def stdio_server(token: str, *args: str) -> StdioServerParameters:
    """``opspilot mcp ARGS`` holding ``token``, with this test's settings (its data folder and empty opspilot.toml)."""
    return StdioServerParameters(
        command=str(OPSPILOT), args=["mcp", *args], env={**os.environ, "OPSPILOT_TOKEN": token}
    )


async def test_a_desktop_client_reads_the_world_and_mutates_only_with_a_grant(
    demo_core: CoreClient, demo_world: Path, people: UserDirectory
) -> None:
    approvals = demo_core.gate.approvals
    ticket = {"ticket": {"title": "Raise the orders-api connection pool"}}
    async with Client(stdio_server(people.issue_token("alice"))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) >= MUTATIONS and {"query_incidents", "search_logs", "get_service"} <= set(tools)
        assert tools["create_ticket"].annotations.destructive_hint is True

        read = await client.call_tool("get_incident", {"incident_id": INCIDENT})
        assert not read.is_error, text_of(read)
        expected = await demo_core.incidents.get(INCIDENT)
        assert read.structured_content == expected.model_dump(mode="json", by_alias=True, exclude_none=True)

        before = world_state(demo_world)
        refused = await client.call_tool("create_ticket", ticket)
        [request] = approvals.list(status="pending").items
        assert refused.is_error and approvals.approval_url(request.id) in text_of(refused)
        assert request.requested_by == "alice" and request.tool == "create_ticket"

        approvals.approve(request.id, approver=BOB)
        grant = approvals.grant_id_for(request.id, ALICE)
        done = await client.call_tool("create_ticket", ticket, meta={GRANT_META_KEY: grant.id})
        assert not done.is_error, text_of(done)
        created = await demo_core.tickets.get(done.structured_content["id"])
        assert created.title == "Raise the orders-api connection pool"

        replay = await client.call_tool("create_ticket", ticket, meta={GRANT_META_KEY: grant.id})
        assert replay.is_error and "already used" in text_of(replay)
    assert changes(before, world_state(demo_world)) == {"ticket": 1, "idempotency": 1}
    executed = [e for e in demo_core.gate.audit.list(tool="create_ticket").items if e.action == "executed"]
    assert [event.actor_user for event in executed] == ["alice"]


async def test_read_only_stdio_lists_no_mutation(demo_world: Path, people: UserDirectory) -> None:
    async with Client(stdio_server(people.issue_token("alice"), "--read-only")) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert not names & MUTATIONS and "get_incident" in names


def test_stdio_refuses_to_start_without_a_valid_token(people: UserDirectory) -> None:
    bobs = people.issue_token("bob")
    people.disable("bob")
    revoked = people.issue_token("alice")
    people.revoke_token(revoked.split("_")[1])
    for token, args, reason in (
        ("", [], "no API token: set OPSPILOT_TOKEN"),
        ("", ["--user", "alice"], "No such option: --user"),
        ("opspilot_nope_forged", [], "is not valid"),
        (bobs, [], "is not valid"),
        (revoked, [], "is not valid"),
    ):
        run = subprocess.run(
            [str(OPSPILOT), "mcp", *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "OPSPILOT_TOKEN": token},
        )
        assert run.returncode != 0 and reason in run.stderr and run.stdout == ""


async def test_a_token_revoked_while_serving_stops_the_next_call(
    demo_world: Path, people: UserDirectory
) -> None:
    token = people.issue_token("alice")
    async with Client(stdio_server(token)) as client:
        first = await client.call_tool("get_incident", {"incident_id": INCIDENT})
        assert not first.is_error
        people.revoke_token(token.split("_")[1])
        with pytest.raises(MCPError, match="no longer valid"):
            await client.call_tool("get_incident", {"incident_id": INCIDENT})

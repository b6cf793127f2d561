"""``opspilot mcp --user alice`` as a desktop client runs it: a subprocess spoken to over stdio, on the demo world.

The server process and this test share the data folder (and so the database): the approval is given here, as a
person would in the console, and the server sees it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mcp import Client, StdioServerParameters

from core_client.client import CoreClient
from core_client.mcp.server import GRANT_META_KEY
from core_client.users import UserDirectory

from .conftest import BOB, OPSPILOT, text_of
from .test_server import MUTATIONS
from .world_probe import INCIDENT, changes, world_state


def stdio_server(*args: str) -> StdioServerParameters:
    """``opspilot mcp ARGS`` with this test's settings (its data folder and empty opspilot.toml)."""
    return StdioServerParameters(command=str(OPSPILOT), args=["mcp", *args], env=dict(os.environ))


async def test_a_desktop_client_reads_the_world_and_mutates_only_with_a_grant(
    demo_core: CoreClient, demo_world: Path, people: UserDirectory
) -> None:
    approvals = demo_core.gate.approvals
    ticket = {"ticket": {"title": "Raise the orders-api connection pool"}}
    async with Client(stdio_server("--user", "alice")) as client:
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

        grant = approvals.approve(request.id, approver=BOB)
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
    async with Client(stdio_server("--user", "alice", "--read-only")) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert not names & MUTATIONS and "get_incident" in names


def test_stdio_refuses_to_start_for_an_unknown_or_disabled_user(people: UserDirectory) -> None:
    people.disable("bob")
    for user, reason in (("nobody", "no OpsPilot user 'nobody'"), ("bob", "user 'bob' is disabled")):
        run = subprocess.run(
            [str(OPSPILOT), "mcp", "--user", user],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert run.returncode == 1 and reason in run.stderr and run.stdout == ""

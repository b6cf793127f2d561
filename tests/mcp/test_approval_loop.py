"""An MCP client finishes an approval by itself: its refused call names the request and how to go on,
``get_approval`` gives the grant id to the requester only once a person approves, and the call then runs once.

In memory through the SDK's client, and end to end with the official MCP Inspector CLI over stdio and over HTTP
with a bearer token, the approver deciding in ``opspilot approvals`` as another user."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.mcp.server import GRANT_META_KEY, build_server
from core_client.users import UserDirectory
from tests.conftest import require, require_binary
from tests.support.cli_users import CliUser

from .conftest import OPSPILOT, InMemoryIncidents, text_of
from .test_http import serving
from .test_inspector import INSPECTOR
from .world_probe import changes, world_state

NOTE = {"incident_id": "INC-1", "note": {"body": "Rolled back checkout-api to v41"}}
TICKET = {"title": "orders-api: connection pool exhausted", "fields": {"incidentId": "INC-1042"}}


async def test_get_approval_hands_the_grant_to_the_requester_only(
    core: CoreClient, alice: Actor, bob: Actor, incidents: InMemoryIncidents
) -> None:
    carol = Actor(user="carol", role=Role.RESPONDER, via="mcp")
    async with (
        Client(build_server(core, actor=lambda _: alice)) as as_alice,
        Client(build_server(core, actor=lambda _: carol)) as as_carol,
    ):
        refused = await as_alice.call_tool("append_timeline_note", NOTE)
        assert refused.is_error
        [request] = core.gate.approvals.list(status="pending").items
        said = text_of(refused)
        assert f'get_approval with request_id "{request.id}"' in said and GRANT_META_KEY in said

        waiting = await as_alice.call_tool("get_approval", {"request_id": request.id})
        assert not waiting.is_error, text_of(waiting)
        assert waiting.structured_content["status"] == "pending"
        assert waiting.structured_content.get("grant") is None
        assert "waits for an approver" in waiting.structured_content["next"]

        core.gate.approvals.approve(request.id, approver=bob)
        theirs = await as_carol.call_tool("get_approval", {"request_id": request.id})
        assert theirs.structured_content["status"] == "approved"
        assert theirs.structured_content.get("grant") is None, "only the requester is given the grant"
        assert "only alice may use its grant" in theirs.structured_content["next"]

        mine = (await as_alice.call_tool("get_approval", {"request_id": request.id})).structured_content
        grant = mine["grant"]["id"]
        assert grant in mine["next"] and mine["grant"]["state"] == "issued"
        first = await as_alice.call_tool("append_timeline_note", NOTE, meta={GRANT_META_KEY: grant})
        assert not first.is_error, text_of(first)
        again = await as_alice.call_tool("append_timeline_note", NOTE, meta={GRANT_META_KEY: grant})
        assert again.is_error and "already used" in text_of(again)
        done = (await as_alice.call_tool("get_approval", {"request_id": request.id})).structured_content
        unknown = await as_alice.call_tool("get_approval", {"request_id": "nope"})
    assert incidents.calls == [grant], "the change ran exactly once, keyed by its grant"
    assert done["status"] == "executed" and done.get("grant") is None
    assert "carried out already" in done["next"]
    assert unknown.is_error and "no approval request 'nope'" in text_of(unknown)


Inspect = Callable[..., Any]


@pytest.fixture(params=["stdio", "http"])
def inspect_as_alice(
    request: pytest.FixtureRequest, demo_world: Path, people: UserDirectory, tmp_path: Path
) -> Iterator[Inspect]:
    """``inspect(*args, status=0)``: the Inspector's CLI connected as alice to ``opspilot mcp`` over stdio, or
    over HTTP with her API token as a bearer token; its JSON output."""
    require_binary("node")
    require(INSPECTOR.exists(), f"the MCP Inspector is not installed at {INSPECTOR} (make inspector)")
    home = tmp_path / "home"
    home.mkdir()
    token = people.issue_token("alice", "inspector")

    def runner(target: list[str]) -> Inspect:
        def run(*args: str, status: int = 0) -> Any:
            done = subprocess.run(
                # A loaded machine may take longer than the Inspector's 15 s to start the server.
                [str(INSPECTOR), "--cli", "--connect-timeout", "120000", *target, *args],
                capture_output=True,
                text=True,
                timeout=180,
                cwd=tmp_path,
                env={"PATH": os.environ["PATH"], "HOME": str(home)},
            )
            assert done.returncode == status, done.stdout + done.stderr
            return json.loads(done.stdout)

        return run

    if request.param == "stdio":
        # The Inspector gives the server only what -e names, so the test's settings are passed on explicitly.
        settings = [f"{name}={os.environ[name]}" for name in ("OPSPILOT_DATA_DIR", "OPSPILOT_CONFIG")]
        yield runner(
            [*(f"-e{pair}" for pair in [*settings, f"OPSPILOT_TOKEN={token}"]), str(OPSPILOT), "mcp"]
        )
        return
    with serving() as (url, _):
        yield runner([url, "--transport", "http", "--header", f"Authorization: Bearer {token}"])


def test_the_inspector_finishes_an_approval_given_in_the_cli(
    inspect_as_alice: Inspect, people: UserDirectory, demo_core: CoreClient, demo_world: Path
) -> None:
    inspect = inspect_as_alice
    bob = CliUser(name="bob", role=Role.APPROVER, token=people.issue_token("bob", "cli"))
    alice = CliUser(name="alice", role=Role.RESPONDER, token=people.issue_token("alice", "cli"))
    call = (
        "--method",
        "tools/call",
        "--tool-name",
        "create_ticket",
        "--tool-arg",
        f"ticket={json.dumps(TICKET)}",
    )
    before = world_state(demo_world)

    refused = inspect(*call, status=5)
    [request] = demo_core.gate.approvals.list(status="pending").items
    assert refused["isError"] is True and f'request_id "{request.id}"' in refused["content"][0]["text"]
    get = ("--method", "tools/call", "--tool-name", "get_approval", "--tool-arg", f"request_id={request.id}")
    assert inspect(*get)["structuredContent"].get("grant") is None

    approved = bob.invoke("approvals", "approve", request.id)
    assert approved.exit_code == 0, approved.output
    shown = alice.invoke("approvals", "show", request.id)
    status = inspect(*get)["structuredContent"]
    grant = status["grant"]["id"]
    assert shown.exit_code == 0 and grant in shown.output, shown.output
    assert grant not in bob.invoke("approvals", "show", request.id).output

    made = inspect(*call, "--tool-metadata", f"{GRANT_META_KEY}={grant}")
    assert not made.get("isError"), made
    ticket = made["structuredContent"]
    assert ticket["title"] == TICKET["title"] and ticket["fields"]["incidentId"] == "INC-1042"
    replay = inspect(*call, "--tool-metadata", f"{GRANT_META_KEY}={grant}", status=5)
    assert "already used" in replay["content"][0]["text"]
    assert changes(before, world_state(demo_world)) == {"ticket": 1, "idempotency": 1}
    assert inspect(*get)["structuredContent"]["status"] == "executed"

"""Crash tests: a process is killed with SIGKILL at the worst moments, on SQLite and on PostgreSQL; after a restart
the runs, their steps, the grants and the audit trail are intact, and every change to the world ran at most once.

- A worker killed in the middle of a tool call: the backend started again (``CoreRuntime.serving``, what the console
  runs at start-up) resumes the run by itself, the cut-off read is made again and the run ends DONE.
- A worker killed while its run waits in NEEDS_APPROVAL, approved while no worker runs: the restarted backend
  carries the change out exactly once, with the grant, and the audit reads requested -> approved -> executed.
- The MCP server killed in the middle of a mutation (its provider never answered): after a restart the same grant
  cannot run the mutation a second time, and the provider saw it once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from adapters.demo.scenario import load_library
from copilot.machine import TERMINAL, RunState
from copilot.records import RunView
from copilot.store import RunStore
from core_client.approvals import ApprovalBook
from core_client.audit import AuditTrail
from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.identity import Actor, Role
from core_client.mcp.server import GRANT_META_KEY
from core_client.schemas import TicketQuery
from core_client.settings import load_settings
from core_client.store import Database
from core_client.users import UserDirectory
from tests.conftest import port_open
from tests.copilot.conftest import until
from tests.copilot.toolbox_fixtures import free_port
from tests.crash.conftest import Spawn
from tests.demo.world_fixture import SPEC
from tests.faults.faulty_http import FaultyServer

QUESTION = load_library().get(SPEC.scenario).question
BOB = Actor(user="bob", role=Role.APPROVER, via="console")
RICK = Actor(user="rick", role=Role.RESPONDER, via="mcp")


def books(database_url: str) -> tuple[RunStore, ApprovalBook, AuditTrail]:
    database = Database(database_url)
    clock = SystemClock()
    settings = load_settings()
    return (
        RunStore(database, clock=clock),
        ApprovalBook(database, clock=clock, settings=settings),
        AuditTrail(database, clock=clock),
    )


def ended(store: RunStore, run_id: str) -> RunView | None:
    view = store.get(run_id)
    return view if view.state in TERMINAL else None


def assert_intact(view: RunView, before: RunView) -> None:
    """Steps numbered without gaps; what was recorded before the crash is still there, unchanged; every call that
    ended has exactly one outcome."""
    assert [step.seq for step in view.steps] == list(range(1, len(view.steps) + 1))
    assert view.steps[: len(before.steps)] == before.steps
    assert max(Counter(outcome.call_id for outcome in view.outcomes).values()) == 1


async def test_a_run_killed_mid_tool_is_resumed_by_the_restarted_backend(world: str, spawn: Spawn) -> None:
    store, approvals, audit = books(world)
    async with FaultyServer("hang") as metrics:
        worker = await spawn("investigate", QUESTION, env={"HANG_METRICS": metrics.url})
        run_id = (await worker.line("run ")).split()[1]
        record = await until(
            lambda: (r := store.load(run_id)).started_calls and metrics.requests and r, within=120
        )
        cut_off = set(record.started_calls)
        before = store.get(run_id)
        await worker.kill()
    assert before.state == RunState.EXECUTE_TOOL

    backend = await spawn("serve")  # the metrics answer again (the demo world's)
    await backend.line("serving")
    view = await until(lambda: ended(store, run_id), within=120)
    assert view.state == RunState.DONE, view.error
    assert view.answer is not None and view.answer.root_cause is not None
    assert_intact(view, before)
    assert cut_off <= {outcome.call_id for outcome in view.outcomes}, "the cut-off reads were made again"
    assert all(outcome.ok for outcome in view.outcomes if outcome.call_id in cut_off)
    assert approvals.list().items == [] and audit.list().items == [], "nothing asked to change the world"


async def test_a_run_killed_waiting_for_approval_carries_the_change_out_once_after_a_restart(
    world: str, spawn: Spawn
) -> None:
    store, approvals, audit = books(world)
    worker = await spawn("propose", QUESTION)
    await worker.line("run ")
    follow_up = (await worker.line("run ")).split()[1]
    await worker.line("settled NEEDS_APPROVAL")
    before = store.get(follow_up)
    await worker.kill()
    request_id = before.pending_request_id or ""
    assert before.state == RunState.NEEDS_APPROVAL and store.load(follow_up).lease_owner is not None

    approvals.approve(request_id, approver=BOB)  # decided while no worker runs at all
    backend = await spawn("serve")
    await backend.line("serving")
    view = await until(lambda: ended(store, follow_up), within=120)
    assert view.state == RunState.DONE, view.error
    assert_intact(view, before)

    [made] = [outcome for outcome in view.outcomes if outcome.tool.endswith("create_ticket")]
    assert made.ok, made.error
    assert approvals.get(request_id).status == "executed"
    assert approvals.grant_for(request_id).state == "spent"  # type: ignore[union-attr]
    trail = [event.action for event in reversed(audit.list(request_id=request_id).items)]
    assert trail == ["requested", "approved", "executed"]
    title = json.loads(approvals.get(request_id).arguments)["ticket"]["title"]
    core = CoreClient.from_settings(load_settings())
    try:
        tickets = (await core.tickets.query(TicketQuery(query=title, limit=100))).items
    finally:
        await core.aclose()
    assert [ticket.title for ticket in tickets].count(title) == 1, "the ticket was filed once"


async def call_tool(
    url: str, token: str, arguments: dict[str, Any], grant: str | None = None
) -> CallToolResult:
    """One ``create_ticket`` call over streamable HTTP as the token's user, in a session of its own."""
    meta = {GRANT_META_KEY: grant} if grant else None
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool("create_ticket", arguments, meta=meta)


async def test_the_mcp_server_killed_mid_mutation_never_runs_it_twice(world: str, spawn: Spawn) -> None:
    """The ticket system took the request and never answered; nobody can know whether it made the ticket. The
    restarted backend's sweep settles the stranded claim as "outcome unknown" for a person to check (the provider
    keeps no ledger of idempotency keys to ask), and the grant can never run the change again."""
    _, approvals, audit = books(world)
    users = UserDirectory(Database(world), clock=SystemClock(), settings=load_settings())
    users.add("rick", Role.RESPONDER, "correct horse battery")
    token = users.issue_token("rick", "crash test")
    arguments = {"ticket": {"title": "Roll back orders-api", "description": "pool exhausted since 13:38"}}

    async with FaultyServer("hang") as jira:  # the ticket system takes the request and never answers
        jira_env = {
            "OPSORCH_TICKET_PROVIDER": "jira",
            "OPSORCH_TICKET_CONFIG": json.dumps(
                {"site": jira.url, "email": "ops@example.com", "api_token": "t", "project": "OPS"}
            ),
            # A claim outlives its call by this much at most: then it is stranded, and a sweep settles it.
            "OPSORCH_TICKET_TIMEOUT": "5",
        }
        port = free_port()
        url = f"http://127.0.0.1:{port}/mcp"
        server = await spawn("opspilot", "mcp", "--http", f"127.0.0.1:{port}", env=jira_env)
        await until(lambda: port_open("127.0.0.1", port, timeout=0.2), within=120)
        assert (await call_tool(url, token, arguments)).is_error, "no grant, no change"
        [request] = approvals.list("pending").items
        approvals.approve(request.id, approver=BOB)
        grant = approvals.grant_id_for(request.id, RICK).id
        made = asyncio.create_task(call_tool(url, token, arguments, grant))
        await until(lambda: any(line.startswith("POST") for line in jira.requests), within=60)
        await server.kill()  # mid-mutation: the grant is claimed and the provider has the request
        lost = await asyncio.gather(made, return_exceptions=True)
        assert isinstance(lost[0], BaseException), "the client never heard the change was made"
        assert approvals.grant_for(request.id).state == "claimed"  # type: ignore[union-attr]

        backend = await spawn(
            "serve", env=jira_env
        )  # the console's backend, started again: its sweep settles
        await backend.line("serving")
        await until(lambda: approvals.get(request.id).status == "outcome_unknown", within=60)
        restarted = await spawn("opspilot", "mcp", "--http", f"127.0.0.1:{port}", env=jira_env)
        await until(lambda: port_open("127.0.0.1", port, timeout=0.2), within=120)
        again = await call_tool(url, token, arguments, grant)
        await restarted.kill()
        posts = [line for line in jira.requests if line.startswith("POST")]

    assert again.is_error, "the same grant cannot run the change a second time"
    assert len(posts) == 1, "the provider was asked to make the change once"
    assert approvals.grant_for(request.id).state == "unknown"  # type: ignore[union-attr]
    trail = list(reversed(audit.list(tool="create_ticket").items))
    actions = [event.action for event in trail]
    assert actions[:3] == ["refused", "requested", "approved"], actions
    assert "executed" not in actions and "failed" not in actions
    retried = [event for event in trail[3:] if event.action == "refused"]
    assert retried and retried[0].result["error"] == "ApprovalRequired", "the second try is refused, audited"

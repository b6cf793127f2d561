"""The toolbox over real MCP servers: our own in memory, a handshake-era server over stdio shaped like the OpsOrch
MCP server (array output schemas), an SDK server over HTTP behind a token, and servers that fail to start."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.planning import ToolRequest
from copilot.resilience import CircuitBreakers, MemoryCircuits, RetryPolicy
from copilot.toolbox import Toolbox
from core_client.mutations import MUTATIONS, is_mutation
from core_client.settings import McpServerSettings

from .toolbox_fixtures import (
    HTTP_TOKEN,
    approver,
    copilot_actor,
    legacy_stdio,
    make_world,
    running_http_tools,
    settings_with,
)

QUICK = RetryPolicy(attempts=3, initial=0.001, maximum=0.002, jitter=0)


@pytest.fixture
def http_tools_url() -> Iterator[str]:
    with running_http_tools() as url:
        yield url


def recorded_calls(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_tools_are_namespaced_and_kinded_and_a_bad_output_schema_does_not_hide_the_others(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"))
    world, notes = make_world(settings), []
    async with Toolbox.open(settings, world.core, copilot_actor(), notes) as box:
        specs = {spec.name: spec for spec in box.specs}
    own = {name: spec for name, spec in specs.items() if spec.server == "opspilot"}
    assert {f"opspilot.{tool}" for tool in MUTATIONS} <= set(own)
    for name, spec in own.items():
        assert name == f"opspilot.{spec.tool}"
        assert spec.kind == ("destructive" if is_mutation(spec.tool) else "read_only"), name
    assert specs["opspilot.search_logs"].input_schema["type"] == "object"

    foreign = {spec.tool: spec.kind for spec in specs.values() if spec.server == "opsorch"}
    assert foreign == {
        "query-incidents": "read_only",
        "get-health": "read_only",
        "tail-logs": "read_only",
        "stall": "read_only",
        "crash": "read_only",
        "create-issue": "unannotated",
    }
    assert specs["opsorch.query-incidents"].description == "Incidents, newest first."
    assert (
        "MCP server opsorch: tool 'query-incidents' kept without its output schema "
        "(root type 'array'; protocol 2025-11-25 requires 'object')"
    ) in notes
    assert "MCP server opsorch: tool 'broken-tool' skipped: inputSchema: Field required" in notes


async def test_servers_that_fail_to_start_become_notes_and_the_rest_still_work(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        McpServerSettings(name="missing", command=[str(tmp_path / "no-such-server")]),
        McpServerSettings(
            name="crashes", command=[sys.executable, "-c", "raise SystemExit('boom: no API key')"]
        ),
        legacy_stdio("opsorch"),
        McpServerSettings(name="opspilot", url="http://127.0.0.1:9/mcp"),
    )
    world, notes = make_world(settings), []
    async with Toolbox.open(settings, world.core, copilot_actor(), notes) as box:
        servers = {spec.server for spec in box.specs}
        outcome = await box.call(ToolRequest(tool="opsorch.get-health"), call_id="c1")
    assert servers == {"opspilot", "opsorch"}
    assert outcome.ok and outcome.structured == {"status": "ok"}
    unavailable = sorted(note for note in notes if "unavailable" in note)
    assert len(unavailable) == 3
    assert unavailable[0].startswith("MCP server crashes unavailable: ")
    assert unavailable[0].endswith("stderr: boom: no API key")
    assert (
        unavailable[1]
        == f"MCP server missing unavailable: cannot start {tmp_path / 'no-such-server'}: no such file"
    )
    assert unavailable[2] == "MCP server opspilot unavailable: the name 'opspilot' is OpsPilot's own server"


async def test_a_server_that_never_answers_is_given_up_after_the_discovery_timeout(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        McpServerSettings(name="silent", command=[sys.executable, "-c", "import time; time.sleep(60)"]),
    )
    world, notes = make_world(settings), []
    async with Toolbox.open(settings, world.core, copilot_actor(), notes, discovery_timeout=1.5) as box:
        assert {spec.server for spec in box.specs} == {"opspilot"}
    assert notes == ["MCP server silent unavailable: no answer within 1.5 s"]


async def test_an_error_inside_the_block_comes_out_as_itself_and_closes_every_server(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"))
    world = make_world(settings)
    with pytest.raises(KeyError, match=r"no tool 'opsorch\.nothing'"):
        async with Toolbox.open(settings, world.core, copilot_actor(), []) as box:
            box.approval_name("opsorch.nothing")


async def test_array_results_of_a_handshake_era_server_come_through_as_data(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"))
    world = make_world(settings)
    async with Toolbox.open(settings, world.core, copilot_actor(), []) as box:
        outcome = await box.call(
            ToolRequest(tool="opsorch.query-incidents", arguments={"limit": 2}), call_id="call-7"
        )
    assert outcome.ok, outcome.error
    assert outcome.call_id == "call-7" and outcome.tool == "opsorch.query-incidents"
    assert outcome.arguments == {"limit": 2}
    assert outcome.structured == [
        {"id": "INC-7", "title": "checkout 5xx"},
        {"id": "INC-8", "title": "payments slow"},
    ]
    assert json.loads(outcome.text) == outcome.structured
    assert outcome.duration_ms > 0


async def test_concurrent_calls_each_get_their_own_answer_and_a_dead_server_only_fails_its_calls(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"))
    world = make_world(settings)
    requests = [ToolRequest(tool="opsorch.query-incidents", arguments={"limit": n % 2 + 1}) for n in range(6)]
    requests += [
        ToolRequest(tool="opspilot.get_incident", arguments={"incident_id": f"INC-{n}"}) for n in range(3)
    ]
    async with Toolbox.open(settings, world.core, copilot_actor(), [], retry=QUICK) as box:
        outcomes = await asyncio.gather(
            *(box.call(request, call_id=f"c{n}") for n, request in enumerate(requests))
        )
        crashed = await box.call(ToolRequest(tool="opsorch.crash"), call_id="crash")
        after = await box.call(ToolRequest(tool="opsorch.get-health"), call_id="after")
        own = await box.call(
            ToolRequest(tool="opspilot.get_incident", arguments={"incident_id": "INC-1"}), call_id="own"
        )
    assert [outcome.call_id for outcome in outcomes] == [f"c{n}" for n in range(len(requests))]
    assert all(outcome.ok for outcome in outcomes)
    assert [len(outcome.structured) for outcome in outcomes[:6]] == [1, 2, 1, 2, 1, 2]
    assert [outcome.structured["id"] for outcome in outcomes[6:]] == ["INC-0", "INC-1", "INC-2"]
    assert not crashed.ok and not after.ok
    assert "Connection closed" in (after.error or "")
    assert own.ok


async def test_an_http_server_is_reached_with_its_bearer_token(tmp_path: Path, http_tools_url: str) -> None:
    good = McpServerSettings(name="ops-http", url=http_tools_url, token=HTTP_TOKEN)
    bad = McpServerSettings(name="wrong-token", url=http_tools_url, token="not-the-token")
    settings = settings_with(tmp_path, good, bad)
    world, notes = make_world(settings), []
    async with Toolbox.open(settings, world.core, copilot_actor(), notes) as box:
        kinds = {spec.tool: spec.kind for spec in box.specs if spec.server == "ops-http"}
        outcome = await box.call(
            ToolRequest(tool="ops-http.lookup_service", arguments={"name": "payments-api"}), call_id="c1"
        )
    assert kinds == {
        "lookup_service": "read_only",
        "restart_service": "destructive",
        "annotate_dashboard": "unannotated",
    }
    assert outcome.ok, outcome.error
    assert outcome.structured == {"name": "payments-api", "owner": "team-payments", "tier": 1}
    assert [note for note in notes if note.startswith("MCP server wrong-token unavailable: ")], notes


async def test_tool_errors_and_unknown_tools_come_back_as_outcomes(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings)
    async with Toolbox.open(settings, world.core, copilot_actor(), []) as box:
        missing = await box.call(
            ToolRequest(tool="opspilot.get_incident", arguments={"incident_id": "INC-404"}), call_id="c1"
        )
        unknown = await box.call(ToolRequest(tool="nowhere.delete_everything"), call_id="c2")
        invalid = await box.call(
            ToolRequest(tool="opspilot.get_incident", arguments={"incident_id": 7, "extra": True}),
            call_id="c3",
        )
    assert not missing.ok and "NotFound" in (missing.error or "") and "INC-404" in (missing.error or "")
    assert missing.structured["error"] == "NotFound"
    assert (
        not unknown.ok
        and unknown.error == "no tool 'nowhere.delete_everything'; the tools are listed in ToolSpec.name"
    )
    assert not invalid.ok and invalid.error


async def test_results_are_cut_to_the_budget(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"), budget=2_000)
    world = make_world(settings)
    async with Toolbox.open(settings, world.core, copilot_actor(), []) as box:
        outcome = await box.call(
            ToolRequest(tool="opsorch.tail-logs", arguments={"lines": 300}), call_id="c1"
        )
    assert outcome.ok
    assert len(outcome.text) <= 2_000 + 60 and "more characters cut" in outcome.text
    assert len(json.dumps(outcome.structured, separators=(",", ":")).encode()) <= 2_000
    assert 1 <= len(outcome.structured) < 300
    assert outcome.structured[0] == {"line": 0, "message": "GET /checkout 503 upstream timeout " + "x" * 80}


async def test_reads_are_retried_and_mutations_never(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings, incident_failures=2, ticket_failures=1)
    actor = copilot_actor()
    arguments = {"ticket": {"title": "Roll back dep-17"}}
    approvals = world.core.gate.approvals
    request = approvals.request(
        "create_ticket", arguments, requester=actor, evidence=[], risk="low", environment=None
    )
    grant = approvals.approve(request.id, approver=approver())
    async with Toolbox.open(settings, world.core, actor, [], retry=QUICK) as box:
        read = await box.call(
            ToolRequest(tool="opspilot.query_incidents", arguments={"limit": 1}), call_id="r"
        )
        write = await box.call(
            ToolRequest(tool="opspilot.create_ticket", arguments=arguments), call_id="w", grant=grant.id
        )
    assert read.ok, read.error
    assert world.incidents.queries == 3
    assert not write.ok and "ProviderUnavailable" in (write.error or "")
    assert world.tickets.creates == 1


async def test_the_grant_travels_in_the_request_meta_and_is_spent_once(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings)
    actor = copilot_actor()
    arguments = {"ticket": {"title": "Follow up on dep-17"}}
    async with Toolbox.open(settings, world.core, actor, []) as box:
        refused = await box.call(
            ToolRequest(tool="opspilot.create_ticket", arguments=arguments), call_id="c1"
        )
        approvals = world.core.gate.approvals
        request = approvals.request(
            box.approval_name("opspilot.create_ticket"),
            arguments,
            requester=actor,
            evidence=[],
            risk="low",
            environment=None,
        )
        grant = approvals.approve(request.id, approver=approver())
        created = await box.call(
            ToolRequest(tool="opspilot.create_ticket", arguments=arguments), call_id="c2", grant=grant.id
        )
        again = await box.call(
            ToolRequest(tool="opspilot.create_ticket", arguments=arguments), call_id="c3", grant=grant.id
        )
    assert not refused.ok and "ApprovalRequired" in (refused.error or "")
    assert created.ok, created.error
    assert [ticket.title for ticket in world.tickets.items] == ["Follow up on dep-17"]
    assert not again.ok and "ApprovalRequired" in (again.error or "")


async def test_an_unannotated_foreign_tool_runs_only_with_a_grant_for_its_exact_arguments(
    tmp_path: Path,
) -> None:
    calls_file = tmp_path / "calls.jsonl"
    settings = settings_with(tmp_path, legacy_stdio("opsorch", calls_file=calls_file))
    world = make_world(settings)
    actor = copilot_actor()
    approvals = world.core.gate.approvals
    arguments = {"title": "Roll back dep-17"}
    async with Toolbox.open(settings, world.core, actor, []) as box:
        name = box.approval_name("opsorch.create-issue")
        request = approvals.request(
            name, arguments, requester=actor, evidence=[], risk="high", environment=None, kind="unannotated"
        )
        grant = approvals.approve(request.id, approver=approver())
        without = await box.call(ToolRequest(tool="opsorch.create-issue", arguments=arguments), call_id="c1")
        other_arguments = await box.call(
            ToolRequest(tool="opsorch.create-issue", arguments={"title": "Delete prod"}),
            call_id="c2",
            grant=grant.id,
        )
        assert recorded_calls(calls_file) == [], "the server saw a call nobody approved"
        approved = await box.call(
            ToolRequest(tool="opsorch.create-issue", arguments=arguments), call_id="c3", grant=grant.id
        )
    assert name == "opsorch.create-issue"
    assert not without.ok and "ApprovalRequired" in (without.error or "")
    assert not other_arguments.ok and "ApprovalRequired" in (other_arguments.error or "")
    assert approved.ok, approved.error
    assert approved.structured == {"key": "OPS-1", "title": "Roll back dep-17"}
    [call] = recorded_calls(calls_file)
    assert call["arguments"] == arguments
    assert call["_meta"]["opspilot/grant"] == grant.id
    assert approvals.grant_for(request.id).state == "spent"


async def test_a_server_that_keeps_timing_out_trips_its_circuit(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"))
    world = make_world(settings)
    breakers = CircuitBreakers(MemoryCircuits(), threshold=2, cooldown=60)
    async with Toolbox.open(
        settings,
        world.core,
        copilot_actor(),
        [],
        breakers=breakers,
        retry=RetryPolicy(attempts=1),
        call_timeout=0.2,
    ) as box:
        slow = [await box.call(ToolRequest(tool="opsorch.stall"), call_id=f"s{i}") for i in range(2)]
        refused = await box.call(ToolRequest(tool="opsorch.get-health"), call_id="h")
        own = await box.call(ToolRequest(tool="opspilot.query_incidents"), call_id="o")
    assert all(not outcome.ok and "MCP error" in (outcome.error or "") for outcome in slow)
    assert not refused.ok
    assert refused.error == "ProviderUnavailable: circuit open for mcp:opsorch; retrying after 60 s"
    assert own.ok, "one server's circuit does not touch another's"
    assert (await breakers.status("mcp:opsorch")).state == "open"

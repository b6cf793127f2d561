"""The toolbox over real MCP servers: our own in memory, a handshake-era server over stdio shaped like the OpsOrch
MCP server (array output schemas), an SDK server over HTTP behind a token, and servers that fail to start."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from redis.asyncio import Redis

from copilot.planning import ToolOutcome, ToolRequest
from copilot.resilience import CircuitBreakers, MemoryCircuits, RedisCircuits, RetryPolicy
from copilot.toolbox import TOOL_CAPABILITY, OwnServers, Toolbox
from core_client.approvals import ApprovalBook
from core_client.identity import Actor, Role
from core_client.mutations import MUTATIONS, is_mutation
from core_client.settings import McpServerSettings

from .test_resilience import FakeClock
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
    approvals.approve(request.id, approver=approver())
    grant = approvals.grant_id_for(request.id, actor)
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
        approvals.approve(request.id, approver=approver())
        grant = approvals.grant_id_for(request.id, actor)
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
        approvals.approve(request.id, approver=approver())
        grant = approvals.grant_id_for(request.id, actor)
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


async def test_a_hanging_server_costs_a_run_its_timeout_once_and_runs_that_keep_meeting_it_trip_its_circuit(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, legacy_stdio("opsorch"))
    world = make_world(settings)
    breakers = CircuitBreakers(MemoryCircuits(), threshold=2, cooldown=60)
    stall = ToolRequest(tool="opsorch.stall")

    def run_toolbox() -> AbstractAsyncContextManager[Toolbox]:
        # Three attempts per read: a call that hangs is still made once.
        return Toolbox.open(
            settings,
            world.core,
            copilot_actor(),
            [],
            breakers=breakers,
            retry=RetryPolicy(attempts=3, initial=0.01),
            call_timeout=0.2,
        )

    async with run_toolbox() as box:
        first = await box.call(stall, call_id="s1")
        again = await box.call(stall, call_id="s2")
        other_tool = await box.call(ToolRequest(tool="opsorch.get-health"), call_id="h")
        own = await box.call(ToolRequest(tool="opspilot.query_incidents"), call_id="o")
    assert not first.ok and "MCP error" in (first.error or "")
    gone = "MCP server opsorch gave no answer within 0.2 s; not asked again in this run"
    assert gone in (again.error or "") and gone in (other_tool.error or "")
    assert own.ok, "one server's trouble does not touch another's"
    assert (await breakers.status("mcp:opsorch")).failures == 1, "the call that hung was not retried"

    async with run_toolbox() as box:  # the next run asks again, and meets the hang again: the circuit opens
        assert not (await box.call(stall, call_id="s1")).ok
    async with run_toolbox() as box:
        refused = await box.call(ToolRequest(tool="opsorch.get-health"), call_id="h")
    assert (refused.error or "").startswith(
        "ProviderUnavailable: circuit open for mcp:opsorch; retrying after"
    )
    assert (await breakers.status("mcp:opsorch")).state == "open"


# --- circuits per provider ----------------------------------------------------------------------------------

ONCE = RetryPolicy(attempts=1)
INCIDENTS = ToolRequest(tool="opspilot.query_incidents", arguments={"limit": 1})
ONE_INCIDENT = ToolRequest(tool="opspilot.get_incident", arguments={"incident_id": "INC-1"})
TICKETS = ToolRequest(tool="opspilot.query_tickets", arguments={"limit": 1})


async def test_every_mapped_tool_is_one_of_ours_and_only_provider_free_tools_are_left_out(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings)
    async with Toolbox.open(settings, world.core, copilot_actor(), []) as box:
        own = {spec.tool for spec in box.specs if spec.server == "opspilot"}
    assert set(TOOL_CAPABILITY) <= own
    assert own - set(TOOL_CAPABILITY) == {
        "get_approval",
        "list_providers",
        "read_file",
        "list_directory",
        "write_file",
        "generate_report",
    }
    assert {TOOL_CAPABILITY[tool] for tool in ("search_logs", "get_log_context", "compare_log_patterns")} == {
        "log"
    }
    assert {
        TOOL_CAPABILITY[tool] for tool in ("query_metrics", "describe_metrics", "detect_metric_anomalies")
    } == {"metric"}


async def test_a_failing_provider_opens_its_circuit_and_the_other_capabilities_keep_working(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings, incident_failures=2)
    clock = FakeClock()
    breakers = CircuitBreakers(MemoryCircuits(), threshold=2, cooldown=60, clock=clock)
    async with Toolbox.open(settings, world.core, copilot_actor(), [], breakers=breakers, retry=ONCE) as box:
        failed = [await box.call(INCIDENTS, call_id=f"f{n}") for n in range(2)]
        assert world.incidents.queries == 2
        refused, again = [await box.call(request, call_id="r") for request in (INCIDENTS, ONE_INCIDENT)]
        tickets = await box.call(TICKETS, call_id="t")
        assert world.incidents.queries == 2, "an open circuit refuses without calling the provider"
        assert (await breakers.status("provider:incident")).state == "open"
        assert (await breakers.status("provider:ticket")).state == "closed"
        assert (await breakers.status("mcp:opspilot")).state == "closed", "the server itself answered"
        clock.advance(
            60
        )  # the cooldown is over, but this run found the circuit open: it leaves the source alone
        late = await box.call(INCIDENTS, call_id="l")
        assert world.incidents.queries == 2
    assert all(not outcome.ok and "ProviderUnavailable" in (outcome.error or "") for outcome in failed)
    assert all("incident backend refused the connection" in (outcome.error or "") for outcome in failed)
    assert refused.error == "ProviderUnavailable: circuit open for provider:incident; retrying after 60 s"
    for outcome in (again, late):
        assert not outcome.ok
        assert outcome.error == (
            "ProviderUnavailable: circuit open for provider:incident; retrying after 60 s; not asked again in this run"
        )
    assert tickets.ok, tickets.error

    # The provider has recovered meanwhile: the next run's first call is the probe, which closes the circuit.
    async with Toolbox.open(settings, world.core, copilot_actor(), [], breakers=breakers, retry=ONCE) as box:
        probe = await box.call(INCIDENTS, call_id="p")
    assert probe.ok, probe.error
    assert (await breakers.status("provider:incident")).state == "closed"


async def test_caller_mistakes_and_retried_successes_do_not_count_against_a_provider(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings, incident_failures=2)
    breakers = CircuitBreakers(MemoryCircuits(), threshold=3, cooldown=60)
    async with Toolbox.open(settings, world.core, copilot_actor(), [], breakers=breakers, retry=QUICK) as box:
        retried = await box.call(INCIDENTS, call_id="r")
        missing = [
            await box.call(
                ToolRequest(tool="opspilot.get_incident", arguments={"incident_id": "INC-404"}),
                call_id=f"m{n}",
            )
            for n in range(4)
        ]
    assert retried.ok, retried.error
    assert all(not outcome.ok and "NotFound" in (outcome.error or "") for outcome in missing)
    status = await breakers.status("provider:incident")
    assert (status.state, status.failures) == ("closed", 0)


@pytest.fixture
async def shared_breakers(redis_url: str) -> AsyncIterator[Callable[[], CircuitBreakers]]:
    """Breakers over the real Redis, each with its own connection as two processes would have, sharing
    circuits under a prefix of this test's own."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    made: list[CircuitBreakers] = []

    def make() -> CircuitBreakers:
        store = RedisCircuits(Redis.from_url(redis_url), ttl_seconds=600, prefix=prefix)
        made.append(CircuitBreakers(store, threshold=2, cooldown=60))
        return made[-1]

    yield make
    for breakers in made:
        await breakers.aclose()


async def test_a_provider_circuit_opened_in_one_process_is_open_in_every_process(
    tmp_path: Path, shared_breakers: Callable[[], CircuitBreakers]
) -> None:
    settings = settings_with(tmp_path)
    failing, healthy = make_world(settings, incident_failures=10), make_world(settings)
    async with Toolbox.open(
        settings, failing.core, copilot_actor(), [], breakers=shared_breakers(), retry=ONCE
    ) as first:
        for n in range(2):
            assert not (await first.call(INCIDENTS, call_id=f"f{n}")).ok
    other = shared_breakers()
    async with Toolbox.open(
        settings, healthy.core, copilot_actor(), [], breakers=other, retry=ONCE
    ) as second:
        refused = await second.call(INCIDENTS, call_id="r")
        tickets = await second.call(TICKETS, call_id="t")
    assert not refused.ok and (refused.error or "").startswith(
        "ProviderUnavailable: circuit open for provider:incident; retrying after "
    )
    assert healthy.incidents.queries == 0
    assert tickets.ok, tickets.error
    assert (await other.status("provider:incident")).state == "open"
    assert (await other.status("provider:ticket")).state == "closed"


# --- our own server, built once per actor ---------------------------------------------------------------------


async def make_ticket(
    box: Toolbox, approvals: ApprovalBook, actor: Actor, title: str
) -> tuple[ToolOutcome, str]:
    """Create a ticket through ``box`` with a grant a person approved: the outcome and the request's id."""
    arguments = {"ticket": {"title": title}}
    request = approvals.request(
        "create_ticket", arguments, requester=actor, evidence=[], risk="low", environment=None
    )
    approvals.approve(request.id, approver=approver())
    grant = approvals.grant_id_for(request.id, actor)
    outcome = await box.call(
        ToolRequest(tool="opspilot.create_ticket", arguments=arguments), call_id="c", grant=grant.id
    )
    return outcome, request.id


async def test_our_server_is_built_once_per_actor_and_every_change_is_audited_as_its_runs_user(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path)
    world = make_world(settings)
    approvals = world.core.gate.approvals
    own = OwnServers(world.core)
    alice, carol = copilot_actor(), Actor.copilot_for("carol", Role.RESPONDER)
    assert own.server_for(alice) is own.server_for(Actor.copilot_for("alice", Role.RESPONDER))
    assert own.server_for(carol) is not own.server_for(alice)
    assert own.server_for(Actor.copilot_for("alice", Role.APPROVER)) is not own.server_for(alice)

    made: list[tuple[Actor, tuple[ToolOutcome, str]]] = []
    for actor in (alice, carol, alice):
        async with Toolbox.open(settings, world.core, actor, [], own=own) as box:
            made.append((actor, await make_ticket(box, approvals, actor, f"for {actor.user}")))
    async with (
        Toolbox.open(settings, world.core, alice, [], own=own) as one,
        Toolbox.open(settings, world.core, alice, [], own=own) as other,
    ):
        together = await asyncio.gather(
            make_ticket(one, approvals, alice, "first at once"),
            make_ticket(other, approvals, alice, "second"),
        )
    made += [(alice, outcome) for outcome in together]

    assert len(world.tickets.items) == 5
    for actor, (outcome, request_id) in made:
        assert outcome.ok, outcome.error
        executed = approvals.audit.list(request_id=request_id, action="executed").items
        assert [event.actor for event in executed] == [f"copilot for {actor.user}"]


async def test_own_servers_keep_the_latest_actors_and_serve_one_core(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    world, elsewhere = make_world(settings), make_world(settings)
    own = OwnServers(world.core, keep=1)
    alice, carol = copilot_actor(), Actor.copilot_for("carol", Role.RESPONDER)
    first = own.server_for(alice)
    assert own.server_for(alice) is first
    own.server_for(carol)
    assert own.server_for(alice) is not first, "past keep, the least recently used server is let go"
    with pytest.raises(ValueError, match="serve another CoreClient"):
        async with Toolbox.open(settings, elsewhere.core, alice, [], own=own):
            pass

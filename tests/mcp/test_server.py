"""The MCP server through the SDK's in-memory client: tools, annotations, bounds, approvals and the data folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp import Client

from core_client.client import CoreClient
from core_client.identity import Actor
from core_client.mcp.server import GRANT_META_KEY, build_server

from .conftest import InMemoryIncidents, text_of

MUTATIONS = {
    "create_incident",
    "update_incident",
    "append_timeline_note",
    "create_ticket",
    "update_ticket",
    "send_message",
    "page_oncall",
    "write_file",
    "generate_report",
}


async def test_reads_are_read_only_and_mutations_destructive(core: CoreClient, alice: Actor) -> None:
    async with Client(build_server(core, actor=lambda _: alice)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) >= MUTATIONS
    for name, tool in tools.items():
        assert tool.description, f"{name} has no description"
        assert tool.output_schema is not None, f"{name} has no output schema"
        if name in MUTATIONS:
            assert tool.annotations.destructive_hint is True and tool.annotations.read_only_hint is False
        else:
            assert tool.annotations.read_only_hint is True, name
    assert {"query_incidents", "search_logs", "query_metrics", "get_runbook", "list_providers"} <= set(tools)


async def test_read_only_flag_hides_every_mutation(core: CoreClient, alice: Actor) -> None:
    async with Client(build_server(core, actor=lambda _: alice, read_only=True)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert not names & MUTATIONS
    assert "query_incidents" in names


async def test_large_results_are_cut_to_the_budget_and_continue_by_cursor(
    core: CoreClient, alice: Actor, incidents: InMemoryIncidents
) -> None:
    budget = core.settings.mcp_result_budget
    seen: list[str] = []
    async with Client(build_server(core, actor=lambda _: alice)) as client:
        cursor = None
        for _ in range(100):
            result = await client.call_tool("query_incidents", {"limit": 500, "cursor": cursor})
            assert not result.is_error, text_of(result)
            assert len(json.dumps(result.structured_content)) <= budget * 1.1
            assert len(text_of(result)) <= budget * 1.2
            # The text is a one-line summary, then exactly the structured content as JSON.
            assert json.loads(text_of(result).split("\n", 1)[1]) == result.structured_content
            seen += [item["id"] for item in result.structured_content["items"]]
            cursor = result.structured_content["next_cursor"]
            if cursor is None:
                break
    assert seen == [incident.id for incident in incidents.items], "pages overlap or leave gaps"


async def test_a_mutation_without_a_grant_is_refused_with_a_link_to_approve(
    core: CoreClient, alice: Actor, incidents: InMemoryIncidents
) -> None:
    async with Client(build_server(core, actor=lambda _: alice)) as client:
        result = await client.call_tool(
            "update_incident", {"incident_id": "INC-1", "changes": {"status": "resolved"}}
        )
    assert result.is_error
    assert "approval" in text_of(result).lower()
    assert "http://localhost:3000/approvals/" in text_of(result)
    assert incidents.calls == []
    pending = core.gate.approvals.list(status="pending").items
    assert [request.tool for request in pending] == ["update_incident"]


async def test_a_grant_runs_once_and_never_for_other_arguments(
    core: CoreClient, alice: Actor, bob: Actor, incidents: InMemoryIncidents
) -> None:
    approvals = core.gate.approvals
    arguments = {"incident_id": "INC-1", "note": {"body": "Rolled back checkout-api to v41"}}
    request = approvals.request(
        "append_timeline_note", arguments, requester=alice, evidence=[], risk="low", environment=None
    )
    approvals.approve(request.id, approver=bob)
    grant = approvals.grant_id_for(request.id, alice)
    async with Client(build_server(core, actor=lambda _: alice)) as client:
        changed = await client.call_tool(
            "append_timeline_note",
            {"incident_id": "INC-1", "note": {"body": "Something else"}},
            meta={GRANT_META_KEY: grant.id},
        )
        assert changed.is_error and "argument" in text_of(changed).lower()
        first = await client.call_tool("append_timeline_note", arguments, meta={GRANT_META_KEY: grant.id})
        assert not first.is_error, text_of(first)
        replay = await client.call_tool("append_timeline_note", arguments, meta={GRANT_META_KEY: grant.id})
        assert replay.is_error
    assert incidents.calls == [grant.id], "the mutation must run exactly once, keyed by the grant"
    actions = [event.action for event in core.gate.audit.list(tool="append_timeline_note").items]
    assert "executed" in actions and actions.count("refused") >= 2


async def test_file_tools_stay_inside_the_data_folder(
    core: CoreClient, alice: Actor, bob: Actor, tmp_path: Path
) -> None:
    root = core.settings.resolved_files_dir
    root.mkdir(parents=True, exist_ok=True)
    (root / "notes.md").write_text("hello")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    os.symlink(secret, root / "leak.txt")
    os.symlink(tmp_path, root / "outside")
    async with Client(build_server(core, actor=lambda _: alice)) as client:
        ok = await client.call_tool("read_file", {"path": "notes.md"})
        assert ok.structured_content["content"] == "hello"
        for path in ("../secret.txt", str(secret), "leak.txt", "outside/secret.txt", "a/../../secret.txt"):
            result = await client.call_tool("read_file", {"path": path})
            assert result.is_error and "Forbidden" in text_of(result), path
            assert "do not read" not in text_of(result)
        listing = await client.call_tool("list_directory", {"path": ""})
        assert [item["path"] for item in listing.structured_content["items"]] == ["notes.md"]
        escape = await client.call_tool("write_file", {"path": "../evil.md", "content": "x"})
        assert escape.is_error and "Forbidden" in text_of(escape)
    assert not (tmp_path / "evil.md").exists()
    assert core.gate.approvals.list(status="pending").items == [], "an escaping path must not reach approval"


async def test_generate_report_writes_markdown_after_approval(
    core: CoreClient, alice: Actor, bob: Actor
) -> None:
    report = {
        "title": "Checkout errors",
        "summary": "The payments pool was exhausted.",
        "findings": [{"text": "Pool at 100%", "evidence": ["/metrics?metric=db_pool_in_use"]}],
    }
    async with Client(build_server(core, actor=lambda _: alice)) as client:
        refused = await client.call_tool("generate_report", {"path": "reports/r.md", "report": report})
        assert refused.is_error
        request = core.gate.approvals.list(status="pending").items[0]
        core.gate.approvals.approve(request.id, approver=bob)
        grant = core.gate.approvals.grant_id_for(request.id, alice)
        done = await client.call_tool(
            "generate_report", {"path": "reports/r.md", "report": report}, meta={GRANT_META_KEY: grant.id}
        )
        assert not done.is_error, text_of(done)
    written = (core.settings.resolved_files_dir / "reports" / "r.md").read_text()
    assert written.startswith("# Checkout errors") and "[1](/metrics?metric=db_pool_in_use)" in written

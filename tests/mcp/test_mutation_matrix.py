"""Every mutation tool on the demo world, through the real gate: refused without a grant (with a link to approve),
run exactly once with one, refused on replay and on changed arguments, hidden by a read-only server. And no file
tool leaves the data folder, however the path is written, with or without a grant."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from core_client.client import CoreClient
from core_client.mcp.server import GRANT_META_KEY, build_server
from core_client.mutations import MUTATIONS

from .conftest import ALICE, BOB, InMemoryIncidents, text_of
from .world_probe import INCIDENT, TICKET, changes, world_state


@dataclass(frozen=True)
class Case:
    tool: str
    arguments: dict[str, Any]
    changed: dict[str, Any]
    # What one run changes (see world_probe): counts as their increase, statuses as their new value.
    effect: dict[str, int | str]


REPORT = {
    "title": "Orders pool exhaustion",
    "summary": "orders-api ran out of database connections after the 14:05 deploy.",
    "findings": [{"text": "Pool in use at 100%", "evidence": ["/metrics?metric=db_pool_in_use"]}],
}
CASES = [
    Case(
        "create_incident",
        {"incident": {"title": "Orders API 5xx", "service": "orders-api", "severity": "sev2"}},
        {"incident": {"title": "Orders API 4xx", "service": "orders-api", "severity": "sev2"}},
        {"incident": 1, "idempotency": 1},
    ),
    Case(
        "update_incident",
        {"incident_id": INCIDENT, "changes": {"status": "mitigating"}},
        {"incident_id": INCIDENT, "changes": {"status": "resolved"}},
        {"idempotency": 1, INCIDENT: "mitigating"},
    ),
    Case(
        "append_timeline_note",
        {"incident_id": INCIDENT, "note": {"body": "Rolled back orders-api to v41"}},
        {"incident_id": INCIDENT, "note": {"body": "Rolled back payments-api to v12"}},
        {"timeline": 1, "idempotency": 1},
    ),
    Case(
        "create_ticket",
        {"ticket": {"title": "Raise the orders-api connection pool"}},
        {"ticket": {"title": "Lower the orders-api connection pool"}},
        {"ticket": 1, "idempotency": 1},
    ),
    Case(
        "update_ticket",
        {"ticket_id": TICKET, "changes": {"status": "In Progress"}},
        {"ticket_id": TICKET, "changes": {"status": "Done"}},
        {"idempotency": 1, TICKET: "In Progress"},
    ),
    Case(
        "send_message",
        {"message": {"channel": "#incidents", "body": "orders-api is recovering"}},
        {"message": {"channel": "#general", "body": "orders-api is recovering"}},
        {"message": 1, "idempotency": 1},
    ),
    Case(
        "page_oncall",
        {"page": {"service": "orders-api", "summary": "Orders pool exhausted"}},
        {"page": {"service": "payments-api", "summary": "Orders pool exhausted"}},
        {"page_request": 1, "idempotency": 1},
    ),
    Case(
        "write_file",
        {"path": "notes/handover.md", "content": "Watch the orders pool."},
        {"path": "notes/handover.md", "content": "Nothing to watch."},
        {"files": 1},
    ),
    Case(
        "generate_report",
        {"path": "reports/orders.md", "report": REPORT},
        {"path": "reports/orders.md", "report": {**REPORT, "title": "Something else"}},
        {"files": 1},
    ),
]


def test_the_matrix_covers_every_mutation() -> None:
    assert {case.tool for case in CASES} == set(MUTATIONS)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.tool)
async def test_a_mutation_needs_its_own_grant_and_runs_once(
    case: Case, demo_core: CoreClient, demo_world: Path
) -> None:
    approvals = demo_core.gate.approvals
    before = world_state(demo_world)
    async with Client(build_server(demo_core, actor=lambda _: ALICE)) as client:
        refused = await client.call_tool(case.tool, case.arguments)
        assert refused.is_error and "approval" in text_of(refused).lower()
        [request] = [r for r in approvals.list(status="pending").items if r.tool == case.tool]
        assert approvals.approval_url(request.id) in text_of(refused), "the refusal links to the request"
        assert world_state(demo_world) == before
        approvals.approve(request.id, approver=BOB)
        grant = approvals.grant_id_for(request.id, ALICE)
        meta = {GRANT_META_KEY: grant.id}

        changed = await client.call_tool(case.tool, case.changed, meta=meta)
        assert changed.is_error and "arguments differ" in text_of(changed)
        assert world_state(demo_world) == before

        done = await client.call_tool(case.tool, case.arguments, meta=meta)
        assert not done.is_error, text_of(done)
        after = world_state(demo_world)
        assert changes(before, after) == case.effect

        replay = await client.call_tool(case.tool, case.arguments, meta=meta)
        assert replay.is_error and "already used" in text_of(replay)
        assert world_state(demo_world) == after
    audit = demo_core.gate.audit.list(tool=case.tool).items
    assert [event.action for event in audit].count("executed") == 1
    assert approvals.get(request.id).status == "executed"


@pytest.mark.parametrize("tool", sorted(MUTATIONS))
async def test_a_read_only_server_neither_lists_nor_runs_a_mutation(
    tool: str, core: CoreClient, incidents: InMemoryIncidents
) -> None:
    async with Client(build_server(core, actor=lambda _: ALICE, read_only=True)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        called = await client.call_tool(tool, {})
    assert tool not in names and "query_incidents" in names
    assert called.is_error and "unknown tool" in text_of(called).lower()
    assert incidents.calls == []


@pytest.fixture
def escapes(tmp_path: Path, demo_core: CoreClient) -> dict[str, tuple[str, str]]:
    """Ways out of the data folder, each as (a file's path, a folder's path): '..', absolute, and symlinks."""
    root = demo_core.settings.resolved_files_dir
    root.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not read")
    os.symlink(outside / "secret.txt", root / "leak.txt")
    os.symlink(outside, root / "door")
    return {
        "dotdot": ("../outside/secret.txt", "../outside"),
        "absolute": (str(outside / "secret.txt"), str(outside)),
        "symlink": ("leak.txt", "door"),
        "through-a-symlink": ("door/secret.txt", "door/../door"),
    }


ESCAPES = ["dotdot", "absolute", "symlink", "through-a-symlink"]


def escape_call(tool: str, file: str, folder: str) -> dict[str, Any]:
    if tool == "list_directory":
        return {"path": folder}
    if tool == "write_file":
        return {"path": file, "content": "overwritten", "overwrite": True}
    if tool == "generate_report":
        return {"path": file, "report": REPORT, "overwrite": True}
    return {"path": file}


@pytest.mark.parametrize("way", ESCAPES)
@pytest.mark.parametrize("tool", ["read_file", "list_directory", "write_file", "generate_report"])
async def test_no_path_leaves_the_data_folder(
    tool: str, way: str, escapes: dict[str, tuple[str, str]], demo_core: CoreClient, tmp_path: Path
) -> None:
    arguments = escape_call(tool, *escapes[way])
    async with Client(build_server(demo_core, actor=lambda _: ALICE)) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error and "Forbidden" in text_of(result), arguments
    assert "do not read" not in text_of(result) and "secret.txt" not in str(result.structured_content)
    assert (tmp_path / "outside" / "secret.txt").read_text() == "do not read"
    assert demo_core.gate.approvals.list(status="pending").items == [], "an escape is refused before approval"


@pytest.mark.parametrize("way", ESCAPES)
async def test_a_grant_does_not_open_a_way_out(
    way: str, escapes: dict[str, tuple[str, str]], demo_core: CoreClient, tmp_path: Path
) -> None:
    arguments = escape_call("write_file", *escapes[way])
    approvals = demo_core.gate.approvals
    request = approvals.request(
        "write_file", arguments, requester=ALICE, evidence=[], risk="low", environment=None
    )
    approvals.approve(request.id, approver=BOB)
    grant = approvals.grant_id_for(request.id, ALICE)
    async with Client(build_server(demo_core, actor=lambda _: ALICE)) as client:
        result = await client.call_tool("write_file", arguments, meta={GRANT_META_KEY: grant.id})
    assert result.is_error and "Forbidden" in text_of(result)
    assert (tmp_path / "outside" / "secret.txt").read_text() == "do not read"
    assert approvals.get(request.id).status == "approved", "the grant was never spent"

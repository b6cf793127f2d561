"""URL-mode elicitation carries only the approval page's link: whatever the client answers, nothing runs.

``auto`` negotiates protocol 2026-07-28 (the link rides an InputRequiredResult and the client retries);
``legacy`` negotiates 2025-11-25 (the server sends elicitation/create in the middle of the call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from core_client.client import CoreClient
from core_client.mcp.server import GRANT_META_KEY, build_server

from .conftest import ALICE, BOB, text_of
from .world_probe import changes, world_state

PAGE = {"page": {"service": "orders-api", "summary": "Orders pool exhausted"}}


def answering(action: Literal["accept", "decline", "cancel"], asked: list[ElicitRequestParams]) -> Any:
    async def answer(_context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action=action)

    return answer


@pytest.mark.parametrize("action", ["accept", "decline", "cancel"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_client_is_shown_the_approval_link_and_its_answer_runs_nothing(
    mode: str, action: Literal["accept", "decline", "cancel"], demo_core: CoreClient, demo_world: Path
) -> None:
    approvals = demo_core.gate.approvals
    asked: list[ElicitRequestParams] = []
    before = world_state(demo_world)
    server = build_server(demo_core, actor=lambda _: ALICE)
    async with Client(server, mode=mode, elicitation_callback=answering(action, asked)) as client:
        result = await client.call_tool("page_oncall", PAGE)
    [request] = approvals.list(status="pending").items
    link = approvals.approval_url(request.id)
    assert result.is_error and link in text_of(result), "the call ends refused, pointing at the same request"
    [question] = asked
    assert question.mode == "url" and question.url == link
    assert world_state(demo_world) == before
    assert "executed" not in [event.action for event in demo_core.gate.audit.list(tool="page_oncall").items]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_granted_call_runs_without_asking(mode: str, demo_core: CoreClient, demo_world: Path) -> None:
    approvals = demo_core.gate.approvals
    request = approvals.request(
        "page_oncall", PAGE, requester=ALICE, evidence=[], risk="high", environment=None
    )
    approvals.approve(request.id, approver=BOB)
    grant = approvals.grant_id_for(request.id, ALICE)
    asked: list[ElicitRequestParams] = []
    before = world_state(demo_world)
    server = build_server(demo_core, actor=lambda _: ALICE)
    async with Client(server, mode=mode, elicitation_callback=answering("accept", asked)) as client:
        result = await client.call_tool("page_oncall", PAGE, meta={GRANT_META_KEY: grant.id})
    assert not result.is_error, text_of(result)
    assert asked == []
    assert changes(before, world_state(demo_world)) == {"page_request": 1, "idempotency": 1}

"""Approvers hear about new approval requests: once per request, with its title and a link to its approval page
and nothing more, through the messaging provider (here the demo world's chat), under the ``notify_approvers``
policy rule an operator can switch off, and audited like any send."""

from __future__ import annotations

import json
from typing import Any

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.notices import notify_approvers
from core_client.policy import APPROVER_NOTICE, PolicyRule
from core_client.settings import load_settings

RITA = Actor.copilot_for("rita", Role.RESPONDER)
TICKET = {
    "ticket": {
        "title": "orders-api: pool exhausted <!channel>",
        "description": "## Summary\n\nPool at 40 of 40; secret detail.",
        "fields": {"incidentId": "INC-1"},
    }
}


async def sent_messages(core: CoreClient) -> list[tuple[str, dict[str, Any]]]:
    world = core.provider_for(Capability.MESSAGING).instance.world
    rows = await world.run(lambda c: c.execute("SELECT channel, doc FROM message").fetchall())
    return [(channel, json.loads(doc)) for channel, doc in rows]


def file(core: CoreClient, arguments: dict[str, Any] = TICKET) -> Any:
    return core.gate.approvals.file(
        "opspilot.create_ticket", arguments, requester=RITA, evidence=[], risk="low", environment=None
    )


async def test_a_new_request_is_announced_once_with_its_title_and_link_only(demo_core: CoreClient) -> None:
    filed = file(demo_core)
    assert filed.new
    sent = await notify_approvers(demo_core, filed.request)
    assert sent is not None and sent.channel == "#opspilot-approvals"

    [(channel, doc)] = await sent_messages(demo_core)
    assert channel == "#opspilot-approvals"
    body = doc["metadata"]["body"]
    url = f"http://localhost:3000/approvals/{filed.request.id}"
    # The title (its chat markup defused) and the absolute link to the approval page; not the change itself.
    assert body == f"Approval needed: File a ticket: orders-api: pool exhausted (!channel) {url}"
    assert "Pool at 40" not in body and not doc["metadata"]["blocks"]

    # Asking again for the same change hands back the waiting request: nothing new to announce.
    again = file(demo_core)
    assert not again.new and again.request.id == filed.request.id

    [audited] = demo_core.gate.audit.list(tool=APPROVER_NOTICE).items
    assert (audited.action, audited.actor_user) == ("executed", "system")
    assert audited.arguments["request_id"] == filed.request.id


async def test_switched_off_in_policy_nothing_is_sent(demo_core: CoreClient) -> None:
    demo_core.gate.approvals.policy.rules.insert(0, PolicyRule(tool=APPROVER_NOTICE, mode="denied"))
    filed = file(demo_core)
    assert await notify_approvers(demo_core, filed.request) is None
    assert await sent_messages(demo_core) == []


def test_notices_are_on_by_default_and_a_written_rule_wins(monkeypatch: Any) -> None:
    decide = lambda: load_settings().policy.decide(APPROVER_NOTICE, kind="destructive").mode  # noqa: E731
    assert decide() == "auto"
    monkeypatch.setenv(
        "OPSPILOT_POLICY", json.dumps({"rules": [{"tool": APPROVER_NOTICE, "mode": "denied"}]})
    )
    assert decide() == "denied"

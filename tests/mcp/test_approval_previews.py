"""An approval request shown as the change it would make, over the small demo world: the ticket as it will read,
an update's fields before and after (read now from the tracker), who a page wakes, where a message goes, the
evidence, who asked and until when; and ``opspilot approvals show`` printing the same."""

from __future__ import annotations

from pathlib import Path

from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.identity import Actor, Role
from core_client.previews import preview, preview_text
from core_client.schemas import TicketQuery
from core_client.settings import load_settings
from core_client.store import ApprovalRequest, Database
from core_client.users import UserDirectory
from tests.support.cli_users import CliUser

from .conftest import ALICE

RITA = Actor.copilot_for("rita", Role.RESPONDER)
EVIDENCE = [
    {"id": "e1", "kind": "alert", "label": "ALR-1 Checkout error rate above 5%", "link": "/alerts/ALR-1"}
]


def ask(
    core: CoreClient, tool: str, arguments: dict[str, object], requester: Actor = RITA
) -> ApprovalRequest:
    return core.gate.approvals.request(
        tool, arguments, requester=requester, evidence=EVIDENCE, risk="low", environment=None
    )


async def test_a_new_ticket_reads_as_filed_and_names_its_incident(demo_core: CoreClient) -> None:
    ticket = {
        "title": "orders-api: pool exhausted",
        "description": "## Summary\n\nPool at 40 of 40.",
        "fields": {"incidentId": "INC-1"},
    }
    request = ask(demo_core, "opspilot.create_ticket", {"ticket": ticket})
    shown = await preview(demo_core, request)
    assert shown.headline == "File a ticket: orders-api: pool exhausted"
    assert shown.body == "## Summary\n\nPool at 40 of 40."
    assert shown.blast_radius == ["A new ticket in demo, linked to incident INC-1"]
    assert shown.requester == "the Copilot for rita"
    assert [(e.label, e.link) for e in shown.evidence] == [
        ("ALR-1 Checkout error rate above 5%", "http://localhost:3000/alerts/ALR-1")
    ]
    text = preview_text(shown)
    assert "  | Pool at 40 of 40." in text and shown.approval_url in text


async def test_an_update_shows_each_field_before_and_after(demo_core: CoreClient) -> None:
    [existing] = (await demo_core.tickets.query(TicketQuery(limit=1))).items
    changes = {
        "status": "in_progress" if existing.status != "in_progress" else "done",
        "fields": {"faultKind": "disk_full"},
    }
    request = ask(
        demo_core,
        "update_ticket",
        {"ticket_id": existing.id, "changes": changes, "append_description": "## Update\n\nMore."},
    )
    shown = await preview(demo_core, request)
    diff = {change.field: (change.before, change.after) for change in shown.changes}
    assert diff["status"] == (existing.status, changes["status"])
    assert diff["fields.faultKind"] == (str(existing.fields.get("faultKind") or ""), "disk_full")
    assert existing.description.startswith(diff["description"][0].rstrip("\u2026"))
    assert shown.body == "## Update\n\nMore."
    assert shown.blast_radius[0].startswith(f"Changes {existing.key or existing.id} in demo")


async def test_a_page_names_who_it_wakes_and_a_message_its_channel(demo_core: CoreClient) -> None:
    service = await demo_core.services.get("orders-api")
    assert service.owner_team
    shifts = await demo_core.teams.oncall(service.owner_team)
    page = {"page": {"service": "orders-api", "summary": "Pool exhausted", "severity": "sev1"}}
    shown = await preview(demo_core, ask(demo_core, "page_oncall", page))
    assert shown.headline == "Page on-call for orders-api (sev1): Pool exhausted"
    assert all((s.member.name or s.member.id) in shown.blast_radius[0] for s in shifts)
    message = {"message": {"channel": "#incidents", "body": "orders-api recovering"}}
    sent = await preview(demo_core, ask(demo_core, "send_message", message))
    assert sent.headline == "Post a message to #incidents" and sent.body == "orders-api recovering"
    assert sent.blast_radius[0].startswith("Everyone in #incidents")


def test_approvals_show_prints_the_preview_and_where_it_stands(
    demo_world: Path, people: UserDirectory
) -> None:
    settings = load_settings()
    book = ApprovalBook(Database.from_settings(settings), clock=SystemClock(), settings=settings)
    ticket = {"title": "orders-api: pool exhausted", "description": "Pool at 40 of 40."}
    request = book.request(
        "create_ticket", {"ticket": ticket}, requester=ALICE, evidence=[], risk="low", environment=None
    )
    bob = CliUser(name="bob", role=Role.APPROVER, token=people.issue_token("bob", "cli"))
    shown = bob.invoke("approvals", "show", request.id)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("File a ticket: orders-api: pool exhausted")
    assert "  | Pool at 40 of 40." in shown.output and "next: waits for an approver" in shown.output

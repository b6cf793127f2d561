"""Tickets on the small demo world: the list, one ticket, and creating or editing one under the approval policy."""

from __future__ import annotations

import pytest

from console.backend.tickets import TicketDraft, TicketFilters, TicketView, ticket_changes, tickets_page
from console.state.scope import ScopeState
from console.state.tickets import TicketsState, TicketState
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.schemas import QueryScope
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]

NEWEST = "OPS-1218"


async def test_the_list_filters_by_status_text_and_scope(demo_core: CoreClient) -> None:
    everything = await tickets_page(demo_core, TicketFilters(), QueryScope(), None)
    assert len(everything.rows) == 18 and everything.next_cursor is None
    newest = everything.rows[0]
    assert (newest.key, newest.status, newest.service, newest.link) == (
        NEWEST,
        "To Do",
        "checkout-api",
        f"/tickets/{NEWEST}",
    )
    done = await tickets_page(demo_core, TicketFilters(status="Done"), QueryScope(), None)
    assert done.rows and {row.status for row in done.rows} == {"Done"}
    text = await tickets_page(demo_core, TicketFilters(text="INC-4001"), QueryScope(), None)
    assert [row.key for row in text.rows] == ["OPS-1201"]
    scoped = await tickets_page(demo_core, TicketFilters(), QueryScope(service="checkout-api"), None)
    assert {row.service for row in scoped.rows} == {"checkout-api"}


def test_an_edit_sends_only_what_changed() -> None:
    shown = TicketView(
        id="OPS-1", key="OPS-1", title="Pool", description="d", status="To Do", assignees=["ann"]
    )
    changes = ticket_changes(shown, title="Pool", description="d ", status="In Progress", assignees="ann, bo")
    assert changes.model_dump(exclude_none=True) == {"status": "In Progress", "assignees": ["ann", "bo"]}
    with pytest.raises(BadQuery, match="nothing changed"):
        ticket_changes(shown, title="Pool", description="d", status="To Do", assignees="ann")
    with pytest.raises(BadQuery, match="needs a title"):
        ticket_changes(shown, title=" ", description="d", status="To Do", assignees="ann")


def test_a_draft_needs_a_title_and_keeps_its_links_in_fields() -> None:
    data = TicketDraft(
        title=" Fix pool ", service="orders-api", environment="prod", incident_id="INC-1"
    ).to_input()
    assert (data.title, data.fields) == (
        "Fix pool",
        {"service": "orders-api", "environment": "prod", "incidentId": "INC-1"},
    )
    with pytest.raises(BadQuery, match="needs a title"):
        TicketDraft(title="  ").to_input()


async def test_the_list_state_and_a_ticket_created_by_an_admin(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "ada", "/tickets?service=orders-api")
    await client.follow(await client.fire(ScopeState.open_page))
    before = await client.state(TicketsState)
    assert before.rows and {row.service for row in before.rows} == {"orders-api"}

    sent = await client.fire(
        TicketsState.create,
        form={"title": "Raise the orders-api pool", "description": "", "incident_id": "INC-4033"},
    )

    assert "Done: ticket “Raise the orders-api pool” created." in sent.toasts()[0]
    after = await client.state(TicketsState)
    assert after.rows[0].title == "Raise the orders-api pool" and after.rows[0].service == "orders-api"
    created = await demo_core.tickets.get(after.rows[0].id)
    # The demo tracker adds the service's team, so the team's scope finds the ticket too.
    assert created.fields == {"service": "orders-api", "incidentId": "INC-4033", "team": "commerce"}


async def test_a_responder_s_ticket_waits_for_approval(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "rick", "/tickets")
    await client.follow(await client.fire(ScopeState.open_page))

    sent = await client.fire(TicketsState.create, form={"title": "Please look at payments"})

    assert "Sent for approval" in sent.toasts()[0]
    assert len((await tickets_page(demo_core, TicketFilters(), QueryScope(), None)).rows) == 18
    assert [r.tool for r in demo_core.gate.approvals.list("pending").items] == ["create_ticket"]


async def test_one_ticket_edited_by_an_approver_and_refused_to_a_viewer(
    demo_core: CoreClient, people
) -> None:
    client = await signed_in(demo_core, "abby", f"/tickets/{NEWEST}", route="/tickets/[ticket_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    page = await client.state(TicketState)
    assert (page.ticket.key, page.ticket.incident_id, page.ticket.incident_link) == (
        NEWEST,
        "INC-4033",
        "/incidents/INC-4033",
    )
    assert page.statuses == ["To Do", "In Progress", "Done"]

    form = {"title": page.ticket.title, "description": page.ticket.description, "status": "In Progress"}
    sent = await client.fire(TicketState.save, form={**form, "assignees": "isabel.moreau, abby"})
    assert f"Done: {NEWEST} updated (assignees, status)." in sent.toasts()[0]
    saved = await demo_core.tickets.get(NEWEST)
    assert (saved.status, saved.assignees) == ("In Progress", ["isabel.moreau", "abby"])
    assert (await client.state(TicketState)).ticket.status == "In Progress"

    viewer = await signed_in(demo_core, "vera", f"/tickets/{NEWEST}", route="/tickets/[ticket_ref]")
    await viewer.follow(await viewer.fire(ScopeState.open_page))
    refused = await viewer.fire(TicketState.save, form={**form, "status": "Done", "assignees": ""})
    assert "viewers cannot change anything" in refused.toasts()[0]
    assert (await demo_core.tickets.get(NEWEST)).status == "In Progress"

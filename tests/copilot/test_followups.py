"""Follow-ups on a small demo world, through the Copilot as the console and the CLI use it: a proposal is carried
out once, a second finding about the same incident updates the ticket already filed for it instead of filing a
second one, a timeline note is not written twice, and the ticket is linked both ways to its incident.

Assertions follow from the run's own answer (its root cause, the incident it cites), not from the scenario."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.backend.incident import related_tickets
from copilot.answer import EvidenceKind
from copilot.machine import RunState
from copilot.records import RunView
from copilot.runtime import Copilot
from copilot.writeups.markdown import to_markdown
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.identity import Actor, Role
from core_client.schemas import Ticket, TicketQuery, ticket_incident
from core_client.settings import load_settings
from tests.demo.world_fixture import build_small, install

ADA = Actor(user="ada", role=Role.RESPONDER, via="console")
BOB = Actor(user="bob", role=Role.APPROVER, via="console")
FIRST = "Why are orders failing?"
SECOND = "What is wrong with checkout right now?"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("built"))


@pytest.fixture
async def rig(built: Path) -> AsyncIterator[tuple[Copilot, CoreClient]]:
    install(built)
    settings = load_settings()
    core = CoreClient.from_settings(settings)
    copilot = Copilot.from_settings(settings, core=core, poll_seconds=0.2)
    try:
        yield copilot, core
    finally:
        await copilot.aclose()
        await core.aclose()


def action_index(run: RunView, tool: str) -> int:
    assert run.answer is not None
    return next(i for i, action in enumerate(run.answer.proposed_actions) if action.tool.endswith(tool))


def cited_incident(run: RunView) -> str:
    assert run.answer is not None
    cited = {i for claim in run.answer.claims for i in claim.evidence_ids}
    incidents = [
        e.ref for o in run.outcomes for e in o.evidence if e.kind == EvidenceKind.INCIDENT and e.id in cited
    ]
    assert incidents, "the answer cites an incident"
    return incidents[0]


async def all_tickets(core: CoreClient) -> dict[str, Ticket]:
    page = await core.tickets.query(TicketQuery(limit=500))
    return {ticket.id: ticket for ticket in page.items}


async def carry_out(copilot: Copilot, run: RunView, tool: str, *, by: Actor = ADA) -> RunView:
    """Propose the run's ``tool`` action, have BOB approve what it asks, and wait for the follow-up to finish."""
    follow_up = await copilot.propose(run.id, action_index(run, tool), by=by)
    waiting = await copilot.settle(follow_up.id)
    if waiting.state == RunState.NEEDS_APPROVAL:
        await copilot.approve(waiting.pending_request_id or "", BOB)
    return await copilot.settle(follow_up.id)


async def test_ask_propose_approve_propose_again_files_one_ticket_linked_both_ways(
    rig: tuple[Copilot, CoreClient],
) -> None:
    copilot, core = rig
    before = await all_tickets(core)
    source = await copilot.investigate(FIRST, user=ADA)
    assert source.answer is not None and source.answer.root_cause is not None
    index = action_index(source, "create_ticket")

    follow_up = await copilot.propose(source.id, index, by=ADA)
    waiting = await copilot.settle(follow_up.id)
    assert waiting.state == RunState.NEEDS_APPROVAL
    (state,) = await copilot.proposals(source.id)
    assert (state.status, state.label) == ("pending", "Waiting for approval")
    assert state.href == f"/approvals/{waiting.pending_request_id}"
    with pytest.raises(BadQuery, match="cannot be offered twice: Waiting for approval"):
        await copilot.propose(source.id, index, by=BOB)

    await copilot.approve(waiting.pending_request_id or "", BOB)
    done = await copilot.settle(follow_up.id)
    assert done.state == RunState.DONE

    after = await all_tickets(core)
    new = [ticket for key, ticket in after.items() if key not in before]
    assert len(new) == 1
    ticket = new[0]
    (state,) = await copilot.proposals(source.id)
    assert (state.status, state.label, state.href) == (
        "executed",
        f"Filed as {ticket.key}",
        f"/tickets/{ticket.id}",
    )
    assert done.answer is not None and done.answer.summary.startswith(f"Filed as {ticket.key}.")
    with pytest.raises(BadQuery, match=f"cannot be offered twice: Filed as {ticket.key}"):
        await copilot.propose(source.id, index, by=ADA)
    assert len(await all_tickets(core)) == len(after)

    # The ticket carries the incident, the incident's page lists the ticket, and its text links back.
    incident_id = cited_incident(source)
    root = source.answer.root_cause
    assert ticket_incident(ticket) == incident_id
    assert (ticket.fields["service"], ticket.fields["faultKind"]) == (root.service, root.fault_kind)
    assert ticket.title.startswith(f"{root.service}: ")
    assert f"http://localhost:3000/incidents/{incident_id}" in ticket.description
    incident = await core.incidents.get(incident_id)
    listed = await related_tickets(core, incident, core.clock.now())
    assert ticket.key in [row.id for row in listed]


async def test_a_second_question_updates_the_ticket_instead_of_filing_another(
    rig: tuple[Copilot, CoreClient],
) -> None:
    copilot, core = rig
    first = await copilot.investigate(FIRST, user=ADA)
    await carry_out(copilot, first, "create_ticket")
    before = await all_tickets(core)
    filed = [
        t
        for t in before.values()
        if ticket_incident(t) == cited_incident(first) and t.fields.get("faultKind")
    ]
    assert len(filed) == 1

    second = await copilot.investigate(SECOND, user=BOB)
    follow_up = await copilot.propose(second.id, action_index(second, "create_ticket"), by=BOB)
    waiting = await copilot.settle(follow_up.id)
    request = copilot.approvals.get(waiting.pending_request_id or "")
    assert request.tool == "update_ticket"
    plan = next(step for step in reversed(waiting.steps) if step.kind == "plan")
    assert f"{filed[0].key} is already open for " in plan.data["decision"]["thought"]
    await copilot.approve(request.id, ADA.model_copy(update={"role": Role.APPROVER}))
    await copilot.settle(follow_up.id)

    after = await all_tickets(core)
    assert set(after) == set(before)  # nothing new filed
    updated = after[filed[0].id]
    assert updated.description.startswith(filed[0].description.rstrip())
    assert "by OpsPilot Copilot for bob" in updated.description
    (state,) = await copilot.proposals(second.id)
    assert state.label == f"Updated {filed[0].key}"


async def test_a_ticket_waiting_for_approval_is_not_proposed_twice(rig: tuple[Copilot, CoreClient]) -> None:
    copilot, _ = rig
    first = await copilot.investigate(FIRST, user=ADA)
    waiting = await copilot.settle(
        (await copilot.propose(first.id, action_index(first, "create_ticket"), by=ADA)).id
    )
    assert waiting.state == RunState.NEEDS_APPROVAL
    second = await copilot.investigate(SECOND, user=ADA)
    with pytest.raises(BadQuery, match=f"already waits for approval: request {waiting.pending_request_id}"):
        await copilot.propose(second.id, action_index(second, "create_ticket"), by=ADA)


async def test_a_rejected_proposal_can_be_offered_again(rig: tuple[Copilot, CoreClient]) -> None:
    copilot, _ = rig
    source = await copilot.investigate(FIRST, user=ADA)
    index = action_index(source, "create_ticket")
    waiting = await copilot.settle((await copilot.propose(source.id, index, by=ADA)).id)
    await copilot.reject(waiting.pending_request_id or "", BOB, "wait for the DBA's look first")
    await copilot.settle(waiting.id)
    (state,) = await copilot.proposals(source.id)
    assert (state.status, state.final) == ("rejected", False)
    assert state.label == "Rejected by bob: wait for the DBA's look first"
    again = await copilot.settle((await copilot.propose(source.id, index, by=ADA)).id)
    assert again.state == RunState.NEEDS_APPROVAL


async def test_a_finding_already_noted_on_the_incident_is_not_noted_again(
    rig: tuple[Copilot, CoreClient],
) -> None:
    copilot, core = rig
    first = await copilot.investigate(FIRST, user=ADA)
    done = await carry_out(copilot, first, "append_timeline_note")
    assert done.answer is not None and done.answer.summary.startswith("Noted on ")
    incident_id = cited_incident(first)
    notes = [
        e for e in (await core.incidents.timeline(incident_id)).items if e.actor.get("type") == "copilot"
    ]
    assert len(notes) == 1 and notes[0].body.startswith("**OpsPilot Copilot for ada**:")
    assert notes[0].actor["name"] == "OpsPilot Copilot for ada"

    second = await copilot.investigate(SECOND, user=BOB)
    again = await carry_out(copilot, second, "append_timeline_note", by=BOB)
    assert again.pending_request_id is None and not copilot.approvals.list(run_id=again.id).items
    assert again.answer is not None
    assert again.answer.summary.startswith(f"{incident_id}'s timeline already records this finding")
    assert (
        len(
            [
                e
                for e in (await core.incidents.timeline(incident_id)).items
                if e.actor.get("type") == "copilot"
            ]
        )
        == 1
    )


async def test_a_drafts_postmortem_reads_from_the_evidence_and_is_posted_once_after_approval(
    rig: tuple[Copilot, CoreClient],
) -> None:
    copilot, core = rig
    run = await copilot.investigate(FIRST, user=ADA)
    assert run.answer is not None and run.answer.root_cause is not None
    incident = cited_incident(run)
    document = await copilot.draft(run.id, "postmortem", by=ADA)
    markdown = to_markdown(document, with_title=True)
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[:7] == [
        "Summary",
        "Impact",
        "Timeline (UTC)",
        "Root cause",
        "Contributing factors",
        "What went well",
        "Action items",
    ]
    assert run.answer.root_cause.service in document.title and incident in markdown
    status = to_markdown(await copilot.draft(run.id, "status", by=ADA))
    assert "Next update" in status and incident in status
    viewer = Actor(user="vic", role=Role.VIEWER, via="console")
    assert (await copilot.draft(run.id, "status", by=viewer)).title, "a viewer may read a draft"
    with pytest.raises(BadQuery, match="channel"):
        await copilot.post_draft(run.id, "status", "message", by=ADA)

    before = await all_tickets(core)
    follow_up = await copilot.post_draft(run.id, "postmortem", "ticket", by=ADA)
    waiting = await copilot.settle(follow_up.id)
    assert waiting.state == RunState.NEEDS_APPROVAL, "a draft is posted only once a person approves"
    assert await all_tickets(core) == before
    with pytest.raises(BadQuery, match="cannot be offered twice"):
        await copilot.post_draft(run.id, "postmortem", "ticket", by=ADA)
    await copilot.approve(waiting.pending_request_id or "", BOB)
    done = await copilot.settle(follow_up.id)
    assert done.state == RunState.DONE, done.error
    [filed] = [t for t in (await all_tickets(core)).values() if t.id not in before]
    assert filed.title == document.title and ticket_incident(filed) == incident
    assert "## Action items" in filed.description
    with pytest.raises(BadQuery, match="Filed as"):
        await copilot.post_draft(run.id, "postmortem", "ticket", by=ADA)

"""Follow-ups: carrying out, once, what a finished run offers (one of its proposed actions, or a draft to post).

An offer is keyed by its run and ``<index>`` (a proposed action, from 0) or ``<draft>:<target>`` (a draft); the
store keeps one follow-up run per key, and a key whose follow-up is pending, approved or done cannot be offered
again (:func:`refusal`). :func:`proposal_state` says how an offer stands, for the button that offered it.

:class:`CarryOut` plans a follow-up run. For OpsPilot's own ticket and timeline-note proposals it first looks at
what exists: an open ticket for the same incident that records a root cause, or for the same root service and
fault kind, gets an update (a dated section) instead of a second ticket; an incident whose timeline already
records the finding gets no second note. It writes the change from the source run's answer and evidence
(``copilot.writeups``), and says why it chose it. Any other action, and a draft, is carried out as given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from copilot.answer import Answer, Claim, ProposedAction
from copilot.evidence import OWN_SERVER
from copilot.machine import TERMINAL, RunState
from copilot.planning import (
    CallTools,
    Evaluation,
    Finish,
    Plan,
    PlanContext,
    ToolOutcome,
    ToolRequest,
    ToolSpec,
)
from copilot.records import ProposalRecord
from copilot.writeups.facts import Basis, Facts, clock
from copilot.writeups.tickets import new_ticket, ticket_update, timeline_note
from core_client.links import approval_link, incident_link, run_link, ticket_link
from core_client.schemas import (
    FAULT_KIND_FIELD,
    SERVICE_FIELD,
    Incident,
    MessageResult,
    Ticket,
    TimelineEntry,
    ticket_incident,
    ticket_is_open,
)

CARRY_OUT = "carry-out"
NOT_RUN = " was not run: "
LOOKUP_LIMIT = 50
Compose = Literal["ticket", "note"]
ProposalStatus = Literal[
    "proposing", "pending", "approved", "executed", "done", "rejected", "expired", "withdrawn", "failed"
]


def not_run_note(tool: str, why: str) -> str:
    """The note a planner gets when a change it planned was not made."""
    return f"{tool}{NOT_RUN}{why}"


def same_tool(one: str, other: str) -> bool:
    """Whether two tool names mean the same tool, one namespaced (``opspilot.create_ticket``) or both."""
    return one == other or one.endswith("." + other) or other.endswith("." + one)


class FollowUp(BaseModel):
    """What a follow-up run carries out, kept in its memory."""

    action: ProposedAction
    source_run: str
    key: str
    compose: Compose | None = None
    basis: Basis | None = None

    @classmethod
    def of(cls, memory: dict[str, Any]) -> FollowUp:
        """From a run's memory (runs made before follow-ups kept one hold only ``action`` and ``index``)."""
        if "follow_up" in memory:
            return cls.model_validate(memory["follow_up"])
        return cls(
            action=ProposedAction.model_validate(memory["action"]),
            source_run=str(memory.get("source_run", "")),
            key=str(memory.get("index", 0)),
        )


def composes(action: ProposedAction) -> Compose | None:
    """Whether OpsPilot writes this action's text itself (its own ticket and note tools), and which."""
    if action.tool in (f"{OWN_SERVER}.create_ticket", "create_ticket"):
        return "ticket"
    if action.tool in (f"{OWN_SERVER}.append_timeline_note", "append_timeline_note"):
        return "note"
    return None


class ProposalState(BaseModel):
    """How an offer stands: what its button shows, where it links, and whether it may be offered again."""

    key: str
    follow_up_id: str
    status: ProposalStatus
    label: str
    href: str
    final: bool


def result_of(tool: str, structured: Any) -> tuple[str, str]:
    """What a change made, in words and as a console link: ``("Filed as OPS-1965", "/tickets/OPS-1965")``."""
    try:
        if same_tool(tool, "create_ticket") or same_tool(tool, "update_ticket"):
            ticket = Ticket.model_validate(structured)
            verb = "Filed as" if same_tool(tool, "create_ticket") else "Updated"
            return f"{verb} {ticket.key or ticket.id}", ticket_link(ticket.id).build()
        if same_tool(tool, "append_timeline_note"):
            entry = TimelineEntry.model_validate(structured)
            return f"Noted on {entry.incident_id}", incident_link(entry.incident_id).build()
        if same_tool(tool, "send_message"):
            sent = MessageResult.model_validate(structured)
            return f"Posted to {sent.channel}", sent.url
    except ValidationError:
        pass
    return f"{tool.rsplit('.', 1)[-1]} done", ""


def proposal_state(record: ProposalRecord) -> ProposalState:
    """How the offer ``record`` stands."""
    follow_up = run_link(record.follow_up_id).build()
    status: ProposalStatus
    if record.change_tool is not None:
        label, href = result_of(record.change_tool, record.change_result)
        return ProposalState(
            key=record.key,
            follow_up_id=record.follow_up_id,
            status="executed",
            label=label,
            href=href or follow_up,
            final=True,
        )
    request = record.request_status
    approval = approval_link(record.request_id).build() if record.request_id else follow_up
    live = record.state not in TERMINAL
    if request == "pending":
        status, label, href, final = "pending", "Waiting for approval", approval, True
    elif request in ("approved", "executed") and (live or request == "executed"):
        status, label, href, final = (
            "approved",
            f"Approved by {record.decided_by}: being carried out",
            follow_up,
            True,
        )
    elif request in ("approved", "executed"):
        # Approved, but the run ended without seeing the change finish: it may have been made. A person checks.
        status, label, href, final = (
            "failed",
            f"Interrupted after approval: check run {record.follow_up_id}",
            follow_up,
            True,
        )
    elif live:
        status, label, href, final = "proposing", "Being prepared", follow_up, True
    elif request == "rejected":
        status, label = (
            "rejected",
            f"Rejected by {record.decided_by}: {record.decision_reason or 'no reason given'}",
        )
        href, final = approval, False
    elif request == "expired":
        status, label, href, final = "expired", "The approval request expired unanswered", approval, False
    elif request == "withdrawn":
        status, label, href, final = (
            "withdrawn",
            f"Withdrawn: {record.decision_reason or ''}".rstrip(": "),
            approval,
            False,
        )
    elif record.state == RunState.FAILED:
        status, label, href, final = (
            "failed",
            f"Not carried out: {record.error or 'the run failed'}",
            follow_up,
            False,
        )
    else:
        status, label, href, final = "done", record.summary or "Nothing to change", follow_up, False
    return ProposalState(
        key=record.key, follow_up_id=record.follow_up_id, status=status, label=label, href=href, final=final
    )


def refusal(record: ProposalRecord, *, console_url: str) -> str | None:
    """Why an offer may not be made again (its follow-up is under way, waits, or made its change), or None."""
    state = proposal_state(record)
    if not state.final:
        return None
    href = console_url.rstrip("/") + state.href if state.href.startswith("/") else state.href
    where = f" ({href})" if href else ""
    return f"this was offered already and cannot be offered twice: {state.label}{where}"


# --- the planner -----------------------------------------------------------------------------------------------


def _own(tools: list[ToolSpec], name: str) -> ToolSpec | None:
    return next((spec for spec in tools if spec.server == OWN_SERVER and spec.tool == name), None)


def _outcomes(context: PlanContext, tool: str) -> list[ToolOutcome]:
    return successes(context.outcomes, tool)


def successes(outcomes: list[ToolOutcome], tool: str) -> list[ToolOutcome]:
    """The calls of ``tool`` among ``outcomes`` that succeeded, in order."""
    return [outcome for outcome in outcomes if outcome.ok and same_tool(outcome.tool, tool)]


def _items(structured: Any) -> list[Any]:
    if isinstance(structured, dict) and isinstance(structured.get("items"), list):
        return list(structured["items"])
    return []


def _tickets(context: PlanContext) -> list[Ticket]:
    found: dict[str, Ticket] = {}
    for outcome in _outcomes(context, "query_tickets"):
        for row in _items(outcome.structured):
            try:
                ticket = Ticket.model_validate(row)
            except ValidationError:
                continue
            found.setdefault(ticket.id, ticket)
    return sorted(found.values(), key=lambda t: t.updated_at or t.created_at or datetime.min, reverse=True)


def _incident(context: PlanContext) -> Incident | None:
    return incident_read(context.outcomes)


def incident_read(outcomes: list[ToolOutcome]) -> Incident | None:
    """The incident the latest successful ``get_incident`` among ``outcomes`` returned, if any."""
    for outcome in reversed(successes(outcomes, "get_incident")):
        try:
            return Incident.model_validate(outcome.structured)
        except ValidationError:
            continue
    return None


def _timeline(context: PlanContext) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for outcome in _outcomes(context, "get_incident_timeline"):
        for row in _items(outcome.structured):
            try:
                entries.append(TimelineEntry.model_validate(row))
            except ValidationError:
                continue
    return entries


class CarryOut:
    """The planner of a follow-up run (see the module's docstring). It plans one change; the runner takes it
    through approval; then it answers with what was done, or why it was not."""

    name = CARRY_OUT

    async def plan(self, context: PlanContext) -> Plan:
        follow = FollowUp.of(context.memory)
        change = context.memory.get("change")
        if change is not None:
            return self._after(context, ToolRequest.model_validate(change))
        if follow.compose is None or follow.basis is None:
            return self._call(
                context, follow.action.tool, follow.action.arguments, follow.action.reason, follow
            )
        if not context.memory.get("looked"):
            reads = self._lookups(context, follow)
            if reads:
                context.memory["looked"] = True
                return CallTools(calls=reads, thought="look for what already records this finding")
        return self._decide(context, follow)

    async def evaluate(self, context: PlanContext) -> Evaluation:
        """Nothing to judge: the next plan says how it went."""
        return Evaluation(verdict="continue")

    def _call(
        self, context: PlanContext, tool: str, arguments: dict[str, Any], reason: str, follow: FollowUp
    ) -> Plan:
        request = ToolRequest(
            tool=tool, arguments=arguments, reason=reason, evidence_ids=follow.action.evidence_ids
        )
        context.memory["change"] = request.model_dump(mode="json")
        return CallTools(calls=[request], thought=reason)

    def _after(self, context: PlanContext, change: ToolRequest) -> Plan:
        made = [
            o for o in context.outcomes if same_tool(o.tool, change.tool) and o.arguments == change.arguments
        ]
        refused = [note for note in context.notes if same_tool(note.split(NOT_RUN, 1)[0], change.tool)]
        if made:
            return Finish(answer=_carried_out(change, made[-1]))
        if refused:
            return Finish(answer=Answer(summary=refused[-1], missing=[refused[-1]]))
        return CallTools(calls=[change], thought=change.reason)

    def _lookups(self, context: PlanContext, follow: FollowUp) -> list[ToolRequest]:
        assert follow.basis is not None
        facts = Facts(follow.basis)
        incident_id = _target_incident(follow) or facts.incident_id
        reads: list[ToolRequest] = []
        get_incident = _own(context.tools, "get_incident")
        if incident_id and get_incident:
            reads.append(ToolRequest(tool=get_incident.name, arguments={"incident_id": incident_id}))
        if follow.compose == "ticket":
            query = _own(context.tools, "query_tickets")
            if query and incident_id:
                reads.append(
                    ToolRequest(tool=query.name, arguments={"incident": incident_id, "limit": LOOKUP_LIMIT})
                )
            if query and facts.root:
                reads.append(
                    ToolRequest(tool=query.name, arguments={"service": facts.root, "limit": LOOKUP_LIMIT})
                )
        else:
            timeline = _own(context.tools, "get_incident_timeline")
            if timeline and incident_id:
                reads.append(ToolRequest(tool=timeline.name, arguments={"incident_id": incident_id}))
        return reads

    def _decide(self, context: PlanContext, follow: FollowUp) -> Plan:
        assert follow.basis is not None and follow.compose is not None
        basis = follow.basis.model_copy(update={"now": context.now, "incident": _incident(context)})
        if follow.compose == "note":
            return self._note(context, follow, basis)
        return self._ticket(context, follow, basis)

    def _ticket(self, context: PlanContext, follow: FollowUp, basis: Basis) -> Plan:
        facts = Facts(basis)
        incident, root, kind = facts.incident_id, facts.root, facts.fault_kind
        open_tickets = [t for t in _tickets(context) if ticket_is_open(t)]

        def same_incident(ticket: Ticket) -> bool:
            return bool(incident) and ticket_incident(ticket) == incident

        def same_cause(ticket: Ticket) -> bool:
            return bool(root and kind) and (
                ticket.fields.get(SERVICE_FIELD),
                ticket.fields.get(FAULT_KIND_FIELD),
            ) == (root, kind)

        # A ticket for the incident that records a cause is its follow-up; one that records none is a report of
        # the symptom (a customer escalation, say): it is linked from the new ticket, not written over.
        finding = [
            t for t in open_tickets if same_cause(t) or (same_incident(t) and t.fields.get(FAULT_KIND_FIELD))
        ]
        finding.sort(key=lambda t: (not (same_incident(t) and same_cause(t)), not same_incident(t)))
        update_tool = _own(context.tools, "update_ticket")
        if finding and update_tool is not None:
            existing = finding[0]
            why = "for " + (
                incident if same_incident(existing) and incident else f"{root} ({facts.fault_name})"
            )
            reason = (
                f"{existing.key or existing.id} is already open {why}: adding this finding to it instead of filing "
                "a second ticket"
            )
            update = ticket_update(basis, existing)
            arguments = {
                "ticket_id": existing.id,
                "changes": update.changes.model_dump(mode="json", by_alias=True, exclude_none=True),
                "append_description": update.append_description,
            }
            return self._call(context, update_tool.name, arguments, reason, follow)
        related = [t for t in open_tickets if same_incident(t) and t not in finding]
        ticket = new_ticket(basis, related=related)
        reason = f"File a follow-up for {root or 'the incident'}" + (
            f", linked to {incident}" if incident else ""
        )
        if related:
            reason += f"; {', '.join(t.key or t.id for t in related)} reported it but record no cause"
        arguments = {"ticket": ticket.model_dump(mode="json", by_alias=True, exclude_none=True)}
        return self._call(context, follow.action.tool, arguments, reason, follow)

    def _note(self, context: PlanContext, follow: FollowUp, basis: Basis) -> Plan:
        facts = Facts(basis)
        incident = _target_incident(follow) or facts.incident_id
        if not incident:
            return Finish(
                answer=Answer(summary="There is no incident to note this on.", missing=["no incident"])
            )
        recorded = [
            entry
            for entry in _timeline(context)
            if facts.root
            and (entry.metadata.get("rootService"), entry.metadata.get("faultKind"))
            == (facts.root, facts.fault_kind)
        ]
        if recorded:
            entry = recorded[-1]
            who = str(entry.actor.get("name") or "OpsPilot")
            summary = (
                f"{incident}'s timeline already records this finding (noted at {clock(entry.at)} by {who}); "
                "nothing to add."
            )
            return Finish(answer=Answer(summary=summary, confidence=1.0))
        note = timeline_note(basis)
        arguments = {
            "incident_id": incident,
            "note": note.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        return self._call(
            context, follow.action.tool, arguments, f"Record the finding on {incident}'s timeline", follow
        )


def _target_incident(follow: FollowUp) -> str | None:
    value = follow.action.arguments.get("incident_id")
    return value if isinstance(value, str) and value else None


def _carried_out(change: ToolRequest, outcome: ToolOutcome) -> Answer:
    if not outcome.ok:
        failure = f"{change.tool} failed: {outcome.error or 'no reason given'}"
        return Answer(summary=failure, missing=[failure])
    label, _ = result_of(change.tool, outcome.structured)
    summary = f"{label}. {change.reason}." if change.reason else f"{label}."
    cited = [item.id for item in outcome.evidence]
    claims = [Claim(text=label + ".", evidence_ids=cited)] if cited else []
    return Answer(summary=summary, claims=claims, confidence=1.0)

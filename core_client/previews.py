"""An approval request as the change it would make: what a person decides on.

One :class:`ChangePreview` is shown by the console's approval dialog, its inbox and ``opspilot approvals show``:
the ticket, note or message as it will read (its Markdown, shown as text or through the console's safe Markdown
component, never as raw HTML), the fields an update changes (before and after, read now from the system it
changes), the blast radius (who gets paged or messaged, which channel, which tracker and incident), the evidence
the request rests on, who asked and until when it can be decided. Reading what exists may fail: the preview then
says what it could not read, and still shows what the request itself holds.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import OpsPilotError
from core_client.links import approval_link
from core_client.schemas import (
    INCIDENT_FIELD,
    CreateIncidentInput,
    CreateTicketInput,
    Message,
    PageOnCallInput,
    TimelineAppendInput,
    UpdateIncidentInput,
    UpdateTicketInput,
)
from core_client.store import ApprovalRequest

BEFORE_MAX = 2000


class FieldChange(BaseModel):
    """One field an update changes: its value now and after the change (``""`` when absent)."""

    field: str
    before: str
    after: str


class PreviewEvidence(BaseModel):
    id: str
    kind: str
    label: str
    link: str


class ChangePreview(BaseModel):
    """What approving a request would do, for a person to read before deciding."""

    request_id: str
    tool: str
    status: str
    headline: str
    body: str = ""
    changes: list[FieldChange] = []
    blast_radius: list[str] = []
    evidence: list[PreviewEvidence] = []
    requester: str
    run_id: str = ""
    environment: str = ""
    risk: str = ""
    asked_at: datetime
    expires_at: datetime
    approval_url: str
    unread: list[str] = []


def _tool(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _json_block(arguments: dict[str, Any]) -> str:
    """Arguments OpsPilot cannot describe, as a fenced JSON block: the body is read as Markdown."""
    return "```json\n" + json.dumps(arguments, indent=2, sort_keys=True) + "\n```"


def _cut(value: str) -> str:
    return value if len(value) <= BEFORE_MAX else value[: BEFORE_MAX - 1] + "\u2026"


async def preview(core: CoreClient, request: ApprovalRequest) -> ChangePreview:
    """``request`` as the change it would make, reading what it changes from ``core`` (see the module)."""
    arguments: dict[str, Any] = json.loads(request.arguments)
    asker = (
        f"the Copilot for {request.requested_by}" if request.requester_is_copilot else request.requested_by
    )
    shown = ChangePreview(
        request_id=request.id,
        tool=request.tool,
        status=request.status,
        headline=f"Run {request.tool}",
        requester=asker,
        run_id=request.run_id or "",
        environment=request.environment or "",
        risk=request.risk,
        asked_at=request.created_at,
        expires_at=request.expires_at,
        approval_url=approval_link(request.id).absolute(core.settings.console_url),
        evidence=[
            PreviewEvidence(
                id=str(item.get("id") or ""),
                kind=str(item.get("kind") or ""),
                label=str(item.get("label") or item.get("ref") or item.get("id") or ""),
                link=_absolute(str(item.get("link") or ""), core.settings.console_url),
            )
            for item in request.evidence
        ],
    )
    try:
        await _describe(core, _tool(request.tool), arguments, shown)
    except ValidationError as invalid:
        shown.unread.append(f"the arguments do not fit {request.tool}: {invalid.error_count()} problem(s)")
        shown.body = _json_block(arguments)
    return shown


async def _describe(core: CoreClient, tool: str, arguments: dict[str, Any], shown: ChangePreview) -> None:
    tracker = _provider(core, Capability.TICKET)
    match tool:
        case "create_ticket":
            ticket = CreateTicketInput.model_validate(arguments.get("ticket") or {})
            shown.headline = f"File a ticket: {ticket.title}"
            shown.body = ticket.description
            incident = _text(ticket.fields.get(INCIDENT_FIELD))
            shown.blast_radius.append(
                f"A new ticket in {tracker}"
                + (f", in project {_text(ticket.fields['project'])}" if ticket.fields.get("project") else "")
                + (f", linked to incident {incident}" if incident else ", linked to no incident")
            )
            shown.changes = [
                FieldChange(field=k, before="", after=_text(v)) for k, v in ticket.fields.items()
            ]
        case "update_ticket":
            ticket_id = str(arguments.get("ticket_id") or "")
            changes = UpdateTicketInput.model_validate(arguments.get("changes") or {})
            append = str(arguments.get("append_description") or "")
            shown.headline = f"Update ticket {ticket_id}"
            shown.body = append
            before: dict[str, Any] = {}
            try:
                existing = await core.tickets.get(ticket_id)
                before = existing.model_dump(by_alias=True)
                shown.headline = f"Update ticket {existing.key or existing.id}: {existing.title}"
                shown.blast_radius.append(
                    f"Changes {existing.key or existing.id} in {tracker} ({existing.status or 'no status'}"
                    + (f", assigned to {', '.join(existing.assignees)}" if existing.assignees else "")
                    + ")"
                )
            except OpsPilotError as error:
                shown.unread.append(f"ticket {ticket_id} could not be read: {error}")
            shown.changes = _diff(before, changes.model_dump(by_alias=True, exclude_none=True))
            if append:
                shown.changes.append(
                    FieldChange(
                        field="description",
                        before=_cut(_text(before.get("description"))),
                        after="\u2026 (as now) followed by the section below",
                    )
                )
        case "append_timeline_note":
            incident_id = str(arguments.get("incident_id") or "")
            note = TimelineAppendInput.model_validate(arguments.get("note") or {})
            author = _text(note.actor.get("name")) or "its requester"
            shown.headline = f"Add a note to incident {incident_id}'s timeline"
            shown.body = note.body
            shown.blast_radius.append(
                f"A note on {incident_id}'s timeline signed {author}, seen by everyone following it"
            )
        case "send_message":
            message = Message.model_validate(arguments.get("message") or {})
            shown.headline = f"Post a message to {message.channel}"
            shown.body = "\n\n".join(block.text for block in message.blocks if block.text) or message.body
            where = f" in the thread {message.thread_ref}" if message.thread_ref else ""
            shown.blast_radius.append(
                f"Everyone in {message.channel}{where} ({_provider(core, Capability.MESSAGING)})"
            )
        case "page_oncall":
            page = PageOnCallInput.model_validate(arguments.get("page") or {})
            target = page.service or page.team or "?"
            shown.headline = f"Page on-call for {target} ({page.severity}): {page.summary}"
            shown.body = page.details
            shown.blast_radius.append(await _paged(core, page, shown))
        case "create_incident":
            opened = CreateIncidentInput.model_validate(arguments.get("incident") or {})
            shown.headline = f"Open an incident: {opened.title}"
            shown.body = opened.description or ""
            shown.blast_radius.append(
                f"A new incident in {_provider(core, Capability.INCIDENT)}"
                + (f" for {opened.service}" if opened.service else "")
                + (f", {opened.severity}" if opened.severity else "")
            )
        case "update_incident":
            incident_id = str(arguments.get("incident_id") or "")
            update = UpdateIncidentInput.model_validate(arguments.get("changes") or {})
            shown.headline = f"Update incident {incident_id}"
            current: dict[str, Any] = {}
            try:
                found = await core.incidents.get(incident_id)
                current = found.model_dump(by_alias=True)
                shown.headline = f"Update incident {found.id}: {found.title}"
            except OpsPilotError as error:
                shown.unread.append(f"incident {incident_id} could not be read: {error}")
            shown.changes = _diff(current, update.model_dump(by_alias=True, exclude_none=True))
            shown.blast_radius.append(f"Changes {incident_id} for everyone following it")
        case _:
            shown.body = _json_block(arguments)
            shown.blast_radius.append(f"Whatever {shown.tool} does: OpsPilot cannot say more about it")


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """The fields ``after`` sets, each beside its value now; ``fields`` and ``metadata`` key by key."""
    changes: list[FieldChange] = []
    for name, value in after.items():
        if isinstance(value, dict) and name in ("fields", "metadata"):
            old = before.get(name) or {}
            for key, item in value.items():
                if old.get(key) != item:
                    changes.append(
                        FieldChange(field=f"{name}.{key}", before=_text(old.get(key)), after=_text(item))
                    )
        elif before.get(name) != value:
            changes.append(FieldChange(field=name, before=_cut(_text(before.get(name))), after=_text(value)))
    return changes


async def _paged(core: CoreClient, page: PageOnCallInput, shown: ChangePreview) -> str:
    """Who the page would wake: the team's on-call now (the service's owning team for a service)."""
    team = page.team
    try:
        if team is None and page.service:
            team = (await core.services.get(page.service)).owner_team
        if team is None:
            return f"Whoever is on call for {page.service or 'it'} (no owning team is recorded)"
        shifts = await core.teams.oncall(team)
    except OpsPilotError as error:
        shown.unread.append(f"on-call for {page.service or team} could not be read: {error}")
        return f"Whoever is on call for {page.service or team}"
    names = [f"{s.member.name or s.member.id} (level {s.escalation_level})" for s in shifts]
    return (
        f"Wakes {', '.join(names)} on call for team {team}" if names else f"Nobody is on call for {team} now"
    )


def _absolute(link: str, console_url: str) -> str:
    """A console route (``/alerts/ALR-1``) as a full URL, so it opens from a terminal or a chat too."""
    return console_url.rstrip("/") + link if link.startswith("/") else link


def _provider(core: CoreClient, capability: Capability) -> str:
    names = [loaded.name for loaded in core.providers() if loaded.capability == capability]
    return names[0] if names else f"the {capability.value} provider"


def preview_text(shown: ChangePreview) -> str:
    """The preview as the terminal shows it."""
    lines = [shown.headline, f"  {shown.tool} \u2014 {shown.status}, risk {shown.risk or 'unknown'}"]
    lines.append(
        f"  asked by {shown.requester} at {shown.asked_at:%Y-%m-%d %H:%M UTC}"
        + (f" in run {shown.run_id}" if shown.run_id else "")
        + f"; decide by {shown.expires_at:%Y-%m-%d %H:%M UTC}"
    )
    if shown.blast_radius:
        lines += ["", "Who and what it reaches:", *(f"  - {line}" for line in shown.blast_radius)]
    if shown.changes:
        lines += ["", "Fields:"]
        for change in shown.changes:
            lines.append(f"  {change.field}: {change.before or '(none)'!s} -> {change.after}")
    if shown.body:
        lines += ["", "As it will read:", *(f"  | {line}" for line in shown.body.splitlines())]
    if shown.evidence:
        lines += ["", "Evidence it rests on:"]
        lines += [f"  - {item.kind}: {item.label} {item.link}".rstrip() for item in shown.evidence]
    lines += [*(f"  ! {note}" for note in shown.unread), "", shown.approval_url]
    return "\n".join(lines)

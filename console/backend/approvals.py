"""The Approvals inbox: small rows of pending and decided requests, and the decisions a person makes on them.

Decisions go through the Copilot (``decide``), which records them in the ApprovalBook and wakes the run that asked;
the book checks policy and the approver's role itself: the console hides the buttons from people who may not
approve, and the book refuses them anyway.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ValidationError

from console.backend.display import ago, utc_label
from console.backend.records import service_names
from copilot.answer import Evidence
from copilot.evidence import shown
from copilot.runtime import Copilot
from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.identity import Actor
from core_client.links import parse_link
from core_client.previews import ChangePreview, FieldChange, preview
from core_client.store import ApprovalRequest, RequestStatus

DECIDED: tuple[RequestStatus, ...] = ("approved", "rejected", "expired", "executed", "withdrawn")


class EvidenceChip(BaseModel):
    label: str
    excerpt: str
    href: str


class PreviewView(BaseModel):
    """A request as the change it would make (``core_client.previews``), for the inbox and the dialog: the body
    is the ticket, note or message as it will read (Markdown, shown as text)."""

    headline: str = ""
    body: str = ""
    blast_radius: list[str] = []
    changes: list[FieldChange] = []
    unread: list[str] = []


def preview_view(shown: ChangePreview) -> PreviewView:
    return PreviewView(
        headline=shown.headline,
        body=shown.body,
        blast_radius=shown.blast_radius,
        changes=shown.changes,
        unread=shown.unread,
    )


async def request_preview(core: CoreClient, request: ApprovalRequest) -> PreviewView:
    """What approving ``request`` would do, read now (see ``core_client.previews``)."""
    return preview_view(await preview(core, request))


class ApprovalRow(BaseModel):
    """One request as the inbox shows it."""

    id: str
    tool: str
    arguments: str
    risk: str
    environment: str
    requester: str
    run_id: str
    run_href: str
    status: str
    created: str
    age: str
    expires: str
    decided_by: str
    decided: str
    reason: str
    evidence: list[EvidenceChip]
    preview: PreviewView = PreviewView()


class Inbox(BaseModel):
    pending: list[ApprovalRow]
    decided: list[ApprovalRow]
    pending_count: int


def _evidence(item: dict[str, object], name: Callable[[str], str]) -> EvidenceChip:
    """A cited piece of evidence as a chip reading like the Copilot panel's: its label (its id only when the
    request predates labels), its service as people call it (``copilot.evidence.shown``)."""
    try:
        cited = shown(Evidence.model_validate(item), name)
        label, excerpt = cited.label or cited.id, cited.excerpt
    except ValidationError:  # a row written by an older OpsPilot: show what it has
        label = str(item.get("id") or item.get("kind") or "evidence")
        excerpt = str(item.get("excerpt") or "")
    link = str(item.get("link") or "")
    try:
        href = parse_link(link).build() if link else ""
    except BadQuery:
        href = ""  # a foreign link never becomes a console route
    return EvidenceChip(label=label, excerpt=excerpt[:240], href=href)


def approval_row(request: ApprovalRequest, now: datetime, name: Callable[[str], str] = str) -> ApprovalRow:
    """A request as one row: arguments pretty-printed, requester named as the audit names them, its evidence's
    services shown by ``name`` (``records.service_names``)."""
    requester = (
        f"copilot for {request.requested_by}" if request.requester_is_copilot else request.requested_by
    )
    return ApprovalRow(
        id=request.id,
        tool=request.tool,
        arguments=json.dumps(json.loads(request.arguments), indent=2, sort_keys=True),
        risk=request.risk or "unknown",
        environment=request.environment or "",
        requester=requester,
        run_id=request.run_id or "",
        run_href=f"/runs/{request.run_id}" if request.run_id else "",
        status=request.status,
        created=utc_label(request.created_at),
        age=ago(request.created_at, now),
        expires=utc_label(request.expires_at),
        decided_by=request.decided_by or "",
        decided=utc_label(request.decided_at),
        reason=request.decision_reason or "",
        evidence=[_evidence(item, name) for item in request.evidence],
    )


def _inbox(
    book: ApprovalBook, decided_limit: int, name: Callable[[str], str]
) -> tuple[Inbox, list[ApprovalRequest]]:
    now = book.clock.now()
    pending = book.list("pending", limit=200).items
    decided = sorted(
        (r for status in DECIDED for r in book.list(status, limit=decided_limit).items),
        key=lambda r: r.decided_at or r.created_at,
        reverse=True,
    )[:decided_limit]
    inbox = Inbox(
        pending=[approval_row(r, now, name) for r in pending],
        decided=[approval_row(r, now, name) for r in decided],
        pending_count=book.count("pending"),
    )
    return inbox, pending


async def load_inbox(core: CoreClient, *, decided_limit: int = 25) -> Inbox:
    """Pending requests, each shown as the change it would make, and the latest decided ones; services named as
    ``core``'s catalog names them."""
    name = await service_names(core)
    inbox, pending = await asyncio.to_thread(_inbox, core.gate.approvals, decided_limit, name)
    previews = await asyncio.gather(*(request_preview(core, request) for request in pending))
    for row, change in zip(inbox.pending, previews, strict=True):
        row.preview = change
    return inbox


async def pending_count(book: ApprovalBook) -> int:
    """How many requests wait for a person: the badge in the navigation."""
    return await asyncio.to_thread(book.count, "pending")


async def decide(
    copilot: Copilot, request_id: str, approver: Actor, *, approve: bool, reason: str | None = None
) -> None:
    """Approve or reject (a reason is required to reject: ``BadQuery`` without one) and wake the run that asked.

    ``Forbidden`` when policy does not let ``approver`` decide on this request.
    """
    if approve:
        await copilot.approve(request_id, approver, reason=reason or None)
    else:
        await copilot.reject(request_id, approver, reason or "")

"""A person's own actions from the console, under the approval policy (DESIGN.md "Approvals and grants").

Where policy lets the person's role run the tool, the click is the approval: ``ApprovalBook.self_approve`` records
the request and its grant together, and the mutation runs with that grant. Otherwise the action becomes an approval
request that waits in the Approvals inbox. Viewers and denied tools get ``Forbidden``, whatever the page showed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel

from core_client.approvals import SYSTEM
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import CapabilityNotConfigured, Forbidden, OpsPilotError
from core_client.identity import Actor, Role
from core_client.mutations import MutationArgs, SendMessageArgs, risk_of
from core_client.policy import Decision
from core_client.schemas import Message
from core_client.store import ApprovalRequest

T = TypeVar("T")

# Where approvers hear about a request filed from the console, when a messaging provider is configured.
APPROVERS_CHANNEL = "#opspilot-approvals"
NOTIFY_TIMEOUT_SECONDS = 10.0

log = logging.getLogger(__name__)


class Outcome(BaseModel, Generic[T]):
    """What came of an action: done now (with the provider's answer), or waiting as an approval request."""

    done: bool
    result: T | None = None
    request_id: str = ""
    approval_url: str = ""
    message: str


def runs_without_waiting(decision: Decision, role: Role) -> bool:
    """Whether a person with ``role`` may run the tool themselves (their click being the approval)."""
    if decision.mode == "auto":
        return True
    return decision.mode == "requires_approval" and decision.may_approve(role) and not decision.two_person


async def act(
    core: CoreClient,
    actor: Actor,
    tool: str,
    arguments: MutationArgs,
    *,
    environment: str | None,
    run: Callable[[str], Awaitable[T]],
    what: str,
) -> Outcome[T]:
    """Run ``tool`` for ``actor`` now when policy lets their role, else file an approval request for it.

    ``arguments`` are exactly what the CoreClient mutation hashes; ``run`` is that mutation, given the grant id.
    ``what`` describes the action for the toast (``"severity of INC-1 set to sev1"``).
    """
    book = core.gate.approvals
    if actor.role == Role.VIEWER:
        raise Forbidden(f"{actor.user} is a viewer: viewers cannot change anything", source=tool)
    decision = book.policy.decide(tool, kind="destructive", environment=environment)
    if decision.mode == "denied":
        raise Forbidden(f"policy denies {tool} in {decision.environment}", source=tool)
    if runs_without_waiting(decision, actor.role):
        grant = await asyncio.to_thread(
            book.self_approve, tool, arguments, actor=actor, environment=environment
        )
        result = await run(grant.id)
        return Outcome[T](done=True, result=result, message=f"Done: {what}.")
    request = await asyncio.to_thread(
        book.request,
        tool,
        arguments,
        requester=actor,
        evidence=[],
        risk=risk_of(tool),
        environment=environment,
    )
    return Outcome[T](
        done=False,
        request_id=request.id,
        approval_url=f"/approvals/{request.id}",
        message=f"Sent for approval ({', '.join(r.value for r in decision.approver_roles)}): {what}.",
    )


def approvers_message(request: ApprovalRequest, approval_url: str) -> Message:
    """The chat message that tells approvers a request waits for them."""
    return Message(
        channel=APPROVERS_CHANNEL,
        body=(
            f"{request.requested_by} asks to run {request.tool} in {request.environment or 'the default environment'} "
            f"(risk {request.risk or 'unknown'}). Approve or reject: {approval_url}"
        ),
        metadata={"approvalRequest": request.id},
    )


async def notify_approvers(core: CoreClient, request_id: str) -> bool:
    """Tell approvers about a waiting request through the messaging provider, if one is configured.

    Best effort: the notification is OpsPilot's own (sent by ``system`` under the same policy and audit as any
    message), and any failure is logged and reported as ``False``, never raised into the action that filed it.
    """
    try:
        core.provider_for(Capability.MESSAGING)
    except CapabilityNotConfigured:
        return False
    book = core.gate.approvals
    try:
        request = await asyncio.to_thread(book.get, request_id)
        message = approvers_message(request, book.approval_url(request.id))
        async with asyncio.timeout(NOTIFY_TIMEOUT_SECONDS):
            grant = await asyncio.to_thread(
                book.self_approve,
                "send_message",
                SendMessageArgs(message=message),
                actor=SYSTEM,
                environment=request.environment,
            )
            await core.messaging.send(message, actor=SYSTEM, grant=grant.id, environment=request.environment)
    except (OpsPilotError, TimeoutError) as exc:
        log.warning("could not notify approvers of request %s: %s", request_id, exc)
        return False
    return True

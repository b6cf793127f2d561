"""A person's own actions from the console, under the approval policy (DESIGN.md "Approvals and grants").

Where policy lets the person's role run the tool, the click is the approval: ``ApprovalBook.self_approve`` records
the request and its grant together, and the mutation runs with that grant. Otherwise the action becomes an approval
request that waits in the Approvals inbox. Viewers and denied tools get ``Forbidden``, whatever the page showed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel

from core_client.client import CoreClient
from core_client.errors import Forbidden
from core_client.identity import Actor, Role
from core_client.mutations import MutationArgs, risk_of
from core_client.policy import Decision

T = TypeVar("T")


class Outcome(BaseModel, Generic[T]):
    """What came of an action: done now (with the provider's answer), or waiting as an approval request
    (``new_request`` when this action filed it, rather than finding the same change already waiting)."""

    done: bool
    result: T | None = None
    request_id: str = ""
    new_request: bool = False
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
    filed = await asyncio.to_thread(
        book.file,
        tool,
        arguments,
        requester=actor,
        evidence=[],
        risk=risk_of(tool),
        environment=environment,
    )
    return Outcome[T](
        done=False,
        request_id=filed.request.id,
        new_request=filed.new,
        approval_url=f"/approvals/{filed.request.id}",
        message=f"Sent for approval ({', '.join(r.value for r in decision.approver_roles)}): {what}.",
    )

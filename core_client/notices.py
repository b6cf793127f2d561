"""Approver notices: OpsPilot tells the approvers that a request waits for them.

A new approval request is announced once, through the messaging provider (Slack when configured, the demo world's
messaging otherwise), in the ``approver_channel`` of settings, with the request's title and an absolute link to its
approval page, nothing more: what the change would do is shown on that page, to people signed in.

The notice is OpsPilot's own act, not a change the Copilot makes: it passes the mutation gate as the tool
``notify_approvers`` (``APPROVER_NOTICE``) under an ``auto`` policy rule, which an operator switches off with a
written rule ``{tool = "notify_approvers", mode = "denied"}``, and it is audited like any other send. A notice that
cannot be sent is logged and audited as failed; the request it announces stands regardless.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel

from core_client.approvals import SYSTEM
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import CapabilityNotConfigured, OpsPilotError
from core_client.policy import APPROVER_NOTICE
from core_client.previews import preview
from core_client.schemas import Message, MessageResult
from core_client.store import ApprovalRequest

# A title longer than this is cut: the notice points at the page, it does not describe the change.
TITLE_LIMIT = 120
# The whole notice (reading the change for its title, then sending) may take this long; the request stands anyway.
NOTIFY_TIMEOUT_SECONDS = 10.0

log = logging.getLogger(__name__)


class ApproverNotice(BaseModel):
    """What the gate checks and the audit trail records of one notice."""

    request_id: str
    message: Message


def notice_title(headline: str, tool: str) -> str:
    """The request's title as a notice shows it: one line, cut, and without the characters chat systems read as
    markup for mentions and links (``<!channel>`` in Slack), since the title may quote data."""
    flat = " ".join(headline.split()) or tool
    plain = flat.translate({ord("<"): "(", ord(">"): ")", ord("&"): "+"})
    return plain if len(plain) <= TITLE_LIMIT else plain[: TITLE_LIMIT - 1] + "\u2026"


async def notify_approvers(core: CoreClient, request: ApprovalRequest) -> MessageResult | None:
    """Tell the approvers that ``request`` waits for a decision; call it once, for a newly filed request
    (``ApprovalBook.file`` says whether it is new).

    Returns what the messaging provider says of the message; None when policy switches notices off, no messaging
    provider is configured, or the send failed (logged, and audited by the gate). Never raises: the request
    stands whatever happens to its notice.
    """
    approvals = core.gate.approvals
    decision = approvals.policy.decide(APPROVER_NOTICE, kind="destructive", environment=request.environment)
    if decision.mode != "auto":
        return None
    try:
        core.provider_for(Capability.MESSAGING)
    except CapabilityNotConfigured:
        return None
    try:
        async with asyncio.timeout(NOTIFY_TIMEOUT_SECONDS):
            shown = await preview(core, request)
            message = Message(
                channel=core.settings.approver_channel,
                body=f"Approval needed: {notice_title(shown.headline, request.tool)} {shown.approval_url}",
                metadata={"approvalRequest": request.id},
            )
            return await core.gate.run(
                APPROVER_NOTICE,
                ApproverNotice(request_id=request.id, message=message),
                actor=SYSTEM,
                grant=None,
                environment=request.environment,
                action=lambda _key: core.call(
                    Capability.MESSAGING, "messaging.send", lambda provider: provider.send(message)
                ),
            )
    except (OpsPilotError, TimeoutError) as error:
        log.warning("approvers were not told of request %s: %s", request.id, error)
        return None

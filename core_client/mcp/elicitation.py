"""Pointing a person at the console's approval page through URL-mode elicitation, and nothing more.

When a mutation is refused for want of a grant and the client declared URL elicitation, the server asks the
client to open the approval request's page. The client's answer says only whether someone opened a link: it
approves nothing. Whatever it answers, the call ends in the same refusal, and only a grant issued in the console
and passed in ``_meta`` lets the mutation run.

On protocol 2026-07-28 and later the question rides an ``InputRequiredResult``: the client answers and retries
the call, whose sealed ``request_state`` (bound by the SDK to this tool, these arguments and this principal)
names the approval request already filed, so the retry is refused against it instead of filing another. Older
protocols get a standalone ``elicitation/create`` request in the middle of the call, waited for a bounded time.
"""

from __future__ import annotations

from contextlib import suppress

import anyio
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import ValidationError

from core_client.errors import ApprovalRequired

APPROVAL_INPUT_KEY = "opspilot/approval"
# The first protocol revision that carries elicitation in InputRequiredResult instead of a mid-call request.
INPUT_REQUIRED_VERSION = "2026-07-28"
# How long an older client may keep the call waiting on its answer to the link; the refusal follows either way.
ELICITATION_WAIT_SECONDS = 60.0


def accepts_url_elicitation(ctx: Context) -> bool:
    """Whether the client declared URL-mode elicitation."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


def request_already_shown(ctx: Context) -> str | None:
    """On a retry after the client answered the approval link: the approval request it was shown."""
    return ctx.request_state


async def invite_to_approve(ctx: Context, refusal: ApprovalRequired) -> InputRequiredResult | None:
    """Send the approval page's link to a client that takes URL elicitation.

    Returns the ``InputRequiredResult`` to hand back on protocols that carry elicitation in results; ``None``
    when the link was sent mid-call (older protocols) or cannot be sent, and the refusal is returned as it is.
    """
    if refusal.request_id is None or refusal.approval_url is None or not accepts_url_elicitation(ctx):
        return None
    message = (
        f"{refusal.source} needs a person's approval. Open the approval page in OpsPilot; the call stays "
        "refused until it is made again with the grant issued there."
    )
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, INPUT_REQUIRED_VERSION):
        link = ElicitRequestURLParams(
            mode="url", message=message, url=refusal.approval_url, elicitation_id=refusal.request_id
        )
        return InputRequiredResult(
            input_requests={APPROVAL_INPUT_KEY: ElicitRequest(method="elicitation/create", params=link)},
            request_state=refusal.request_id,
        )
    # The answer is not read: accepting a link approves nothing. A client that cannot show it still gets the
    # refusal, which carries the link too.
    with anyio.move_on_after(ELICITATION_WAIT_SECONDS), suppress(MCPError, ValidationError):
        await ctx.elicit_url(message, refusal.approval_url, refusal.request_id)
    return None

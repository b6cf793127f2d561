"""Users and their API tokens, for the admins' section of the Settings page.

Reads and changes go through ``UserDirectory`` (core_client), which audits every change and refuses what the
acting user may not do; each call runs in a worker thread (SQL must not stall the event loop). A revoked token or
a disabled user is refused at its next request: the CLI, MCP over HTTP and console sessions check on every call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from console.backend.display import utc_label
from console.backend.session import ConsoleSessions, SessionUser
from core_client.client import CoreClient


@dataclass
class AccountRow:
    username: str
    display_name: str
    role: str
    disabled: bool
    active_tokens: int


@dataclass
class TokenRow:
    id: str
    user: str
    label: str
    created: str
    expires: str
    last_used: str
    # active | expired | revoked
    state: str


def _when(moment: datetime | None, absent: str) -> str:
    return utc_label(moment) if moment is not None else absent


async def load_accounts(core: CoreClient) -> tuple[list[AccountRow], list[TokenRow]]:
    """Every user, and every API token (newest first) with its last use and expiry; never a secret."""
    users = ConsoleSessions.of(core).users

    def read() -> tuple[list[AccountRow], list[TokenRow]]:
        listing = users.token_listing()
        active: dict[str, int] = {}
        for token in listing:
            if token.state == "active":
                active[token.user] = active.get(token.user, 0) + 1
        accounts = [
            AccountRow(
                username=user.username,
                display_name=user.display_name or user.username,
                role=user.role,
                disabled=user.disabled,
                active_tokens=active.get(user.username, 0),
            )
            for user in sorted(users.list(), key=lambda user: user.username)
        ]
        tokens = [
            TokenRow(
                id=token.id,
                user=token.user,
                label=token.label,
                created=utc_label(token.created_at),
                expires=_when(token.expires_at, "never"),
                last_used=_when(token.last_used_at, "never used"),
                state=token.state,
            )
            for token in listing
        ]
        return accounts, tokens

    return await asyncio.to_thread(read)


async def revoke_token(core: CoreClient, token_id: str, by: SessionUser) -> None:
    """Revoke an API token (audited); it is refused from its next request on."""
    users = ConsoleSessions.of(core).users
    await asyncio.to_thread(users.revoke_token, token_id, by=by.actor())


async def set_disabled(core: CoreClient, username: str, disabled: bool, by: SessionUser) -> None:
    """Disable a user (their sessions and tokens stop at their next request) or enable them again (audited)."""
    users = ConsoleSessions.of(core).users
    change = users.disable if disabled else users.enable
    await asyncio.to_thread(change, username, by=by.actor())

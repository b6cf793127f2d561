"""The Settings page's state: each capability's provider and its health; for admins, users and API tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.accounts import AccountRow, TokenRow, load_accounts, revoke_token, set_disabled
from console.backend.health import ProviderRow, provider_health
from console.backend.session import SessionUser
from console.state.session import SessionState, administers
from core_client.client import CoreClient
from core_client.errors import OpsPilotError
from core_client.identity import Role


class SettingsState(SessionState):
    """The providers as ``/health`` reports them, and (for an admin) the users and their API tokens."""

    loading: bool = True
    overall: str = ""
    providers: list[ProviderRow] = []
    error: str = ""
    accounts: list[AccountRow] = []
    tokens: list[TokenRow] = []
    accounts_error: str = ""
    # The token or user a change is being made to (its buttons wait).
    changing: str = ""

    @rx.event(background=True)
    async def load(self) -> None:
        """Check every provider's health without holding the state lock; an admin also gets the accounts."""
        async with self:
            self.loading = True
        try:
            user = await self.verified_user()
            core = await runtime.core()
            report, rows = await provider_health(core)
        except OpsPilotError as exc:
            async with self:
                self.error, self.providers, self.overall, self.loading = str(exc), [], "down", False
            return
        async with self:
            self.error, self.providers, self.overall, self.loading = "", rows, report.status, False
        if user.role == Role.ADMIN:
            await self._load_accounts(core)

    async def _load_accounts(self, core: CoreClient) -> None:
        try:
            accounts, tokens = await load_accounts(core)
        except OpsPilotError as exc:
            async with self:
                self.accounts_error = str(exc)
            return
        async with self:
            self.accounts, self.tokens, self.accounts_error = accounts, tokens, ""

    @rx.event(background=True)
    @administers
    async def revoke(self, token_id: str) -> AsyncIterator[EventSpec]:
        """Revoke an API token: refused from its next request on."""

        async def change(core: CoreClient, admin: SessionUser) -> None:
            await revoke_token(core, token_id, admin)

        async for event in self._change(token_id, change, f"Token {token_id} revoked."):
            yield event

    @rx.event(background=True)
    @administers
    async def disable(self, username: str) -> AsyncIterator[EventSpec]:
        """Disable a user: their console sessions and API tokens stop at their next request."""

        async def change(core: CoreClient, admin: SessionUser) -> None:
            await set_disabled(core, username, True, admin)

        async for event in self._change(username, change, f"{username} is disabled."):
            yield event

    @rx.event(background=True)
    @administers
    async def enable(self, username: str) -> AsyncIterator[EventSpec]:
        """Let a disabled user sign in again."""

        async def change(core: CoreClient, admin: SessionUser) -> None:
            await set_disabled(core, username, False, admin)

        async for event in self._change(username, change, f"{username} is enabled."):
            yield event

    async def _change(
        self, target: str, change: Callable[[CoreClient, SessionUser], Awaitable[None]], done: str
    ) -> AsyncIterator[EventSpec]:
        async with self:
            if self.changing:
                return
            self.changing = target
        try:
            admin = await self.verified_user()
            core = await runtime.core()
            await change(core, admin)
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
            return
        finally:
            async with self:
                self.changing = ""
        yield rx.toast.success(done)
        await self._load_accounts(core)

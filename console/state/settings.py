"""The Settings page's state: each capability's provider and its health."""

from __future__ import annotations

import reflex as rx

from console import runtime
from console.backend.health import ProviderRow, provider_health
from console.state.session import SessionState
from core_client.errors import OpsPilotError


class SettingsState(SessionState):
    """The providers as ``/health`` reports them."""

    loading: bool = True
    overall: str = ""
    providers: list[ProviderRow] = []
    error: str = ""

    @rx.event(background=True)
    async def load(self) -> None:
        """Check every provider's health without holding the state lock."""
        async with self:
            self.loading = True
        try:
            report, rows = await provider_health(await runtime.core())
        except OpsPilotError as exc:
            async with self:
                self.error, self.providers, self.overall, self.loading = str(exc), [], "down", False
            return
        async with self:
            self.error, self.providers, self.overall, self.loading = "", rows, report.status, False

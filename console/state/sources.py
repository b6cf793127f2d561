"""Which sources are down, for the banner above every console page."""

from __future__ import annotations

import reflex as rx

from console import runtime
from console.backend.health import DownSource, sources_down
from console.state.session import SessionState
from core_client.errors import OpsPilotError


class SourcesState(SessionState):
    """The providers that are down or degraded, as last checked (at most a few seconds old)."""

    down: list[DownSource] = []

    @rx.event(background=True)
    async def check(self) -> None:
        """Every console page's first load step: look at the providers' health (cached, so it costs little)."""
        try:
            report = await runtime.sources()
        except OpsPilotError:  # nothing configured: the page itself says so
            return
        down = sources_down(report)
        if down == self.down:
            return  # the usual case: nothing to tell, so the state is not locked and written for nothing
        async with self:
            self.down = down

"""The page decorator: registers a route behind sign-in and wraps its content in the shared layout (header, the
banner naming sources that are down, scope bar, sidebar, and the Copilot panel beside every page)."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex.event import EventType

from console.components.copilot_panel import PANEL_WIDTH, copilot_panel
from console.components.header import APP_NAME, header
from console.components.navigation import sidebar
from console.components.scope_bar import scope_bar
from console.components.sources_banner import sources_banner
from console.state.copilot import CopilotPanelState
from console.state.scope import ScopeState, register_page_load
from console.state.sources import SourcesState


def console_page(
    route: str, title: str, *, on_load: EventType[()] | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Declare a console page at ``route``: ``@console_page("/settings", "Settings", on_load=State.load)``.

    Every such page needs sign-in: its on_load is ``ScopeState.open_page``, which sends a visitor without a live
    session to ``/login?next=...``, reads the scope from the URL, and only then runs ``on_load``.
    """

    def register(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def page() -> rx.Component:
            return rx.box(
                header(title),
                rx.box(
                    sources_banner(),
                    scope_bar(),
                    rx.hstack(
                        sidebar(),
                        rx.box(content(), flex="1", padding="1.5rem", min_width="0"),
                        align="start",
                        spacing="0",
                        width="100%",
                    ),
                    # The open panel is fixed at the right: the page keeps out from under it.
                    margin_right=rx.cond(CopilotPanelState.panel_open, PANEL_WIDTH, "0"),
                ),
                copilot_panel(),
                width="100%",
                min_height="100vh",
            )

        page.__name__ = content.__name__
        register_page_load(route, on_load)
        # The sources banner looks beside the page's own load (it checks the session itself), on every page.
        return rx.page(
            route=route, title=f"{title} · {APP_NAME}", on_load=[ScopeState.open_page, SourcesState.check]
        )(page)

    return register

"""The page decorator: registers a route and wraps its content in the shared layout (header, sidebar)."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex.event import EventType

from console.components.header import APP_NAME, header
from console.components.navigation import sidebar


def console_page(
    route: str, title: str, *, on_load: EventType[()] | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Declare a console page at ``route``: ``@console_page("/settings", "Settings", on_load=State.load)``."""

    def register(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def page() -> rx.Component:
            return rx.vstack(
                header(title),
                rx.hstack(
                    sidebar(),
                    rx.box(content(), flex="1", padding="1.5rem", min_width="0"),
                    align="start",
                    spacing="0",
                    width="100%",
                ),
                spacing="0",
                width="100%",
                min_height="100vh",
            )

        page.__name__ = content.__name__
        return rx.page(route=route, title=f"{title} · {APP_NAME}", on_load=on_load)(page)

    return register

"""Any address the console does not know: a page inside the console's layout that says so and offers the way on."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.components.navigation import NAV_ITEMS


@console_page("404", "Page not found")
def not_found_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Page not found", size="6", data_testid="not-found"),
        rx.text(
            "Nothing in the console lives at ",
            rx.code(rx.State.router.url.path),
            ". The link may be mistyped, or name a page that no longer exists.",
            size="2",
        ),
        rx.text("Go on to:", size="2", color=rx.color("gray", 11)),
        rx.hstack(
            *(rx.link(item.label, href=item.route, size="2") for item in NAV_ITEMS),
            wrap="wrap",
            spacing="4",
        ),
        spacing="3",
        width="100%",
    )

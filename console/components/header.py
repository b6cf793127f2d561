"""The bar across the top of every page: the app's name, the page title, the Copilot's toggle, the signed-in
user's menu and the theme toggle."""

from __future__ import annotations

import reflex as rx

from console.components.auth import user_menu
from console.state.copilot import CopilotPanelState

APP_NAME = "OpsPilot"
HEADER_HEIGHT = "3.5rem"


def brand() -> rx.Component:
    """The app's mark and name, linking home."""
    return rx.link(
        rx.hstack(
            rx.icon("radar", size=22, color=rx.color("accent", 10)),
            rx.heading(APP_NAME, size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        href="/",
        underline="none",
        color=rx.color("gray", 12),
    )


def copilot_toggle() -> rx.Component:
    """The button that shows or hides the Copilot panel."""
    return rx.button(
        rx.icon("bot", size=16),
        "Copilot",
        variant=rx.cond(CopilotPanelState.panel_open, "solid", "soft"),
        on_click=CopilotPanelState.toggle_panel,
        size="2",
        data_testid="copilot-toggle",
    )


def header(title: str) -> rx.Component:
    """The header for a page called ``title``."""
    return rx.hstack(
        brand(),
        rx.text(title, size="3", color=rx.color("gray", 11), data_testid="page-title"),
        rx.spacer(),
        copilot_toggle(),
        user_menu(),
        rx.color_mode.button(data_testid="theme-toggle"),
        align="center",
        spacing="4",
        height=HEADER_HEIGHT,
        padding_x="1.25rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        # Always in view, so the Copilot's toggle is too, and the panel below it lines up with it.
        position="sticky",
        top="0",
        z_index="30",
        background=rx.color("gray", 1),
    )

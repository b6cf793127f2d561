"""The bar across the top of every page: the app's name, the page title and the theme toggle."""

from __future__ import annotations

import reflex as rx

APP_NAME = "OpsPilot"


def header(title: str) -> rx.Component:
    """The header for a page called ``title``."""
    return rx.hstack(
        rx.link(
            rx.hstack(
                rx.icon("radar", size=22, color=rx.color("accent", 10)),
                rx.heading(APP_NAME, size="5", weight="bold"),
                align="center",
                spacing="2",
            ),
            href="/",
            underline="none",
            color=rx.color("gray", 12),
        ),
        rx.text(title, size="3", color=rx.color("gray", 11), data_testid="page-title"),
        rx.spacer(),
        rx.color_mode.button(data_testid="theme-toggle"),
        align="center",
        spacing="4",
        height="3.5rem",
        padding_x="1.25rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        width="100%",
    )

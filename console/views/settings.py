"""The Settings page: the provider of each capability and its health."""

from __future__ import annotations

import reflex as rx

from console.backend.health import ProviderRow
from console.components.panel import error_banner, loading_skeleton, status_badge
from console.state.settings import SettingsState as S


def _provider_row(row: rx.Var[ProviderRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.capability, weight="medium")),
        rx.table.cell(rx.code(row.provider)),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(row.latency),
        rx.table.cell(rx.text(row.message, size="2")),
        rx.table.cell(rx.text(row.chosen_by, size="1", color=rx.color("gray", 10))),
        data_testid="provider-row",
    )


def providers_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *(
                    rx.table.column_header_cell(name)
                    for name in ("Capability", "Provider", "Health", "Latency", "Message", "Chosen by")
                )
            )
        ),
        rx.table.body(rx.foreach(S.providers, _provider_row)),
        width="100%",
        variant="surface",
    )


def settings() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Settings", size="6"),
            rx.spacer(),
            rx.cond(S.overall != "", rx.hstack(rx.text("overall", size="2"), status_badge(S.overall))),
            rx.icon_button(
                rx.icon("refresh-cw", size=16), on_click=S.load, variant="soft", title="Check again"
            ),
            align="center",
            width="100%",
        ),
        rx.text(
            "Each capability's provider, chosen by OPSORCH_<CAP>_PROVIDER, opspilot.toml or the default. "
            "The same report is served as JSON at /health on the backend.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.cond(
            S.error != "",
            error_banner(S.error),
            rx.cond(S.loading, loading_skeleton(9), providers_table()),
        ),
        spacing="4",
        width="100%",
    )

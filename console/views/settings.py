"""The Settings page: the provider of each capability and its health; for admins, users and API tokens."""

from __future__ import annotations

import reflex as rx

from console.backend.accounts import AccountRow, TokenRow
from console.backend.health import ProviderRow
from console.components.auth import role_badge
from console.components.panel import error_banner, loading_skeleton, panel, status_badge
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


def _table(headers: tuple[str, ...], body: rx.Component) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(name) for name in headers))),
        rx.table.body(body),
        width="100%",
        variant="surface",
        size="1",
    )


def _account_row(row: rx.Var[AccountRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.display_name, weight="medium"), rx.text(row.username, size="1")),
        rx.table.cell(role_badge(row.role)),
        rx.table.cell(rx.cond(row.disabled, rx.badge("disabled", color_scheme="red"), rx.badge("enabled"))),
        rx.table.cell(row.active_tokens),
        rx.table.cell(
            rx.cond(
                row.disabled,
                rx.button(
                    "Enable",
                    size="1",
                    variant="soft",
                    on_click=S.enable(row.username),
                    loading=S.changing == row.username,
                ),
                rx.button(
                    "Disable",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=S.disable(row.username),
                    loading=S.changing == row.username,
                    disabled=row.username == S.user,
                ),
            )
        ),
        data_testid="account-row",
    )


def _token_row(row: rx.Var[TokenRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.id)),
        rx.table.cell(row.user),
        rx.table.cell(row.label),
        rx.table.cell(rx.text(row.created, size="1")),
        rx.table.cell(rx.text(row.expires, size="1")),
        rx.table.cell(rx.text(row.last_used, size="1")),
        rx.table.cell(
            status_badge(rx.match(row.state, ("active", "ok"), ("expired", "degraded"), "down")), row.state
        ),
        rx.table.cell(
            rx.cond(
                row.state == "active",
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=S.revoke(row.id),
                    loading=S.changing == row.id,
                ),
            )
        ),
        data_testid="token-row",
    )


def accounts() -> rx.Component:
    """Users and API tokens (admins only): disable or enable a user, revoke a token; each takes effect at the
    next request."""
    body = rx.vstack(
        _table(("User", "Role", "State", "Active tokens", ""), rx.foreach(S.accounts, _account_row)),
        _table(
            ("Token", "User", "Label", "Issued", "Expires", "Last used", "State", ""),
            rx.foreach(S.tokens, _token_row),
        ),
        rx.text(
            "Add users, change roles and issue tokens with ",
            rx.code("opspilot users"),
            ". A disabled user or a revoked token is refused at its next request.",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="3",
        width="100%",
    )
    return panel("Users and API tokens", "users", body, error=S.accounts_error, test_id="panel-accounts")


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
        rx.cond(S.is_admin, accounts()),
        spacing="4",
        width="100%",
    )

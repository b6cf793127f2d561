"""What the detail pages share: a back link, the record's labelled fields, and its provider-specific extras."""

from __future__ import annotations

from typing import Any

import reflex as rx

from console.backend.records import FieldRow
from console.components.markdown import safe_link_var
from console.components.panel import error_banner, loading_skeleton


def back_link(label: str, href: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("arrow-left", size=14), rx.text(label, size="2"), align="center", spacing="1"),
        href=href,
        color=rx.color("gray", 11),
        underline="none",
    )


def fields(*pairs: tuple[str, rx.Component | rx.Var | str]) -> rx.Component:
    """Label and value pairs, one per line."""
    return rx.data_list.root(
        *(
            rx.data_list.item(
                rx.data_list.label(label, min_width="8rem"),
                rx.data_list.value(value if isinstance(value, rx.Component) else rx.text(value)),
            )
            for label, value in pairs
        ),
        size="2",
    )


def labelled(label: str, control: rx.Component) -> rx.Component:
    """A form control with its label above it."""
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%")


def form_dialog(
    trigger: rx.Component,
    title: rx.Component | str,
    controls: list[rx.Component],
    *,
    submit: str,
    submit_test_id: str,
    on_submit: Any,
    busy: rx.Var[bool],
    opened: rx.Var[bool],
    on_open_change: Any,
) -> rx.Component:
    """A dialog holding a form: its controls, then Cancel and the submit button."""
    form = rx.form(
        rx.vstack(
            *controls,
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                rx.button(submit, type="submit", loading=busy, data_testid=submit_test_id),
                justify="end",
                width="100%",
            ),
            spacing="3",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
    )
    return rx.dialog.root(
        rx.dialog.trigger(trigger),
        rx.dialog.content(rx.dialog.title(title), form, max_width="32rem"),
        open=opened,
        on_open_change=on_open_change,
    )


def extra_fields(rows: rx.Var[list[FieldRow]]) -> rx.Component:
    """A record's provider-specific fields and metadata."""
    return rx.cond(
        rows.length() > 0,
        rx.data_list.root(
            rx.foreach(
                rows,
                lambda row: rx.data_list.item(
                    rx.data_list.label(row.label, min_width="8rem"), rx.data_list.value(rx.code(row.value))
                ),
            ),
            size="1",
        ),
    )


def record_body(error: rx.Var[str], loading: rx.Var[bool], body: rx.Component) -> rx.Component:
    """The record, or its provider's error, or a skeleton while it loads."""
    return rx.cond(error != "", error_banner(error), rx.cond(loading, loading_skeleton(6), body))


def record_page(
    back: tuple[str, str],
    heading: list[rx.Component],
    body: list[rx.Component],
    *,
    error: rx.Var[str],
    loading: rx.Var[bool],
    test_id: str,
) -> rx.Component:
    """A detail page: a link back to its list, the record's heading, and its fields in a card."""
    page = rx.vstack(
        rx.hstack(*heading, align="center", spacing="3", wrap="wrap", width="100%"),
        rx.card(rx.vstack(*body, spacing="3"), width="100%", data_testid=test_id),
        spacing="4",
        width="100%",
    )
    return rx.vstack(back_link(*back), record_body(error, loading, page), spacing="4", width="100%")


def external_link(url: rx.Var[str], label: str = "Open in its system") -> rx.Component:
    """A link to the record in its own system; none when the address (from data) is not http(s)."""
    return rx.cond(
        safe_link_var(url),
        rx.link(
            rx.hstack(
                rx.icon("external-link", size=14), rx.text(label, size="2"), align="center", spacing="1"
            ),
            href=url,
            is_external=True,
        ),
    )

"""What the list pages share: a heading, filter pickers, a search box, the table in its panel, and the pager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from console.backend.scope import ANY
from console.components.panel import empty_state, loading_skeleton, panel


def page_heading(title: str, *aside: rx.Component, on_refresh: Any) -> rx.Component:
    """The page's title, what goes beside it, and a Refresh button."""
    refresh = rx.icon_button(
        rx.icon("refresh-cw", size=16), on_click=on_refresh, variant="soft", title="Refresh"
    )
    return rx.hstack(rx.heading(title, size="6"), rx.spacer(), *aside, refresh, align="center", width="100%")


def filter_select(
    label: str,
    value: rx.Var[str],
    options: list[str] | rx.Var[list[str]],
    on_change: Any,
    *,
    test_id: str,
    labels: dict[str, str] | None = None,
    any_label: str | None = "any",
) -> rx.Component:
    """A labelled picker; ``any_label`` adds the "no filter" choice (sent as ``ANY``)."""
    if isinstance(options, rx.Var):
        items = rx.foreach(options, lambda option: rx.select.item(option, value=option))
    else:
        items = rx.fragment(*(rx.select.item((labels or {}).get(o, o), value=o) for o in options))
    return rx.hstack(
        rx.text(label, size="2", color=rx.color("gray", 11)),
        rx.select.root(
            rx.select.trigger(min_width="8rem", data_testid=test_id),
            rx.select.content(
                rx.select.item(any_label, value=ANY) if any_label else rx.fragment(),
                items,
            ),
            value=rx.cond(value == "", ANY, value) if any_label else value,
            on_change=on_change,
            size="2",
        ),
        align="center",
        spacing="2",
    )


def search_box(state: Any, *, placeholder: str, test_id: str) -> rx.Component:
    """The free-text filter of a list (``state`` is a ``PagedList`` state class), applied on Enter (the page's URL
    then holds it)."""
    return rx.form(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            name="q",
            default_value=state.text,
            # The filter set from anywhere but this box (Back, Forward, Clear filters) makes a new box: an
            # uncontrolled input keeps what was typed in it, so it would go on showing a search the URL and the
            # rows no longer hold. A search typed here keeps the box, and the focus in it.
            key=state.search_box_version,
            placeholder=placeholder,
            size="2",
            width="100%",
            data_testid=test_id,
        ),
        on_submit=state.search,
        reset_on_submit=False,
        width="22rem",
    )


def filter_bar(*controls: rx.Component, on_clear: Any) -> rx.Component:
    return rx.hstack(
        *controls,
        rx.button(
            rx.icon("filter-x", size=14), "Clear filters", on_click=on_clear, variant="ghost", size="2"
        ),
        align="center",
        spacing="4",
        wrap="wrap",
        width="100%",
    )


def capped_note() -> rx.Component:
    """Said under a list whose source has more matches than OpsPilot reads to put them in order (a source with no
    stable order, such as an OpsOrch Core, is read whole up to its ``max_items`` cap and paged here)."""
    return rx.callout(
        "The source has more matches than OpsPilot reads to order them (its max_items setting), so these pages "
        "hold some of them, not all. Narrow the filters or the time range to see every match.",
        icon="info",
        size="1",
        color_scheme="gray",
        width="100%",
        data_testid="list-capped",
    )


def pager(state: Any) -> rx.Component:
    """Previous and Next over the provider's cursors (``state`` is a ``PagedList`` state class)."""
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=14),
            "Previous",
            on_click=state.previous_page,
            disabled=(state.page_number <= 1) | state.loading,
            variant="soft",
            size="2",
            data_testid="page-previous",
        ),
        rx.text("Page ", state.page_number, size="2", data_testid="page-number"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=14),
            on_click=state.next_page,
            disabled=~state.has_next | state.loading,
            variant="soft",
            size="2",
            data_testid="page-next",
        ),
        align="center",
        justify="end",
        spacing="3",
        width="100%",
    )


def list_panel(
    state: Any,
    *,
    title: str,
    icon: str,
    headers: list[str],
    row: Callable[[Any], rx.Component],
    empty: str,
    test_id: str,
) -> rx.Component:
    """The page of ``state.rows`` as a table in a panel: a banner when its provider fails, a skeleton while the
    first page loads.

    While another page (or another filter's page) loads, the rows shown stay, dimmed, until the new ones replace
    them in place: unmounting the table for a skeleton and mounting it again cost the browser most of a page
    change.
    """
    table = rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in headers))),
        rx.table.body(rx.foreach(state.rows, row)),
        size="1",
        width="100%",
        variant="ghost",
        opacity=rx.cond(state.loading, "0.55", "1"),
        aria_busy=state.loading,
    )
    body = rx.vstack(
        rx.cond(
            state.rows.length() > 0,
            table,
            rx.cond(state.loading, loading_skeleton(), empty_state(empty)),
        ),
        rx.cond(state.truncated, capped_note()),
        pager(state),
        spacing="3",
        width="100%",
    )
    return panel(title, icon, body, error=state.error, test_id=test_id)


def link_cell(
    text: rx.Var[str],
    href: rx.Var[str],
    *,
    test_id: str | None = None,
    nowrap: bool = False,
    detail: rx.Var[str] | None = None,
) -> rx.Component:
    """A cell linking to a record; ``nowrap`` for identifiers, which must read on one line; ``detail`` in
    small print below (what would otherwise take columns of its own)."""
    link = rx.link(
        text, href=href, weight="medium", white_space="nowrap" if nowrap else None, data_testid=test_id
    )
    if detail is None:
        return rx.table.cell(link)
    return rx.table.cell(rx.vstack(link, _detail(detail), spacing="0"))


def _detail(text: rx.Var[str]) -> rx.Component:
    # Small print wraps, anywhere if it must: a long user name or version must not widen the table past the page.
    return rx.text(text, size="1", color=rx.color("gray", 10), overflow_wrap="anywhere")


def name_cell(name: rx.Var[str], detail: rx.Var[str] | None = None) -> rx.Component:
    """An identifier (a service, an id) on one line, with an optional detail in small print below it."""
    text = rx.text(name, size="2", white_space="nowrap")
    if detail is None:
        return rx.table.cell(text)
    return rx.table.cell(rx.vstack(text, _detail(detail), spacing="0"))


def age_cell(age: rx.Var[str], moment: rx.Var[str]) -> rx.Component:
    """How long ago, the moment itself on hover (the browser's own title: a tooltip component in every row of
    every page is costly to mount)."""
    return rx.table.cell(rx.text(age, size="2", title=moment, white_space="nowrap"))

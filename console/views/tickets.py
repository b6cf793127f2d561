"""The Tickets list, with the create form for people who may act."""

from __future__ import annotations

import reflex as rx

from console.backend.tickets import TicketRow
from console.components import listing
from console.components.panel import status_badge
from console.components.record import form_dialog, labelled
from console.state.tickets import TicketsState as S


def _row(row: rx.Var[TicketRow]) -> rx.Component:
    return rx.table.row(
        listing.link_cell(row.key, row.link, test_id="ticket-link", nowrap=True),
        rx.table.cell(
            rx.vstack(
                rx.text(row.title, weight="medium"),
                rx.text(
                    rx.cond(row.service != "", row.service + " · ", ""),
                    "reported by ",
                    row.reporter,
                    size="1",
                    color=rx.color("gray", 10),
                ),
                spacing="0",
            )
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(row.assignees),
        listing.age_cell(row.age, row.created),
        data_testid="ticket-row",
    )


def create_dialog() -> rx.Component:
    """New ticket: created at once where policy lets the role, else sent for approval (checked on the server)."""
    return form_dialog(
        rx.button(
            rx.icon("plus", size=16),
            "New ticket",
            # A tracker that cannot list tickets will not file one either: the list says why.
            disabled=S.error != "",
            data_testid="ticket-create",
        ),
        "New ticket",
        [
            labelled(
                "Title", rx.input(name="title", required=True, width="100%", data_testid="ticket-title")
            ),
            labelled("Description", rx.text_area(name="description", rows="4", width="100%")),
            labelled(
                "Service (the scope's when empty)",
                rx.input(name="service", default_value=S.scope_service, width="100%"),
            ),
            labelled("Incident id (optional)", rx.input(name="incident_id", width="100%")),
        ],
        submit="Create",
        submit_test_id="ticket-create-submit",
        on_submit=S.create,
        busy=S.acting,
        opened=S.creating,
        on_open_change=S.open_create,
    )


def tickets() -> rx.Component:
    return rx.vstack(
        listing.page_heading(
            "Tickets",
            rx.cond(S.can_act, create_dialog()),
            on_refresh=S.load,
        ),
        listing.filter_bar(
            listing.filter_select("Status", S.status, S.statuses, S.filter_status, test_id="filter-status"),
            rx.form(
                rx.hstack(
                    rx.input(name="assignee", default_value=S.assignee, placeholder="assignee", size="2"),
                    rx.input(name="reporter", default_value=S.reporter, placeholder="reporter", size="2"),
                    rx.button("Apply", type="submit", variant="soft", size="2"),
                    spacing="2",
                ),
                on_submit=S.search,
                reset_on_submit=False,
            ),
            listing.search_box(S, placeholder="Search title, description, key", test_id="filter-text"),
            on_clear=S.clear_filters,
        ),
        listing.list_panel(
            S,
            title="Tickets",
            icon="ticket",
            headers=["Key", "Title", "Status", "Assignees", "Created"],
            row=_row,
            empty="No tickets match these filters and scope.",
            test_id="panel-ticket-list",
        ),
        spacing="4",
        width="100%",
    )

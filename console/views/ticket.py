"""One ticket, with the edit form for people who may act."""

from __future__ import annotations

import reflex as rx

from console.components.markdown import safe_markdown
from console.components.panel import status_badge
from console.components.record import external_link, extra_fields, fields, form_dialog, labelled, record_page
from console.state.tickets import TicketState as S


def edit_dialog() -> rx.Component:
    """Edit: saved at once where policy lets the role, else sent for approval (checked on the server)."""
    ticket = S.ticket
    return form_dialog(
        rx.button(rx.icon("pencil", size=16), "Edit", data_testid="ticket-edit"),
        rx.text("Edit ", ticket.key),
        [
            labelled(
                "Title", rx.input(name="title", default_value=ticket.title, required=True, width="100%")
            ),
            labelled(
                "Description",
                rx.text_area(name="description", default_value=ticket.description, rows="5", width="100%"),
            ),
            labelled(
                "Status",
                rx.select.root(
                    rx.select.trigger(width="100%", data_testid="ticket-status"),
                    rx.select.content(rx.foreach(S.statuses, lambda s: rx.select.item(s, value=s))),
                    name="status",
                    default_value=ticket.status,
                ),
            ),
            labelled(
                "Assignees (comma-separated)",
                rx.input(name="assignees", default_value=ticket.assignees.join(", "), width="100%"),
            ),
        ],
        submit="Save",
        submit_test_id="ticket-save",
        on_submit=S.save,
        busy=S.acting,
        opened=S.editing,
        on_open_change=S.open_edit,
    )


def ticket() -> rx.Component:
    view = S.ticket
    return record_page(
        ("All tickets", "/tickets"),
        [
            status_badge(view.status),
            rx.heading(view.title, size="6", data_testid="ticket-heading"),
            rx.code(view.key),
            rx.spacer(),
            rx.cond(S.can_act, edit_dialog()),
        ],
        [
            fields(
                ("Status", status_badge(view.status)),
                ("Assignees", view.assignees.join(", ")),
                ("Reporter", view.reporter),
                ("Service", rx.link(view.service, href=view.service_link)),
                ("Environment", view.environment),
                ("Incident", rx.link(view.incident_id, href=view.incident_link)),
                ("Created", view.created),
                ("Updated", view.updated),
            ),
            rx.cond(
                view.description != "",
                rx.box(
                    safe_markdown(source=view.description), data_testid="ticket-description", width="100%"
                ),
            ),
            extra_fields(view.fields),
            external_link(view.url),
        ],
        error=S.error,
        loading=S.loading,
        test_id="panel-ticket",
    )

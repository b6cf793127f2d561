"""``/tickets/{id}``: one ticket, editable under the approval policy."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.tickets import TicketState
from console.views.ticket import ticket


@console_page("/tickets/[ticket_ref]", "Ticket", on_load=TicketState.load)
def ticket_page() -> rx.Component:
    return ticket()

"""``/tickets``: tickets, filtered, with New ticket under the approval policy."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.tickets import TicketsState
from console.views.tickets import tickets


@console_page("/tickets", "Tickets", on_load=TicketsState.load)
def tickets_page() -> rx.Component:
    return tickets()

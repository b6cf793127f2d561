"""``/incidents``: every incident, filtered, a page at a time."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.incidents import IncidentsState
from console.views.incidents import incidents


@console_page("/incidents", "Incidents", on_load=IncidentsState.load)
def incidents_page() -> rx.Component:
    return incidents()

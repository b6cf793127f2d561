"""``/incidents/{id}``: one incident, what surrounds it, and what can be done about it."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.incidents import IncidentState
from console.views.incident import incident


@console_page("/incidents/[incident_ref]", "Incident", on_load=IncidentState.load)
def incident_page() -> rx.Component:
    return incident()

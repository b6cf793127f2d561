"""``/alerts``: alerts, firing first; ``/alerts/{id}``: one alert (where the Copilot's alert citations land)."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.alerts import AlertsState, AlertState
from console.views.alerts import alert, alerts


@console_page("/alerts", "Alerts", on_load=AlertsState.load)
def alerts_page() -> rx.Component:
    return alerts()


@console_page("/alerts/[alert_ref]", "Alert", on_load=AlertState.load)
def alert_page() -> rx.Component:
    return alert()

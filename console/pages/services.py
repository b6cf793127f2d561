"""``/services``: the service catalog."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.services import ServicesState
from console.views.services import services


@console_page("/services", "Services", on_load=ServicesState.load)
def services_page() -> rx.Component:
    return services()

"""``/services/{name}``: one service, its dependencies and health."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.services import ServiceState
from console.views.service import service


@console_page("/services/[service_ref]", "Service", on_load=ServiceState.load)
def service_page() -> rx.Component:
    return service()

"""``/setup``: the first run, while no user exists: create the first admin."""

from __future__ import annotations

import reflex as rx

from console.components.auth import first_admin_form
from console.components.header import APP_NAME
from console.state.session import SETUP_ROUTE, SessionState


@rx.page(route=SETUP_ROUTE, title=f"First run · {APP_NAME}", on_load=SessionState.open_setup)
def setup_page() -> rx.Component:
    return first_admin_form()

"""``/login``: sign in (the one page, with ``/setup``, that needs no session)."""

from __future__ import annotations

import reflex as rx

from console.components.auth import sign_in_form
from console.components.header import APP_NAME
from console.state.session import LOGIN_ROUTE, SessionState


@rx.page(route=LOGIN_ROUTE, title=f"Sign in · {APP_NAME}", on_load=SessionState.open_login)
def login_page() -> rx.Component:
    return sign_in_form()

"""``/settings``: which provider serves each capability, and whether it is healthy."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.settings import SettingsState
from console.views.settings import settings


@console_page("/settings", "Settings", on_load=SettingsState.load)
def settings_page() -> rx.Component:
    return settings()

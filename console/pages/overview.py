"""``/``: what is burning right now."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.overview import OverviewState
from console.views.overview import overview


@console_page("/", "Overview", on_load=OverviewState.load)
def index() -> rx.Component:
    return overview()

"""``/logs?q=&service=&severity=&from=&to=&highlight=``: search, volume, patterns and context of log lines."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.logs import LogsState
from console.views.logs import logs


@console_page("/logs", "Logs", on_load=LogsState.load)
def logs_page() -> rx.Component:
    return logs()

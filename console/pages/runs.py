"""``/runs``: every Copilot run; ``/runs/[id]``: one run's trace, calls, approvals, answer and audit trail."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.runs import RunPageState, RunsPageState
from console.views.runs import run, runs


@console_page("/runs", "Copilot runs", on_load=RunsPageState.load)
def runs_page() -> rx.Component:
    return runs()


@console_page("/runs/[id]", "Copilot run", on_load=RunPageState.load)
def run_page() -> rx.Component:
    return run()

"""``/approvals``: the inbox of requests waiting for a person, and ``/approvals/[id]``: one of them, first."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.approvals import ApprovalsState
from console.views.approvals import approvals


@console_page("/approvals", "Approvals", on_load=ApprovalsState.load)
def approvals_page() -> rx.Component:
    return approvals()


@console_page("/approvals/[id]", "Approval", on_load=ApprovalsState.load)
def approval_page() -> rx.Component:
    return approvals()

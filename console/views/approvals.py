"""The Approvals inbox: one card per pending request, a table of decided ones."""

from __future__ import annotations

import reflex as rx

from console.backend.approvals import ApprovalRow, EvidenceChip
from console.components import listing
from console.components.change_preview import change_preview
from console.components.panel import empty_state, error_banner, panel, status_badge
from console.state.approvals import ApprovalsState as S


def _evidence(chip: rx.Var[EvidenceChip]) -> rx.Component:
    label = rx.badge(chip.label, variant="surface", size="1")
    # The tooltip's trigger must be one element (a cond renders a fragment, which takes no aria props).
    return rx.tooltip(
        rx.el.span(rx.cond(chip.href != "", rx.link(label, href=chip.href), label)), content=chip.excerpt
    )


def _pending_card(row: rx.Var[ApprovalRow]) -> rx.Component:
    deciding = S.deciding == row.id
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.code(row.tool, size="3"),
                rx.badge(row.risk, color_scheme="amber", variant="soft"),
                rx.cond(row.environment != "", rx.badge(row.environment, variant="outline")),
                rx.spacer(),
                rx.text(row.age, size="1", color=rx.color("gray", 10)),
                width="100%",
                align="center",
            ),
            rx.text(
                "Asked by ",
                rx.text.strong(row.requester),
                rx.cond(
                    row.run_id != "", rx.fragment(" in ", rx.link("run ", row.run_id, href=row.run_href))
                ),
                " · expires ",
                row.expires,
                size="2",
            ),
            change_preview(row.preview),
            rx.cond(
                row.evidence.length() > 0,
                rx.hstack(
                    rx.text("Evidence", size="1", weight="bold"),
                    rx.foreach(row.evidence, _evidence),
                    wrap="wrap",
                ),
            ),
            rx.cond(
                S.can_approve,
                rx.hstack(
                    rx.input(
                        placeholder="Reason (required to reject)",
                        value=S.reasons.get(row.id, ""),
                        on_change=lambda value: S.set_reason(row.id, value),
                        flex="1",
                    ),
                    rx.button(
                        "Reject",
                        color_scheme="red",
                        variant="soft",
                        loading=deciding,
                        on_click=S.reject(row.id),
                    ),
                    rx.button(
                        "Approve",
                        color_scheme="green",
                        loading=deciding,
                        on_click=S.approve(row.id),
                        data_testid="inbox-approve",
                    ),
                    width="100%",
                ),
                rx.text("An approver or an admin decides on this.", size="1", color=rx.color("gray", 10)),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        border=rx.cond(S.focused == row.id, f"2px solid {rx.color('accent', 8)}", "none"),
        data_testid="pending-request",
    )


def _decided_row(row: rx.Var[ApprovalRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(
            rx.vstack(
                rx.code(row.tool, white_space="nowrap"),
                rx.cond(
                    row.run_id != "",
                    rx.link("run ", row.run_id, href=row.run_href, size="1", white_space="nowrap"),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.text(
                "asked by ",
                row.requester,
                rx.cond(row.decided_by != "", " · decided by " + row.decided_by, ""),
                size="1",
            )
        ),
        rx.table.cell(rx.text(row.reason, size="2")),
        rx.table.cell(rx.text(row.decided, size="1", white_space="nowrap")),
        data_testid="decided-request",
    )


def approvals() -> rx.Component:
    pending = panel(
        "Waiting for a decision",
        "shield-alert",
        rx.cond(
            S.pending.length() > 0,
            rx.vstack(
                rx.foreach(S.pending, _pending_card),
                rx.cond(
                    S.pending_total > S.pending.length(),
                    rx.text(
                        f"Showing the newest {S.pending.length()} of {S.pending_total}: decide these first.",
                        size="1",
                        color=rx.color("gray", 10),
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            empty_state("Nothing waits for approval."),
        ),
        loading=S.loading,
        test_id="panel-pending",
        aside=rx.badge(S.pending_total, variant="outline"),
    )
    decided = panel(
        "Decided",
        "history",
        rx.cond(
            S.decided.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *(
                            rx.table.column_header_cell(name)
                            for name in ("Status", "Tool", "Who", "Why", "When")
                        )
                    )
                ),
                rx.table.body(rx.foreach(S.decided, _decided_row)),
                width="100%",
                size="1",
            ),
            empty_state("No decisions yet."),
        ),
        loading=S.loading,
        test_id="panel-decided",
    )
    return rx.vstack(
        listing.page_heading("Approvals", on_refresh=S.load),
        rx.text(
            "Changes the Copilot or a person asked for wait here until an approver decides; nothing runs before.",
            size="2",
            color=rx.color("gray", 11),
        ),
        # The inbox's one failure is said once, in place of both lists.
        rx.cond(S.error != "", error_banner(S.error), rx.vstack(pending, decided, spacing="4", width="100%")),
        spacing="4",
        width="100%",
    )

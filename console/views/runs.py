"""Copilot runs: the list, and one run's state-machine trace, calls, approvals, answer and audit trail."""

from __future__ import annotations

import reflex as rx

from console.backend.approvals import ApprovalRow
from console.backend.copilot import AuditRow, CallRow, RunRow, StepRow
from console.components.copilot_panel import citation_chip, state_badge
from console.components.panel import empty_state, panel, status_badge
from console.state.runs import RunPageState, RunsPageState


def _run_row(row: rx.Var[RunRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(state_badge(row.state)),
        rx.table.cell(rx.link(row.question, href="/runs/" + row.id)),
        rx.table.cell(row.user),
        rx.table.cell(rx.code(row.planner)),
        rx.table.cell(row.steps),
        rx.table.cell(rx.text(row.created, size="1")),
        rx.table.cell(rx.text(row.error, size="1", color=rx.color("red", 10))),
        data_testid="run-row",
    )


def runs() -> rx.Component:
    S = RunsPageState
    table = rx.table.root(
        rx.table.header(
            rx.table.row(
                *(
                    rx.table.column_header_cell(name)
                    for name in ("State", "Question", "Asked by", "Planner", "Steps", "Started", "Error")
                )
            )
        ),
        rx.table.body(rx.foreach(S.runs, _run_row)),
        width="100%",
        size="1",
    )
    body = rx.cond(
        S.runs.length() > 0, table, empty_state("No Copilot runs yet: ask the Copilot a question.")
    )
    return panel("Copilot runs", "bot", body, error=S.error, loading=S.loading, test_id="panel-runs")


def _step(step: rx.Var[StepRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(step.seq, size="1"), id="step-" + step.seq.to_string()),
        rx.table.cell(state_badge(step.state)),
        rx.table.cell(rx.text(step.label, size="2", weight="medium")),
        rx.table.cell(rx.text(step.detail, size="1")),
        rx.table.cell(rx.text(step.at, size="1", color=rx.color("gray", 10))),
        data_testid="run-step",
    )


def _call(call: rx.Var[CallRow]) -> rx.Component:
    return rx.accordion.item(
        header=rx.hstack(
            rx.icon(
                rx.cond(call.ok, "circle-check", "circle-x"), size=14, color=rx.cond(call.ok, "green", "red")
            ),
            rx.code(call.tool),
            rx.text(call.duration, size="1", color=rx.color("gray", 10)),
            align="center",
        ),
        content=rx.vstack(
            rx.text("Input", size="1", weight="bold"),
            rx.code_block(call.arguments, language="json", wrap_long_lines=True, width="100%"),
            rx.text("Output", size="1", weight="bold"),
            rx.code_block(call.output, language="markdown", wrap_long_lines=True, width="100%"),
            rx.hstack(rx.foreach(call.evidence, citation_chip), wrap="wrap", spacing="1"),
            width="100%",
        ),
        value=call.call_id,
    )


def _approval(row: rx.Var[ApprovalRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.link(rx.code(row.tool), href="/approvals/" + row.id)),
        rx.table.cell(row.decided_by),
        rx.table.cell(rx.text(row.reason, size="2")),
    )


def _audit(row: rx.Var[AuditRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at, size="1")),
        rx.table.cell(row.actor),
        rx.table.cell(rx.badge(row.action, variant="soft")),
        rx.table.cell(rx.code(row.tool)),
        rx.table.cell(rx.text(row.result, size="1")),
    )


def _table(headers: tuple[str, ...], rows: rx.Component) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(name) for name in headers))),
        rx.table.body(rows),
        width="100%",
        size="1",
    )


def run() -> rx.Component:
    S = RunPageState
    r = S.run
    summary = rx.vstack(
        rx.hstack(
            state_badge(r.state),
            rx.heading(r.question, size="5"),
            rx.spacer(),
            rx.cond(
                r.live & S.can_act,
                rx.button("Cancel run", color_scheme="red", variant="soft", on_click=S.cancel),
            ),
            width="100%",
            align="center",
        ),
        rx.text(
            "Asked by ",
            r.user,
            " · planner ",
            rx.code(r.planner),
            " · started ",
            r.created,
            " · active ",
            r.active,
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.cond(r.error != "", rx.callout(r.error, icon="triangle-alert", color_scheme="red", size="1")),
        rx.cond(
            r.has_answer,
            rx.card(
                rx.vstack(
                    rx.markdown(r.answer.markdown),
                    rx.hstack(rx.foreach(r.answer.citations, citation_chip), wrap="wrap", spacing="1"),
                    rx.cond(
                        r.answer.root_cause != "",
                        rx.text(
                            "Root cause: ",
                            rx.text.strong(r.answer.root_cause),
                            " · confidence ",
                            r.answer.confidence,
                        ),
                    ),
                    rx.foreach(r.answer.missing, lambda item: rx.text("Not checked: ", item, size="1")),
                ),
                width="100%",
                data_testid="run-answer",
            ),
        ),
        rx.foreach(r.notes, lambda note: rx.text("Note: ", note, size="1", color=rx.color("gray", 10))),
        spacing="2",
        width="100%",
    )
    body = rx.vstack(
        summary,
        rx.heading("State machine trace", size="3"),
        _table(("#", "State", "Step", "Detail", "At"), rx.foreach(r.steps, _step)),
        rx.heading("Tool calls", size="3"),
        rx.cond(
            r.calls.length() > 0,
            rx.accordion.root(rx.foreach(r.calls, _call), type="multiple", collapsible=True, width="100%"),
            empty_state("No tool calls."),
        ),
        rx.heading("Approvals", size="3"),
        rx.cond(
            r.approvals.length() > 0,
            _table(("Status", "Tool", "Decided by", "Why"), rx.foreach(r.approvals, _approval)),
            empty_state("This run asked for no approval."),
        ),
        rx.heading("Audit trail", size="3"),
        rx.cond(
            r.audit.length() > 0,
            _table(("At", "Who", "Action", "Tool", "Result"), rx.foreach(r.audit, _audit)),
            empty_state("Nothing audited for this run."),
        ),
        spacing="3",
        width="100%",
    )
    return panel("Copilot run", "bot", body, error=S.error, loading=S.loading, test_id="panel-run")

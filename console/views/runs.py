"""Copilot runs: the list, and one run as a person reads it (answer first, then a compact timeline of its steps,
its approvals and its audit trail)."""

from __future__ import annotations

import reflex as rx

from console.backend.approvals import ApprovalRow
from console.backend.runs import AuditRow, RunRow, TimelineRow
from console.components import listing
from console.components.answer import ONE_LINE, answer_body
from console.components.copilot_panel import state_badge
from console.components.drafts import draft_buttons
from console.components.panel import empty_state, panel, problem, status_badge
from console.components.record import back_link, record_body
from console.state.runs import RunPageState, RunsPageState
from copilot.machine import RunState

MONO = "var(--code-font-family)"
# The columns of a timeline row: step, state, what, duration, one-line result.
TIMELINE_COLUMNS = "2.5rem 7.5rem minmax(6rem, 14rem) 4.5rem minmax(0, 1fr)"


def _run_row(row: rx.Var[RunRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(state_badge(row.state)),
        listing.link_cell(
            row.question,
            "/runs/" + row.id,
            test_id="run-link",
            detail="asked by " + row.user + " · " + row.planner + " · " + row.steps.to_string() + " steps",
        ),
        rx.table.cell(rx.text(row.created, size="1", white_space="nowrap")),
        rx.table.cell(rx.text(row.error, size="1", color=rx.color("red", 11))),
        data_testid="run-row",
    )


def runs() -> rx.Component:
    S = RunsPageState
    return rx.vstack(
        listing.page_heading("Copilot runs", on_refresh=S.load),
        listing.filter_bar(
            listing.filter_select(
                "State",
                S.status,
                [state.value for state in RunState],
                S.filter_status,
                test_id="filter-status",
            ),
            on_clear=S.clear_filters,
        ),
        listing.list_panel(
            S,
            title="Runs, newest first",
            icon="bot",
            headers=["State", "Question", "Started", "Error"],
            row=_run_row,
            empty="No Copilot runs here yet: ask the Copilot a question (top right).",
            test_id="panel-runs",
        ),
        spacing="4",
        width="100%",
    )


def _step_line(row: rx.Var[TimelineRow]) -> rx.Component:
    """The row's one line: step, state, what (the tool of a call), how long, what came of it."""
    return rx.box(
        rx.text("#", row.seq, size="1", color=rx.color("gray", 10)),
        rx.box(state_badge(row.state)),
        rx.cond(
            row.tool != "",
            rx.hstack(
                rx.icon(
                    rx.cond(row.ok, "circle-check", "circle-x"),
                    size=14,
                    color=rx.cond(row.ok, rx.color("green", 10), rx.color("red", 10)),
                    flex_shrink="0",
                ),
                rx.code(row.tool, size="1", title=row.tool, style=ONE_LINE),
                spacing="1",
                align="center",
                min_width="0",
            ),
            rx.text(row.what, size="1", weight="medium"),
        ),
        rx.text(row.duration, size="1", color=rx.color("gray", 10), white_space="nowrap"),
        rx.text(row.summary, size="1", title=row.summary, style=ONE_LINE),
        display="grid",
        grid_template_columns=TIMELINE_COLUMNS,
        column_gap="0.75rem",
        align_items="center",
        width="100%",
    )


def _block(label: str, text: rx.Var[str]) -> rx.Component:
    return rx.cond(
        text != "",
        rx.vstack(
            rx.text(label, size="1", weight="bold", color=rx.color("gray", 11)),
            rx.el.pre(
                text,
                style={
                    "font_family": MONO,
                    "font_size": "12px",
                    "white_space": "pre-wrap",
                    "word_break": "break-word",
                    "max_height": "28rem",
                    "overflow": "auto",
                    "margin": "0",
                    "padding": "0.5rem 0.75rem",
                    "width": "100%",
                    "background": rx.color("gray", 2),
                    "border": f"1px solid {rx.color('gray', 4)}",
                    "border_radius": "var(--radius-2)",
                },
            ),
            spacing="1",
            width="100%",
        ),
    )


def _step(row: rx.Var[TimelineRow]) -> rx.Component:
    anchors = rx.foreach(row.anchors, lambda seq: rx.el.span(id="step-" + seq.to_string()))
    line_style = {"padding": "0.35rem 0.5rem", "border_radius": "var(--radius-2)"}
    return rx.box(
        anchors,
        rx.cond(
            (row.input != "") | (row.output != ""),
            rx.el.details(
                rx.el.summary(
                    _step_line(row),
                    style={
                        **line_style,
                        "cursor": "pointer",
                        "list_style": "none",
                        "&::-webkit-details-marker": {"display": "none"},
                        "&:hover": {"background": rx.color("accent", 2)},
                    },
                ),
                rx.vstack(
                    _block("Input", row.input),
                    _block("Output", row.output),
                    spacing="2",
                    padding="0.25rem 0.5rem 0.75rem 3.25rem",
                    width="100%",
                ),
            ),
            rx.box(_step_line(row), style=line_style),
        ),
        border_bottom=f"1px solid {rx.color('gray', 3)}",
        width="100%",
        data_testid="run-step",
    )


def _approval(row: rx.Var[ApprovalRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.link(rx.code(row.tool), href="/approvals/" + row.id)),
        rx.table.cell(row.requester),
        rx.table.cell(row.decided_by),
        rx.table.cell(rx.text(row.reason, size="2")),
        rx.table.cell(rx.text(row.decided, size="1", white_space="nowrap")),
    )


def _audit(row: rx.Var[AuditRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at, size="1", white_space="nowrap")),
        rx.table.cell(row.actor),
        rx.table.cell(rx.badge(row.action, variant="soft")),
        rx.table.cell(rx.code(row.tool)),
        rx.table.cell(rx.text(row.result, size="1", font_family=MONO, word_break="break-word")),
    )


def _table(headers: tuple[str, ...], rows: rx.Component) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(name) for name in headers))),
        rx.table.body(rows),
        width="100%",
        size="1",
        variant="ghost",
    )


def _heading() -> rx.Component:
    S = RunPageState
    r = S.run
    return rx.vstack(
        rx.hstack(
            state_badge(r.state),
            rx.heading(r.question, size="5", data_testid="run-question"),
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
            " · ",
            r.calls,
            " tool calls",
            size="2",
            color=rx.color("gray", 11),
        ),
        problem(S.cancel_error, test_id="cancel-error"),
        problem(r.error, test_id="run-error"),
        spacing="2",
        width="100%",
    )


def run() -> rx.Component:
    S = RunPageState
    r = S.run
    answer = rx.cond(
        r.has_answer,
        panel(
            "Answer",
            "message-square-text",
            rx.vstack(
                answer_body(r.answer),
                rx.cond((r.state == "DONE") & (r.answer.kind != ""), draft_buttons(r.id)),
                spacing="3",
                width="100%",
            ),
            test_id="run-answer",
        ),
    )
    steps = panel(
        "Steps",
        "list-ordered",
        rx.vstack(
            rx.text("Open a step for its input and output.", size="1", color=rx.color("gray", 10)),
            rx.box(rx.foreach(r.timeline, _step), width="100%"),
            spacing="2",
            width="100%",
        ),
        test_id="run-steps",
        aside=rx.text(r.timeline.length(), " steps", size="1", color=rx.color("gray", 10)),
    )
    approvals = panel(
        "Approvals",
        "shield-check",
        rx.cond(
            r.approvals.length() > 0,
            _table(
                ("Status", "Tool", "Asked by", "Decided by", "Why", "When"),
                rx.foreach(r.approvals, _approval),
            ),
            empty_state("This run asked for no approval."),
        ),
        test_id="run-approvals",
    )
    audit = panel(
        "Audit trail",
        "scroll",
        rx.cond(
            r.audit.length() > 0,
            _table(("At", "Who", "Action", "Tool", "Result"), rx.foreach(r.audit, _audit)),
            empty_state("Nothing audited for this run."),
        ),
        test_id="run-audit",
    )
    body = rx.vstack(_heading(), answer, steps, approvals, audit, spacing="4", width="100%")
    return rx.vstack(
        back_link("All runs", "/runs"),
        record_body(S.error, S.loading, body),
        spacing="4",
        width="100%",
        data_testid="panel-run",
    )

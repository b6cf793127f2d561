"""The Copilot panel beside every page, and its approval dialog."""

from __future__ import annotations

import reflex as rx

from console.backend.copilot import Citation, ProposalRow, ToolCard, TurnView
from console.state.copilot import CopilotPanelState as S

# Tool arguments and results are long unbroken JSON: one line each, cut with an ellipsis (the run page has them whole).
ONE_LINE = {"white_space": "nowrap", "overflow": "hidden", "text_overflow": "ellipsis", "max_width": "100%"}

STATE_COLORS = {
    "PLAN": "blue",
    "EXECUTE_TOOL": "violet",
    "EVALUATE": "cyan",
    "NEEDS_APPROVAL": "amber",
    "DONE": "green",
    "FAILED": "red",
}


def state_badge(state: rx.Var[str]) -> rx.Component:
    return rx.badge(
        state,
        color_scheme=rx.match(state, *STATE_COLORS.items(), "gray"),
        variant="soft",
        size="1",
        data_testid="run-state",
    )


def citation_chip(citation: rx.Var[Citation]) -> rx.Component:
    """``[n] kind``, opening the evidence on its console page."""
    return rx.tooltip(
        rx.link(
            rx.badge(
                rx.text("[", citation.number, "] ", citation.kind),
                variant="surface",
                size="1",
                cursor="pointer",
            ),
            href=citation.href,
            data_testid="citation",
        ),
        content=citation.excerpt,
    )


def _tool_card(card: rx.Var[ToolCard]) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon(
                rx.cond(card.ok, "circle-check", "circle-x"), size=14, color=rx.cond(card.ok, "green", "red")
            ),
            rx.code(card.tool, size="1"),
            rx.spacer(),
            rx.text(card.duration, size="1", color=rx.color("gray", 10)),
            align="center",
            width="100%",
        ),
        rx.text(card.arguments, size="1", color=rx.color("gray", 11), style=ONE_LINE),
        rx.text(card.result, size="1", color=rx.color("gray", 10), style=ONE_LINE),
        padding="0.4rem 0.5rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-2)",
        width="100%",
        data_testid="tool-card",
    )


def _proposal(turn: rx.Var[TurnView], proposal: rx.Var[ProposalRow]) -> rx.Component:
    return rx.hstack(
        rx.code(proposal.tool, size="1"),
        rx.text(proposal.reason, size="1", flex="1"),
        rx.cond(
            S.can_act & turn.done,
            rx.button(
                "Propose",
                size="1",
                variant="soft",
                on_click=S.propose(turn.run_id, proposal.index),
                data_testid="propose-action",
            ),
        ),
        align="center",
        width="100%",
    )


def _answer(turn: rx.Var[TurnView]) -> rx.Component:
    answer = turn.answer
    return rx.vstack(
        rx.markdown(answer.markdown, component_map={"p": lambda text: rx.text(text, size="2")}),
        rx.hstack(rx.foreach(answer.citations, citation_chip), wrap="wrap", spacing="1"),
        rx.cond(
            answer.root_cause != "",
            rx.text(
                "Root cause: ",
                rx.text.strong(answer.root_cause),
                " · confidence ",
                answer.confidence,
                size="2",
            ),
        ),
        rx.cond(
            answer.missing.length() > 0,
            rx.vstack(
                rx.text("Not checked", size="1", weight="bold", color=rx.color("gray", 10)),
                rx.foreach(
                    answer.missing, lambda item: rx.text("· ", item, size="1", color=rx.color("gray", 10))
                ),
                spacing="0",
            ),
        ),
        rx.cond(
            answer.proposals.length() > 0,
            rx.vstack(
                rx.text("Proposed follow-ups (each needs a person's approval)", size="1", weight="bold"),
                rx.foreach(answer.proposals, lambda proposal: _proposal(turn, proposal)),
                spacing="0",
            ),
        ),
        spacing="2",
        width="100%",
        data_testid="copilot-answer",
    )


def _turn(turn: rx.Var[TurnView]) -> rx.Component:
    return rx.vstack(
        rx.box(
            rx.text(turn.question, size="2", weight="medium"),
            background=rx.color("accent", 3),
            padding="0.5rem 0.75rem",
            border_radius="var(--radius-3)",
            align_self="end",
        ),
        rx.hstack(
            rx.foreach(turn.states, state_badge),
            rx.cond(turn.live, rx.spinner(size="1")),
            wrap="wrap",
            spacing="1",
            align="center",
            data_testid="run-states",
        ),
        rx.cond(
            turn.waiting,
            rx.callout(
                rx.text(
                    "Waiting for a person to approve ",
                    rx.code(turn.pending.tool),
                    ". ",
                    rx.link("Open the Approvals inbox", href="/approvals"),
                ),
                icon="shield-alert",
                color_scheme="amber",
                size="1",
            ),
        ),
        rx.cond(turn.has_answer, _answer(turn)),
        rx.cond(
            turn.error != "",
            rx.callout(turn.error, icon="triangle-alert", color_scheme="red", size="1"),
        ),
        rx.cond(
            turn.tools.length() > 0,
            rx.el.details(
                rx.el.summary(rx.text("Tool calls (", turn.tools.length(), ")", size="1", as_="span")),
                rx.vstack(rx.foreach(turn.tools, _tool_card), spacing="1", width="100%"),
                # Open while the run works, so the calls stream in view; closed once it has answered.
                open=turn.live,
                width="100%",
            ),
        ),
        rx.hstack(
            rx.link(
                rx.text("Run ", turn.run_id, size="1"), href="/runs/" + turn.run_id, data_testid="run-link"
            ),
            rx.spacer(),
            rx.cond(
                turn.live,
                rx.button(
                    "Cancel", size="1", variant="ghost", color_scheme="red", on_click=S.cancel(turn.run_id)
                ),
            ),
            width="100%",
        ),
        spacing="2",
        width="100%",
        padding_bottom="0.75rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="copilot-turn",
    )


def approval_dialog() -> rx.Component:
    """Approve or reject what a run waits for; shown only to people allowed to approve."""
    pending = S.approval
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("The Copilot asks to run ", rx.code(pending.tool)),
            rx.alert_dialog.description(
                rx.text("Risk: ", rx.text.strong(pending.risk), size="2"),
            ),
            rx.vstack(
                rx.code_block(
                    pending.arguments,
                    language="json",
                    wrap_long_lines=True,
                    width="100%",
                    max_height="40vh",
                    overflow_y="auto",
                ),
                rx.text("Evidence", size="2", weight="bold"),
                rx.hstack(rx.foreach(pending.evidence, citation_chip), wrap="wrap", spacing="1"),
                rx.text_area(
                    placeholder="Reason (required to reject)",
                    value=S.reject_reason,
                    on_change=S.set_reject_reason,
                    width="100%",
                    data_testid="reject-reason",
                ),
                spacing="2",
                width="100%",
                margin_y="0.75rem",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Later", variant="soft", color_scheme="gray", on_click=S.dismiss)
                ),
                rx.spacer(),
                rx.button(
                    "Reject",
                    color_scheme="red",
                    variant="soft",
                    on_click=S.reject,
                    loading=S.deciding,
                    data_testid="reject-button",
                ),
                rx.button(
                    "Approve",
                    color_scheme="green",
                    on_click=S.approve,
                    loading=S.deciding,
                    data_testid="approve-button",
                ),
                width="100%",
            ),
            max_width="36rem",
            data_testid="approval-dialog",
        ),
        open=S.dialog_open,
    )


def copilot_toggle() -> rx.Component:
    """The header button that shows or hides the panel."""
    return rx.button(
        rx.icon("bot", size=16),
        "Copilot",
        variant=rx.cond(S.panel_open, "solid", "soft"),
        on_click=S.toggle_panel,
        size="2",
        data_testid="copilot-toggle",
    )


def copilot_panel() -> rx.Component:
    """The conversation column on the right of every page."""
    return rx.cond(
        S.panel_open,
        rx.vstack(
            rx.hstack(
                rx.icon("bot", size=18, color=rx.color("accent", 10)),
                rx.heading("Copilot", size="4"),
                rx.spacer(),
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("message-square-plus", size=16), variant="ghost", on_click=S.new_conversation
                    ),
                    content="New conversation",
                ),
                rx.icon_button(rx.icon("x", size=16), variant="ghost", on_click=S.toggle_panel),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.turns.length() == 0,
                rx.text(
                    "Ask why something is failing. The Copilot investigates this page's scope, cites its evidence, "
                    "and changes nothing until a person approves it.",
                    size="2",
                    color=rx.color("gray", 10),
                ),
            ),
            rx.scroll_area(
                rx.vstack(rx.foreach(S.turns, _turn), spacing="3", width="100%"),
                type="auto",
                scrollbars="vertical",
                flex="1",
            ),
            rx.cond(
                S.panel_error != "",
                rx.callout(S.panel_error, icon="triangle-alert", color_scheme="red", size="1"),
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="question",
                        placeholder=rx.cond(
                            S.turns.length() > 0, "Ask a follow-up…", "Why is checkout failing?"
                        ),
                        value=S.draft,
                        on_change=S.set_draft,
                        width="100%",
                        data_testid="copilot-input",
                    ),
                    rx.button(
                        rx.icon("send", size=16),
                        type="submit",
                        loading=S.asking | S.live,
                        data_testid="copilot-ask",
                    ),
                    width="100%",
                ),
                on_submit=S.submit,
                reset_on_submit=True,
                width="100%",
            ),
            approval_dialog(),
            width="26rem",
            min_width="26rem",
            max_width="26rem",
            overflow_x="hidden",
            height="calc(100vh - 3.5rem)",
            position="sticky",
            top="0",
            padding="1rem",
            border_left=f"1px solid {rx.color('gray', 5)}",
            background=rx.color("gray", 1),
            spacing="3",
            data_testid="copilot-panel",
        ),
        # The dialog must reach approvers even while the panel is closed.
        approval_dialog(),
    )

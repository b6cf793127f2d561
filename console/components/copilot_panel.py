"""The Copilot panel beside every page, and its approval dialog.

The panel is as wide as the person drags its left edge (the width lives in the browser: a CSS variable on the
document, kept in localStorage, so it survives page changes and reloads without a round trip), or covers the
page below the header when full-screen. Everything an answer holds is plain text: it quotes data.
"""

from __future__ import annotations

import reflex as rx

from console.backend.copilot import ProposalRow, ToolCard, TurnView
from console.components.answer import ONE_LINE, answer_body, evidence_chips
from console.components.change_preview import change_preview
from console.components.drafts import draft_buttons, draft_dialog
from console.components.header import HEADER_HEIGHT
from console.components.panel import problem
from console.state.copilot import ConversationState
from console.state.copilot import CopilotPanelState as S

STATE_COLORS = {
    "PLAN": "blue",
    "EXECUTE_TOOL": "violet",
    "EVALUATE": "cyan",
    "NEEDS_APPROVAL": "amber",
    "DONE": "green",
    "FAILED": "red",
}

# The panel's width: a CSS variable on <html>, set while dragging its edge and kept in localStorage.
WIDTH_VAR = "--copilot-width"
WIDTH_KEY = "opspilot.copilot.width"
DEFAULT_WIDTH = "28rem"
MIN_WIDTH_PX = 320
# The panel's width on screen, whatever was dragged: the layout keeps the same room free beside the page.
PANEL_WIDTH = f"clamp({MIN_WIDTH_PX}px, var({WIDTH_VAR}, {DEFAULT_WIDTH}), 75vw)"
RESTORE_WIDTH = (
    f"const w = localStorage.getItem('{WIDTH_KEY}');"
    f" if (w) document.documentElement.style.setProperty('{WIDTH_VAR}', w);"
)
# Runs in the browser only (rx.call_script in a trigger never reaches the backend): follow the pointer until it
# is released; the panel sits at the right edge, so its width is the distance from the pointer to that edge.
DRAG_WIDTH = f"""
(() => {{
  const root = document.documentElement;
  const move = (event) => {{
    const width = Math.min(Math.max(window.innerWidth - event.clientX, {MIN_WIDTH_PX}), window.innerWidth * 0.75);
    root.style.setProperty('{WIDTH_VAR}', Math.round(width) + 'px');
  }};
  const stop = () => {{
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', stop);
    document.body.style.userSelect = '';
    const width = root.style.getPropertyValue('{WIDTH_VAR}');
    if (width) localStorage.setItem('{WIDTH_KEY}', width);
  }};
  document.body.style.userSelect = 'none';
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', stop);
}})()
"""
RESET_WIDTH = (
    f"document.documentElement.style.removeProperty('{WIDTH_VAR}'); localStorage.removeItem('{WIDTH_KEY}');"
)


def state_badge(state: rx.Var[str]) -> rx.Component:
    return rx.badge(
        state,
        color_scheme=rx.match(state, *STATE_COLORS.items(), "gray"),
        variant="soft",
        size="1",
        data_testid="run-state",
    )


def _tool_card(card: rx.Var[ToolCard]) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon(
                rx.cond(card.ok, "circle-check", "circle-x"), size=14, color=rx.cond(card.ok, "green", "red")
            ),
            rx.code(card.tool, size="1"),
            rx.spacer(),
            rx.text(card.duration, size="1", color=rx.color("gray", 10), white_space="nowrap"),
            align="center",
            width="100%",
        ),
        rx.text(card.arguments, size="1", color=rx.color("gray", 11), style=ONE_LINE),
        rx.text(card.result, size="1", color=rx.color("gray", 10), style=ONE_LINE),
        padding="0.4rem 0.5rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-2)",
        width="100%",
        min_width="0",
        data_testid="tool-card",
    )


def _proposal(
    turn: rx.Var[TurnView], proposal: rx.Var[ProposalRow], busy: rx.Var[bool] | None
) -> rx.Component:
    offered = proposal.status != ""
    return rx.hstack(
        rx.vstack(
            rx.code(proposal.tool, size="1"),
            rx.text(proposal.reason, size="1", color=rx.color("gray", 11)),
            # How the offer stands, linked to its result (the ticket filed) or to its request.
            rx.cond(
                offered,
                rx.link(
                    rx.text(proposal.label, size="1", weight="medium"),
                    href=proposal.href,
                    data_testid="proposal-state",
                    data_status=proposal.status,
                ),
            ),
            spacing="1",
            flex="1",
            min_width="0",
        ),
        rx.button(
            rx.match(
                proposal.status,
                ("pending", "Pending"),
                ("approved", "Approved"),
                ("proposing", "Proposed"),
                ("executed", "Done"),
                ("", "Propose"),
                "Propose again",
            ),
            size="1",
            variant="soft",
            flex_shrink="0",
            # One proposal, one change: an offer that waits, was approved or was carried out cannot be made again.
            disabled=proposal.final if busy is None else busy | proposal.final,
            on_click=S.propose(turn.run_id, proposal.index),
            data_testid="propose-action",
        ),
        align="center",
        width="100%",
    )


def _answer(turn: rx.Var[TurnView], can_act: rx.Var[bool], busy: rx.Var[bool] | None) -> rx.Component:
    answer = turn.answer
    return rx.vstack(
        answer_body(answer),
        # An investigation's answer (not a follow-up's "Filed as ...") can be written up for others.
        rx.cond(turn.done & (answer.kind != ""), draft_buttons(turn.run_id)),
        # Only people who may act see proposals: for a viewer there is nothing to do with them.
        rx.cond(
            can_act & turn.done & (answer.proposals.length() > 0),
            rx.vstack(
                rx.text("Proposed follow-ups (each needs a person's approval)", size="1", weight="bold"),
                rx.foreach(answer.proposals, lambda proposal: _proposal(turn, proposal, busy)),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
        min_width="0",
        data_testid="copilot-answer",
    )


def _turn(turn: rx.Var[TurnView], can_act: rx.Var[bool], busy: rx.Var[bool] | None = None) -> rx.Component:
    """One question and its run. The vars a turn reads decide when it renders again: the earlier turns read
    only ConversationState's and the session's (``busy`` None), so a run's events, which change
    CopilotPanelState, re-render the latest turn alone. An earlier turn's Propose stays pressable while a run
    works; the handler refuses then (STILL_WORKING)."""
    return rx.vstack(
        rx.box(
            rx.text(turn.question, size="2", weight="medium"),
            background=rx.color("accent", 3),
            padding="0.5rem 0.75rem",
            border_radius="var(--radius-3)",
            align_self="end",
            max_width="90%",
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
            rx.callout.root(
                rx.callout.icon(rx.icon("shield-alert")),
                rx.callout.text(
                    "Waiting for a person to approve ",
                    rx.code(turn.pending.tool),
                    rx.cond(
                        turn.pending.preview.headline != "", rx.text.span(": ", turn.pending.preview.headline)
                    ),
                    ". ",
                    rx.link(
                        "Open its approval page",
                        href=rx.cond(
                            turn.pending.request_id != "",
                            "/approvals/" + turn.pending.request_id,
                            "/approvals",
                        ),
                        data_testid="pending-approval-link",
                    ),
                ),
                color_scheme="amber",
                size="1",
            ),
        ),
        rx.cond(turn.has_answer, _answer(turn, can_act, busy)),
        problem(turn.error, test_id="run-error"),
        rx.cond(
            turn.tools.length() > 0,
            rx.el.details(
                rx.el.summary(
                    rx.text.span("Tool calls (", turn.tools.length(), ")"),
                    style={"cursor": "pointer", "font_size": "var(--font-size-1)"},
                ),
                rx.vstack(
                    rx.foreach(turn.tools, _tool_card), spacing="1", width="100%", padding_top="0.25rem"
                ),
                # Open while the run works, so the calls stream in view; closed once it has answered.
                open=turn.live,
                style={"width": "100%"},
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
        min_width="0",
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
            rx.alert_dialog.description("Risk: ", rx.text.strong(pending.risk), size="2"),
            rx.vstack(
                change_preview(pending.preview),
                rx.text("Evidence", size="2", weight="bold"),
                evidence_chips(pending.evidence),
                rx.text_area(
                    placeholder="Reason (required to reject)",
                    value=S.reject_reason,
                    on_change=S.set_reject_reason,
                    width="100%",
                    data_testid="reject-reason",
                ),
                problem(S.decision_error, test_id="decision-error"),
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
                    # A rejection tells the Copilot why: no reason, nothing to send.
                    disabled=S.reject_reason.strip() == "",
                    title="Give a reason to reject",
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
            max_width="44rem",
            data_testid="approval-dialog",
        ),
        open=S.dialog_open,
    )


def _icon_button(
    icon: str | rx.Var[str], label: str | rx.Var[str], on_click: object, test_id: str
) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon, size=16),
        variant="ghost",
        on_click=on_click,
        title=label,
        aria_label=label,
        data_testid=test_id,
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.icon("bot", size=18, color=rx.color("accent", 10)),
        rx.heading("Copilot", size="4"),
        rx.spacer(),
        rx.cond(
            S.panel_full,
            _icon_button("minimize-2", "Back beside the page", S.toggle_full, "copilot-full"),
            _icon_button("maximize-2", "Full screen", S.toggle_full, "copilot-full"),
        ),
        _icon_button("message-square-plus", "New conversation", S.new_conversation, "new-conversation"),
        _icon_button("x", "Close", S.toggle_panel, "copilot-close"),
        width="100%",
        align="center",
        spacing="3",
    )


def _conversation() -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.cond(
                S.latest.run_id == "",
                rx.text(
                    "Ask why something is failing. The Copilot investigates this page's scope, cites its evidence, "
                    "and changes nothing until a person approves it.",
                    size="2",
                    color=rx.color("gray", 10),
                ),
            ),
            rx.foreach(ConversationState.earlier, lambda turn: _turn(turn, ConversationState.can_act)),
            rx.cond(S.latest.run_id != "", _turn(S.latest, S.can_act, S.live | S.asking)),
            spacing="3",
            width="100%",
            # Full screen, a line of text stays readable.
            max_width=rx.cond(S.panel_full, "60rem", "none"),
            margin_x="auto",
        ),
        flex="1",
        min_height="0",
        width="100%",
        overflow_y="auto",
        padding_right="0.25rem",
        data_testid="copilot-conversation",
    )


def _ask_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="question",
                placeholder=rx.cond(S.latest.run_id != "", "Ask a follow-up…", "Why is checkout failing?"),
                value=S.draft,
                on_change=S.set_draft,
                width="100%",
                data_testid="copilot-input",
            ),
            rx.button(
                rx.icon("send", size=16),
                type="submit",
                loading=S.asking | S.live,
                aria_label="Ask",
                data_testid="copilot-ask",
            ),
            width="100%",
        ),
        on_submit=S.submit,
        reset_on_submit=True,
        width="100%",
    )


def _edge() -> rx.Component:
    """The panel's left edge: drag it to resize, double-click it to go back to the default width."""
    return rx.box(
        position="absolute",
        left="0",
        top="0",
        bottom="0",
        width="6px",
        cursor="col-resize",
        z_index="1",
        title="Drag to resize; double-click for the default width",
        on_mouse_down=rx.call_script(DRAG_WIDTH),
        on_double_click=rx.call_script(RESET_WIDTH),
        _hover={"background": rx.color("accent", 6)},
        data_testid="copilot-resize",
    )


def copilot_panel() -> rx.Component:
    """The conversation column at the right of every page, below the header (or over the page, full-screen).

    It is fixed to the window, so its question box stays in view however long the page; the layout leaves it
    room (``PANEL_WIDTH``).
    """
    full = S.panel_full
    return rx.fragment(
        rx.cond(
            S.panel_open,
            rx.vstack(
                rx.cond(full, rx.fragment(), _edge()),
                _header(),
                _conversation(),
                problem(S.panel_error, test_id="copilot-error"),
                _ask_form(),
                position="fixed",
                top=HEADER_HEIGHT,
                right="0",
                bottom="0",
                left=rx.cond(full, "0", "auto"),
                width=rx.cond(full, "auto", PANEL_WIDTH),
                overflow_x="hidden",
                padding="1rem",
                border_left=f"1px solid {rx.color('gray', 5)}",
                background=rx.color("gray", 1),
                z_index="20",
                spacing="3",
                on_mount=rx.call_script(RESTORE_WIDTH),
                data_testid="copilot-panel",
            ),
        ),
        # The dialog must reach approvers even while the panel is closed.
        approval_dialog(),
        draft_dialog(),
    )

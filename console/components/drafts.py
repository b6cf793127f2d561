"""Drafts from a finished run: the buttons under an answer (the panel, the run page) and the dialog that shows the
draft as it reads, downloads it as Markdown and offers it for posting (console/state/drafts.py).

The draft quotes data (log lines, alert titles), so it is rendered with ``safe_markdown``: no HTML, no unsafe links.
"""

from __future__ import annotations

import reflex as rx

from console.components.markdown import markdown_sheet
from console.state.drafts import KINDS, DraftState, DraftTargetView

MUTED = rx.color("gray", 11)


def draft_buttons(run_id: rx.Var[str]) -> rx.Component:
    """One button per kind of draft of run ``run_id`` (a finished one)."""
    return rx.hstack(
        rx.icon("file-text", size=14, color=MUTED),
        *(
            rx.button(
                label,
                size="1",
                variant="ghost",
                on_click=DraftState.show(run_id, kind),
                data_testid=f"draft-{kind}",
            )
            for kind, label in KINDS.items()
        ),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _target(view: rx.Var[DraftTargetView]) -> rx.Component:
    return rx.hstack(
        rx.button(
            view.action,
            size="1",
            variant="soft",
            # Each draft goes to each target once: not again while its offer waits, was approved or was made.
            disabled=view.final | DraftState.posting,
            on_click=DraftState.post(view.target),
            data_testid="draft-post",
            data_target=view.target,
        ),
        rx.cond(
            view.target == "message",
            rx.input(
                value=DraftState.channel,
                on_change=DraftState.set_channel,
                size="1",
                width="10rem",
                aria_label="Channel",
                data_testid="draft-channel",
            ),
        ),
        rx.cond(
            view.status != "",
            rx.link(rx.text(view.label, size="1"), href=view.href, data_testid="draft-post-state"),
        ),
        align="center",
        spacing="2",
    )


def draft_dialog() -> rx.Component:
    """The draft the person asked for: read, download, or offer for posting through approval."""
    S = DraftState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.heading),
            rx.dialog.description(
                "Written now from the run's cited evidence. Check it before you circulate it.",
                size="2",
                color=MUTED,
            ),
            rx.cond(S.loading, rx.center(rx.spinner(), padding="2rem")),
            rx.cond(
                S.error != "",
                rx.callout(
                    S.error, icon="triangle-alert", color_scheme="red", size="1", data_testid="draft-error"
                ),
            ),
            rx.cond(
                S.markdown != "",
                rx.vstack(
                    markdown_sheet(S.markdown, test_id="draft-body", max_height="55vh"),
                    rx.hstack(
                        rx.button(
                            rx.icon("download", size=14),
                            "Download Markdown",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=S.download,
                            data_testid="draft-download",
                        ),
                        width="100%",
                    ),
                    rx.cond(
                        S.can_act,
                        rx.vstack(
                            rx.text("Post it (each waits for a person's approval)", size="1", weight="bold"),
                            rx.foreach(S.targets, _target),
                            spacing="2",
                            width="100%",
                        ),
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="0.75rem",
                ),
            ),
            rx.hstack(
                rx.spacer(),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                width="100%",
                margin_top="0.75rem",
            ),
            max_width="52rem",
            data_testid="draft-dialog",
        ),
        open=S.dialog_open,
        on_open_change=S.set_dialog_open,
    )

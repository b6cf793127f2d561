"""A request shown as the change it would make: one view for the Copilot's approval dialog and the inbox.

The body (a ticket's description, a note, a message) is Markdown from the Copilot's write-ups and from data it
quotes: it reads as it will in the target system, rendered by ``safe_markdown`` (no HTML, no unsafe links).
"""

from __future__ import annotations

import reflex as rx

from console.backend.approvals import PreviewView
from console.components.markdown import markdown_sheet
from core_client.previews import FieldChange

MUTED = rx.color("gray", 11)


def _change(change: rx.Var[FieldChange]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(change.field, size="1")),
        rx.table.cell(rx.text(rx.cond(change.before != "", change.before, "(none)"), size="1", color=MUTED)),
        rx.table.cell(rx.text(change.after, size="1", weight="medium")),
    )


def change_preview(shown: rx.Var[PreviewView]) -> rx.Component:
    """Headline, who and what it reaches, the fields it changes (before and after), and how it will read."""
    return rx.vstack(
        rx.text(shown.headline, size="3", weight="bold", data_testid="preview-headline"),
        rx.cond(
            shown.blast_radius.length() > 0,
            rx.vstack(
                rx.text("Reaches", size="1", weight="bold"),
                rx.foreach(shown.blast_radius, lambda line: rx.text("\u2022 ", line, size="2")),
                spacing="1",
                data_testid="preview-blast-radius",
            ),
        ),
        rx.cond(
            shown.changes.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(*(rx.table.column_header_cell(name) for name in ("Field", "Now", "After")))
                ),
                rx.table.body(rx.foreach(shown.changes, _change)),
                size="1",
                width="100%",
                data_testid="preview-changes",
            ),
        ),
        rx.cond(
            shown.body != "",
            markdown_sheet(shown.body, test_id="preview-body"),
        ),
        rx.foreach(
            shown.unread, lambda note: rx.text("\u26a0 ", note, size="1", color=rx.color("amber", 11))
        ),
        spacing="2",
        width="100%",
    )

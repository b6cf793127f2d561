"""The tables of the Logs and Metrics pages: a header row and one row per item, or a line saying there are none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx

from console.components.panel import empty_state


def rows_table(
    items: rx.Var[list[Any]],
    row: Callable[[Any], rx.Component],
    headers: Sequence[str | rx.Component],
    *,
    empty: str | rx.Var[str],
    **props: Any,
) -> rx.Component:
    """``items`` as table rows drawn by ``row`` under ``headers`` (text, or a ready header cell), or ``empty``."""
    cells = [
        rx.table.column_header_cell(header, white_space="nowrap") if isinstance(header, str) else header
        for header in headers
    ]
    return rx.cond(
        items.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*cells)),
            rx.table.body(rx.foreach(items, row)),
            size="1",
            width="100%",
            **props,
        ),
        empty_state(empty),
    )

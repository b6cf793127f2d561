"""The CLI's tables fit the terminal without cutting a word, and print every column whole into a pipe."""

from __future__ import annotations

import io
import re

from rich.console import Console

from console.commands.tables import Col, fitting, print_table

COLUMNS = (
    Col("id"),
    Col("status"),
    Col("tool"),
    Col("env", optional=True),
    Col("requested by", wrap=True),
    Col("created", optional=True),
    Col("expires"),
)
ROW = (
    "apr-4f2a9c1e",
    "executed",
    "opspilot.create_ticket",
    "prod",
    "copilot for ada on behalf of the on-call",
    "2026-11-01 14:03",
    "2026-11-01 15:03",
)


def terminal(width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, force_terminal=True, no_color=True), buffer


def plain(buffer: io.StringIO) -> str:
    """What the terminal shows (styles taken out)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())


def test_a_wide_terminal_shows_every_column_whole() -> None:
    console, buffer = terminal(200)
    print_table(COLUMNS, [ROW], console=console)
    text = plain(buffer)
    assert all(value in text for value in ROW) and "left out" not in text


def test_a_narrow_terminal_drops_optional_columns_and_never_cuts_a_status() -> None:
    console, buffer = terminal(90)
    print_table(COLUMNS, [ROW, (*ROW[:1], "pending", *ROW[2:])], console=console)
    text = plain(buffer)
    lines = text.splitlines()
    assert all(len(line) <= 90 for line in lines), text
    for whole in ("apr-4f2a9c1e", "executed", "pending", "opspilot.create_ticket", "2026-11-01 15:03"):
        assert whole in text, f"{whole!r} cut:\n{text}"
    assert "…" not in text
    assert "left out for the terminal's width: env, created" in text
    # The free text wraps instead: every word of it is still there.
    assert all(word in text for word in ROW[4].split())


def test_optional_columns_go_last_first_and_only_as_needed() -> None:
    rows = [ROW]
    assert fitting(COLUMNS, rows, 500) == list(range(len(COLUMNS)))
    narrower = fitting(COLUMNS, rows, 100)
    assert 5 not in narrower and 3 in narrower
    assert fitting(COLUMNS, rows, 60) is None, "the key columns alone do not fit"


def test_a_terminal_too_narrow_for_the_keys_gets_a_block_per_row() -> None:
    console, buffer = terminal(50)
    print_table(COLUMNS, [ROW], console=console)
    lines = plain(buffer).splitlines()
    assert lines[0] == "apr-4f2a9c1e"
    assert "  status: executed" in lines and "  tool: opspilot.create_ticket" in lines


def test_a_pipe_gets_every_column_of_every_row_on_one_line() -> None:
    buffer = io.StringIO()
    print_table(COLUMNS, [ROW], console=Console(file=buffer, width=40))
    row_lines = [line for line in buffer.getvalue().splitlines() if "apr-4f2a9c1e" in line]
    assert len(row_lines) == 1 and all(value in row_lines[0] for value in ROW)

"""The Logs page: the query bar, the volume histogram, then lines (with context) or patterns."""

from __future__ import annotations

import reflex as rx

from console.backend.logs import LogRow, PatternRow
from console.components import listing
from console.components.charts import stacked_bars
from console.components.log_table import rows_table
from console.components.panel import empty_state, error_banner, loading_skeleton, panel, problem
from console.state.logs import SEVERITY_CHOICES
from console.state.logs import LogsState as S

SEVERITY_COLORS = {
    "fatal": "red",
    "error": "red",
    "critical": "red",
    "warn": "amber",
    "warning": "amber",
    "info": "blue",
    "debug": "gray",
}
MONO = "var(--code-font-family)"


def _severity(severity: rx.Var[str]) -> rx.Component:
    return rx.badge(
        severity, color_scheme=rx.match(severity, *SEVERITY_COLORS.items(), "gray"), variant="soft", size="1"
    )


def query_bar() -> rx.Component:
    """Text and severity (the scope bar above gives service, team, environment and time range); Enter or
    Search runs the query and writes the URL."""
    return rx.form(
        rx.vstack(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    name="q",
                    value=S.q,
                    on_change=S.set_q,
                    placeholder='Search message text: words, "a phrase", -exclude, /regex/',
                    flex="1",
                    min_width="16rem",
                    data_testid="logs-q",
                ),
                rx.select.root(
                    rx.select.trigger(placeholder="severity", data_testid="logs-severity"),
                    rx.select.content(
                        *(rx.select.item(label, value=value) for value, label in SEVERITY_CHOICES.items())
                    ),
                    value=S.severity,
                    on_change=S.pick_severity,
                ),
                rx.button(rx.icon("search", size=16), "Search", type="submit", data_testid="logs-submit"),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.text(
                'Matches the message text of each line: every word (any case), "a phrase", -word to '
                "exclude, /regex/. Severity and service are not words of the text: pick them beside and in "
                "the scope bar.",
                size="1",
                color=rx.color("gray", 10),
                data_testid="logs-q-help",
            ),
            rx.cond(
                S.hint_word != "",
                # Callout.Text is a <p>: the button sits beside it, not inside it.
                rx.callout.root(
                    rx.callout.icon(rx.icon("lightbulb")),
                    rx.callout.text(
                        "\u201c",
                        S.hint_word,
                        "\u201d is looked for in the message text, and many lines logged at that level do not "
                        "contain the word.",
                    ),
                    rx.button(
                        "Filter by severity: ",
                        S.hint_label,
                        on_click=S.use_severity,
                        size="1",
                        variant="soft",
                        type="button",
                        width="fit-content",
                        data_testid="logs-use-severity",
                    ),
                    color_scheme="blue",
                    size="1",
                    width="100%",
                    data_testid="logs-severity-hint",
                ),
            ),
            rx.cond(S.query_error != "", error_banner(S.query_error)),
            width="100%",
            spacing="2",
        ),
        on_submit=S.submit,
        reset_on_submit=False,
        width="100%",
    )


def volume_panel() -> rx.Component:
    chart = rx.cond(
        S.volume.length() > 0,
        stacked_bars(
            S.volume,
            [
                ("other", "debug/info", rx.color("gray", 8)),
                ("warn", "warn", rx.color("amber", 9)),
                ("error", "error/fatal", rx.color("red", 9)),
            ],
            test_id="logs-volume-chart",
        ),
        empty_state("No lines in this window."),
    )
    return panel(
        "Volume",
        "chart-column",
        chart,
        # The provider's one failure is said once, on the lines.
        error=rx.cond(S.volume_error == S.lines_error, "", S.volume_error),
        loading=S.volume_loading,
        test_id="panel-volume",
        aside=rx.text(S.volume_total, size="1", color=rx.color("gray", 10), data_testid="logs-total"),
    )


def _context_line(row: rx.Var[LogRow]) -> rx.Component:
    return rx.hstack(
        rx.text(row.time, size="1", color=rx.color("gray", 10), font_family=MONO, white_space="nowrap"),
        _severity(row.severity),
        rx.text(
            row.message,
            size="1",
            font_family=MONO,
            weight=rx.cond(row.anchor, "bold", "regular"),
            word_break="break-word",
        ),
        spacing="2",
        align="start",
        padding_x="0.5rem",
        background=rx.cond(row.anchor, rx.color("accent", 4), "transparent"),
        data_testid="context-line",
    )


def _context() -> rx.Component:
    return rx.box(
        rx.text(
            "Same service and environment, oldest first",
            size="1",
            color=rx.color("gray", 10),
            margin_bottom="0.25rem",
        ),
        rx.cond(
            S.context_error != "",
            error_banner(S.context_error),
            rx.cond(
                S.context_loading,
                loading_skeleton(3),
                rx.vstack(rx.foreach(S.context, _context_line), spacing="0", width="100%"),
            ),
        ),
        padding="0.5rem",
        border_left=f"3px solid {rx.color('accent', 8)}",
        background=rx.color("gray", 2),
        data_testid="log-context",
    )


def _line(row: rx.Var[LogRow]) -> rx.Component:
    marked = row.id == S.highlight
    return rx.fragment(
        rx.table.row(
            rx.table.cell(
                rx.text(row.time, size="1", font_family=MONO, white_space="nowrap", title=row.date)
            ),
            rx.table.cell(_severity(row.severity)),
            rx.table.cell(rx.text(row.service, size="1", white_space="nowrap")),
            rx.table.cell(rx.text(row.message, size="1", font_family=MONO, word_break="break-word")),
            id=f"log-{row.id}",
            on_click=S.toggle_context(row.id),
            cursor="pointer",
            background=rx.cond(marked, rx.color("amber", 4), "transparent"),
            box_shadow=rx.cond(marked, f"inset 3px 0 0 {rx.color('amber', 9)}", "none"),
            _hover={"background": rx.color("accent", 2)},
            data_testid="log-row",
            data_highlighted=rx.cond(marked, "true", "false"),
        ),
        rx.cond(
            S.expanded == row.id,
            rx.table.row(rx.table.cell(_context(), col_span=4)),
        ),
    )


def lines_panel() -> rx.Component:
    table = rows_table(
        S.rows,
        _line,
        ("Time (UTC)", "Severity", "Service", rx.table.column_header_cell("Message", width="100%")),
        empty="No lines match this query in this window.",
        opacity=rx.cond(S.refreshing, "0.55", "1"),
        data_testid="logs-table",
    )
    body = rx.vstack(
        problem(S.notice, test_id="logs-notice", icon="info", color="amber"),
        table,
        rx.cond(S.truncated, listing.capped_note()),
        listing.pager(S),
        width="100%",
    )
    return panel(
        "Lines, newest first",
        "scroll-text",
        body,
        error=S.lines_error,
        loading=S.loading,
        test_id="panel-lines",
    )


def _pattern(row: rx.Var[PatternRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.match(
                row.change,
                ("new", rx.badge("NEW", color_scheme="red", variant="solid")),
                ("grown", rx.badge("GROWN", color_scheme="orange", variant="solid")),
                rx.fragment(),
            )
        ),
        rx.table.cell(rx.text(row.count, size="2", weight="bold")),
        rx.table.cell(
            rx.vstack(
                rx.code(row.template, size="1", word_break="break-word", variant="ghost"),
                rx.text(row.shift, " ", row.services, size="1", color=rx.color("gray", 10)),
                spacing="1",
            )
        ),
        rx.table.cell(_severity(row.severity)),
        rx.table.cell(rx.text(row.last_seen, size="1", white_space="nowrap")),
        rx.table.cell(
            rx.button(
                "example",
                size="1",
                variant="ghost",
                on_click=S.show_line(row.example_id),
                title="Show the newest line of this pattern",
            )
        ),
        data_testid="pattern-row",
        data_change=row.change,
    )


def patterns_panel() -> rx.Component:
    compare = rx.form(
        rx.hstack(
            rx.text("New or grown since", size="2"),
            rx.input(name="since", type="datetime-local", value=S.since, on_change=S.set_since, size="1"),
            rx.text("UTC", size="1", color=rx.color("gray", 10)),
            rx.button("Compare", type="submit", size="1", variant="soft", data_testid="patterns-compare"),
            align="center",
            spacing="2",
        ),
        on_submit=S.compare_at,
        reset_on_submit=False,
    )
    table = rows_table(
        S.patterns,
        _pattern,
        ("", "Lines", "Template", "Severity", "Last seen", ""),
        empty="No lines to mine in this window.",
    )
    body = rx.vstack(
        rx.text(S.patterns_note, size="1", color=rx.color("gray", 10), data_testid="patterns-note"),
        table,
        width="100%",
    )
    return panel(
        "Patterns",
        "layers",
        rx.vstack(compare, body, width="100%"),
        error=S.patterns_error,
        loading=S.patterns_loading,
        test_id="panel-patterns",
    )


def logs() -> rx.Component:
    return rx.vstack(
        rx.heading("Logs", size="6"),
        query_bar(),
        volume_panel(),
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Lines", value="lines", data_testid="tab-lines"),
                rx.tabs.trigger("Patterns", value="patterns", data_testid="tab-patterns"),
            ),
            rx.tabs.content(lines_panel(), value="lines", padding_top="0.75rem"),
            rx.tabs.content(patterns_panel(), value="patterns", padding_top="0.75rem"),
            value=S.tab,
            on_change=S.pick_tab,
            width="100%",
        ),
        spacing="4",
        width="100%",
    )

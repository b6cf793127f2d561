"""The Metrics page: the metric picker and filters, one chart (series, baseline band, anomalies, mark)."""

from __future__ import annotations

import reflex as rx

from console.backend.metrics import AnomalyMark, ChartSeries, MetricOption, OnsetLine
from console.components.charts import grid, time_axis, tooltip, value_axis
from console.components.log_table import rows_table
from console.components.panel import empty_state, error_banner, panel
from console.state.metrics import MetricsState as S


def _metric_item(option: rx.Var[MetricOption]) -> rx.Component:
    return rx.select.item(option.name, value=option.name)


def _group_choice(label: rx.Var[str]) -> rx.Component:
    return rx.checkbox(
        label,
        checked=S.group_by.contains(label),
        on_change=S.toggle_group(label),
        size="1",
        data_testid="metrics-group-by",
    )


def controls() -> rx.Component:
    """Metric, group-by labels and the mark (the scope bar above gives service, team, environment and time)."""
    return rx.vstack(
        rx.hstack(
            rx.select.root(
                rx.select.trigger(placeholder="metric", min_width="14rem", data_testid="metrics-metric"),
                rx.select.content(rx.foreach(S.options, _metric_item)),
                value=S.metric,
                on_change=S.pick_metric,
            ),
            rx.cond(
                S.labels.length() > 0,
                rx.hstack(
                    rx.text("group by", size="2", color=rx.color("gray", 10)),
                    rx.foreach(S.labels, _group_choice),
                    spacing="3",
                    align="center",
                ),
            ),
            rx.spacer(),
            rx.form(
                rx.hstack(
                    rx.text("mark", size="2", color=rx.color("gray", 10)),
                    rx.input(
                        name="mark",
                        type="datetime-local",
                        value=S.mark,
                        on_change=S.set_mark,
                        size="1",
                        data_testid="metrics-mark",
                    ),
                    rx.text("UTC", size="1", color=rx.color("gray", 10)),
                    rx.button(
                        "Mark", type="submit", size="1", variant="soft", data_testid="metrics-place-mark"
                    ),
                    rx.cond(
                        S.mark != "",
                        rx.button("Clear", type="button", size="1", variant="ghost", on_click=S.clear_mark),
                    ),
                    align="center",
                    spacing="2",
                ),
                on_submit=S.place_mark,
                reset_on_submit=False,
            ),
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        rx.cond(S.query_error != "", error_banner(S.query_error)),
        # The provider's one failure is said once, on the chart.
        rx.cond((S.options_error != "") & (S.options_error != S.chart_error), error_banner(S.options_error)),
        spacing="2",
        width="100%",
    )


def _line(series: rx.Var[ChartSeries]) -> rx.Component:
    return rx.recharts.line(
        data_key=series.key,
        name=series.name,
        stroke=f"var(--{series.color}-9)",
        dot=False,
        stroke_width=1.5,
        connect_nulls=True,
        is_animation_active=False,
        type_="monotone",
    )


def _onset(onset: rx.Var[OnsetLine]) -> rx.Component:
    return rx.recharts.reference_line(
        x=onset.x,
        stroke=f"var(--{onset.color}-10)",
        stroke_dasharray="4 3",
        if_overflow="extendDomain",
        custom_attrs={"label": {"value": onset.label, "position": "insideTopLeft", "fontSize": 11}},
    )


def _peak(anomaly: rx.Var[AnomalyMark]) -> rx.Component:
    return rx.recharts.reference_dot(
        x=anomaly.peak_at,
        y=anomaly.peak_value.to(int),  # a cast of the type only: recharts gets the float
        r=5,
        fill=f"var(--{anomaly.color}-9)",
        stroke="white",
        if_overflow="extendDomain",
    )


def chart() -> rx.Component:
    return rx.recharts.composed_chart(
        grid(),
        rx.recharts.area(
            data_key="band",
            name="baseline band",
            stroke="none",
            fill=rx.color("gray", 8),
            fill_opacity=0.25,
            is_animation_active=False,
            legend_type="square",
        ),
        rx.foreach(S.series, _line),
        rx.foreach(S.onsets, _onset),
        rx.foreach(S.anomalies, _peak),
        rx.cond(
            S.mark_label != "",
            rx.recharts.reference_line(
                x=S.mark_label,
                stroke=rx.color("amber", 10),
                stroke_width=2,
                if_overflow="extendDomain",
                # At the foot of the line: the onsets' label is at the top.
                custom_attrs={"label": {"value": "mark", "position": "insideBottomRight", "fontSize": 11}},
            ),
        ),
        time_axis(),
        value_axis(domain=S.y_domain),
        tooltip(),
        rx.recharts.legend(icon_size=10, wrapper_style={"font_size": "12px"}),
        data=S.points,
        height=360,
        width="100%",
        data_testid="metrics-chart",
    )


def _anomaly(anomaly: rx.Var[AnomalyMark]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(anomaly.series, weight="medium", color=f"var(--{anomaly.color}-11)")),
        rx.table.cell(rx.badge(rx.cond(anomaly.direction == "up", "↑ up", "↓ down"), color_scheme="red")),
        rx.table.cell(anomaly.onset),
        rx.table.cell(
            rx.text(anomaly.peak_value, " at ", anomaly.peak_at, " (expected ", anomaly.expected, ")")
        ),
        rx.table.cell(anomaly.peak_z),
        rx.table.cell(rx.cond(anomaly.ongoing, rx.badge("ongoing", color_scheme="amber"), "ended")),
        data_testid="anomaly-row",
    )


def anomalies_table() -> rx.Component:
    return rows_table(
        S.anomalies,
        _anomaly,
        ("Series", "Direction", "Onset", "Peak", "z", "Now"),
        empty=S.quiet,
    )


def chart_panel() -> rx.Component:
    body = rx.cond(
        S.points.length() > 0,
        rx.vstack(
            rx.text(
                S.description,
                rx.cond(S.unit != "", rx.text.span(" (", S.unit, ")")),
                size="2",
                color=rx.color("gray", 11),
            ),
            chart(),
            rx.cond(
                S.band_of != "",
                rx.text(
                    "The band is the expected range of ",
                    rx.text.strong(S.band_of),
                    " (",
                    S.band_note,
                    ").",
                    size="1",
                    color=rx.color("gray", 10),
                ),
            ),
            rx.cond(
                S.series_note != "",
                rx.text(
                    S.series_note, size="1", color=rx.color("amber", 11), data_testid="metrics-series-note"
                ),
            ),
            rx.heading("Anomalies", size="3"),
            anomalies_table(),
            width="100%",
        ),
        empty_state("No data for this metric in this window."),
    )
    return panel(
        S.metric,
        "chart-line",
        body,
        error=S.chart_error,
        loading=S.chart_loading,
        test_id="panel-metric",
    )


def metrics() -> rx.Component:
    return rx.vstack(
        rx.heading("Metrics", size="6"),
        controls(),
        chart_panel(),
        spacing="4",
        width="100%",
    )

"""One incident: its fields and actions, the service's key metrics, its timeline, and what happened around it."""

from __future__ import annotations

import reflex as rx

from console.backend.incident import MetricChart, RelatedRow, TimelineRow
from console.components.panel import empty_state, panel, severity_badge, status_badge
from console.components.record import back_link, external_link, extra_fields, fields, record_body
from console.state.incidents import IncidentState as S


def _heading() -> rx.Component:
    incident = S.incident
    return rx.hstack(
        severity_badge(incident.severity),
        status_badge(incident.status),
        rx.heading(incident.title, size="6", data_testid="incident-title"),
        rx.code(incident.id),
        rx.spacer(),
        rx.button(
            rx.icon("bot", size=16),
            "Investigate",
            on_click=S.investigate,
            disabled=incident.id == "",
            data_testid="investigate",
        ),
        align="center",
        spacing="3",
        width="100%",
        wrap="wrap",
    )


def _fields() -> rx.Component:
    incident = S.incident
    body = rx.vstack(
        fields(
            ("Status", status_badge(incident.status)),
            ("Severity", severity_badge(incident.severity)),
            ("Service", rx.link(incident.service, href=incident.service_link)),
            ("Team", incident.team),
            ("Environment", incident.environment),
            ("Started", rx.text(incident.started, " (", incident.age, ")")),
            ("Updated", incident.updated),
        ),
        rx.cond(incident.description != "", rx.text(incident.description, size="2")),
        extra_fields(incident.fields),
        external_link(incident.url),
        spacing="3",
        width="100%",
    )
    return panel("Incident", "siren", body, test_id="panel-incident")


def _picker(
    value: rx.Var[str], options: rx.Var[list[str]], on_change: rx.EventHandler, test_id: str
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(min_width="9rem", data_testid=test_id),
        rx.select.content(rx.foreach(options, lambda option: rx.select.item(option, value=option))),
        value=value,
        on_change=on_change,
    )


def _change(
    label: str,
    value: rx.Var[str],
    options: rx.Var[list[str]],
    pick: rx.EventHandler,
    apply: rx.EventHandler,
    current: rx.Var[str],
    name: str,
) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", width="5rem"),
        _picker(value, options, pick, f"new-{name}"),
        rx.button(
            "Apply", on_click=apply, loading=S.acting, disabled=value == current, data_testid=f"apply-{name}"
        ),
        align="center",
    )


def _actions() -> rx.Component:
    """Status and severity changes; offered to people who may act (and checked again on the server)."""
    incident = S.incident
    body = rx.vstack(
        _change(
            "Status", S.new_status, S.status_options, S.pick_status, S.apply_status, incident.status, "status"
        ),
        _change(
            "Severity",
            S.new_severity,
            S.severity_options,
            S.pick_severity,
            S.apply_severity,
            incident.severity,
            "severity",
        ),
        rx.text(
            "Where policy lets your role run it, your click is the approval; otherwise it waits in Approvals.",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="3",
        width="100%",
    )
    return rx.cond(
        S.can_act,
        panel("Actions", "wrench", body, test_id="panel-actions"),
    )


def _chart(chart: rx.Var[MetricChart]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                chart.name,
                " ",
                rx.text.span(chart.unit, color=rx.color("gray", 10)),
                size="2",
                weight="medium",
            ),
            rx.spacer(),
            rx.link(
                "Open in Metrics",
                href=chart.link,
                size="1",
                title="This metric over the incident's window, its start marked",
                data_testid="incident-metric-link",
            ),
            width="100%",
            align="center",
        ),
        rx.recharts.line_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke=rx.color("gray", 5)),
            rx.recharts.line(
                data_key="v",
                stroke=rx.color("accent", 9),
                dot=False,
                type_="monotone",
                is_animation_active=False,
            ),
            rx.recharts.x_axis(data_key="t", min_tick_gap=32, tick_size=4, font_size=10),
            rx.recharts.y_axis(width=48, font_size=10),
            rx.recharts.reference_line(x=chart.marker, stroke=rx.color("red", 9), stroke_dasharray="4 2"),
            rx.recharts.graphing_tooltip(),
            data=chart.points,
            height=150,
            width="100%",
        ),
        spacing="1",
        width="100%",
        data_testid="metric-chart",
    )


def _metrics() -> rx.Component:
    body = rx.cond(
        S.charts.length() > 0,
        rx.grid(
            rx.foreach(S.charts, _chart),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        empty_state("No metrics for this service."),
    )
    return panel(
        "Key metrics around the incident",
        "chart-line",
        body,
        error=S.metrics_error,
        loading=S.context_loading,
        test_id="panel-metrics",
        aside=rx.text("dashed line: start", size="1", color=rx.color("gray", 10)),
    )


def _timeline_entry(entry: rx.Var[TimelineRow]) -> rx.Component:
    return rx.hstack(
        rx.text(entry.at, size="1", color=rx.color("gray", 10), min_width="9rem"),
        rx.badge(entry.kind, variant="outline", size="1"),
        rx.text(entry.body, size="2", flex="1"),
        rx.text(entry.actor, size="1", color=rx.color("gray", 10)),
        align="start",
        spacing="3",
        width="100%",
        data_testid="timeline-entry",
    )


def _note_form() -> rx.Component:
    return rx.cond(
        S.can_act,
        rx.form(
            rx.hstack(
                rx.input(
                    name="note", placeholder="Add a note to the timeline", flex="1", data_testid="note-input"
                ),
                rx.button("Add note", type="submit", loading=S.acting, data_testid="add-note"),
                width="100%",
            ),
            on_submit=S.add_note,
            reset_on_submit=True,
            width="100%",
        ),
    )


def _timeline() -> rx.Component:
    body = rx.vstack(
        rx.cond(
            S.timeline.length() > 0,
            rx.vstack(rx.foreach(S.timeline, _timeline_entry), spacing="2", width="100%"),
            empty_state("Nothing on the timeline yet."),
        ),
        _note_form(),
        spacing="3",
        width="100%",
    )
    return panel(
        "Timeline", "list", body, error=S.timeline_error, loading=S.context_loading, test_id="panel-timeline"
    )


def _related_row(row: rx.Var[RelatedRow]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(row.title, href=row.link, size="2", weight="medium"),
            rx.spacer(),
            status_badge(row.status),
            width="100%",
            align="center",
        ),
        rx.text(row.id, " · ", row.at, " · ", row.detail, size="1", color=rx.color("gray", 10)),
        spacing="0",
        width="100%",
    )


def _related(
    title: str, icon: str, rows: rx.Var[list[RelatedRow]], error: rx.Var[str], empty: str, test_id: str
) -> rx.Component:
    body = rx.cond(
        rows.length() > 0,
        rx.vstack(rx.foreach(rows, _related_row), spacing="3", width="100%"),
        empty_state(empty),
    )
    return panel(title, icon, body, error=error, loading=S.context_loading, test_id=test_id)


def incident() -> rx.Component:
    """The incident's page; an incident that cannot be loaded is one error in place of all of it (nothing to
    act on, nothing from an incident shown before)."""
    sections = rx.grid(
        rx.vstack(_fields(), _metrics(), _timeline(), spacing="4", width="100%"),
        rx.vstack(
            _actions(),
            _related(
                "Alerts",
                "bell-ring",
                S.alerts,
                S.alerts_error,
                "No alerts near it.",
                "panel-related-alerts",
            ),
            _related(
                "Deploys before it",
                "rocket",
                S.deploys,
                S.deploys_error,
                "No deploys of the service or what it calls in the hours before.",
                "panel-related-deploys",
            ),
            _related(
                "Tickets",
                "ticket",
                S.tickets,
                S.tickets_error,
                "No ticket names it.",
                "panel-related-tickets",
            ),
            spacing="4",
            width="100%",
        ),
        columns=rx.breakpoints(initial="1", lg="3fr 2fr"),
        spacing="4",
        width="100%",
    )
    return rx.vstack(
        back_link("All incidents", "/incidents"),
        record_body(S.error, S.loading, rx.vstack(_heading(), sections, spacing="4", width="100%")),
        spacing="4",
        width="100%",
    )

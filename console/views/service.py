"""One service: its place in the dependency graph, health, on-call, runbook and catalog fields."""

from __future__ import annotations

import reflex as rx

from console.backend.services import Departure, Neighbour, OnCallRow
from console.backend.signals import SignalRow
from console.components.markdown import safe_markdown
from console.components.panel import empty_state, error_banner, panel, severity_badge, status_badge
from console.components.record import back_link, external_link, extra_fields, fields, record_body
from console.state.services import ServiceState as S


def _neighbour(node: rx.Var[Neighbour]) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.icon("box", size=14, flex_shrink="0"),
                # A service's name on one line: cut with an ellipsis when the column is narrow, whole on hover.
                rx.text(
                    node.name,
                    size="2",
                    weight="medium",
                    title=node.name,
                    white_space="nowrap",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    min_width="0",
                ),
                rx.spacer(),
                status_badge(node.status),
                align="center",
                width="100%",
            ),
            size="1",
            width="100%",
        ),
        href=node.link,
        underline="none",
        width="100%",
        data_testid="dependency",
    )


def _column(title: str, nodes: rx.Var[list[Neighbour]], empty: str, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(title, size="1", weight="medium", color=rx.color("gray", 10)),
        rx.cond(nodes.length() > 0, rx.foreach(nodes, _neighbour), empty_state(empty)),
        spacing="2",
        width="100%",
        data_testid=test_id,
    )


def _arrow() -> rx.Component:
    return rx.center(rx.icon("arrow-right", size=20, color=rx.color("gray", 9)), height="100%")


def dependency_graph() -> rx.Component:
    """Callers → this service → what it calls, each with its health."""
    this = rx.card(
        rx.vstack(
            rx.text(S.service.name, size="3", weight="bold"),
            status_badge(S.status),
            align="center",
            spacing="1",
        ),
        size="2",
        width="100%",
        background=rx.color("accent", 3),
    )
    body = rx.vstack(
        rx.grid(
            _column("Called by", S.called_by, "Nothing calls it.", "called-by"),
            _arrow(),
            rx.center(this, width="100%"),
            _arrow(),
            _column("Calls", S.calls, "It calls nothing.", "calls"),
            # Columns may narrow below their cards' natural width: names then end in an ellipsis.
            columns="minmax(0, 1fr) auto minmax(0, 1fr) auto minmax(0, 1fr)",
            spacing="3",
            align="center",
            width="100%",
        ),
        rx.cond(S.health_error != "", error_banner(S.health_error)),
        spacing="3",
        width="100%",
    )
    return panel(
        "Dependencies", "git-fork", body, error=S.error, loading=S.loading, test_id="panel-dependencies"
    )


def _signal(row: rx.Var[SignalRow]) -> rx.Component:
    return rx.hstack(
        severity_badge(row.severity),
        rx.link(row.title, href=row.link, size="2"),
        rx.spacer(),
        rx.text(row.started, size="1", color=rx.color("gray", 10)),
        align="center",
        width="100%",
    )


def _departure(row: rx.Var[Departure]) -> rx.Component:
    return rx.hstack(
        rx.link(row.reading, href=row.link, size="2"),
        rx.spacer(),
        rx.text("since ", row.since, size="1", color=rx.color("gray", 10), white_space="nowrap"),
        align="center",
        width="100%",
        data_testid="departure-row",
    )


def health() -> rx.Component:
    body = rx.vstack(
        rx.hstack(rx.text("Now", size="2"), status_badge(S.status), align="center"),
        rx.text("Off its baseline now", size="1", weight="medium", color=rx.color("gray", 10)),
        rx.cond(
            S.departures_error != "",
            empty_state(S.departures_error),
            rx.cond(S.departures.length() > 0, rx.foreach(S.departures, _departure), empty_state("None.")),
        ),
        rx.text("Open incidents", size="1", weight="medium", color=rx.color("gray", 10)),
        rx.cond(S.incidents.length() > 0, rx.foreach(S.incidents, _signal), empty_state("None.")),
        rx.text("Firing alerts", size="1", weight="medium", color=rx.color("gray", 10)),
        rx.cond(S.alerts.length() > 0, rx.foreach(S.alerts, _signal), empty_state("None.")),
        spacing="2",
        width="100%",
    )
    return panel("Health", "activity", body, error=S.health_error, loading=S.loading, test_id="panel-health")


def _shift(row: rx.Var[OnCallRow]) -> rx.Component:
    return rx.hstack(
        rx.badge("L", row.level, variant="outline"),
        rx.text(row.name, size="2", weight="medium"),
        rx.text(row.handle, size="1", color=rx.color("gray", 10)),
        rx.spacer(),
        rx.text("until ", row.until, size="1", color=rx.color("gray", 10)),
        align="center",
        width="100%",
    )


def oncall() -> rx.Component:
    body = rx.cond(
        S.oncall.length() > 0,
        rx.vstack(rx.foreach(S.oncall, _shift), width="100%"),
        empty_state(
            rx.cond(S.oncall_unserved, "The configured sources keep no on-call schedules.", "No schedule.")
        ),
    )
    return panel("On call", "phone", body, error=S.oncall_error, loading=S.loading, test_id="panel-oncall")


def runbook() -> rx.Component:
    body = rx.cond(
        S.runbook_body != "",
        rx.vstack(
            safe_markdown(source=S.runbook_body),
            external_link(S.runbook_url, "Open the runbook"),
            width="100%",
        ),
        empty_state(
            rx.cond(
                S.runbook_unserved, "The configured sources keep no runbooks.", "No runbook for this service."
            )
        ),
    )
    return panel(
        "Runbook", "book-open", body, error=S.runbook_error, loading=S.loading, test_id="panel-runbook"
    )


def about() -> rx.Component:
    view = S.service
    body = rx.vstack(
        rx.cond(view.description != "", rx.text(view.description, size="2")),
        fields(
            ("Team", view.team),
            ("Tier", view.tier),
            ("Environments", view.environments),
            ("Id", rx.code(view.id)),
        ),
        extra_fields(view.tags),
        extra_fields(view.fields),
        external_link(view.url, "Open in the catalog"),
        spacing="3",
        width="100%",
    )
    return panel("About", "info", body, error=S.error, loading=S.loading, test_id="panel-service")


def service() -> rx.Component:
    return rx.vstack(
        back_link("All services", "/services"),
        record_body(
            S.error,
            S.loading,
            rx.hstack(
                rx.heading(S.service.name, size="6", data_testid="service-heading"), status_badge(S.status)
            ),
        ),
        dependency_graph(),
        rx.grid(
            rx.vstack(health(), runbook(), spacing="4", width="100%"),
            rx.vstack(about(), oncall(), spacing="4", width="100%"),
            columns=rx.breakpoints(initial="1", lg="3fr 2fr"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )

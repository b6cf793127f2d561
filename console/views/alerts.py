"""The Alerts list (firing first) and one alert's page."""

from __future__ import annotations

import reflex as rx

from console.backend.alerts import ALERT_SEVERITIES, ALERT_STATUSES
from console.backend.signals import SignalRow
from console.components import listing
from console.components.panel import severity_badge, status_badge
from console.components.record import external_link, extra_fields, fields, record_page
from console.state.alerts import AlertsState as S
from console.state.alerts import AlertState


def _row(row: rx.Var[SignalRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(severity_badge(row.severity)),
        listing.link_cell(row.title, row.link, test_id="alert-link"),
        listing.name_cell(row.service),
        rx.table.cell(rx.code(row.id, white_space="nowrap")),
        listing.age_cell(row.age, row.started),
        data_testid="alert-row",
    )


def alerts() -> rx.Component:
    return rx.vstack(
        listing.page_heading("Alerts", on_refresh=S.load),
        listing.filter_bar(
            listing.filter_select(
                "Status", S.status, ALERT_STATUSES, S.filter_status, test_id="filter-status"
            ),
            listing.filter_select(
                "Severity", S.severity, ALERT_SEVERITIES, S.filter_severity, test_id="filter-severity"
            ),
            listing.search_box(S, placeholder="Search title and description", test_id="filter-text"),
            on_clear=S.clear_filters,
        ),
        listing.list_panel(
            S,
            title="Alerts",
            icon="bell-ring",
            headers=["Status", "Severity", "Alert", "Service", "Id", "Started"],
            row=_row,
            empty="No alerts match these filters and scope.",
            test_id="panel-alert-list",
        ),
        rx.text(
            "Firing alerts first, then the rest, each newest first (unless a status is chosen).",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="4",
        width="100%",
    )


def alert() -> rx.Component:
    view = AlertState.alert
    return record_page(
        ("All alerts", "/alerts"),
        [
            status_badge(view.status),
            severity_badge(view.severity),
            rx.heading(view.title, size="6"),
            rx.code(view.id),
        ],
        [
            fields(
                ("Service", rx.link(view.service, href=view.service_link)),
                ("Environment", view.environment),
                ("Started", rx.text(view.started, " (", view.age, ")")),
                ("Updated", view.updated),
            ),
            rx.cond(view.description != "", rx.text(view.description, size="2")),
            extra_fields(view.fields),
            external_link(view.url),
        ],
        error=AlertState.error,
        loading=AlertState.loading,
        test_id="panel-alert",
    )

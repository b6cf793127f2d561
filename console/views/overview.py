"""The Overview's panels."""

from __future__ import annotations

import reflex as rx

from console.backend.overview import AlertRow, DeployRow, IncidentRow, ServiceTile, SeverityCount
from console.components.panel import empty_state, panel, severity_badge, status_badge
from console.state.overview import OverviewState as S


def _severity_count(entry: rx.Var[SeverityCount]) -> rx.Component:
    return rx.vstack(
        rx.text(entry.count, size="7", weight="bold"),
        severity_badge(entry.severity),
        align="center",
        spacing="1",
        padding="0.5rem 1rem",
        border_radius="var(--radius-3)",
        background=rx.color("gray", 3),
        data_testid="severity-count",
    )


def _incident_row(row: rx.Var[IncidentRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(severity_badge(row.severity)),
        rx.table.cell(rx.text(row.title, weight="medium")),
        rx.table.cell(row.service),
        rx.table.cell(row.status),
        rx.table.cell(rx.tooltip(rx.text(row.age), content=row.started)),
    )


def incidents_panel() -> rx.Component:
    body = rx.vstack(
        rx.hstack(rx.foreach(S.incidents_by_severity, _severity_count), spacing="3", wrap="wrap"),
        rx.cond(
            S.recent_incidents.length() > 0,
            rx.table.root(
                rx.table.body(rx.foreach(S.recent_incidents, _incident_row)),
                size="1",
                width="100%",
            ),
            empty_state("No open incidents."),
        ),
        spacing="3",
        width="100%",
    )
    return panel(
        "Open incidents",
        "siren",
        body,
        error=S.incidents_error,
        loading=S.loading,
        test_id="panel-incidents",
        aside=rx.badge(S.incidents_total, variant="outline"),
    )


def _alert_row(row: rx.Var[AlertRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(severity_badge(row.severity)),
        rx.table.cell(rx.text(row.title, weight="medium")),
        rx.table.cell(row.service),
        rx.table.cell(rx.tooltip(rx.text(row.age), content=row.started)),
    )


def alerts_panel() -> rx.Component:
    body = rx.cond(
        S.alerts.length() > 0,
        rx.table.root(rx.table.body(rx.foreach(S.alerts, _alert_row)), size="1", width="100%"),
        empty_state("No alerts firing."),
    )
    return panel(
        "Firing alerts",
        "bell-ring",
        body,
        error=S.alerts_error,
        loading=S.loading,
        test_id="panel-alerts",
        aside=rx.badge(S.alerts_total, variant="outline"),
    )


def _deploy_row(row: rx.Var[DeployRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.service, weight="medium")),
        rx.table.cell(rx.code(row.version)),
        rx.table.cell(row.environment),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.tooltip(rx.text(row.age), content=row.started)),
    )


def deploys_panel() -> rx.Component:
    body = rx.cond(
        S.deploys.length() > 0,
        rx.table.root(rx.table.body(rx.foreach(S.deploys, _deploy_row)), size="1", width="100%"),
        empty_state("No deployments yet."),
    )
    return panel(
        "Recent deploys", "rocket", body, error=S.deploys_error, loading=S.loading, test_id="panel-deploys"
    )


def _service_tile(tile: rx.Var[ServiceTile]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(rx.text(tile.name, weight="bold", size="2"), href=tile.link),
                rx.spacer(),
                status_badge(tile.status),
                width="100%",
                align="center",
            ),
            rx.text(tile.team, " ", tile.tier, size="1", color=rx.color("gray", 10)),
            rx.text(
                tile.open_incidents,
                rx.cond(tile.open_incidents == 1, " incident · ", " incidents · "),
                tile.firing_alerts,
                rx.cond(tile.firing_alerts == 1, " alert", " alerts"),
                rx.cond(tile.off_baseline, " · off its baseline", ""),
                size="1",
            ),
            spacing="1",
            width="100%",
        ),
        data_testid="service-tile",
    )


def services_panel() -> rx.Component:
    body = rx.cond(
        S.services.length() > 0,
        rx.grid(
            rx.foreach(S.services, _service_tile),
            columns=rx.breakpoints(initial="1", sm="2", md="3", lg="4"),
            spacing="3",
            width="100%",
        ),
        empty_state("No services in the catalog."),
    )
    return panel(
        "Service health",
        "activity",
        body,
        error=S.services_error,
        loading=S.loading,
        test_id="panel-services",
    )


def overview() -> rx.Component:
    """The four panels: incidents and alerts side by side, then deploys, then the service grid."""
    return rx.vstack(
        rx.hstack(
            rx.heading("Overview", size="6"),
            rx.spacer(),
            rx.cond(S.as_of != "", rx.text("as of ", S.as_of, size="2", color=rx.color("gray", 10))),
            rx.icon_button(rx.icon("refresh-cw", size=16), on_click=S.load, variant="soft", title="Refresh"),
            align="center",
            width="100%",
        ),
        rx.grid(
            incidents_panel(),
            alerts_panel(),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        deploys_panel(),
        services_panel(),
        spacing="4",
        width="100%",
    )

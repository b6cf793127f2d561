"""The Deployments list (within the scope's time range) and one deployment's page."""

from __future__ import annotations

import reflex as rx

from console.backend.deployments import DEPLOYMENT_STATUSES, DeploymentRow
from console.components import listing
from console.components.panel import status_badge
from console.components.record import external_link, extra_fields, fields, record_page
from console.state.deployments import DeploymentsState as S
from console.state.deployments import DeploymentState


def _row(row: rx.Var[DeploymentRow]) -> rx.Component:
    return rx.table.row(
        listing.link_cell(
            row.service,
            row.link,
            test_id="deployment-link",
            nowrap=True,
            detail=row.version + " · " + row.environment,
        ),
        rx.table.cell(status_badge(row.status)),
        # A provider that keeps no kind of change (an OpsOrch Core) leaves the cell empty, not an empty badge.
        rx.table.cell(rx.cond(row.change != "", rx.badge(row.change, variant="outline"))),
        rx.table.cell(rx.text(row.summary, size="2")),
        rx.table.cell(row.actor),
        rx.table.cell(row.duration),
        listing.age_cell(row.age, row.started),
        data_testid="deployment-row",
    )


def deployments() -> rx.Component:
    return rx.vstack(
        listing.page_heading(
            "Deployments",
            rx.text(S.window_label, size="2", color=rx.color("gray", 10)),
            on_refresh=S.load,
        ),
        listing.filter_bar(
            listing.filter_select(
                "Status", S.status, DEPLOYMENT_STATUSES, S.filter_status, test_id="filter-status"
            ),
            listing.search_box(S, placeholder="Search version, service, commit", test_id="filter-text"),
            on_clear=S.clear_filters,
        ),
        listing.list_panel(
            S,
            title="Deployments",
            icon="rocket",
            headers=[
                "Service",
                "Status",
                "Change",
                "Summary",
                "By",
                "Took",
                "Started",
            ],
            row=_row,
            empty="No deployments in this time range and scope.",
            test_id="panel-deployment-list",
        ),
        spacing="4",
        width="100%",
    )


def deployment() -> rx.Component:
    view = DeploymentState.deployment
    return record_page(
        ("All deployments", "/deployments"),
        [status_badge(view.status), rx.heading(view.service, " ", view.version, size="6"), rx.code(view.id)],
        [
            fields(
                ("Service", rx.link(view.service, href=view.service_link)),
                ("Version", rx.code(view.version)),
                ("Environment", view.environment),
                ("By", view.actor),
                ("Started", view.started),
                ("Finished", view.finished),
                ("Took", view.duration),
            ),
            extra_fields(view.fields),
            external_link(view.url),
        ],
        error=DeploymentState.error,
        loading=DeploymentState.loading,
        test_id="panel-deployment",
    )

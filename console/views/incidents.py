"""The Incidents list: filters, the page of rows, the pager."""

from __future__ import annotations

import reflex as rx

from console.backend.incidents import ACTIVE, INCIDENT_STATUSES, SEVERITIES, SORTS
from console.backend.signals import SignalRow
from console.components import listing
from console.components.panel import severity_badge, status_badge
from console.state.incidents import IncidentsState as S


def _row(row: rx.Var[SignalRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(severity_badge(row.severity)),
        listing.link_cell(row.id, row.link, test_id="incident-link", nowrap=True),
        rx.table.cell(rx.text(row.title, weight="medium")),
        rx.table.cell(status_badge(row.status)),
        listing.name_cell(row.service, row.team + " · " + row.environment),
        listing.age_cell(row.age, row.started),
        data_testid="incident-row",
    )


def incidents() -> rx.Component:
    filters = listing.filter_bar(
        listing.filter_select(
            "Status",
            S.status,
            [ACTIVE, *INCIDENT_STATUSES],
            S.filter_status,
            test_id="filter-status",
            labels={ACTIVE: "active (not resolved)"},
        ),
        listing.filter_select(
            "Severity", S.severity, SEVERITIES, S.filter_severity, test_id="filter-severity"
        ),
        listing.search_box(S, placeholder="Search title and description", test_id="filter-text"),
        listing.filter_select(
            "Sort", S.sort, list(SORTS), S.sort_by, test_id="sort", labels=SORTS, any_label=None
        ),
        on_clear=S.clear_filters,
    )
    return rx.vstack(
        listing.page_heading("Incidents", on_refresh=S.load),
        filters,
        listing.list_panel(
            S,
            title="Incidents",
            icon="siren",
            headers=["Severity", "Id", "Title", "Status", "Service", "Started"],
            row=_row,
            empty="No incidents match these filters and scope.",
            test_id="panel-incident-list",
        ),
        rx.text(
            rx.cond(
                S.ordered_by_provider,
                rx.fragment(
                    "25 a page, ",
                    rx.cond(
                        S.started_within != "",
                        "started within the scope's time range (" + S.started_within + "). ",
                        "over all time (choose a time range in the scope bar to narrow it). ",
                    ),
                    "Sorts marked (this page) order the rows of this page; the others run across all pages. ",
                ),
                "Newest first, 25 a page, over all time. The provider takes no sort order, so other sorts "
                "order the rows of this page. ",
            ),
            "Service, team and environment come from the scope bar.",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="4",
        width="100%",
    )

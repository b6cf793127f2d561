"""The service catalog: owners, tier, tags, on-call, runbook and health."""

from __future__ import annotations

import reflex as rx

from console.backend.services import ServiceRow
from console.components import listing
from console.components.panel import status_badge
from console.state.services import ServicesState as S


def _row(row: rx.Var[ServiceRow]) -> rx.Component:
    return rx.table.row(
        listing.link_cell(
            row.name, row.link, test_id="service-link", nowrap=True, detail=row.tier + " · " + row.team
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(
            rx.hstack(rx.foreach(row.tags, lambda tag: rx.badge(tag, variant="outline")), wrap="wrap")
        ),
        rx.table.cell(row.oncall),
        rx.table.cell(
            rx.cond(
                row.runbook.startswith("http"),
                rx.link("runbook", href=row.runbook, is_external=True),
                rx.text(row.runbook),
            )
        ),
        rx.table.cell(
            rx.text(
                row.open_incidents,
                " incidents · ",
                row.firing_alerts,
                " firing",
                rx.cond(row.off_baseline, " · off its baseline", ""),
                size="1",
            )
        ),
        data_testid="service-row",
    )


def services() -> rx.Component:
    return rx.vstack(
        listing.page_heading("Services", on_refresh=S.load),
        listing.filter_bar(
            listing.search_box(S, placeholder="Search service names", test_id="filter-text"),
            on_clear=S.clear_filters,
        ),
        rx.foreach(
            S.notes,
            lambda note: rx.callout(
                note, icon="triangle-alert", color_scheme="amber", size="1", width="100%"
            ),
        ),
        rx.foreach(
            S.unserved,
            lambda note: rx.callout(note, icon="info", color_scheme="gray", size="1", width="100%"),
        ),
        listing.list_panel(
            S,
            title="Catalog",
            icon="network",
            headers=["Service", "Health", "Tags", "On call", "Runbook", "Now"],
            row=_row,
            empty="No services in this scope.",
            test_id="panel-service-list",
        ),
        spacing="4",
        width="100%",
    )

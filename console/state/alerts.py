"""The Alerts list (firing first) and one alert's page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console.backend.alerts import AlertFilters, alert_view, alerts_page
from console.backend.scope import ANY
from console.backend.signals import SignalRow, SignalView
from console.state.paging import PagedList, RowsPage
from console.state.record import RecordPage
from console.state.scope import ScopeState
from core_client.client import CoreClient


class AlertsState(PagedList, ScopeState):
    """The visible page of alerts and the filters the URL holds."""

    rows: list[SignalRow] = []
    status: str = ""
    severity: str = ""
    text: str = ""

    @classmethod
    def _filter_type(cls) -> type[AlertFilters]:
        return AlertFilters

    async def _fetch(self, core: CoreClient, cursor: str | None) -> RowsPage:
        filters = AlertFilters(status=self.status, severity=self.severity, text=self.text)
        return await alerts_page(core, filters, self.query_scope(), cursor)

    @rx.event(background=True)
    async def filter_severity(self, value: str) -> AsyncIterator[EventSpec]:
        async for event in self._refilter(severity="" if value == ANY else value):
            yield event


class AlertState(RecordPage, ScopeState):
    """One alert's fields."""

    alert: SignalView = SignalView()

    @classmethod
    def _link_kind(cls) -> str:
        return "alert"

    async def _fetch_record(self, core: CoreClient, key: str) -> SignalView:
        return await alert_view(core, key)

    def _show_record(self, key: str, record: SignalView | None) -> None:
        self.alert = record or SignalView(id=key)

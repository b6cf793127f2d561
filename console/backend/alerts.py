"""The Alerts list, firing first, and one alert's page.

Without a status filter the list reads in two passes, each paged by the provider: the firing alerts, then every
other alert (firing ones skipped, as they were shown first). The cursor says which pass and where in it; a page
never mixes the two, so the last page of firing alerts may be short.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ValidationError

from console.backend.incidents import SEVERITIES
from console.backend.records import ListFilters, named, service_names
from console.backend.signals import SignalRow, SignalView, signal_row, signal_view
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.schemas import AlertQuery, QueryScope, decode_cursor, encode_cursor

PAGE_SIZE = 25
FIRING = "firing"
ALERT_STATUSES = [FIRING, "resolved"]
# The demo and OpsOrch use sev1..sev4; Alertmanager labels say critical, warning or info.
ALERT_SEVERITIES = [*SEVERITIES, "critical", "warning", "info"]


class AlertFilters(ListFilters):
    status: str = ""
    severity: str = ""
    text: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AlertFilters:
        """The filters in a URL's query parameters."""
        return cls(
            status=params.get("status", ""),
            severity=params.get("severity", ""),
            text=params.get("q", "").strip(),
        )

    def to_params(self) -> dict[str, str | None]:
        return {"status": self.status or None, "severity": self.severity or None, "q": self.text or None}


class AlertPage(BaseModel):
    rows: list[SignalRow]
    next_cursor: str | None = None
    truncated: bool = False


class _Position(BaseModel):
    """Where the list is: in the firing pass or the rest, and the provider's cursor there."""

    phase: Literal["firing", "rest", "single"]
    cursor: str | None = None


def _position(cursor: str | None, filters: AlertFilters) -> _Position:
    if cursor is None:
        return _Position(phase="single" if filters.status else "firing")
    try:
        return _Position.model_validate(decode_cursor(cursor, source="alerts"))
    except ValidationError:
        raise BadQuery(f"malformed alerts cursor {cursor!r}", source="alerts") from None


def _encode(position: _Position) -> str:
    return encode_cursor(json.loads(position.model_dump_json()))


async def alerts_page(
    core: CoreClient, filters: AlertFilters, scope: QueryScope, cursor: str | None
) -> AlertPage:
    """One page of alerts: firing first unless a status is chosen, each pass newest first."""
    position = _position(cursor, filters)
    statuses = [filters.status] if filters.status else [FIRING] if position.phase == "firing" else []
    query = AlertQuery(
        query=filters.text or None,
        statuses=statuses,
        severities=[filters.severity] if filters.severity else [],
        scope=scope,
        limit=PAGE_SIZE,
    )
    page = await core.alerts.query(query, cursor=position.cursor)
    alerts = [a for a in page.items if position.phase != "rest" or a.status != FIRING]
    if page.next_cursor is not None:
        following: _Position | None = _Position(phase=position.phase, cursor=page.next_cursor)
    elif position.phase == "firing":
        following = _Position(phase="rest")
    else:
        following = None
    now = core.clock.now()
    return AlertPage(
        rows=named([signal_row(alert, now) for alert in alerts], await service_names(core)),
        next_cursor=_encode(following) if following else None,
        truncated=page.truncated,
    )


async def alert_view(core: CoreClient, alert_id: str) -> SignalView:
    """One alert's fields for its page; ``NotFound`` when there is none."""
    view = signal_view(await core.alerts.get(alert_id), core.clock.now())
    return named([view], await service_names(core))[0]

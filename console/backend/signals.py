"""Incidents and alerts share one shape (the OpsOrch contract's), so they share one list row and one page view."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from console.backend.display import ago, utc_label
from console.backend.records import FieldRow, field_rows
from core_client.links import alert_link, incident_link, service_link
from core_client.schemas import Alert, Incident

# Shown as their own fields; the rest of ``fields`` and ``metadata`` is listed as extras.
OWN_FIELDS = ("team", "environment")


class SignalRow(BaseModel):
    """An incident or an alert in a list, with a link to its page."""

    id: str = ""
    title: str = ""
    severity: str = ""
    status: str = ""
    service: str = ""
    team: str = ""
    environment: str = ""
    started: str = ""
    age: str = ""
    link: str = ""


class SignalView(SignalRow):
    """An incident's or an alert's fields, as its page shows them."""

    description: str = ""
    service_link: str = ""
    url: str = ""
    updated: str = ""
    fields: list[FieldRow] = []


def _link(signal: Incident | Alert) -> str:
    return (incident_link if isinstance(signal, Incident) else alert_link)(signal.id).build()


def signal_row(signal: Incident | Alert, now: datetime) -> SignalRow:
    """One incident or alert as a list row, its age counted to ``now``; team and environment from its fields."""
    return SignalRow(
        id=signal.id,
        title=signal.title or signal.id,
        severity=signal.severity,
        status=signal.status,
        service=signal.service,
        team=str(signal.fields.get("team", "")),
        environment=str(signal.fields.get("environment", "")),
        started=utc_label(signal.created_at),
        age=ago(signal.created_at, now),
        link=_link(signal),
    )


def signal_view(signal: Incident | Alert, now: datetime) -> SignalView:
    """One incident's or alert's fields for its page."""
    extras = {k: v for k, v in {**signal.fields, **signal.metadata}.items() if k not in OWN_FIELDS}
    return SignalView(
        **signal_row(signal, now).model_dump(),
        description=signal.description,
        service_link=service_link(signal.service).build() if signal.service else "",
        url=signal.url,
        updated=utc_label(signal.updated_at),
        fields=field_rows(extras),
    )

"""Alertmanager's API v2 documents as OpsPilot objects: alerts (with their status) and silences.

Status of an alert, from its ``status.state``, ``silencedBy``, ``inhibitedBy`` and ``endsAt``:

====================================================  ==============
Alertmanager                                          Alert.status
====================================================  ==============
state ``active``                                      ``firing``
state ``suppressed``, silencedBy not empty            ``silenced``
state ``suppressed``, only inhibitedBy not empty      ``inhibited``
state ``unprocessed``                                 ``unprocessed``
endsAt in the past                                    ``resolved``
====================================================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError

from core_client.errors import BadQuery, ProviderUnavailable
from core_client.schemas import Alert, CamelModel, UtcDatetime

SOURCE = "alertmanager"

# A status asked for in a query -> the Alert.status values it selects.
STATUS_ALIASES: dict[str, frozenset[str]] = {
    "firing": frozenset({"firing"}),
    "active": frozenset({"firing"}),
    "open": frozenset({"firing", "unprocessed"}),
    "silenced": frozenset({"silenced"}),
    "inhibited": frozenset({"inhibited"}),
    "suppressed": frozenset({"silenced", "inhibited"}),
    "unprocessed": frozenset({"unprocessed"}),
    "resolved": frozenset({"resolved"}),
}


def wanted_statuses(statuses: list[str]) -> frozenset[str] | None:
    """The Alert.status values a query's statuses select (None: all); an unknown status is a ``BadQuery``."""
    if not statuses:
        return None
    selected: set[str] = set()
    for status in statuses:
        aliases = STATUS_ALIASES.get(status.strip().lower())
        if aliases is None:
            raise BadQuery(
                f"unknown alert status {status!r}; known: {', '.join(sorted(STATUS_ALIASES))}", source=SOURCE
            )
        selected |= aliases
    return frozenset(selected)


def alert_status(document: Mapping[str, Any], *, now: datetime) -> str:
    status = document.get("status") or {}
    ends = _parse_time(document.get("endsAt"))
    if ends is not None and ends <= now:
        return "resolved"
    state = status.get("state")
    if state == "suppressed":
        return "silenced" if status.get("silencedBy") else "inhibited"
    if state == "unprocessed":
        return "unprocessed"
    return "firing"


def to_alert(
    document: Mapping[str, Any],
    *,
    now: datetime,
    severity_label: str,
    service_label: str | None,
    fallback_url: str,
) -> Alert:
    """One gettableAlert as an Alert: the fingerprint is its id, alertname (else summary) its title."""
    labels = {str(k): str(v) for k, v in (document.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (document.get("annotations") or {}).items()}
    summary = annotations.get("summary", "")
    title = labels.get("alertname") or summary
    description = annotations.get("description") or (summary if title != summary else "")
    status = document.get("status") or {}
    try:
        return Alert(
            id=str(document["fingerprint"]),
            title=title,
            description=description,
            status=alert_status(document, now=now),
            severity=labels.get(severity_label, ""),
            service=labels.get(service_label, "") if service_label else "",
            url=str(document.get("generatorURL") or "") or fallback_url,
            created_at=document.get("startsAt"),
            updated_at=document.get("updatedAt"),
            fields={"labels": labels, "annotations": annotations},
            metadata={
                "state": status.get("state", ""),
                "silencedBy": list(status.get("silencedBy") or []),
                "inhibitedBy": list(status.get("inhibitedBy") or []),
                "receivers": [r.get("name", "") for r in document.get("receivers") or []],
                "endsAt": document.get("endsAt"),
            },
        )
    except (KeyError, ValidationError) as exc:
        raise ProviderUnavailable(f"Alertmanager returned a malformed alert: {exc}", source=SOURCE) from None


def matches_text(alert: Alert, text: str) -> bool:
    """Case-insensitive substring over alertname, summary, description and the title."""
    needle = text.casefold()
    annotations = alert.fields.get("annotations", {})
    haystack = (
        alert.title,
        alert.description,
        alert.fields.get("labels", {}).get("alertname", ""),
        annotations.get("summary", ""),
        annotations.get("description", ""),
    )
    return any(needle in part.casefold() for part in haystack)


class SilenceMatcher(CamelModel):
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True


class Silence(CamelModel):
    """A silence: alerts matching every matcher are muted from ``starts_at`` to ``ends_at``."""

    id: str
    status: str = Field(default="", description="active, pending or expired")
    matchers: list[SilenceMatcher] = Field(default_factory=list)
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    created_by: str = ""
    comment: str = ""
    url: str = ""


def to_silence(document: Mapping[str, Any], *, link_base: str) -> Silence:
    """One gettableSilence as a :class:`Silence`, linked to its page in Alertmanager's UI."""
    try:
        silence_id = str(document["id"])
        return Silence(
            id=silence_id,
            status=str((document.get("status") or {}).get("state", "")),
            matchers=[SilenceMatcher.model_validate(m) for m in document.get("matchers") or []],
            starts_at=document.get("startsAt"),
            ends_at=document.get("endsAt"),
            updated_at=document.get("updatedAt"),
            created_by=str(document.get("createdBy") or ""),
            comment=str(document.get("comment") or ""),
            url=f"{link_base}/#/silences/{silence_id}",
        )
    except (KeyError, ValidationError) as exc:
        raise ProviderUnavailable(
            f"Alertmanager returned a malformed silence: {exc}", source=SOURCE
        ) from None


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None

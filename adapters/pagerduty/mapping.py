"""PagerDuty objects <-> OpsPilot's: statuses, severities (urgency and priority), incidents and log entries."""

from __future__ import annotations

from typing import Any

from core_client.errors import BadQuery
from core_client.schemas import Incident, TeamMember, TimelineEntry

SOURCE = "pagerduty"

STATUS_FROM_PD = {"triggered": "open", "acknowledged": "investigating", "resolved": "resolved"}
STATUS_TO_PD = {
    "open": "triggered",
    "investigating": "acknowledged",
    "mitigating": "acknowledged",
    "monitoring": "acknowledged",
    "resolved": "resolved",
}
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
URGENCY_OF = {"sev1": "high", "sev2": "high", "sev3": "low", "sev4": "low"}
SEVERITY_OF_URGENCY = {"high": "sev2", "low": "sev3"}
SEVERITY_OF_PRIORITY_NAME = {"P1": "sev1", "P2": "sev2", "P3": "sev3", "P4": "sev4", "P5": "sev4"}


def pd_status(status: str) -> str:
    """Our status as PagerDuty's; an unknown one is a ``BadQuery`` listing the known ones."""
    try:
        return STATUS_TO_PD[status.lower()]
    except KeyError:
        raise BadQuery(
            f"unknown incident status {status!r}; PagerDuty takes {', '.join(STATUS_TO_PD)}", source=SOURCE
        ) from None


def check_severity(severity: str) -> str:
    if severity.lower() not in SEVERITIES:
        raise BadQuery(
            f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}", source=SOURCE
        )
    return severity.lower()


def severity_of(incident: dict[str, Any], priority_ids: dict[str, str]) -> str:
    """The priority decides when there is one (by configured id, else by name P1..P5); else the urgency."""
    priority = incident.get("priority") or {}
    by_id = {pid: sev for sev, pid in priority_ids.items()}
    if priority.get("id") in by_id:
        return by_id[priority["id"]]
    name = str(priority.get("name") or priority.get("summary") or "").upper()
    if name in SEVERITY_OF_PRIORITY_NAME:
        return SEVERITY_OF_PRIORITY_NAME[name]
    return SEVERITY_OF_URGENCY.get(str(incident.get("urgency", "")), "")


def _ref_names(refs: list[dict[str, Any]] | None) -> list[str]:
    return [str(r.get("summary") or r.get("name") or r.get("id")) for r in refs or []]


def incident_from_pd(data: dict[str, Any], priority_ids: dict[str, str]) -> Incident:
    """A PagerDuty incident as ours; what has no field of its own goes into ``fields``."""
    service = data.get("service") or {}
    priority = data.get("priority") or {}
    fields: dict[str, Any] = {
        "urgency": data.get("urgency", ""),
        "priority": priority.get("summary") or priority.get("name") or "",
        "incidentNumber": data.get("incident_number"),
        "incidentKey": data.get("incident_key", ""),
        "serviceId": service.get("id", ""),
        "assignees": [_ref_names([a.get("assignee", {})])[0] for a in data.get("assignments") or []],
        "escalationPolicy": (data.get("escalation_policy") or {}).get("summary", ""),
        "teams": _ref_names(data.get("teams")),
        "pagerdutyStatus": data.get("status", ""),
    }
    return Incident(
        id=data["id"],
        title=data.get("title") or data.get("summary") or "",
        description=str(data.get("description") or ""),
        status=STATUS_FROM_PD.get(str(data.get("status")), str(data.get("status", ""))),
        severity=severity_of(data, priority_ids),
        service=service.get("summary") or service.get("name") or "",
        url=data.get("html_url", ""),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at") or data.get("created_at"),
        fields=fields,
    )


def timeline_from_log_entry(incident_id: str, entry: dict[str, Any]) -> TimelineEntry:
    """A log entry (``trigger_log_entry`` ...) as a timeline entry of kind ``trigger`` ..."""
    agent = entry.get("agent") or {}
    kind = str(entry.get("type", "")).removesuffix("_log_entry").removesuffix("_reference") or "event"
    body = entry.get("note") or (entry.get("channel") or {}).get("summary") or entry.get("summary") or ""
    return TimelineEntry(
        id=entry["id"],
        incident_id=incident_id,
        at=entry["created_at"],
        kind="note" if kind == "annotate" else kind,
        body=str(body),
        actor={"id": agent.get("id", ""), "name": agent.get("summary", ""), "type": agent.get("type", "")},
        metadata={"url": entry.get("html_url", "")},
    )


def timeline_from_note(incident_id: str, note: dict[str, Any]) -> TimelineEntry:
    user = note.get("user") or {}
    return TimelineEntry(
        id=note["id"],
        incident_id=incident_id,
        at=note["created_at"],
        kind="note",
        body=note.get("content", ""),
        actor={"id": user.get("id", ""), "name": user.get("summary", ""), "type": user.get("type", "")},
    )


def member_from_user(user: dict[str, Any]) -> TeamMember:
    """A PagerDuty user (or user reference) as a team member."""
    return TeamMember(
        id=user["id"],
        name=user.get("name") or user.get("summary") or "",
        email=user.get("email", ""),
        role=user.get("role", ""),
        metadata={"url": user.get("html_url", ""), "timeZone": user.get("time_zone", "")},
    )

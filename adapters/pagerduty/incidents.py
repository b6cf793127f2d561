"""PagerDuty incidents and their timelines (log entries and notes) as OpsPilot incidents."""

from __future__ import annotations

from typing import Any

from adapters.pagerduty.api import PagerDutyApi
from adapters.pagerduty.config import PagerDutyConfig
from adapters.pagerduty.directory import Directory
from adapters.pagerduty.mapping import (
    SOURCE,
    URGENCY_OF,
    check_severity,
    incident_from_pd,
    pd_status,
    timeline_from_log_entry,
    timeline_from_note,
)
from core_client.errors import BadQuery, Unsupported
from core_client.schemas import (
    CreateIncidentInput,
    Incident,
    IncidentQuery,
    Page,
    ProviderHealth,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
    page_size,
)


class PagerDutyIncidents:
    """IncidentProvider over PagerDuty's /incidents."""

    def __init__(self, api: PagerDutyApi, config: PagerDutyConfig) -> None:
        self._api = api
        self._config = config
        self._directory = Directory(api)

    async def health(self) -> ProviderHealth:
        await self._api.get("/abilities")
        return ProviderHealth(capability="incident", provider=SOURCE, status="ok")

    async def aclose(self) -> None:
        await self._api.aclose()

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        """Statuses, urgencies, service and team go to PagerDuty; free text and exact severity are
        filtered here, so a page may hold fewer items than asked while ``next_cursor`` still leads on."""
        params: list[tuple[str, str]] = [("sort_by", "created_at:desc")]
        params += [("statuses[]", s) for s in dict.fromkeys(pd_status(s) for s in query.statuses)]
        severities = {check_severity(s) for s in query.severities}
        params += [("urgencies[]", u) for u in sorted({URGENCY_OF[s] for s in severities})]
        if query.scope.service:
            params.append(("service_ids[]", await self._directory.service_id(query.scope.service)))
        if query.scope.team:
            params.append(("team_ids[]", await self._directory.team_id(query.scope.team)))
        page = await self._api.page(
            "/incidents", "incidents", params=params, cursor=cursor, limit=page_size(query.limit)
        )
        incidents = [incident_from_pd(i, self._config.priority_ids) for i in page.items]
        text = (query.query or "").lower()
        kept = [
            i
            for i in incidents
            if (not severities or i.severity in severities)
            and (not text or text in i.title.lower() or text in i.description.lower())
        ]
        return Page[Incident](items=kept, next_cursor=page.next_cursor)

    async def get(self, incident_id: str) -> Incident:
        body = await self._api.get(f"/incidents/{path_id(incident_id)}")
        return incident_from_pd(body["incident"], self._config.priority_ids)

    async def create(self, data: CreateIncidentInput, *, idempotency_key: str | None = None) -> Incident:
        """Opens a triggered incident (the grant id is its ``incident_key``, so a repeat is refused by
        PagerDuty rather than doubled); any other starting status is applied by a following update."""
        status = pd_status(data.status)
        incident: dict[str, Any] = {
            "type": "incident",
            "title": data.title,
            "service": {"id": await self._service_id(data.service), "type": "service_reference"},
            **self._severity_fields(check_severity(data.severity)),
        }
        if data.description:
            incident["body"] = {"type": "incident_body", "details": data.description}
        if idempotency_key:
            incident["incident_key"] = idempotency_key
        body = await self._api.write("POST", "/incidents", {"incident": incident})
        created = incident_from_pd(body["incident"], self._config.priority_ids)
        if status != "triggered":
            return await self.update(created.id, UpdateIncidentInput(status=data.status))
        return created

    async def update(
        self, incident_id: str, changes: UpdateIncidentInput, *, idempotency_key: str | None = None
    ) -> Incident:
        """Title, status and severity; PagerDuty's PUT is idempotent, so no key is needed."""
        unsupported = [
            name
            for name in ("description", "service", "fields", "metadata")
            if getattr(changes, name) is not None
        ]
        if unsupported:
            raise Unsupported(
                f"PagerDuty cannot change an incident's {', '.join(unsupported)} through this provider",
                source=SOURCE,
            )
        incident: dict[str, Any] = {"type": "incident_reference"}
        if changes.title is not None:
            incident["title"] = changes.title
        if changes.status is not None:
            incident["status"] = pd_status(changes.status)
        if changes.severity is not None:
            incident.update(self._severity_fields(check_severity(changes.severity)))
        if len(incident) == 1:
            return await self.get(incident_id)
        body = await self._api.write("PUT", f"/incidents/{path_id(incident_id)}", {"incident": incident})
        return incident_from_pd(body["incident"], self._config.priority_ids)

    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]:
        page = await self._api.page(
            f"/incidents/{path_id(incident_id)}/log_entries",
            "log_entries",
            params=[("is_overview", "false")],
            cursor=cursor,
            limit=100,
        )
        entries = [timeline_from_log_entry(incident_id, e) for e in page.items]
        return Page[TimelineEntry](items=entries, next_cursor=page.next_cursor)

    async def append_timeline(
        self, incident_id: str, entry: TimelineAppendInput, *, idempotency_key: str | None = None
    ) -> TimelineEntry:
        """A note on the incident; PagerDuty stamps its own time and has no idempotency key for notes."""
        content = entry.body if entry.kind == "note" else f"[{entry.kind}] {entry.body}"
        body = await self._api.write(
            "POST", f"/incidents/{path_id(incident_id)}/notes", {"note": {"content": content}}
        )
        return timeline_from_note(incident_id, body["note"])

    def _severity_fields(self, severity: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"urgency": URGENCY_OF[severity]}
        priority_id = self._config.priority_ids.get(severity)
        if priority_id:
            fields["priority"] = {"id": priority_id, "type": "priority_reference"}
        return fields

    async def _service_id(self, service: str) -> str:
        if service:
            return await self._directory.service_id(service)
        if self._config.default_service_id:
            return self._config.default_service_id
        raise BadQuery(
            "a PagerDuty incident needs a service: give 'service' or configure 'default_service_id'",
            source=SOURCE,
        )


def path_id(value: str) -> str:
    """An id safe to put in a path: PagerDuty ids are alphanumeric."""
    if not value or not value.replace("-", "").replace("_", "").isalnum():
        raise BadQuery(f"malformed PagerDuty id {value!r}", source=SOURCE)
    return value

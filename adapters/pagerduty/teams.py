"""PagerDuty teams, their members and who is on call; paging opens a high-urgency incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.pagerduty.api import PagerDutyApi
from adapters.pagerduty.config import PagerDutyConfig
from adapters.pagerduty.directory import Directory
from adapters.pagerduty.incidents import path_id
from adapters.pagerduty.mapping import SOURCE, member_from_user
from core_client.errors import BadQuery
from core_client.schemas import (
    OnCallShift,
    Page,
    PageOnCallInput,
    PageResult,
    ProviderHealth,
    Team,
    TeamMember,
    TeamQuery,
    page_size,
)


def team_from_pd(data: dict[str, Any]) -> Team:
    parent = data.get("parent") or {}
    return Team(
        id=data["id"],
        name=data.get("name") or data.get("summary") or "",
        parent=parent.get("id", ""),
        url=data.get("html_url", ""),
        metadata={"description": data.get("description") or ""},
    )


class PagerDutyTeams:
    """TeamProvider and OnCallProvider over /teams, /users, /escalation_policies, /oncalls and /incidents."""

    def __init__(self, api: PagerDutyApi, config: PagerDutyConfig) -> None:
        self._api = api
        self._config = config
        self._directory = Directory(api)

    async def health(self) -> ProviderHealth:
        await self._api.get("/abilities")
        return ProviderHealth(capability="team", provider=SOURCE, status="ok")

    async def aclose(self) -> None:
        await self._api.aclose()

    async def query(self, query: TeamQuery, *, cursor: str | None = None) -> Page[Team]:
        params = [("query", query.name)] if query.name else []
        page = await self._api.page(
            "/teams", "teams", params=params, cursor=cursor, limit=page_size(query.limit)
        )
        return Page[Team](items=[team_from_pd(t) for t in page.items], next_cursor=page.next_cursor)

    async def get(self, team_id: str) -> Team:
        body = await self._api.get(f"/teams/{path_id(team_id)}")
        return team_from_pd(body["team"])

    async def members(self, team_id: str) -> list[TeamMember]:
        users = await self._api.every("/users", "users", params=[("team_ids[]", path_id(team_id))])
        return [member_from_user(u) for u in users]

    async def oncall(self, team_id: str, *, at: datetime | None = None) -> list[OnCallShift]:
        """Who is on call at ``at`` in the escalation policies of the team."""
        policies = await self._api.every(
            "/escalation_policies", "escalation_policies", params=[("team_ids[]", path_id(team_id))]
        )
        if not policies:
            return []
        params = [("escalation_policy_ids[]", str(p["id"])) for p in policies]
        if at is not None:
            moment = at.isoformat().replace("+00:00", "Z")
            params += [("since", moment), ("until", moment)]
        oncalls = await self._api.every("/oncalls", "oncalls", params=params)
        return [
            OnCallShift(
                team_id=team_id,
                member=member_from_user(o["user"]),
                escalation_level=o.get("escalation_level", 1),
                start=o.get("start"),
                end=o.get("end"),
                schedule=(o.get("schedule") or {}).get("summary", ""),
            )
            for o in oncalls
            if o.get("user")
        ]

    async def page(self, request: PageOnCallInput, *, idempotency_key: str | None = None) -> PageResult:
        """A high-urgency incident on the service; its escalation policy notifies whoever is on call."""
        if request.service:
            service_id = await self._directory.service_id(request.service)
        elif self._config.default_service_id:
            service_id = self._config.default_service_id
        else:
            raise BadQuery(
                "PagerDuty pages through a service: give 'service', or configure 'default_service_id'",
                source=SOURCE,
            )
        incident: dict[str, Any] = {
            "type": "incident",
            "title": request.summary,
            "service": {"id": service_id, "type": "service_reference"},
            "urgency": "high",
        }
        if request.details:
            incident["body"] = {"type": "incident_body", "details": request.details}
        if idempotency_key:
            incident["incident_key"] = idempotency_key
        body = await self._api.write("POST", "/incidents", {"incident": incident})
        created = body["incident"]
        paged = [
            member_from_user(a["assignee"]) for a in created.get("assignments") or [] if a.get("assignee")
        ]
        return PageResult(
            id=created["id"],
            paged=paged,
            url=created.get("html_url", ""),
            metadata={"incidentKey": created.get("incident_key", ""), "serviceId": service_id},
        )

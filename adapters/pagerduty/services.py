"""PagerDuty services as the service catalog."""

from __future__ import annotations

from typing import Any

from adapters.pagerduty.api import PagerDutyApi
from adapters.pagerduty.directory import Directory
from adapters.pagerduty.mapping import SOURCE
from core_client.schemas import Page, ProviderHealth, Service, ServiceQuery, page_size


def service_from_pd(data: dict[str, Any]) -> Service:
    teams = [t.get("summary") or t.get("name") or t["id"] for t in data.get("teams") or []]
    tags = {"status": str(data.get("status", ""))}
    if teams:
        tags["team"] = teams[0]
    return Service(
        id=data["id"],
        name=data.get("name") or data.get("summary") or data["id"],
        url=data.get("html_url", ""),
        tags=tags,
        metadata={
            "description": data.get("description") or "",
            "escalationPolicy": (data.get("escalation_policy") or {}).get("summary", ""),
            "teams": teams,
        },
        owner_team=teams[0] if teams else None,
    )


class PagerDutyServices:
    """ServiceProvider over GET /services. Dependencies are not read (see docs/providers.md)."""

    def __init__(self, api: PagerDutyApi) -> None:
        self._api = api
        self._directory = Directory(api)

    async def health(self) -> ProviderHealth:
        await self._api.get("/abilities")
        return ProviderHealth(capability="service", provider=SOURCE, status="ok")

    async def aclose(self) -> None:
        await self._api.aclose()

    async def query(self, query: ServiceQuery, *, cursor: str | None = None) -> Page[Service]:
        """Name and team filter in PagerDuty; ids and tags are matched here on each page."""
        params: list[tuple[str, str]] = [("sort_by", "name")]
        if query.name:
            params.append(("query", query.name))
        if query.scope.team:
            params.append(("team_ids[]", await self._directory.team_id(query.scope.team)))
        page = await self._api.page(
            "/services", "services", params=params, cursor=cursor, limit=page_size(query.limit)
        )
        services = [service_from_pd(s) for s in page.items]
        kept = [
            s
            for s in services
            if (not query.ids or s.id in query.ids or s.name in query.ids)
            and all(s.tags.get(k) == v for k, v in query.tags.items())
        ]
        return Page[Service](items=kept, next_cursor=page.next_cursor)

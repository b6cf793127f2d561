"""Names to PagerDuty ids: OpsPilot speaks of services and teams by name, PagerDuty's filters take ids."""

from __future__ import annotations

from adapters.pagerduty.api import PagerDutyApi
from adapters.pagerduty.mapping import SOURCE
from core_client.errors import BadQuery


class Directory:
    """Looks a service or team up by exact name (or id) through the API's ``query`` filter."""

    def __init__(self, api: PagerDutyApi) -> None:
        self._api = api

    async def _find(self, path: str, key: str, name: str) -> str:
        found = await self._api.every(path, key, params=[("query", name)], cap=200)
        for item in found:
            if name in (item.get("name"), item.get("id")):
                return str(item["id"])
        raise BadQuery(f"no PagerDuty {key.rstrip('s')} named {name!r}", source=SOURCE)

    async def service_id(self, name: str) -> str:
        return await self._find("/services", "services", name)

    async def team_id(self, name: str) -> str:
        return await self._find("/teams", "teams", name)

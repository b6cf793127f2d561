"""Services (with their dependency graph and runbooks) and teams (with on-call and paging)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from adapters.demo.base import WorldProvider
from adapters.demo.company import TEAM_BY_ID
from adapters.demo.history import iso
from adapters.demo.schedule import on_call, shift_bounds
from adapters.demo.world import remember, remembered
from core_client.errors import BadQuery, NotFound
from core_client.schemas import (
    OnCallShift,
    Page,
    PageOnCallInput,
    PageResult,
    Runbook,
    Service,
    ServiceQuery,
    Team,
    TeamMember,
    TeamQuery,
    offset_page,
)


class DemoServices(WorldProvider):
    capability = "service"

    async def query(self, query: ServiceQuery, *, cursor: str | None = None) -> Page[Service]:
        rows = await self.world.run(lambda c: c.execute("SELECT doc FROM service ORDER BY name").fetchall())
        services = [Service.model_validate(json.loads(r[0])) for r in rows]
        scope = query.scope
        found = [
            s
            for s in services
            if (not query.ids or s.id in query.ids)
            and (not query.name or query.name.lower() in s.name.lower())
            and all(s.tags.get(k) == v for k, v in query.tags.items())
            and (not scope.service or s.name == scope.service)
            and (not scope.team or s.owner_team == scope.team)
            and (not scope.environment or scope.environment in s.metadata.get("environments", []))
        ]
        return offset_page(found, cursor=cursor, limit=query.limit, source="demo")

    async def runbook(self, service: str) -> Runbook:
        row = await self.world.run(
            lambda c: c.execute("SELECT doc FROM runbook WHERE service = ?", (service,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no runbook for service {service!r}", source="demo")
        return Runbook.model_validate(json.loads(row[0]))


class DemoTeams(WorldProvider):
    capability = "team"

    async def query(self, query: TeamQuery, *, cursor: str | None = None) -> Page[Team]:
        rows = await self.world.run(lambda c: c.execute("SELECT doc FROM team ORDER BY id").fetchall())
        teams = [Team.model_validate(json.loads(r[0])) for r in rows]
        scope = query.scope
        found = [
            t
            for t in teams
            if (not query.name or query.name.lower() in t.name.lower() or query.name == t.id)
            and all(t.tags.get(k) == v for k, v in query.tags.items())
            and (not scope.team or t.id == scope.team)
            and (not scope.service or scope.service in t.metadata.get("services", []))
        ]
        return offset_page(found, cursor=cursor, limit=query.limit, source="demo")

    async def _row(self, team_id: str) -> tuple[str, str]:
        row = await self.world.run(
            lambda c: c.execute("SELECT doc, members FROM team WHERE id = ?", (team_id,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no team {team_id!r}", source="demo")
        return row[0], row[1]

    async def get(self, team_id: str) -> Team:
        doc, _ = await self._row(team_id)
        return Team.model_validate(json.loads(doc))

    async def members(self, team_id: str) -> list[TeamMember]:
        _, members = await self._row(team_id)
        return [TeamMember.model_validate(m) for m in json.loads(members)]

    async def oncall(self, team_id: str, *, at: datetime | None = None) -> list[OnCallShift]:
        members = {m.id: m for m in await self.members(team_id)}
        team = TEAM_BY_ID[team_id]
        when = int((at or self.world.now).timestamp() * 1000)
        _, start, end = shift_bounds(team, when)
        return [
            OnCallShift(
                team_id=team_id,
                member=members[p.handle],
                escalation_level=level,
                start=datetime.fromisoformat(iso(start)),
                end=datetime.fromisoformat(iso(end)),
                schedule=f"{team_id}-weekly",
            )
            for level, p in enumerate(on_call(team, when), start=1)
        ]

    async def page(self, request: PageOnCallInput, *, idempotency_key: str | None = None) -> PageResult:
        team_id = request.team
        if not team_id and request.service:
            rows = await self.world.run(
                lambda c: c.execute("SELECT team FROM service WHERE name = ?", (request.service,)).fetchone()
            )
            if rows is None:
                raise NotFound(f"no service {request.service!r}", source="demo")
            team_id = rows[0]
        if not team_id:
            raise BadQuery("page needs a service or a team", source="demo")
        primary = (await self.oncall(team_id))[0].member
        now = self.world.now_ms

        def record(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "page")
            if earlier is not None:
                return earlier
            count = conn.execute("SELECT count(*) FROM page_request").fetchone()[0]
            page_id = f"PG-{count + 1:05d}"
            doc = {
                "id": page_id,
                "paged": [primary.to_json()],
                "url": f"https://pager.shopwave.example/pages/{page_id}",
                "metadata": {
                    "team": team_id,
                    "summary": request.summary,
                    "severity": request.severity,
                    "at": iso(now),
                    **({"incidentId": request.incident_id} if request.incident_id else {}),
                },
            }
            conn.execute("INSERT INTO page_request VALUES (?,?,?)", (page_id, now, json.dumps(doc)))
            remember(conn, idempotency_key, "page", doc)
            return doc

        return PageResult.model_validate(await self.world.write(record))

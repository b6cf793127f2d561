"""Tickets of the demo world (an issue tracker's project ``OPS``).

Descriptions are Markdown, as the console renders them. A query may ask for one incident's tickets through
``metadata[INCIDENT_FIELD]``; an update's ``fields`` are merged into the ticket's (the keys given change, the
others stay), as Jira's field edits do.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from adapters.demo.base import WorldProvider
from adapters.demo.company import SERVICE_BY_NAME
from adapters.demo.history import iso
from adapters.demo.incidents import _get
from adapters.demo.records import Where, page_rows
from adapters.demo.world import remember, remembered
from core_client.schemas import (
    INCIDENT_FIELD,
    SERVICE_FIELD,
    CreateTicketInput,
    Page,
    Ticket,
    TicketQuery,
    UpdateTicketInput,
)

PROJECT = "OPS"


class DemoTickets(WorldProvider):
    capability = "ticket"

    async def query(self, query: TicketQuery, *, cursor: str | None = None) -> Page[Ticket]:
        where = Where()
        where.text(["title", "description", "id"], query.query)
        where.any_of("status", query.statuses)
        if query.reporter:
            where.add("reporter = ?", query.reporter)
        if query.assignees:
            marks = ",".join("?" * len(query.assignees))
            where.add(
                f"EXISTS (SELECT 1 FROM json_each(assignees) WHERE value IN ({marks}))", *query.assignees
            )
        where.scope(query.scope)
        incident = query.metadata.get(INCIDENT_FIELD)
        if isinstance(incident, str) and incident:
            where.add("json_extract(doc, '$.fields.incidentId') = ?", incident)
        docs, nxt = await self.world.run(
            lambda c: page_rows(
                c, "ticket", where, order="created_ms DESC, id DESC", limit=query.limit, cursor=cursor
            )
        )
        return Page[Ticket](items=[Ticket.model_validate(d) for d in docs], next_cursor=nxt)

    async def get(self, ticket_id: str) -> Ticket:
        return Ticket.model_validate(await self.world.run(lambda c: _get(c, "ticket", ticket_id, "ticket")))

    async def create(self, data: CreateTicketInput, *, idempotency_key: str | None = None) -> Ticket:
        now = self.world.now_ms

        def create(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "ticket.create")
            if earlier is not None:
                return earlier
            number = conn.execute(
                "SELECT coalesce(max(CAST(substr(id, 5) AS INTEGER)), 1200) + 1 FROM ticket"
            ).fetchone()[0]
            key = f"{PROJECT}-{number}"
            service = str(data.fields.get(SERVICE_FIELD, ""))
            env = str(data.fields.get("environment", "prod"))
            # The team follows from the service, as in the rest of the world, so a team's scope finds the ticket.
            team = str(data.fields.get("team") or _team_of(service))
            doc = {
                "id": key,
                "key": key,
                "title": data.title,
                "description": data.description,
                "status": "To Do",
                "assignees": [],
                "reporter": "opspilot",
                "url": f"https://tracker.shopwave.example/browse/{key}",
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "fields": {**data.fields, **({"team": team} if team else {})},
                "metadata": {"project": PROJECT, **data.metadata},
            }
            conn.execute(
                "INSERT INTO ticket VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    now,
                    now,
                    service,
                    team,
                    env,
                    "To Do",
                    data.title,
                    data.description,
                    "opspilot",
                    "[]",
                    json.dumps(doc),
                ),
            )
            remember(conn, idempotency_key, "ticket.create", doc)
            return doc

        return Ticket.model_validate(await self.world.write(create))

    async def update(
        self, ticket_id: str, changes: UpdateTicketInput, *, idempotency_key: str | None = None
    ) -> Ticket:
        now = self.world.now_ms

        def update(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "ticket.update")
            if earlier is not None:
                return earlier
            doc = _get(conn, "ticket", ticket_id, "ticket")
            for name, value in changes.model_dump(exclude_unset=True, by_alias=True).items():
                if name in ("fields", "metadata") and value is not None:
                    doc[name] = {**doc.get(name, {}), **value}
                elif value is not None:
                    doc[name] = value
            doc["updatedAt"] = iso(now)
            conn.execute(
                "UPDATE ticket SET updated_ms=?, service=?, status=?, title=?, description=?, assignees=?, doc=? "
                "WHERE id=?",
                (
                    now,
                    str(doc["fields"].get(SERVICE_FIELD, "")),
                    doc["status"],
                    doc["title"],
                    doc["description"],
                    json.dumps(doc["assignees"]),
                    json.dumps(doc),
                    ticket_id,
                ),
            )
            remember(conn, idempotency_key, "ticket.update", doc)
            return doc

        return Ticket.model_validate(await self.world.write(update))


def _team_of(service: str) -> str:
    known = SERVICE_BY_NAME.get(service)
    return known.team if known else ""

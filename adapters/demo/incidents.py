"""Incidents (with timelines) and alerts of the demo world."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from adapters.demo.base import WorldProvider
from adapters.demo.company import SERVICE_BY_NAME
from adapters.demo.history import iso
from adapters.demo.records import Where, page_rows
from adapters.demo.world import remember, remembered
from core_client.errors import NotFound
from core_client.incident_order import IncidentOrder
from core_client.schemas import (
    Alert,
    AlertQuery,
    CreateIncidentInput,
    Incident,
    IncidentQuery,
    Page,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
)

ORDER = "created_ms DESC, id DESC"
# Every order ends on the id, so it is total and offset cursors neither skip nor repeat a row.
SEVERITY_RANK = (
    "CASE severity WHEN 'sev1' THEN 1 WHEN 'sev2' THEN 2 WHEN 'sev3' THEN 3 WHEN 'sev4' THEN 4 ELSE 5 END"
)
ORDERS = {
    "newest": ORDER,
    "oldest": "created_ms ASC, id ASC",
    "severity": f"{SEVERITY_RANK}, {ORDER}",
    "updated": "updated_ms DESC, id DESC",
}


def _where(query: IncidentQuery) -> Where:
    where = Where()
    where.text(["title", "description"], query.query)
    where.any_of("status", query.statuses)
    where.any_of("severity", query.severities)
    where.scope(query.scope)
    return where


def _get(conn: sqlite3.Connection, table: str, key: str, label: str) -> dict[str, Any]:
    row = conn.execute(f"SELECT doc FROM {table} WHERE id = ?", (key,)).fetchone()
    if row is None:
        raise NotFound(f"no {label} {key!r}", source="demo")
    return json.loads(row[0])


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class DemoIncidents(WorldProvider):
    """Incidents, sorted and bounded in creation time as ``core_client.incident_order`` asks."""

    capability = "incident"
    honors_incident_order = True

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        order = IncidentOrder.of(query.metadata, source="demo")
        where = _where(query)
        if order.created_from is not None:
            where.add("created_ms >= ?", _ms(order.created_from))
        if order.created_to is not None:
            where.add("created_ms < ?", _ms(order.created_to))
        sql_order = ORDERS[order.sort]
        docs, nxt = await self.world.run(
            lambda c: page_rows(c, "incident", where, order=sql_order, limit=query.limit, cursor=cursor)
        )
        return Page[Incident](items=[Incident.model_validate(d) for d in docs], next_cursor=nxt)

    async def get(self, incident_id: str) -> Incident:
        return Incident.model_validate(
            await self.world.run(lambda c: _get(c, "incident", incident_id, "incident"))
        )

    async def create(self, data: CreateIncidentInput, *, idempotency_key: str | None = None) -> Incident:
        now = self.world.now_ms

        def create(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "incident.create")
            if earlier is not None:
                return earlier
            number = conn.execute(
                "SELECT coalesce(max(CAST(substr(id, 5) AS INTEGER)), 4000) + 1 FROM incident"
            ).fetchone()[0]
            incident_id = f"INC-{number}"
            team = SERVICE_BY_NAME[data.service].team if data.service in SERVICE_BY_NAME else ""
            doc = {
                "id": incident_id,
                "title": data.title,
                "description": data.description,
                "status": data.status,
                "severity": data.severity,
                "service": data.service,
                "url": f"https://status.shopwave.example/incidents/{incident_id}",
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "fields": {**data.fields, "team": team},
                "metadata": data.metadata,
            }
            env = str(data.fields.get("environment", "prod"))
            conn.execute(
                "INSERT INTO incident VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    incident_id,
                    now,
                    now,
                    data.service,
                    team,
                    env,
                    data.status,
                    data.severity,
                    data.title,
                    data.description,
                    json.dumps(doc),
                ),
            )
            remember(conn, idempotency_key, "incident.create", doc)
            return doc

        return Incident.model_validate(await self.world.write(create))

    async def update(
        self, incident_id: str, changes: UpdateIncidentInput, *, idempotency_key: str | None = None
    ) -> Incident:
        now = self.world.now_ms

        def update(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "incident.update")
            if earlier is not None:
                return earlier
            doc = _get(conn, "incident", incident_id, "incident")
            for name, value in changes.model_dump(exclude_unset=True, by_alias=True).items():
                if value is not None:
                    doc[name] = value
            doc["updatedAt"] = iso(now)
            conn.execute(
                "UPDATE incident SET updated_ms=?, service=?, status=?, severity=?, title=?, description=?, doc=? "
                "WHERE id=?",
                (
                    now,
                    doc["service"],
                    doc["status"],
                    doc["severity"],
                    doc["title"],
                    doc["description"],
                    json.dumps(doc),
                    incident_id,
                ),
            )
            remember(conn, idempotency_key, "incident.update", doc)
            return doc

        return Incident.model_validate(await self.world.write(update))

    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]:
        def read(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], str | None]:
            _get(conn, "incident", incident_id, "incident")
            where = Where()
            where.add("incident_id = ?", incident_id)
            return page_rows(conn, "timeline", where, order="at_ms, id", limit=200, cursor=cursor)

        docs, nxt = await self.world.run(read)
        return Page[TimelineEntry](items=[TimelineEntry.model_validate(d) for d in docs], next_cursor=nxt)

    async def append_timeline(
        self, incident_id: str, entry: TimelineAppendInput, *, idempotency_key: str | None = None
    ) -> TimelineEntry:
        at = int((entry.at or self.world.now).timestamp() * 1000)

        def append(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "incident.timeline.append")
            if earlier is not None:
                return earlier
            _get(conn, "incident", incident_id, "incident")
            count = conn.execute(
                "SELECT count(*) FROM timeline WHERE incident_id = ?", (incident_id,)
            ).fetchone()[0]
            entry_id = f"{incident_id}-t{count + 1}"
            doc = {
                "id": entry_id,
                "incidentId": incident_id,
                "at": iso(at),
                "kind": entry.kind,
                "body": entry.body,
                "actor": entry.actor,
                "metadata": entry.metadata,
            }
            conn.execute(
                "INSERT INTO timeline VALUES (?,?,?,?)", (entry_id, incident_id, at, json.dumps(doc))
            )
            remember(conn, idempotency_key, "incident.timeline.append", doc)
            return doc

        return TimelineEntry.model_validate(await self.world.write(append))


class DemoAlerts(WorldProvider):
    capability = "alert"

    async def query(self, query: AlertQuery, *, cursor: str | None = None) -> Page[Alert]:
        docs, nxt = await self.world.run(
            lambda c: page_rows(c, "alert", _where(query), order=ORDER, limit=query.limit, cursor=cursor)
        )
        return Page[Alert](items=[Alert.model_validate(d) for d in docs], next_cursor=nxt)

    async def get(self, alert_id: str) -> Alert:
        return Alert.model_validate(await self.world.run(lambda c: _get(c, "alert", alert_id, "alert")))

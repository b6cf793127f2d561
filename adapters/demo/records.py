"""Querying the world's record tables (incidents, alerts, tickets, deployments) with filters, scope and cursors."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from core_client.errors import BadQuery
from core_client.schemas import QueryScope, decode_cursor, encode_cursor, page_size

SOURCE = "demo"


@dataclass
class Where:
    """A WHERE clause being assembled from a query's parts."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def any_of(self, column: str, values: list[str]) -> None:
        if values:
            self.add(f"{column} IN ({','.join('?' * len(values))})", *values)

    def text(self, columns: list[str], query: str | None) -> None:
        if query and query.strip():
            pattern = f"%{query.strip().lower()}%"
            self.add(
                "(" + " OR ".join(f"lower({c}) LIKE ?" for c in columns) + ")", *([pattern] * len(columns))
            )

    def scope(self, scope: QueryScope) -> None:
        if scope.service:
            self.add("service = ?", scope.service)
        if scope.team:
            self.add("team = ?", scope.team)
        if scope.environment:
            self.add("environment = ?", scope.environment)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def fingerprint(where: Where, table: str, order: str) -> str:
    # The order is part of it: a cursor continues the order it was made in, never another one.
    raw = json.dumps([table, where.clauses, where.params, order], default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def page_rows(
    conn: sqlite3.Connection, table: str, where: Where, *, order: str, limit: int | None, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of documents; the cursor is bound to the query it came from."""
    size = page_size(limit)
    fp = fingerprint(where, table, order)
    offset = 0
    if cursor:
        position = decode_cursor(cursor, source=SOURCE)
        if position.get("q") != fp or not isinstance(position.get("o"), int) or position["o"] < 0:
            raise BadQuery("cursor does not belong to this query", source=SOURCE)
        offset = position["o"]
    rows = conn.execute(
        f"SELECT doc FROM {table}{where.sql()} ORDER BY {order} LIMIT ? OFFSET ?",
        [*where.params, size + 1, offset],
    ).fetchall()
    docs = [json.loads(r[0]) for r in rows[:size]]
    following = encode_cursor({"q": fp, "o": offset + size}) if len(rows) > size else None
    return docs, following

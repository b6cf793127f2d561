"""The audit trail: every request, decision, execution and refusal, with who, what, arguments, result and when.

Rows never hold secrets: grants appear only as a fingerprint (a grant id is a bearer permission until it is
spent), and results are short summaries, not whole provider answers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session
from sqlmodel import col, select

from core_client.clock import Clock
from core_client.identity import Actor
from core_client.schemas import Page, decode_cursor, encode_cursor, page_size
from core_client.store import AuditAction, AuditEvent, Database

# Error messages in a result summary are cut to this many characters.
SUMMARY_MESSAGE_CHARS = 300


def grant_fingerprint(grant_id: str) -> str:
    """A stable reference to a grant that cannot be used as the grant itself."""
    return "sha256:" + hashlib.sha256(grant_id.encode()).hexdigest()[:16]


def summarize_result(result: Any) -> dict[str, Any]:
    """A short description of what a mutation returned: its type and identifying fields."""
    summary: dict[str, Any] = {"type": type(result).__name__}
    if isinstance(result, BaseModel):
        for field in ("id", "key", "url", "status", "channel"):
            value = getattr(result, field, None)
            if isinstance(value, str | int) and value != "":
                summary[field] = value
    return summary


def summarize_error(error: BaseException) -> dict[str, Any]:
    """A short description of why a mutation failed."""
    return {"error": type(error).__name__, "message": str(error)[:SUMMARY_MESSAGE_CHARS]}


class AuditTrail:
    """Writes and reads audit events."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    def record(
        self,
        action: AuditAction,
        *,
        actor: Actor,
        tool: str,
        arguments: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        request_id: str | None = None,
        grant_id: str | None = None,
        environment: str | None = None,
        session: Session | None = None,
    ) -> AuditEvent:
        """Append one event; inside ``session`` it commits (or rolls back) with the caller's transaction."""
        event = AuditEvent(
            at=self._clock.now(),
            actor=actor.display,
            actor_user=actor.user,
            action=action,
            tool=tool,
            arguments=arguments or {},
            result=result or {},
            request_id=request_id,
            grant_id=grant_fingerprint(grant_id) if grant_id else None,
            environment=environment,
        )
        if session is not None:
            session.add(event)
            return event
        with self._database.transaction() as own:
            own.add(event)
        return event

    def list(
        self,
        *,
        action: AuditAction | None = None,
        tool: str | None = None,
        user: str | None = None,
        request_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[AuditEvent]:
        """Events matching every given filter, newest first; pass ``next_cursor`` back for older ones."""
        query = select(AuditEvent)
        if action:
            query = query.where(col(AuditEvent.action) == action)
        if tool:
            query = query.where(col(AuditEvent.tool) == tool)
        if user:
            query = query.where(col(AuditEvent.actor_user) == user)
        if request_id:
            query = query.where(col(AuditEvent.request_id) == request_id)
        if since:
            query = query.where(col(AuditEvent.at) >= since)
        if until:
            query = query.where(col(AuditEvent.at) < until)
        if cursor:
            # Ids grow with time, so "older than the last one seen" is simply a smaller id.
            query = query.where(col(AuditEvent.id) < int(decode_cursor(cursor, source="audit")["before"]))
        size = page_size(limit)
        query = query.order_by(col(AuditEvent.id).desc()).limit(size + 1)
        with self._database.transaction() as session:
            rows = list(session.scalars(query))
        more = len(rows) > size
        items = rows[:size]
        next_cursor = encode_cursor({"before": items[-1].id}) if more else None
        return Page[AuditEvent](items=items, next_cursor=next_cursor)

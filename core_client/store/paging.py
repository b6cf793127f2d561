"""Keyset paging newest first, for every table listed that way (approval requests, Copilot runs).

Rows are ordered by their creation time, then by id so that rows created in the same instant keep one order; the
next page starts after the last row of the one before, ``(created_at, id)``, so rows added meanwhile neither
shift a page nor show twice (an offset would).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")


def newest_first(
    query: SelectOfScalar[T], created_at: Any, row_id: Any, *, after: tuple[datetime, str] | None = None
) -> SelectOfScalar[T]:
    """``query`` newest first by ``created_at`` then ``row_id`` (the table's columns), and with ``after`` (the
    creation time and id of the last row of the page before) only the rows listed after it."""
    if after is not None:
        at, last_id = after
        query = query.where(or_(created_at < at, and_(created_at == at, row_id < last_id)))
    return query.order_by(created_at.desc(), row_id.desc())

"""Pagination over an API that has neither cursors nor a stable order, and request bodies of the contract's fields.

OpsOrch Core takes a ``limit`` but no cursor, and its providers may answer in any order: the mock plugins walk
Go maps, whose order changes on every call, and apply ``limit`` to whatever subset comes first. Offset paging over
two such answers drops some items and repeats others. So every page reads the whole result, up to a cap
(``max_items`` in the capability's config, 5,000 by default), puts it in a fixed order (newest first, then by id),
and cuts the page out of that. When the result is larger than the cap the server chose which items came back,
so the page is marked ``truncated``: its items are real, but not necessarily all there are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from core_client.errors import BadQuery
from core_client.remote.api import SOURCE
from core_client.schemas import Page, decode_cursor, encode_cursor, page_size

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 5_000
# A time an item lacks sorts after every known one.
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """Which slice of the full, ordered result a page is."""

    offset: int
    size: int

    def page(self, items: Sequence[T], *, truncated: bool = False) -> Page[T]:
        """This window of ``items`` (the whole result, in its order), with a cursor when more follow."""
        more = len(items) > self.offset + self.size
        return Page[T](
            items=list(items[self.offset : self.offset + self.size]),
            next_cursor=encode_cursor({"offset": self.offset + self.size}) if more else None,
            truncated=truncated,
        )


def window(cursor: str | None, limit: int | None) -> Window:
    """The window a query's ``cursor`` and ``limit`` point at; a malformed cursor is a ``BadQuery``."""
    offset = 0
    if cursor:
        raw = decode_cursor(cursor, source=SOURCE).get("offset")
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise BadQuery(f"cursor {cursor!r} does not come from an OpsOrch query", source=SOURCE)
        offset = raw
    return Window(offset=offset, size=page_size(limit))


def newest_first(moment: Callable[[T], datetime | None], identity: Callable[[T], str]) -> Callable[[T], Any]:
    """A sort key: newest first by ``moment`` (items without one last), ties by ``identity`` ascending."""

    def key(item: T) -> tuple[bool, float, str]:
        at = moment(item)
        return (at is None, -(at or _NEVER).timestamp(), identity(item))

    return key


def contract_body(
    model: BaseModel, *, drop: Collection[str] = (), changes_only: bool = False
) -> dict[str, Any]:
    """``model`` as a request body: camelCase, no nulls, without the OpsPilot-only fields in ``drop``.

    ``changes_only`` sends just the fields that were set, for PATCH bodies.
    """
    body = model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=changes_only)
    for name in drop:
        body.pop(name, None)
    return body

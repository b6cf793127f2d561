"""Pagination over an API that has none, and request bodies that carry only the contract's fields.

OpsOrch Core takes a ``limit`` but no cursor. For page ``n`` we ask for everything up to one item past its end
(``offset + size + 1``) and keep the window; the extra item tells whether another page exists. The cursor is an
offset, so pages follow one another without gaps or repeats as long as the server's order is stable.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from core_client.errors import BadQuery
from core_client.remote.api import SOURCE
from core_client.schemas import Page, decode_cursor, encode_cursor, page_size

T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """Which slice of the full, ordered result a page is."""

    offset: int
    size: int

    @property
    def ask(self) -> int:
        """How many items to ask the server for: this page, everything before it, and one more."""
        return self.offset + self.size + 1

    def page(self, items: list[T]) -> Page[T]:
        """This window of ``items``, with a cursor to the next window when there is more."""
        more = len(items) > self.offset + self.size
        return Page[T](
            items=items[self.offset : self.offset + self.size],
            next_cursor=encode_cursor({"offset": self.offset + self.size}) if more else None,
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

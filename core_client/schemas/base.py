"""The building blocks every schema shares: camelCase JSON, UTC datetimes, scopes, pages and cursors."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from core_client.errors import BadQuery


def _as_utc(value: datetime) -> datetime:
    # A naive datetime is read as UTC: OpsOrch and most providers send UTC without saying so.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    # Written the way Go's RFC3339Nano writes it (OpsOrch Core is Go): trailing zeros of the fraction dropped.
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


UtcDatetime = Annotated[
    datetime, AfterValidator(_as_utc), PlainSerializer(_rfc3339, return_type=str, when_used="json")
]
"""A timezone-aware datetime, always normalized to UTC, written as RFC 3339 with a ``Z``."""

JsonObject = dict[str, Any]


class CamelModel(BaseModel):
    """An object of the OpsOrch Core contract: camelCase on the wire, snake_case in Python.

    Unknown fields are kept, so a document from an OpsOrch Core (or a newer one) round-trips unchanged.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_json(self) -> JsonObject:
        """The document as JSON-ready data, with exactly the fields that were given or set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Validate a JSON document (a dict) of this type."""
        return cls.model_validate(data)


class StrictCamelModel(CamelModel):
    """A query or an input: unknown fields are an error, so a typo is reported instead of ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class QueryScope(StrictCamelModel):
    """Narrows any query to a service, a team and/or an environment."""

    service: str | None = None
    team: str | None = None
    environment: str | None = None

    def is_empty(self) -> bool:
        return not (self.service or self.team or self.environment)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a query's results; pass ``next_cursor`` back as ``cursor=`` for the next one."""

    items: list[T] = Field(default_factory=list)
    next_cursor: str | None = None


DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def page_size(limit: int | None) -> int:
    """The page size a query asks for, clamped to what any provider serves in one page."""
    if limit is None or limit <= 0:
        return DEFAULT_LIMIT
    return min(limit, MAX_LIMIT)


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for a position in a result set (an offset, a last-seen key)."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, source: str | None = None) -> dict[str, Any]:
    """The position inside a cursor made by :func:`encode_cursor`; a tampered cursor is a ``BadQuery``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadQuery(f"malformed cursor {cursor!r}", source=source) from exc
    if not isinstance(position, dict):
        raise BadQuery(f"malformed cursor {cursor!r}", source=source)
    return position


def offset_page(
    items: list[T], *, cursor: str | None, limit: int | None, source: str | None = None
) -> Page[T]:
    """Page through a complete, ordered list with offset cursors (for providers without native paging)."""
    offset = int(decode_cursor(cursor, source=source).get("offset", 0)) if cursor else 0
    size = page_size(limit)
    window = items[offset : offset + size]
    more = offset + size < len(items)
    return Page[T](items=window, next_cursor=encode_cursor({"offset": offset + size}) if more else None)

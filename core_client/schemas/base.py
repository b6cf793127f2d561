"""The building blocks every schema shares: camelCase JSON, UTC datetimes, scopes, pages and cursors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel

from core_client.errors import BadQuery


def _as_utc(value: datetime) -> datetime:
    # A naive datetime is read as UTC: OpsOrch and most providers send UTC without saying so.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    # Written the way Go's RFC3339Nano writes it (OpsOrch Core is Go): trailing zeros of the fraction dropped.
    # Formatted by hand: strftime's %Y does not pad years before 1000, and RFC 3339 needs four digits. Integer
    # fields, not strftime (twice as slow): this runs for every time of every document written.
    utc = value.astimezone(UTC)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


# Go's zero time.Time, which a Go server (OpsOrch Core) sends for a time it does not have, such as a running
# deployment's finishedAt; "0001-01-01T00:00:00Z", possibly with a zero fraction or a +00:00 offset.
_ZERO_TIME = re.compile(r"0001-01-01[T ]00:00:00(\.0+)?(Z|[+-]00:?00)?", re.IGNORECASE)


def is_zero_time(value: Any) -> bool:
    """Whether ``value`` is the zero time (as text or as a datetime in year 1), which means "no time"."""
    if isinstance(value, datetime):
        return value.year == 1 and value.replace(tzinfo=None) == datetime(1, 1, 1)
    # The prefix test first: this runs on every string field of every document read.
    return isinstance(value, str) and value.startswith("0001-") and _ZERO_TIME.fullmatch(value) is not None


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

    @model_validator(mode="before")
    @classmethod
    def _zero_times_are_absent(cls, data: Any) -> Any:
        """A zero time in an optional datetime field reads as absent (None): "not finished", not year 1."""
        if not isinstance(data, dict):
            return data
        zero = [key for key, value in data.items() if is_zero_time(value) and _datetime_field(cls, key)]
        if not zero:
            return data
        return {key: (None if key in zero else value) for key, value in data.items()}

    def to_json(self) -> JsonObject:
        """The document as JSON-ready data, with exactly the fields that were given or set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Validate a JSON document (a dict) of this type."""
        return cls.model_validate(data)


def _datetime_field(model: type[BaseModel], key: str) -> bool:
    """Whether ``key`` (a field name or its camelCase alias) is one of ``model``'s optional datetime fields.

    A required time (a log line's timestamp) that is zero stays as given: it is bad data, not "not yet".
    """
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            options = get_args(info.annotation)
            return type(None) in options and any(
                option is datetime or datetime in get_args(option) for option in options
            )
    return False


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
    """One page of a query's results; pass ``next_cursor`` back as ``cursor=`` for the next one.

    ``truncated``: the provider read at most a cap of items to order them (a source without stable paging), and
    the result was larger, so these pages hold some of the matching items, not all of them.
    """

    items: list[T] = Field(default_factory=list)
    next_cursor: str | None = None
    truncated: bool = False


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

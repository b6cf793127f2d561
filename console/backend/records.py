"""What the detail pages share: label/value rows for a record's fields, sections that fail on their own, a
bounded walk through a newest-first query, and services shown by their names."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel

from core_client.client import CoreClient
from core_client.errors import CapabilityNotConfigured, OpsPilotError
from core_client.schemas import Page

T = TypeVar("T")
Row = TypeVar("Row")

# A walk through a provider's pages stops after this many items, whatever it is looking for.
MAX_SCANNED = 1_000
SCAN_PAGE = 200


class ListFilters(BaseModel):
    """A list page's own filters: read from a URL's query parameters and written back to them.

    The list's state has one var per field (console/state/paging.py); ``q`` in the URL is ``text`` here.
    """

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Self:
        """The filters in a URL's query parameters; unusable values are dropped."""
        raise NotImplementedError

    def to_params(self) -> dict[str, str | None]:
        """Every filter parameter, set or removed (``None``), for the URL."""
        raise NotImplementedError


class FieldRow(BaseModel):
    """One labelled value of a record."""

    label: str
    value: str


def field_rows(values: Mapping[str, Any]) -> list[FieldRow]:
    """Provider-specific ``fields`` or ``metadata`` as rows, keys in order, nested values as compact text."""
    rows = []
    for key in sorted(values):
        value = values[key]
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            text = ", ".join(str(item) for item in value)
        elif isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        rows.append(FieldRow(label=key, value=text))
    return rows


class Section(BaseModel, Generic[T]):
    """One section of a page: its value, or the error of the provider that failed it.

    ``unserved``: nothing failed, the source simply keeps no such thing (an OpsOrch Core has no runbooks, a
    provider without on-call schedules); pages say so plainly instead of warning about it.
    """

    value: T | None = None
    error: str = ""
    unserved: bool = False


async def section(load: Awaitable[T]) -> Section[T]:
    """Await ``load``; an OpsPilot error becomes the section's message instead of failing the page."""
    try:
        return Section[T](value=await load)
    except CapabilityNotConfigured as exc:
        return Section[T](error=str(exc), unserved=True)
    except OpsPilotError as exc:
        return Section[T](error=str(exc))


async def newest_until(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    moment: Callable[[T], datetime | None],
    oldest: datetime,
) -> list[T]:
    """Items of a newest-first query down to ``oldest`` (at most ``MAX_SCANNED`` read), newest first."""
    found: list[T] = []
    cursor: str | None = None
    scanned = 0
    while scanned < MAX_SCANNED:
        page = await fetch(cursor)
        scanned += len(page.items)
        for item in page.items:
            at = moment(item)
            if at is not None and at < oldest:
                return found
            found.append(item)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


async def service_names(core: CoreClient) -> Callable[[str], str]:
    """How pages show a service reference: by the catalog's name for it (an OpsOrch Core's records say
    ``svc-checkout``, people say "Checkout API"; see ServiceDirectory), or as given when the catalog has no such
    service or cannot be read, which must not fail the page that shows it."""
    try:
        return (await core.services.directory()).label
    except OpsPilotError:
        return lambda reference: reference


def named(rows: list[Row], name: Callable[[str], str]) -> list[Row]:
    """``rows`` (models or dataclasses with a ``service`` field, their links already built from the reference)
    showing the service by ``name``: the one place rows and page views turn a reference into what people call it."""
    return [_named(row, name) for row in rows]


def _named(row: Row, name: Callable[[str], str]) -> Row:
    service = getattr(row, "service", "")
    if not service:
        return row
    if isinstance(row, BaseModel):
        return row.model_copy(update={"service": name(service)})
    # Otherwise a dataclass row (the Overview's), which mypy cannot tell from an unbound type variable.
    return dataclasses.replace(row, service=name(service))  # type: ignore[type-var]

"""Time windows of the Logs and Metrics pages, and the part of their queries the scope bar owns.

Also: the times people type, moments placed in a window, and chart axis labels.

In URLs times are absolute ISO-8601 UTC (``core_client.links``); in the page's inputs they are
``YYYY-MM-DDTHH:MM`` (an HTML ``datetime-local`` value), read as UTC too, since the whole console speaks UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict

from core_client.errors import BadQuery
from core_client.links import parse_time
from core_client.schemas import QueryScope

INPUT_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Window:
    """A half-open interval ``[start, end)`` of aware UTC times."""

    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def midpoint(self) -> datetime:
        return self.start + self.span / 2

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def label(self) -> str:
        """``2025-06-11 13:20 → 14:20 UTC`` (the date repeated only when it changes)."""
        end = self.end.strftime("%H:%M" if self.end.date() == self.start.date() else "%Y-%m-%d %H:%M")
        return f"{self.start:%Y-%m-%d %H:%M} → {end} UTC"


def window_around(moment: datetime, span: timedelta, *, now: datetime) -> Window:
    """A window of ``span`` centred on ``moment``, moved back to end at ``now`` when it would run past it."""
    end = moment + span / 2
    if moment < now:
        end = min(end, now)
    return Window(end - span, end)


def time_param(params: Mapping[str, str], name: str) -> datetime | None:
    """The time in URL parameter ``name`` (ISO-8601 with a zone), None when absent or blank."""
    text = params.get(name, "").strip()
    return parse_time(text) if text else None


def parse_input(text: str) -> datetime | None:
    """A time typed in an input: ``YYYY-MM-DDTHH:MM[:SS]`` read as UTC, or ISO-8601 with a zone."""
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"not a time: {text!r} (expected YYYY-MM-DDTHH:MM, UTC)", source="console") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def input_value(moment: datetime | None) -> str:
    """``moment`` as a ``datetime-local`` input shows it (UTC), or an empty string."""
    return moment.astimezone(UTC).strftime(INPUT_FORMAT) if moment else ""


def axis_format(span: timedelta, step_seconds: float) -> str:
    """The strftime format of chart labels: short enough to read, fine enough to tell points apart."""
    clock = "%H:%M:%S" if step_seconds < 60 else "%H:%M"
    return clock if span < timedelta(days=1) else f"%m-%d {clock}"


class ScopedQuery(BaseModel):
    """A page's query narrowed by the scope bar: service, team, environment and a window, in the URL as
    ``service``, ``team``, ``env``, ``from`` and ``to``. Pages add their own fields."""

    model_config = ConfigDict(frozen=True)

    service: str = ""
    environment: str = ""
    team: str = ""
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Self:
        """The query a URL's parameters describe (pages read their own fields too)."""
        return cls(**cls.scope_fields(params))

    @staticmethod
    def scope_fields(params: Mapping[str, str]) -> dict[str, Any]:
        """The scope's fields in a URL's parameters; a malformed time is a ``BadQuery``."""
        return {
            "service": params.get("service", "").strip(),
            "environment": params.get("env", "").strip(),
            "team": params.get("team", "").strip(),
            "start": time_param(params, "from"),
            "end": time_param(params, "to"),
        }

    def within(self, scope: QueryScope, window: Window) -> Self:
        """This query narrowed to ``scope`` over ``window`` (the scope bar's)."""
        return self.model_copy(
            update={
                "service": scope.service or "",
                "team": scope.team or "",
                "environment": scope.environment or "",
                "start": window.start,
                "end": window.end,
            }
        )

    def window(self) -> Window:
        """The query's window; one without both ends is a ``BadQuery``."""
        if self.start is None or self.end is None:
            raise BadQuery("the query has no time window", source="console")
        return Window(self.start, self.end)

    def scope(self) -> QueryScope:
        return QueryScope(
            service=self.service or None, team=self.team or None, environment=self.environment or None
        )

    def with_console_params(self, link: str, extra: Mapping[str, str] | None = None) -> str:
        """``link`` (a path of the links scheme) followed by what the scheme leaves out: ``env``, ``team``
        and the page's ``extra`` parameters; empty ones are left out."""
        pairs = [
            (name, value)
            for name, value in {"env": self.environment, "team": self.team, **(extra or {})}.items()
            if value
        ]
        if not pairs:
            return link
        return link + ("&" if "?" in link else "?") + urlencode(pairs, quote_via=quote, safe=":,")

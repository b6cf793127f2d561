"""Where OpsPilot reads the time from: the wall clock, or a demo world's frozen ``world_now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock, for real providers."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock stopped at one instant: a demo world's ``world_now``, or a test's."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._instant = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._instant

    def __repr__(self) -> str:
        return f"FixedClock({self._instant.isoformat()})"


@dataclass(frozen=True)
class SourceClock:
    """A capability whose source keeps a time of its own, apart from the one an investigation runs on: a demo
    world's frozen ``world_now`` beside a live Prometheus (the mixed mode). Its records are of its time, so they
    never set the window a live source is read over, and a live window is never asked of it."""

    capability: str
    provider: str
    now: datetime

    def describe(self) -> str:
        """In words, for an answer: "incident (demo): frozen at 2025-06-11 12:00 UTC"."""
        return f"{self.capability} ({self.provider}): frozen at {self.now:%Y-%m-%d %H:%M} UTC"

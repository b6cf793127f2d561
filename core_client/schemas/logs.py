"""Log entries, log queries, context around a line and volume histograms."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime

LogOperator = Literal["=", "!=", "contains", "regex"]


class LogFilter(StrictCamelModel):
    """A condition on ``service``, ``severity``, ``message`` or a label name."""

    field: str
    operator: LogOperator = "="
    value: str


class LogExpression(StrictCamelModel):
    search: str | None = None
    filters: list[LogFilter] = Field(default_factory=list)
    severity_in: list[str] = Field(default_factory=list)


class LogQuery(StrictCamelModel):
    """Full-text ``search`` plus filters over a time range, newest first."""

    expression: LogExpression = Field(default_factory=LogExpression)
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    scope: QueryScope = Field(default_factory=QueryScope)
    limit: int | None = None
    metadata: JsonObject = Field(default_factory=dict)


def stable_log_id(data: dict[str, Any]) -> str:
    """An id derived from what a line says, for providers whose lines carry none: the same line, the same id."""
    timestamp: Any = data.get("timestamp")
    key = json.dumps(
        [
            timestamp.isoformat() if isinstance(timestamp, datetime) else str(timestamp),
            data.get("service", ""),
            data.get("severity", ""),
            data.get("message", ""),
            sorted((data.get("labels") or {}).items()),
        ],
        separators=(",", ":"),
    )
    return "l_" + hashlib.sha256(key.encode()).hexdigest()[:20]


class LogEntry(CamelModel):
    timestamp: UtcDatetime
    message: str = ""
    severity: str = ""
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    fields: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    # Last, so the factory sees the fields above; not "set" when derived, so OpsOrch documents round-trip.
    id: str = Field(default_factory=stable_log_id)


class LogEntries(CamelModel):
    """The OpsOrch Core response to a log query."""

    entries: list[LogEntry] = Field(default_factory=list)
    url: str = ""


class LogContext(CamelModel):
    """The lines around one line of the same service, oldest first."""

    anchor: LogEntry
    before: list[LogEntry] = Field(default_factory=list)
    after: list[LogEntry] = Field(default_factory=list)


class HistogramBucket(CamelModel):
    start: UtcDatetime
    count: int = 0
    by_severity: dict[str, int] = Field(default_factory=dict)


class LogHistogram(CamelModel):
    """How many lines matched a query in each equal slice of its window."""

    start: UtcDatetime
    end: UtcDatetime
    bucket_seconds: int
    buckets: list[HistogramBucket] = Field(default_factory=list)
    total: int = 0
    # True when only the newest lines were counted (a provider without native histograms, a very busy window).
    truncated: bool = False

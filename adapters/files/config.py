"""The files provider's configuration (``OPSORCH_LOG_CONFIG``)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FilesConfig(BaseModel):
    """Where the log files are and how their lines are written.

    ``format`` is a Loghub-style pattern (``<Date> <Time> <Level> <Component>: <Content>``) or the name of a
    Loghub system's format (``loghub:OpenSSH``). ``timestamp`` lists strptime formats tried on the date and time
    fields (``timestamp_fields``, by default every field named like a date or a time, joined by spaces); common
    formats and epoch seconds are tried after them. Naive times are in ``timezone``.
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    format: str
    glob: str = "*.log"
    timestamp: list[str] = Field(default_factory=list)
    timestamp_fields: list[str] | None = None
    service: str | None = None
    severity_field: str = "Level"
    timezone: str = "UTC"
    encoding: str = "utf-8"

    @field_validator("timestamp", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

"""Reading the time of a line from its date and time fields, whatever the format of the file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

# Tried after the configured formats; the one that worked last is tried first on the next line.
COMMON_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S,%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d-%H.%M.%S.%f",
    "%y%m%d %H%M%S",
    "%a %b %d %H:%M:%S %Y",
    "%b %d %H:%M:%S",
    "%d/%b/%Y:%H:%M:%S %z",
)
DATE_FIELD_NAMES = ("date", "day", "month", "year", "time", "timestamp", "datetime")


class TimestampReader:
    """Parses line times with the configured formats, then common ones, then epoch seconds."""

    def __init__(self, formats: Sequence[str], zone: tzinfo) -> None:
        self._formats = list(dict.fromkeys([*formats, *COMMON_FORMATS]))
        self._zone = zone

    def read(self, parts: Sequence[str], *, written: datetime) -> datetime | None:
        """The UTC time the fields ``parts`` say, or None.

        A year-less time (syslog) takes the year of ``written`` (the file's mtime), or the year before when
        that would put it after the file was written (a December line in a file written in January).
        """
        candidates = [" ".join(parts), *parts] if len(parts) > 1 else list(parts)
        for text in candidates:
            parsed = self._parse(text)
            if parsed is not None:
                year_less = parsed.year == 1900
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=self._zone)
                if year_less:
                    local_written = written.astimezone(parsed.tzinfo)
                    parsed = parsed.replace(year=local_written.year)
                    if parsed > local_written + timedelta(days=1):
                        parsed = parsed.replace(year=local_written.year - 1)
                return parsed.astimezone(UTC)
        return None

    def _parse(self, text: str) -> datetime | None:
        text = " ".join(text.split())
        if not text:
            return None
        for index, fmt in enumerate(self._formats):
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if index:
                # The format that matched is most likely to match the next line of the same file.
                self._formats.insert(0, self._formats.pop(index))
            return parsed
        if text.replace(".", "", 1).isdigit() and len(text.split(".")[0]) in (10, 13):
            seconds = float(text) / (1000 if len(text.split(".")[0]) == 13 else 1)
            return datetime.fromtimestamp(seconds, UTC)
        return None

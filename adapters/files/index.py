"""An in-memory index of a folder of log files, rebuilt file by file when a file changes.

Every non-empty line is kept: one the format does not match becomes a message-only line with the time of the
line before it (a stack trace stays beside its error). A line's id is its file and line number, so it is stable
for as long as the file is only appended to, and it leads straight back to the line for context.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.files.config import FilesConfig
from adapters.files.format import CONTENT_FIELD, LineFormat
from adapters.files.loghub import LOGHUB_FORMATS
from adapters.files.timestamps import DATE_FIELD_NAMES, TimestampReader
from core_client.errors import ConfigurationError
from core_client.schemas import LogEntry

LOGHUB_PREFIX = "loghub:"
_SEVERITY_ALIASES = {"warning": "warn", "err": "error"}


def normalize_severity(raw: str) -> str:
    """Severities in lower case, with the common aliases folded (``WARNING`` -> ``warn``)."""
    lowered = raw.strip().lower()
    return _SEVERITY_ALIASES.get(lowered, lowered)


def file_key(name: str) -> str:
    """A short, stable key for a file name, used inside line ids."""
    return hashlib.sha256(name.encode()).hexdigest()[:10]


def line_id(name: str, line_no: int) -> str:
    return f"fl_{file_key(name)}_{line_no}"


def parse_line_id(log_id: str) -> tuple[str, int] | None:
    """The file key and line number inside an id made by :func:`line_id`, or None."""
    parts = log_id.split("_")
    if len(parts) != 3 or parts[0] != "fl" or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


@dataclass(slots=True)
class Line:
    timestamp: datetime
    file: str
    line_no: int
    service: str
    severity: str
    message: str
    labels: dict[str, str]

    @property
    def order(self) -> tuple[datetime, str, int]:
        return (self.timestamp, self.file, self.line_no)

    def entry(self) -> LogEntry:
        return LogEntry(
            id=line_id(self.file, self.line_no),
            timestamp=self.timestamp,
            message=self.message,
            severity=self.severity,
            service=self.service,
            labels=self.labels,
        )


@dataclass
class IndexedFile:
    name: str
    signature: tuple[int, int]
    lines: list[Line] = field(default_factory=list)

    def position(self, line_no: int) -> int | None:
        """The index in :attr:`lines` of line number ``line_no``, or None."""
        index = bisect_left(self.lines, line_no, key=lambda line: line.line_no)
        if index < len(self.lines) and self.lines[index].line_no == line_no:
            return index
        return None


class LineParser:
    """Turns the raw lines of one file into :class:`Line` records, following the configuration."""

    def __init__(self, config: FilesConfig, *, source: str) -> None:
        pattern = config.format
        if pattern.startswith(LOGHUB_PREFIX):
            system = pattern.removeprefix(LOGHUB_PREFIX)
            if system not in LOGHUB_FORMATS:
                raise ConfigurationError(
                    f"unknown Loghub format {system!r}; known: {', '.join(sorted(LOGHUB_FORMATS))}",
                    source=source,
                )
            pattern = LOGHUB_FORMATS[system]
        self.format = LineFormat.compile(pattern, source=source)
        self._config = config
        self._zone = ZoneInfo(config.timezone)
        self._time_fields = config.timestamp_fields or [
            name for name in self.format.fields if name.lower() in DATE_FIELD_NAMES
        ]
        unknown = set(self._time_fields) - set(self.format.fields)
        if unknown:
            raise ConfigurationError(
                f"timestamp_fields {sorted(unknown)} are not fields of the format", source=source
            )
        self._label_fields = [
            name
            for name in self.format.fields
            if name not in (CONTENT_FIELD, config.severity_field) and name not in self._time_fields
        ]
        self._timestamps = TimestampReader(config.timestamp, self._zone)

    def parse_file(self, path: Path, name: str) -> list[Line]:
        """Every non-empty line of ``path``, in order."""
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        service = self._config.service or path.stem
        previous = modified
        lines: list[Line] = []
        with path.open(encoding=self._config.encoding, errors="replace") as handle:
            for line_no, raw in enumerate(handle, start=1):
                text = raw.rstrip("\r\n")
                if not text.strip():
                    continue
                fields = self.format.parse(text)
                if fields is None:
                    lines.append(Line(previous, name, line_no, service, "", text, {"file": name}))
                    continue
                parts = [fields[f] for f in self._time_fields if fields.get(f)]
                at = self._timestamps.read(parts, written=modified) if parts else None
                previous = at or previous
                labels = {f.lower(): fields[f] for f in self._label_fields if fields.get(f)}
                labels["file"] = name
                lines.append(
                    Line(
                        previous,
                        name,
                        line_no,
                        service,
                        normalize_severity(fields.get(self._config.severity_field, "")),
                        fields[CONTENT_FIELD],
                        labels,
                    )
                )
        return lines


class FolderIndex:
    """The lines of every matching file in a folder, oldest first, kept in step with the files on disk."""

    def __init__(self, config: FilesConfig, *, source: str) -> None:
        self._config = config
        self._parser = LineParser(config, source=source)
        self._files: dict[str, IndexedFile] = {}
        self.ordered: list[Line] = []

    def refresh(self) -> None:
        """Re-read the files that appeared or changed (mtime or size), forget the ones that went away."""
        folder = self._config.path
        present: dict[str, tuple[Path, tuple[int, int]]] = {}
        for path in sorted(folder.glob(self._config.glob)):
            if path.is_file():
                stat = path.stat()
                present[path.relative_to(folder).as_posix()] = (path, (stat.st_mtime_ns, stat.st_size))
        changed = set(self._files) - set(present)
        for name in changed:
            del self._files[name]
        for name, (path, signature) in present.items():
            known = self._files.get(name)
            if known is None or known.signature != signature:
                self._files[name] = IndexedFile(name, signature, self._parser.parse_file(path, name))
                changed.add(name)
        if changed:
            self.ordered = sorted(
                (line for f in self._files.values() for line in f.lines), key=lambda x: x.order
            )

    def file_by_key(self, key: str) -> IndexedFile | None:
        return next((f for name, f in self._files.items() if file_key(name) == key), None)

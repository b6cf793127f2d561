"""The ``files`` log provider: search, filter, page and read context over a folder of log files."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import threading
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.files.config import FilesConfig
from adapters.files.index import FolderIndex, Line, normalize_severity, parse_line_id
from core_client.errors import BadQuery, NotFound, ProviderUnavailable
from core_client.schemas import (
    LogContext,
    LogEntry,
    LogFilter,
    LogQuery,
    Page,
    ProviderHealth,
    decode_cursor,
    encode_cursor,
    page_size,
)

LinePredicate = Callable[[Line], bool]
_MIN_TIME = datetime.min.replace(tzinfo=UTC)


def _field_value(line: Line, name: str) -> str:
    if name == "service":
        return line.service
    if name == "severity":
        return line.severity
    if name == "message":
        return line.message
    return line.labels.get(name.lower(), "")


def _filter_predicate(condition: LogFilter, source: str) -> LinePredicate:
    name = condition.field
    value = normalize_severity(condition.value) if name == "severity" else condition.value
    if condition.operator == "=":
        return lambda line: _field_value(line, name) == value
    if condition.operator == "!=":
        return lambda line: _field_value(line, name) != value
    if condition.operator == "contains":
        needle = value.casefold()
        return lambda line: needle in _field_value(line, name).casefold()
    try:
        pattern = re.compile(condition.value)
    except re.error as exc:
        raise BadQuery(f"invalid regex {condition.value!r} for {name!r}: {exc}", source=source) from None
    return lambda line: pattern.search(_field_value(line, name)) is not None


def _search_terms(search: str, source: str) -> list[str]:
    try:
        return [term.casefold() for term in shlex.split(search) if term.strip()]
    except ValueError as exc:
        raise BadQuery(f"malformed search {search!r}: {exc}", source=source) from None


def _predicates(query: LogQuery, source: str) -> list[LinePredicate]:
    checks: list[LinePredicate] = []
    expression = query.expression
    if expression.search:
        terms = _search_terms(expression.search, source)
        checks.append(lambda line: all(term in line.message.casefold() for term in terms))
    checks.extend(_filter_predicate(condition, source) for condition in expression.filters)
    if expression.severity_in:
        wanted = {normalize_severity(s) for s in expression.severity_in}
        checks.append(lambda line: line.severity in wanted)
    if query.scope.service:
        service = query.scope.service
        checks.append(lambda line: line.service == service)
    return checks


class FilesLogProvider:
    """Logs from ``*.log`` files in a folder, indexed on first use and re-indexed when a file changes.

    Scope team and environment do not apply to files and are ignored.
    """

    def __init__(self, config: FilesConfig, *, name: str = "files") -> None:
        self._config = config
        self._name = name
        self._index = FolderIndex(config, source=name)
        # The index is rebuilt in a worker thread; one rebuild or read at a time.
        self._lock = threading.Lock()

    def _check_folder(self) -> None:
        folder = self._config.path
        if not folder.is_dir():
            raise ProviderUnavailable(f"log folder {folder} does not exist", source=self._name)
        if not os.access(folder, os.R_OK | os.X_OK):
            raise ProviderUnavailable(f"log folder {folder} is not readable", source=self._name)

    def _query_sync(self, query: LogQuery, cursor: str | None) -> Page[LogEntry]:
        checks = _predicates(query, self._name)
        size = page_size(query.limit)
        with self._lock:
            self._check_folder()
            self._index.refresh()
            ordered = self._index.ordered
            stop = len(ordered)
            if query.end is not None:
                stop = bisect_left(ordered, (query.end, "", 0), key=lambda line: line.order)
                # The end of a window is inclusive.
                while stop < len(ordered) and ordered[stop].timestamp == query.end:
                    stop += 1
            if cursor:
                position = decode_cursor(cursor, source=self._name)
                try:
                    after = (datetime.fromisoformat(position["t"]), str(position["f"]), int(position["n"]))
                except (KeyError, TypeError, ValueError):
                    raise BadQuery(f"malformed cursor {cursor!r}", source=self._name) from None
                stop = min(stop, bisect_left(ordered, after, key=lambda line: line.order))
            start = query.start or _MIN_TIME
            found: list[Line] = []
            index = stop - 1
            while index >= 0 and len(found) <= size:
                line = ordered[index]
                if line.timestamp < start:
                    break
                if all(check(line) for check in checks):
                    found.append(line)
                index -= 1
        page = found[:size]
        next_cursor = None
        if len(found) > size:
            last = page[-1]
            next_cursor = encode_cursor({"t": last.timestamp.isoformat(), "f": last.file, "n": last.line_no})
        return Page[LogEntry](items=[line.entry() for line in page], next_cursor=next_cursor)

    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]:
        """Matching lines, newest first, one page at a time."""
        return await asyncio.to_thread(self._query_sync, query, cursor)

    def _context_sync(self, log_id: str, before: int, after: int) -> LogContext:
        parsed = parse_line_id(log_id)
        if parsed is None:
            raise NotFound(f"no log line {log_id!r}", source=self._name)
        key, line_no = parsed
        with self._lock:
            self._check_folder()
            self._index.refresh()
            indexed = self._index.file_by_key(key)
            position = indexed.position(line_no) if indexed else None
            if indexed is None or position is None:
                raise NotFound(f"no log line {log_id!r}", source=self._name)
            lines = indexed.lines
            return LogContext(
                anchor=lines[position].entry(),
                before=[line.entry() for line in lines[max(position - max(before, 0), 0) : position]],
                after=[line.entry() for line in lines[position + 1 : position + 1 + max(after, 0)]],
            )

    async def context(self, log_id: str, *, before: int = 20, after: int = 20) -> LogContext:
        """The lines before and after one line, in the same file, oldest first."""
        return await asyncio.to_thread(self._context_sync, log_id, before, after)

    async def health(self) -> ProviderHealth:
        """Whether the folder is readable, and how many log files it holds."""
        try:
            self._check_folder()
            files = sum(1 for p in self._config.path.glob(self._config.glob) if p.is_file())
        except ProviderUnavailable as exc:
            return ProviderHealth(capability="log", provider=self._name, status="down", message=exc.message)
        return ProviderHealth(
            capability="log",
            provider=self._name,
            status="ok" if files else "degraded",
            message=f"{files} file(s) matching {self._config.glob} in {self._config.path}",
        )

"""The ``loki`` log provider: LogQuery through Loki's ``/loki/api/v1/query_range``, newest first.

Paging: Loki has no ``search_after``, and its ``end`` is exclusive. A cursor holds the window's start, the next
``end`` (the last line's nanosecond + 1, so lines sharing that nanosecond are asked for again) and the digests of
the lines of that nanosecond already shown, which the next page drops. Each page asks for enough lines to get past
them, so paging never skips nor repeats a line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from adapters.loki.config import SOURCE, LokiConfig
from adapters.loki.entries import LokiLine, parse_line_id, to_ns
from adapters.loki.logql import Matcher, build_logql, selector
from core_client.clock import Clock
from core_client.errors import BadQuery, NotFound, ProviderUnavailable
from core_client.schemas import (
    LogContext,
    LogEntry,
    LogQuery,
    Page,
    ProviderHealth,
    decode_cursor,
    encode_cursor,
    page_size,
)

QUERY_RANGE = "/loki/api/v1/query_range"
_NS_PER_SECOND = 1_000_000_000


class LokiLogs:
    """Reads log lines, and the lines around one, from one Loki (one tenant)."""

    def __init__(self, config: LokiConfig, *, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._http = config.rest_client()

    async def _lines(
        self, logql: str, *, start_ns: int, end_ns: int, limit: int, direction: str
    ) -> list[LokiLine]:
        """Lines of ``[start_ns, end_ns)``, sorted in ``direction`` (ties broken by digest)."""
        params = {
            "query": logql,
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(min(limit, self.config.max_entries)),
            "direction": direction,
        }
        try:
            body = (await self._http.read("GET", QUERY_RANGE, params=params)).json()
        except BadQuery as exc:
            raise BadQuery(f"Loki rejected {logql}: {exc.message}", source=SOURCE) from None
        data = body.get("data") if isinstance(body, Mapping) and body.get("status") == "success" else None
        if not isinstance(data, Mapping):
            raise ProviderUnavailable(
                f"GET {QUERY_RANGE} answered without data: {str(body)[:200]}", source=SOURCE
            )
        if data.get("resultType") != "streams":
            raise BadQuery(
                f"{logql} is not a log query: Loki returned {data.get('resultType')}, expected streams",
                source=SOURCE,
            )
        lines = [
            LokiLine(
                {str(k): str(v) for k, v in (result.get("stream") or {}).items()}, int(value[0]), value[1]
            )
            for result in data.get("result") or []
            for value in result.get("values") or []
        ]
        lines.sort(key=lambda line: (line.ns, line.digest), reverse=direction == "backward")
        return lines

    def _logql(self, query: LogQuery) -> str:
        raw = query.metadata.get("logql")
        if raw is None:
            return build_logql(query, self.config)
        if not (isinstance(raw, str) and raw.strip()):
            raise BadQuery("metadata.logql must be a non-empty LogQL string", source=SOURCE)
        return raw

    def _window(self, query: LogQuery, position: Mapping[str, Any], cursor: str | None) -> tuple[int, int]:
        if cursor:
            try:
                return int(position["s"]), int(position["e"])
            except (KeyError, TypeError, ValueError):
                raise BadQuery(f"malformed cursor {cursor!r}", source=SOURCE) from None
        end = query.end or self._clock.now()
        start = query.start or end - timedelta(seconds=self.config.lookback_seconds)
        if start >= end:
            raise BadQuery(f"start {start.isoformat()} is not before end {end.isoformat()}", source=SOURCE)
        return to_ns(start), to_ns(end)

    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]:
        """Matching lines of ``[start, end)``, newest first (default window: ``lookback_seconds`` before now).

        ``metadata.logql`` replaces the built query verbatim (the scope is then not applied).
        """
        size = page_size(query.limit)
        position = decode_cursor(cursor, source=SOURCE) if cursor else {}
        start_ns, end_ns = self._window(query, position, cursor)
        seen = {str(d) for d in position.get("seen") or []}
        logql = self._logql(query)
        limit = min(size + len(seen) + 1, self.config.max_entries)
        lines = await self._lines(logql, start_ns=start_ns, end_ns=end_ns, limit=limit, direction="backward")
        fresh = [line for line in lines if not (line.ns == end_ns - 1 and line.digest in seen)]
        page = fresh[:size]
        more = len(fresh) > size or (len(lines) >= limit and bool(fresh))
        next_cursor = None
        if more and page:
            last = page[-1].ns
            shown = {line.digest for line in page if line.ns == last}
            if last == end_ns - 1:
                shown |= seen
            next_cursor = encode_cursor({"s": start_ns, "e": last + 1, "seen": sorted(shown)})
        return Page[LogEntry](items=[line.entry(self.config) for line in page], next_cursor=next_cursor)

    async def context(self, log_id: str, *, before: int = 20, after: int = 20) -> LogContext:
        """The lines before and after one line that share its context labels, oldest first."""
        ref = parse_line_id(log_id)
        if ref is None:
            raise NotFound(f"no Loki line {log_id!r} (not an id this provider made)", source=SOURCE)
        logql = selector([Matcher(k, "=", v) for k, v in sorted(ref.labels.items())], self.config)
        window = self.config.context_window_seconds * _NS_PER_SECOND
        max_entries = self.config.max_entries
        same, older, newer = await asyncio.gather(
            self._lines(logql, start_ns=ref.ns, end_ns=ref.ns + 1, limit=max_entries, direction="forward"),
            self._around(logql, ref.ns - window, ref.ns, before, "backward"),
            self._around(logql, ref.ns + 1, ref.ns + 1 + window, after, "forward"),
        )
        at = next((i for i, line in enumerate(same) if line.digest == ref.digest), None)
        if at is None:
            raise NotFound(f"no Loki line {log_id!r} at {ref.ns} ns in {logql}", source=SOURCE)
        earlier = [*reversed(older), *same[:at]][-before:] if before > 0 else []
        later = [*same[at + 1 :], *newer][: max(after, 0)]
        return LogContext(
            anchor=same[at].entry(self.config),
            before=[line.entry(self.config) for line in earlier],
            after=[line.entry(self.config) for line in later],
        )

    async def _around(
        self, logql: str, start_ns: int, end_ns: int, count: int, direction: str
    ) -> list[LokiLine]:
        if count <= 0:
            return []
        return await self._lines(logql, start_ns=start_ns, end_ns=end_ns, limit=count, direction=direction)

    async def health(self) -> ProviderHealth:
        """Loki's build information: proves the API answers (with our tenant and credentials) and its version."""
        try:
            info = await self._http.get_json("/loki/api/v1/status/buildinfo")
        except ProviderUnavailable as exc:
            return ProviderHealth(capability="log", provider=SOURCE, status="down", message=exc.message)
        version = info.get("version", "unknown version") if isinstance(info, Mapping) else "unknown version"
        tenant = f", tenant {self.config.tenant}" if self.config.tenant else ""
        return ProviderHealth(
            capability="log", provider=SOURCE, status="ok", message=f"Loki {version}{tenant}"
        )

    async def aclose(self) -> None:
        await self._http.aclose()

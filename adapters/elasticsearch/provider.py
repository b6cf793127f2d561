"""The ``elasticsearch`` log provider: LogQuery through ``_search``, newest first, paged with ``search_after``.

Paging is exact: hits are sorted by the timestamp as nanoseconds, then by a tiebreaker, and the cursor carries the
last hit's sort values. The tiebreaker is ``_shard_doc`` inside a point in time opened by the first page (its id
travels in the cursor and it is closed after the last page), or a configured unique field (``tiebreaker_field``).
A missing index is ``NotFound`` (a misspelt ``index`` is a configuration mistake, not an empty result); a pattern
that matches no index is an empty page, as Elasticsearch answers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from adapters.elasticsearch.config import SOURCE, ElasticsearchConfig
from adapters.elasticsearch.hits import hit_entry, lookup, parse_line_id, parse_ns
from adapters.elasticsearch.search import build_query, iso_nanos, sort_clause, time_range
from core_client.errors import BadQuery, NotFound, OpsPilotError, ProviderUnavailable
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

# Lines sharing the anchor's exact time that context reads, to place the anchor among them.
SAME_INSTANT_MAX = 1000
_CLUSTER_STATUS = {"green": "ok", "yellow": "ok", "red": "degraded"}


class ElasticsearchLogs:
    """Reads log documents, and the documents around one, from an index pattern of one cluster."""

    def __init__(self, config: ElasticsearchConfig) -> None:
        self.config = config
        self._http = config.rest_client()
        self._index = quote(config.index, safe=",*")

    def _missing_index(self, exc: NotFound) -> NotFound:
        return NotFound(
            f"index {self.config.index!r} does not exist (check 'index' in the configuration): {exc.message}",
            source=SOURCE,
        )

    async def _search(self, path: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """The hits, and the point in time's (possibly renewed) id when the search ran in one."""
        try:
            answer = (await self._http.read("POST", path, json=body)).json()
        except NotFound as exc:
            if "search_context_missing_exception" in exc.message:
                raise BadQuery(
                    "the cursor's point in time has expired (pit_keep_alive "
                    f"{self.config.pit_keep_alive}); run the query again",
                    source=SOURCE,
                ) from None
            raise self._missing_index(exc) from None
        hits = answer.get("hits", {}).get("hits") if isinstance(answer, Mapping) else None
        if not isinstance(hits, list):
            raise ProviderUnavailable(
                f"POST {path} answered without hits: {str(answer)[:200]}", source=SOURCE
            )
        return hits, str(answer["pit_id"]) if answer.get("pit_id") else None

    async def _open_pit(self) -> str:
        path = f"/{self._index}/_pit"
        try:
            answer = (
                await self._http.read("POST", path, params={"keep_alive": self.config.pit_keep_alive})
            ).json()
        except NotFound as exc:
            raise self._missing_index(exc) from None
        return str(answer["id"])

    async def _close_pit(self, pit: str) -> None:
        # Best effort: a point in time left open lapses by itself after pit_keep_alive.
        try:
            await self._http.write("DELETE", "/_pit", json={"id": pit})
        except OpsPilotError:
            return

    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]:
        """Matching documents of ``[start, end)`` (no bounds: the whole index), newest first."""
        size = page_size(query.limit)
        position = decode_cursor(cursor, source=SOURCE) if cursor else {}
        after = position.get("after")
        if cursor and not isinstance(after, list):
            raise BadQuery(f"malformed cursor {cursor!r}", source=SOURCE)
        body: dict[str, Any] = {
            "size": size + 1,
            "query": build_query(query, self.config),
            "sort": sort_clause(self.config),
            "track_total_hits": False,
        }
        if after:
            body["search_after"] = after
        pit: str | None = None
        if self.config.tiebreaker_field:
            hits, _ = await self._search(f"/{self._index}/_search", body)
        else:
            pit = str(position["pit"]) if position.get("pit") else await self._open_pit()
            body["pit"] = {"id": pit, "keep_alive": self.config.pit_keep_alive}
            hits, renewed = await self._search("/_search", body)
            pit = renewed or pit
        page = hits[:size]
        next_cursor = None
        if len(hits) > size:
            next_cursor = encode_cursor({"after": page[-1]["sort"], **({"pit": pit} if pit else {})})
        elif pit:
            await self._close_pit(pit)
        return Page[LogEntry](
            items=[hit_entry(hit, self.config.fields) for hit in page], next_cursor=next_cursor
        )

    async def context(self, log_id: str, *, before: int = 20, after: int = 20) -> LogContext:
        """The documents before and after one, of its service and environment, oldest first."""
        ref = parse_line_id(log_id)
        if ref is None:
            raise NotFound(
                f"no Elasticsearch document {log_id!r} (not an id this provider made)", source=SOURCE
            )
        index, doc_id = ref
        try:
            found = await self._http.get_json(f"/{quote(index, safe='')}/_doc/{quote(doc_id, safe='')}")
        except NotFound:
            raise NotFound(f"no document {doc_id!r} in index {index!r}", source=SOURCE) from None
        fields = self.config.fields
        source = found.get("_source") or {}
        ns = parse_ns(lookup(source, fields.timestamp))
        same_service = [
            {"term": {field: value}}
            for field in (fields.service, fields.environment)
            if field and (value := lookup(source, field)) is not None
        ]
        instant, window = iso_nanos(ns), self.config.context_window_seconds * 1_000_000_000
        earliest, latest = iso_nanos(ns - window), iso_nanos(ns + window)
        same, older, newer = await asyncio.gather(
            self._around(
                same_service, time_range(fields.timestamp, gte=instant, lte=instant), SAME_INSTANT_MAX, "asc"
            ),
            self._around(
                same_service, time_range(fields.timestamp, gte=earliest, lt=instant), before, "desc"
            ),
            self._around(same_service, time_range(fields.timestamp, gt=instant, lte=latest), after, "asc"),
        )
        same.sort(key=lambda hit: (str(hit.get("_index")), str(hit.get("_id"))))
        at = next(
            (i for i, hit in enumerate(same) if (hit.get("_index"), hit.get("_id")) == (index, doc_id)), None
        )
        anchor = {**found, "sort": [ns]}
        if at is None:
            same, at = [anchor], 0
        earlier = [*reversed(older), *same[:at]][-before:] if before > 0 else []
        later = [*same[at + 1 :], *newer][: max(after, 0)]
        return LogContext(
            anchor=hit_entry(anchor, fields),
            before=[hit_entry(hit, fields) for hit in earlier],
            after=[hit_entry(hit, fields) for hit in later],
        )

    async def _around(
        self, same_service: list[dict[str, Any]], window: dict[str, Any], count: int, order: str
    ) -> list[dict[str, Any]]:
        if count <= 0:
            return []
        timestamp = self.config.fields.timestamp
        body = {
            "size": count,
            "query": {"bool": {"filter": [*same_service, window]}},
            "sort": [{timestamp: {"order": order, "numeric_type": "date_nanos"}}],
            "track_total_hits": False,
        }
        hits, _ = await self._search(f"/{self._index}/_search", body)
        return hits

    async def health(self) -> ProviderHealth:
        """The cluster's health: green and yellow are ``ok``, red is ``degraded``."""
        try:
            info = await self._http.get_json("/_cluster/health")
        except ProviderUnavailable as exc:
            return ProviderHealth(capability="log", provider=SOURCE, status="down", message=exc.message)
        color = str(info.get("status", "unknown"))
        return ProviderHealth(
            capability="log",
            provider=SOURCE,
            status=_CLUSTER_STATUS.get(color, "degraded"),
            message=f"cluster {info.get('cluster_name', '?')} is {color} ({info.get('number_of_nodes', '?')} nodes)",
        )

    async def aclose(self) -> None:
        await self._http.aclose()

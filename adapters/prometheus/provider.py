"""The ``prometheus`` metric provider: MetricQuery through the Prometheus HTTP API (``/api/v1``)."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import Field

from adapters.prometheus.connection import ScopeLabels, ServerConnection
from adapters.prometheus.promql import (
    SERVER_MAX_POINTS,
    QueryRange,
    build_promql,
    build_rate_promql,
    match_selector,
    query_range,
)
from core_client.analysis.semantics import rate_window
from core_client.clock import Clock
from core_client.errors import BadQuery, ProviderUnavailable
from core_client.schemas import (
    MetricDescriptor,
    MetricPoint,
    MetricQuery,
    MetricSeries,
    Page,
    ProviderHealth,
    QueryScope,
    decode_cursor,
    encode_cursor,
    page_size,
)

SOURCE = "prometheus"
# Label names are fetched for at most this many metrics per describe(), a few requests at a time.
DESCRIBE_CONCURRENCY = 8
# Series names that share their family's metadata under the family name (histograms, summaries, counters).
FAMILY_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info")
# Prometheus scrapes every minute unless its configuration says otherwise.
DEFAULT_SCRAPE_SECONDS = 60.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
UNIT_SUFFIXES = ("seconds", "bytes", "ratio", "percent", "celsius", "meters", "volts", "amperes", "joules")


class PrometheusConfig(ServerConnection):
    """``OPSORCH_METRIC_CONFIG`` for ``prometheus``."""

    scope_labels: ScopeLabels = Field(default_factory=lambda: ScopeLabels(service="job"))
    max_points: int = Field(default=SERVER_MAX_POINTS, ge=2, le=SERVER_MAX_POINTS)
    query_timeout: float | None = Field(
        default=None, gt=0, description="Prometheus' own evaluation limit per query, in seconds"
    )
    describe_labels_limit: int = Field(default=200, ge=0)


class PrometheusMetrics:
    """Reads series and metric descriptions from one Prometheus server."""

    def __init__(self, config: PrometheusConfig, *, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._http = config.rest_client(source=SOURCE)
        self._scrape_interval: float | None = None

    async def _data(self, path: str, params: Any = None) -> Any:
        body = (await self._http.read("GET", path, params=params)).json()
        if not isinstance(body, Mapping) or body.get("status") != "success":
            raise ProviderUnavailable(f"GET {path} answered without data: {str(body)[:200]}", source=SOURCE)
        return body.get("data")

    async def query(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        """Series of the query's window, a page at a time (``metadata.limit`` series per page, default 50).

        ``metadata.promql`` replaces the structured expression (the scope is then not applied). A cursor pins the
        window of the first page, so later pages read the same range.
        """
        position = decode_cursor(cursor, source=SOURCE) if cursor else {}
        window = self._window(query, position)
        raw = query.metadata.get("promql")
        if raw is not None and not (isinstance(raw, str) and raw.strip()):
            raise BadQuery("metadata.promql must be a non-empty PromQL string", source=SOURCE)
        scope = self.config.scope_labels.matchers(query.scope, source=SOURCE)
        promql = raw if isinstance(raw, str) else build_promql(query.expression, scope, source=SOURCE)
        return await self._page(query, promql, window, position)

    async def rates(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        """Per-second rates of the query's counter: ``rate()`` over a window fitted to the step (a step plus a
        scrape interval, at least four scrape intervals); with aggregation ``sum``, summed by ``group_by`` and the
        scope labels, so services and environments are never added together."""
        position = decode_cursor(cursor, source=SOURCE) if cursor else {}
        window = self._window(query, position)
        scope = self.config.scope_labels.matchers(query.scope, source=SOURCE)
        rate_seconds = int(
            position.get("rateWindow") or rate_window(window.step, await self.scrape_interval())
        )
        keep = [
            label for label in self.config.scope_labels.labels() if label not in query.expression.group_by
        ]
        promql = build_rate_promql(query.expression, scope, rate_seconds, keep=keep, source=SOURCE)
        return await self._page(query, promql, window, position, rate_window_seconds=rate_seconds)

    async def scrape_interval(self) -> float:
        """The longest scrape interval of the server's active targets (a rate needs samples from every target),
        read once; Prometheus' own default of a minute when the server does not say."""
        if self._scrape_interval is None:
            data = await self._data("/api/v1/targets", {"state": "active"})
            targets = data.get("activeTargets", []) if isinstance(data, Mapping) else []
            intervals = [
                seconds
                for target in targets
                if isinstance(target, Mapping)
                and (seconds := _duration_seconds(str(target.get("scrapeInterval", "")))) is not None
            ]
            self._scrape_interval = max(intervals, default=DEFAULT_SCRAPE_SECONDS)
        return self._scrape_interval

    async def _page(
        self,
        query: MetricQuery,
        promql: str,
        window: QueryRange,
        position: Mapping[str, Any],
        *,
        rate_window_seconds: int | None = None,
    ) -> Page[MetricSeries]:
        params = {
            "query": promql,
            "start": window.start.timestamp(),
            "end": window.end.timestamp(),
            "step": window.step,
        }
        if self.config.query_timeout is not None:
            params["timeout"] = self.config.query_timeout
        data = await self._data("/api/v1/query_range", params)
        if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
            raise BadQuery(f"expected a range of series (matrix), Prometheus returned {kind}", source=SOURCE)
        results = sorted(data.get("result") or [], key=lambda r: sorted((r.get("metric") or {}).items()))
        link = self.graph_link(promql, window)
        service_label = self.config.scope_labels.service
        limit = page_size(_int_or_none(query.metadata.get("limit")))
        offset = int(position.get("offset", 0))
        extra = {"rateWindow": rate_window_seconds} if rate_window_seconds else {}
        items = [
            self._series(
                result,
                query,
                promql=promql,
                link=link,
                step=window.step,
                service_label=service_label,
                extra=extra,
            )
            for result in results[offset : offset + limit]
        ]
        more = offset + limit < len(results)
        next_cursor = (
            encode_cursor(
                {
                    "offset": offset + limit,
                    "start": window.start.timestamp(),
                    "end": window.end.timestamp(),
                    **extra,
                }
            )
            if more
            else None
        )
        return Page[MetricSeries](items=items, next_cursor=next_cursor)

    def _window(self, query: MetricQuery, position: Mapping[str, Any]) -> QueryRange:
        start, end = query.start, query.end
        if "start" in position and "end" in position:
            start = datetime.fromtimestamp(float(position["start"]), UTC)
            end = datetime.fromtimestamp(float(position["end"]), UTC)
        return query_range(
            start=start,
            end=end,
            step=query.step,
            now=self._clock.now(),
            max_points=self.config.max_points,
            source=SOURCE,
        )

    def _series(
        self,
        result: Mapping[str, Any],
        query: MetricQuery,
        *,
        promql: str,
        link: str,
        step: int,
        service_label: str | None,
        extra: Mapping[str, Any],
    ) -> MetricSeries:
        labels = {str(k): str(v) for k, v in (result.get("metric") or {}).items()}
        name = labels.pop("__name__", "") or query.expression.metric_name or promql
        points = [
            MetricPoint(timestamp=datetime.fromtimestamp(float(ts), UTC), value=value)
            for ts, text in result.get("values") or []
            # NaN and infinities (a division by zero) have no place on a chart nor in JSON.
            if math.isfinite(value := float(text))
        ]
        service = (labels.get(service_label, "") if service_label else "") or query.scope.service or ""
        return MetricSeries(
            name=name,
            service=service,
            labels=labels,
            points=points,
            url=link,
            metadata={"promql": promql, "step": step, **extra},
        )

    def graph_link(self, promql: str, window: QueryRange) -> str:
        """The Prometheus graph page showing ``promql`` over exactly this window."""
        params = {
            "g0.expr": promql,
            "g0.tab": "0",
            "g0.range_input": f"{max(1, math.ceil(window.seconds))}s",
            "g0.end_input": window.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "g0.step_input": str(window.step),
        }
        return f"{self.config.link_base}/graph?{urlencode(params)}"

    async def describe(self, scope: QueryScope | None = None) -> list[MetricDescriptor]:
        """Every metric name (in the scope, if given) with its type, help, unit and label names.

        Label names are read for the first ``describe_labels_limit`` metrics only; the others say so in
        ``metadata.labelsOmitted``.
        """
        matchers = self.config.scope_labels.matchers(scope, source=SOURCE)
        match = match_selector(matchers)
        match_params = {"match[]": match} if match else None
        names, metadata = await asyncio.gather(
            self._data("/api/v1/label/__name__/values", match_params),
            self._data("/api/v1/metadata"),
        )
        names = sorted(str(n) for n in names or [])
        described = names[: self.config.describe_labels_limit]
        gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

        async def label_names(name: str) -> list[str]:
            selector = f"{name}{match}" if match else name
            async with gate:
                found = await self._data("/api/v1/labels", {"match[]": selector})
            return sorted(str(label) for label in found or [] if label != "__name__")

        labels = dict(zip(described, await asyncio.gather(*(label_names(n) for n in described)), strict=True))
        return [self._descriptor(name, metadata or {}, labels.get(name)) for name in names]

    def _descriptor(
        self, name: str, metadata: Mapping[str, Any], labels: list[str] | None
    ) -> MetricDescriptor:
        family = _family_metadata(name, metadata)
        kind = str(family.get("type") or "unknown")
        unit = str(family.get("unit") or "") or _unit_from_name(name)
        extra: dict[str, Any] = {"labelsOmitted": True} if labels is None else {}
        return MetricDescriptor(
            name=name,
            type="unknown" if kind == "untyped" else kind,
            description=str(family.get("help") or ""),
            labels=labels or [],
            unit=unit,
            url=f"{self.config.link_base}/graph?{urlencode({'g0.expr': name, 'g0.tab': '0'})}",
            metadata=extra,
        )

    async def health(self) -> ProviderHealth:
        """Prometheus' build information: proves the API answers, and says which version it is."""
        try:
            info = await self._data("/api/v1/status/buildinfo")
        except ProviderUnavailable as exc:
            return ProviderHealth(capability="metric", provider=SOURCE, status="down", message=exc.message)
        version = info.get("version", "unknown version") if isinstance(info, Mapping) else "unknown version"
        return ProviderHealth(
            capability="metric", provider=SOURCE, status="ok", message=f"Prometheus {version}"
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _family_metadata(name: str, metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    candidates = [name, *(name.removesuffix(s) for s in FAMILY_SUFFIXES if name.endswith(s))]
    for candidate in candidates:
        entries = metadata.get(candidate)
        if entries:
            return entries[0] if isinstance(entries[0], Mapping) else {}
    return {}


def _unit_from_name(name: str) -> str:
    base = name
    for suffix in FAMILY_SUFFIXES:
        base = base.removesuffix(suffix)
    return next((unit for unit in UNIT_SUFFIXES if base.endswith(f"_{unit}")), "")


def _duration_seconds(text: str) -> float | None:
    """A Prometheus duration (``15s``, ``1m30s``) in seconds; None when it is not one."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadQuery(f"metadata.limit must be an integer, got {value!r}", source=SOURCE)
    return value

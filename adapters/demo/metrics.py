"""Metrics of the demo world: label filters, aggregation across series, group-by and downsampling."""

from __future__ import annotations

import json
import re
import sqlite3
from array import array
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.demo.base import WorldProvider
from core_client.errors import BadQuery
from core_client.schemas import (
    MetricDescriptor,
    MetricFilter,
    MetricPoint,
    MetricQuery,
    MetricSeries,
    Page,
    QueryScope,
    offset_page,
)

MAX_POINTS = 11_000
_AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "avg": lambda xs: sum(xs) / len(xs),
    "sum": sum,
    "max": max,
    "min": min,
    "count": len,
}


def _matches(labels: dict[str, str], condition: MetricFilter) -> bool:
    value = labels.get(condition.label, "")
    if condition.operator == "=":
        return value == condition.value
    if condition.operator == "!=":
        return value != condition.value
    matched = re.fullmatch(condition.value, value) is not None
    return matched if condition.operator == "=~" else not matched


class DemoMetrics(WorldProvider):
    capability = "metric"

    async def describe(self, scope: QueryScope | None = None) -> list[MetricDescriptor]:
        rows = await self.world.run(
            lambda c: c.execute("SELECT doc, services FROM metric_descriptor ORDER BY name").fetchall()
        )
        found = []
        for doc, services in rows:
            if scope and scope.service and scope.service not in json.loads(services):
                continue
            found.append(MetricDescriptor.model_validate(json.loads(doc)))
        return found

    async def query(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        return offset_page(await self._series_of(query), cursor=cursor, limit=200, source="demo")

    async def rates(self, query: MetricQuery, *, cursor: str | None = None) -> Page[MetricSeries]:
        """Per-second rates of a counter. The world stores a counter as its increase in each point's step, so a
        rate is that increase over the step; sums keep services, environments and teams apart."""
        kind = await self.world.run(
            lambda c: c.execute(
                "SELECT json_extract(doc, '$.type') FROM metric_descriptor WHERE name = ?",
                (query.expression.metric_name,),
            ).fetchone()
        )
        if kind is not None and kind[0] != "counter":
            raise BadQuery(
                f"{query.expression.metric_name} is a {kind[0]}: only a counter has a rate", source="demo"
            )
        expression = query.expression
        if expression.aggregation not in (None, "sum"):
            raise BadQuery(
                f"rates can only be summed, not combined with {expression.aggregation}", source="demo"
            )
        if expression.aggregation == "sum":
            keep = [k for k in ("service", "environment", "team") if k not in expression.group_by]
            expression = expression.model_copy(update={"group_by": [*expression.group_by, *keep]})
        found = await self._series_of(query.model_copy(update={"expression": expression}), per_second=True)
        return offset_page(found, cursor=cursor, limit=200, source="demo")

    async def _series_of(self, query: MetricQuery, *, per_second: bool = False) -> list[MetricSeries]:
        expression = query.expression
        for condition in expression.filters:
            if condition.operator in ("=~", "!~"):
                try:
                    re.compile(condition.value)
                except re.error as exc:
                    raise BadQuery(
                        f"invalid regex {condition.value!r} for label {condition.label!r}: {exc}",
                        source="demo",
                    ) from None
        end = query.end or self.world.now
        start = query.start or end - timedelta(hours=1)
        if start >= end:
            raise BadQuery("start must be before end", source="demo")
        if query.step is not None and query.step <= 0:
            raise BadQuery("step must be a positive number of seconds", source="demo")
        now_s = int(self.world.now.timestamp())
        start_s, end_s = int(start.timestamp()) - now_s, int(end.timestamp()) - now_s
        span = end_s - start_s
        step = query.step or max(60, span // 240 // 60 * 60)
        if span // step > MAX_POINTS:
            raise BadQuery(
                f"{span // step} points requested; use a step of at least {span // MAX_POINTS + 1}s",
                source="demo",
            )

        def read(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, int, int, bytes]]:
            known = conn.execute(
                "SELECT 1 FROM metric_descriptor WHERE name = ?", (expression.metric_name,)
            ).fetchone()
            if known is None:
                names = [r[0] for r in conn.execute("SELECT name FROM metric_descriptor ORDER BY name")]
                raise BadQuery(
                    f"unknown metric {expression.metric_name!r}; known: {', '.join(names)}", source="demo"
                )
            sql = "SELECT service, team, environment, labels, step, start_s, points FROM metric_series WHERE name = ?"
            params: list[object] = [expression.metric_name]
            for column, value in (
                ("service", query.scope.service),
                ("team", query.scope.team),
                ("environment", query.scope.environment),
            ):
                if value:
                    sql += f" AND {column} = ?"
                    params.append(value)
            return conn.execute(sql + " ORDER BY service, environment, labels, step DESC", params).fetchall()

        rows = await self.world.run(read)
        grouped: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
        for service, team, env, labels_json, native, first, blob in rows:
            labels = {"service": service, "environment": env, "team": team, **json.loads(labels_json)}
            if not all(_matches(labels, f) for f in expression.filters):
                continue
            key = tuple(sorted(labels.items()))
            values = array("f")
            values.frombytes(blob)
            # Coarse rows come first; the last day's 1-minute points then overwrite the 5-minute ones.
            series = grouped.setdefault(key, {})
            lo = max(0, (start_s - first) // native)
            hi = min(len(values), (end_s - first) // native + 1)
            for index in range(lo, hi):
                series[first + index * native] = values[index] / native if per_second else values[index]
        downsampled = {key: self._downsample(points, start_s, end_s, step) for key, points in grouped.items()}
        out: list[MetricSeries] = []
        if expression.aggregation:
            buckets: dict[tuple[tuple[str, str], ...], dict[int, list[float]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for key, points in downsampled.items():
                labels = dict(key)
                group = tuple((g, labels.get(g, "")) for g in expression.group_by)
                for t, v in points.items():
                    buckets[group][t].append(v)
            function = _AGGREGATE[expression.aggregation]
            for group, collected in sorted(buckets.items()):
                out.append(
                    self._series(
                        expression.metric_name,
                        dict(group),
                        {t: float(function(vs)) for t, vs in collected.items()},
                        now_s,
                    )
                )
        else:
            for key, points in sorted(downsampled.items()):
                out.append(self._series(expression.metric_name, dict(key), points, now_s))
        return out

    @staticmethod
    def _downsample(points: dict[int, float], start_s: int, end_s: int, step: int) -> dict[int, float]:
        sums: dict[int, list[float]] = defaultdict(list)
        for t, v in points.items():
            if start_s <= t < end_s:
                sums[start_s + (t - start_s) // step * step].append(v)
        return {t: sum(vs) / len(vs) for t, vs in sorted(sums.items())}

    def _series(
        self, name: str, labels: dict[str, str], points: dict[int, float], now_s: int
    ) -> MetricSeries:
        return MetricSeries(
            name=name,
            service=labels.get("service", ""),
            labels=labels,
            # Built without validation: the times are aware UTC datetimes and the values floats already.
            points=[
                MetricPoint.model_construct(
                    timestamp=datetime.fromtimestamp(now_s + t, tz=UTC), value=round(v, 4)
                )
                for t, v in sorted(points.items())
            ],
        )

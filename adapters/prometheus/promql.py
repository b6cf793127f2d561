"""MetricQuery to PromQL, and the range (start, end, step) a query_range call asks for.

Pure functions: nothing here talks to a server, so the translation is easy to read and to test.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from core_client.errors import BadQuery
from core_client.schemas import MetricExpression, MetricFilter

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Prometheus refuses a range query with more points per series than this (the "11,000 points" limit).
SERVER_MAX_POINTS = 11_000
# A window without an explicit step is cut into about this many points, as the Prometheus UI does.
DEFAULT_POINTS = 250
DEFAULT_WINDOW = timedelta(hours=1)
# Grouping without an aggregation averages, which keeps the metric's unit (seconds stay seconds).
DEFAULT_GROUP_AGGREGATION = "avg"


def quote(value: str) -> str:
    """A PromQL double-quoted string literal holding exactly ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _label_name(name: str, *, what: str, source: str) -> str:
    if not LABEL_NAME.match(name):
        raise BadQuery(f"{what} {name!r} is not a valid Prometheus label name", source=source)
    return name


def selector(metric_name: str, matchers: list[MetricFilter], *, source: str) -> str:
    """``metric{label="value", ...}`` with every value escaped."""
    if not METRIC_NAME.match(metric_name):
        raise BadQuery(
            f"metric name {metric_name!r} is not a valid Prometheus metric name "
            "(letters, digits, '_' and ':'; pass raw PromQL as metadata.promql)",
            source=source,
        )
    parts = [
        f"{_label_name(m.label, what='filter label', source=source)}{m.operator}{quote(m.value)}"
        for m in matchers
    ]
    return f"{metric_name}{{{', '.join(parts)}}}" if parts else metric_name


def build_promql(expression: MetricExpression, scope_matchers: dict[str, str], *, source: str) -> str:
    """The PromQL for a structured query: the selector, narrowed by scope, aggregated ``by (group_by)``."""
    filters = [
        *(MetricFilter(label=label, operator="=", value=value) for label, value in scope_matchers.items()),
        *expression.filters,
    ]
    inner = selector(expression.metric_name, filters, source=source)
    aggregation = expression.aggregation or (DEFAULT_GROUP_AGGREGATION if expression.group_by else None)
    if aggregation is None:
        return inner
    if not expression.group_by:
        return f"{aggregation}({inner})"
    labels = ", ".join(_label_name(g, what="group-by label", source=source) for g in expression.group_by)
    return f"{aggregation} by ({labels}) ({inner})"


def build_rate_promql(
    expression: MetricExpression,
    scope_matchers: dict[str, str],
    window_seconds: int,
    *,
    keep: list[str],
    source: str,
) -> str:
    """``rate(selector[window])``, and with aggregation ``sum``: ``sum by (group_by, keep) (rate(...))``.

    Only a sum of rates means something (an average of rates hides a busy instance behind idle ones)."""
    filters = [
        *(MetricFilter(label=label, operator="=", value=value) for label, value in scope_matchers.items()),
        *expression.filters,
    ]
    inner = f"rate({selector(expression.metric_name, filters, source=source)}[{window_seconds}s])"
    if expression.aggregation is None:
        return inner
    if expression.aggregation != "sum":
        raise BadQuery(f"rates can only be summed, not combined with {expression.aggregation}", source=source)
    labels = [*expression.group_by, *(k for k in keep if k not in expression.group_by)]
    names = ", ".join(_label_name(g, what="group-by label", source=source) for g in labels)
    return f"sum by ({names}) ({inner})"


def match_selector(scope_matchers: dict[str, str]) -> str | None:
    """A series selector matching everything in a scope (for ``match[]``), or None for no scope."""
    if not scope_matchers:
        return None
    return "{" + ", ".join(f"{label}={quote(value)}" for label, value in scope_matchers.items()) + "}"


@dataclass(frozen=True)
class QueryRange:
    start: datetime
    end: datetime
    step: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def query_range(
    *,
    start: datetime | None,
    end: datetime | None,
    step: int | None,
    now: datetime,
    max_points: int,
    source: str,
) -> QueryRange:
    """The window (default: the hour before now) and a step that keeps every series within ``max_points``."""
    end = end or now
    start = start or end - DEFAULT_WINDOW
    if start >= end:
        raise BadQuery(f"start {start.isoformat()} is not before end {end.isoformat()}", source=source)
    if step is not None and step <= 0:
        raise BadQuery(f"step must be a positive number of seconds, got {step}", source=source)
    window = (end - start).total_seconds()
    wanted = step if step is not None else max(1, math.ceil(window / DEFAULT_POINTS))
    # points = window / step + 1, so the smallest step that fits is window / (max_points - 1).
    smallest = max(1, math.ceil(window / max(max_points - 1, 1)))
    return QueryRange(start=start, end=end, step=max(wanted, smallest))

"""Metric queries, series and descriptors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime

Aggregation = Literal["avg", "sum", "max", "min", "count"]
LabelOperator = Literal["=", "!=", "=~", "!~"]


class MetricFilter(StrictCamelModel):
    label: str
    operator: LabelOperator = "="
    value: str


class MetricExpression(StrictCamelModel):
    metric_name: str
    aggregation: Aggregation | None = None
    filters: list[MetricFilter] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=list)


class MetricQuery(StrictCamelModel):
    """A metric over a window at ``step`` seconds; ``metadata.promql`` passes raw PromQL where supported."""

    expression: MetricExpression
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    step: int | None = None
    scope: QueryScope = Field(default_factory=QueryScope)
    metadata: JsonObject = Field(default_factory=dict)


class MetricPoint(CamelModel):
    timestamp: UtcDatetime
    value: float


class MetricSeries(CamelModel):
    name: str
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    points: list[MetricPoint] = Field(default_factory=list)
    url: str = ""
    metadata: JsonObject = Field(default_factory=dict)


MetricType = Literal["counter", "gauge", "histogram", "summary", "unknown"]


class MetricDescriptor(CamelModel):
    name: str
    type: str = "gauge"
    description: str = ""
    labels: list[str] = Field(default_factory=list)
    unit: str = ""
    url: str = ""
    metadata: JsonObject = Field(default_factory=dict)


class MetricDescriptors(CamelModel):
    """The OpsOrch Core response to ``/metrics/describe``."""

    metrics: list[MetricDescriptor] = Field(default_factory=list)

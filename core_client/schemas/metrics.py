"""Metric queries, series and descriptors."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

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
    # OpsPilot extension: the values the source itself expected at these times (a companion ``<name>.baseline``
    # series, see core_client.remote.metrics); empty when it said nothing. Charts draw it as the baseline band.
    expected: list[MetricPoint] = Field(default_factory=list)

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        # OpsOrch's MetricSeries.labels is map[string]any: a number or a flag is a label value all the same.
        if isinstance(value, dict):
            return {
                str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items() if v is not None
            }
        return value


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

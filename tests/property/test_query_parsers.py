"""The log and metric query parsers, over any query a person or a planner can write: each query either runs or
is refused with a BadQuery that says why; nothing else escapes (no crash, no raw exception, no provider outage).

Covered: the demo world's log search and metric queries (through CoreClient, as every page and tool reaches them),
the LogQL the Loki adapter builds, the PromQL the Prometheus adapter builds, and the console's search box."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.loki.config import LokiConfig
from adapters.loki.logql import build_logql
from adapters.prometheus.promql import build_promql
from console.backend.logs import log_expression
from core_client.client import CoreClient
from core_client.errors import BadQuery, NotFound, OpsPilotError
from core_client.schemas import LogQuery, MetricQuery, QueryScope
from core_client.schemas.logs import LogExpression, LogFilter
from core_client.schemas.metrics import MetricExpression, MetricFilter
from core_client.settings import load_settings
from tests.demo.world_fixture import build_small, install
from tests.property.conftest import says_why, text

T = TypeVar("T")

# Text heavy in what parsers trip on: quotes, regex syntax, escapes, dashes and stars.
tricky = st.text(alphabet="ab z-*\"\\()[]{}.+?^$|~=!'`\n\t\x00é", max_size=30)
words = st.one_of(text, tricky)
log_fields = st.one_of(st.sampled_from(["service", "severity", "message", "env", "pod", "trace_id"]), words)
log_filters = st.builds(
    LogFilter, field=log_fields, operator=st.sampled_from(["=", "!=", "contains", "regex"]), value=words
)
severities = st.lists(
    st.one_of(st.sampled_from(["error", "warn", "info", "fatal", "debug"]), words), max_size=3
)
moments = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
scopes = st.builds(
    QueryScope, service=st.one_of(st.none(), words), team=st.one_of(st.none(), words), environment=st.none()
)
log_queries = st.builds(
    LogQuery,
    expression=st.builds(
        lambda **fields: LogExpression.model_validate(fields),
        search=st.one_of(st.none(), words),
        filters=st.lists(log_filters, max_size=3),
        severityIn=severities,
    ),
    start=moments,
    end=moments,
    scope=scopes,
    limit=st.one_of(st.none(), st.integers(min_value=-5, max_value=5000)),
)
metric_names = st.one_of(st.sampled_from(["error_rate", "latency_ms", "db_pool_in_use", "cpu_usage"]), words)
label_names = st.one_of(st.sampled_from(["service", "quantile", "env", "__name__"]), words)
metric_filters = st.builds(
    MetricFilter, label=label_names, operator=st.sampled_from(["=", "!=", "=~", "!~"]), value=words
)
# The models take their OpsOrch (camelCase) names.
metric_expressions = st.builds(
    lambda **fields: MetricExpression.model_validate(fields),
    metricName=metric_names,
    aggregation=st.one_of(st.none(), st.sampled_from(["avg", "sum", "max", "min", "count"])),
    filters=st.lists(metric_filters, max_size=3),
    groupBy=st.lists(label_names, max_size=2),
)
metric_queries = st.builds(
    MetricQuery,
    expression=metric_expressions,
    start=moments,
    end=moments,
    step=st.one_of(st.none(), st.integers(min_value=-10, max_value=100_000)),
    scope=scopes,
)


@pytest.fixture(scope="module")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("property-world"))


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture
def demo(built_world: Path, runner: asyncio.Runner) -> Iterator[CoreClient]:
    install(built_world)
    core = CoreClient.from_settings(load_settings())
    yield core
    runner.run(core.aclose())


def refused_or_ran(runner: asyncio.Runner, work: Coroutine[Any, Any, T]) -> T | OpsPilotError:
    """What the query came to: its result, or the refusal, which must be a BadQuery (or NotFound) saying why."""
    try:
        return runner.run(asyncio.wait_for(work, 60))
    except (BadQuery, NotFound) as refused:
        assert says_why(refused.message), refused.message
        return refused


@given(query=log_queries)
def test_any_log_query_runs_or_is_refused_with_a_reason(
    demo: CoreClient, runner: asyncio.Runner, query: LogQuery
) -> None:
    refused_or_ran(runner, demo.logs.query(query))


@given(query=metric_queries)
def test_any_metric_query_runs_or_is_refused_with_a_reason(
    demo: CoreClient, runner: asyncio.Runner, query: MetricQuery
) -> None:
    now = demo.clock.now()
    windowed = query.model_copy(
        update={"start": query.start or now - timedelta(hours=1), "end": query.end or now}
    )
    refused_or_ran(runner, demo.metrics.query(windowed))


@given(query=log_queries, case_sensitive=st.booleans())
def test_the_logql_of_any_log_query_is_built_or_refused_with_a_reason(
    query: LogQuery, case_sensitive: bool
) -> None:
    config = LokiConfig(url="http://loki.test:3100", case_sensitive_search=case_sensitive)
    try:
        logql = build_logql(query, config)
    except BadQuery as refused:
        assert says_why(refused.message), refused.message
        return
    assert logql.startswith("{"), logql


@given(expression=metric_expressions, scope=st.dictionaries(label_names, words, max_size=2))
def test_the_promql_of_any_metric_query_is_built_or_refused_with_a_reason(
    expression: MetricExpression, scope: dict[str, str]
) -> None:
    try:
        promql = build_promql(expression, scope, source="prometheus")
    except BadQuery as refused:
        assert says_why(refused.message), refused.message
        return
    assert promql.strip(), promql


@given(search=words, severities=st.lists(words, max_size=3))
def test_the_console_search_box_takes_anything(search: str, severities: list[str]) -> None:
    try:
        log_expression(search, severities)
    except BadQuery as refused:
        assert says_why(refused.message), refused.message

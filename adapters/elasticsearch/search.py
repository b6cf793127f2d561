"""LogQuery to an Elasticsearch ``bool`` query, and the sort that pages it.

- ``filter``: the time range (``[start, end)``, nanosecond strings), the scope and ``=`` filters as ``term``s, the
  severities as case-insensitive ``term``s of every spelling (``warn`` also finds ``WARNING``).
- ``must``: the search text as ``simple_query_string`` on the message (words and ``"phrases"`` must all occur,
  ``-word`` excludes, ``word*`` is a prefix; analyzed, so case-insensitive); ``contains`` filters as
  ``match_phrase`` (message) or case-insensitive ``wildcard`` (other fields); ``regex`` filters as ``regexp``.
- ``must_not``: the ``!=`` filters.

A ``regex`` matches anywhere in the value, like everywhere else in OpsPilot: unless it starts with ``^`` (ends with
``$``) it is wrapped in ``.*( )`` (Lucene regexes are always anchored). On the analyzed message, Elasticsearch
matches a regex against single words; ``fields.message_keyword`` makes it see the whole message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from adapters.elasticsearch.config import FIELD_NAME, SOURCE, ElasticsearchConfig
from core_client.errors import BadQuery
from core_client.schemas import LogFilter, LogQuery

Clause = dict[str, Any]
NANOS_FORMAT = "strict_date_optional_time_nanos"
SEARCH_FLAGS = "NOT|PHRASE|PREFIX|WHITESPACE"
SEVERITY_ALIASES = {"warning": "warn", "err": "error"}
_WILDCARD_META = re.compile(r"([\\*?])")


def normalize_severity(raw: str) -> str:
    """A severity in lower case, with its common spellings folded (``WARNING`` -> ``warn``)."""
    lowered = raw.strip().lower()
    return SEVERITY_ALIASES.get(lowered, lowered)


def iso_nanos(ns: int) -> str:
    """A nanosecond time as ``date_nanos`` text: ``2025-06-11T14:20:00.123456789Z``."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def time_range(field: str, **bounds: str) -> Clause:
    """A ``range`` on the timestamp with nanosecond-precision bounds (``gte``, ``lt``...)."""
    return {"range": {field: {**bounds, "format": NANOS_FORMAT}}}


def severity_spellings(severity: str) -> list[str]:
    """Every spelling that means ``severity``: ``warn`` -> ``warn``, ``warning``."""
    wanted = normalize_severity(severity)
    return [wanted, *sorted(alias for alias, canonical in SEVERITY_ALIASES.items() if canonical == wanted)]


def check_regex(pattern: str) -> None:
    """Refuse a regex that cannot compile before Elasticsearch sees it."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise BadQuery(f"invalid regex {pattern!r}: {exc}", source=SOURCE) from None


def lucene_regex(pattern: str) -> str:
    """A regex that matches anywhere (``re.search``) as a Lucene regex, which is always anchored."""
    check_regex(pattern)
    anchored_start = pattern.startswith("^")
    anchored_end = pattern.endswith("$") and not pattern.endswith("\\$")
    body = pattern[1 if anchored_start else 0 : len(pattern) - (1 if anchored_end else 0)]
    if anchored_start and anchored_end:
        return body
    return ("" if anchored_start else ".*") + f"({body})" + ("" if anchored_end else ".*")


class QueryTranslator:
    """Builds the ``bool`` query of one LogQuery under one configuration."""

    def __init__(self, config: ElasticsearchConfig) -> None:
        self.fields = config.fields
        self.filter: list[Clause] = []
        self.must: list[Clause] = []
        self.must_not: list[Clause] = []

    def _field(self, name: str) -> str:
        mapped = {
            "message": self.fields.message,
            "service": self.fields.service,
            "environment": self.fields.environment,
            "team": self.fields.team,
            "severity": self.fields.severity,
        }
        if name in mapped:
            field = mapped[name]
            if field is None:
                raise BadQuery(
                    f"{name} cannot be applied: no field is configured for it (set fields.{name})",
                    source=SOURCE,
                )
            return field
        if not re.match(FIELD_NAME, name):
            raise BadQuery(f"filter field {name!r} is not a field name", source=SOURCE)
        return name

    def severities(self, values: list[str]) -> Clause:
        field = self._field("severity")
        spellings = dict.fromkeys(spelling for value in values for spelling in severity_spellings(value))
        should = [{"term": {field: {"value": s, "case_insensitive": True}}} for s in spellings]
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def _message_clause(self, condition: LogFilter) -> Clause:
        keyword = self.fields.message_keyword
        value = condition.value
        if condition.operator == "regex":
            if keyword:
                return {"regexp": {keyword: {"value": lucene_regex(value), "flags": "NONE"}}}
            check_regex(value)
            return {
                "regexp": {self.fields.message: {"value": value, "flags": "NONE", "case_insensitive": True}}
            }
        if condition.operator in ("=", "!=") and keyword:
            return {"term": {keyword: value}}
        return {"match_phrase": {self.fields.message: value}}

    def _clause(self, condition: LogFilter) -> Clause:
        name = condition.field.strip()
        if name == "message":
            return self._message_clause(condition)
        if name == "severity" and condition.operator in ("=", "!="):
            return self.severities([condition.value])
        field = self._field(name)
        if condition.operator == "regex":
            return {"regexp": {field: {"value": lucene_regex(condition.value), "flags": "NONE"}}}
        if condition.operator == "contains":
            pattern = "*" + _WILDCARD_META.sub(r"\\\1", condition.value) + "*"
            return {"wildcard": {field: {"value": pattern, "case_insensitive": True}}}
        return {"term": {field: condition.value}}

    def add_filter(self, condition: LogFilter) -> None:
        clause = self._clause(condition)
        if condition.operator == "!=":
            self.must_not.append(clause)
        elif condition.operator == "=":
            self.filter.append(clause)
        else:
            self.must.append(clause)

    def translate(self, query: LogQuery) -> Clause:
        bounds = {}
        if query.start:
            bounds["gte"] = _iso(query.start)
        if query.end:
            bounds["lt"] = _iso(query.end)
        if bounds:
            self.filter.append(time_range(self.fields.timestamp, **bounds))
        for dimension in ("service", "environment", "team"):
            value = getattr(query.scope, dimension)
            if value:
                self.filter.append({"term": {self._field(dimension): value}})
        if query.expression.severity_in:
            self.filter.append(self.severities(query.expression.severity_in))
        if query.expression.search and query.expression.search.strip():
            self.must.append(
                {
                    "simple_query_string": {
                        "query": query.expression.search,
                        "fields": [self.fields.message],
                        "default_operator": "and",
                        "flags": SEARCH_FLAGS,
                    }
                }
            )
        for condition in query.expression.filters:
            self.add_filter(condition)
        clauses = {"filter": self.filter, "must": self.must, "must_not": self.must_not}
        return {"bool": {key: value for key, value in clauses.items() if value}}


def build_query(query: LogQuery, config: ElasticsearchConfig) -> Clause:
    """The ``query`` of a ``_search`` request for ``query``."""
    return QueryTranslator(config).translate(query)


def sort_clause(config: ElasticsearchConfig, order: str = "desc") -> list[Clause]:
    """Newest first by the timestamp as nanoseconds (``date`` and ``date_nanos`` indices alike), then the
    tiebreaker: ``_shard_doc`` of the point in time, or the configured unique field."""
    timestamp = {config.fields.timestamp: {"order": order, "numeric_type": "date_nanos"}}
    return [timestamp, {config.tiebreaker_field or "_shard_doc": order}]

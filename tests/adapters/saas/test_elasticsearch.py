"""The elasticsearch provider: query DSL translation, and round trips through CoreClient against a loopback
Elasticsearch that evaluates the searches over real Loghub lines (Apache and OpenSSH) in ECS documents."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from saas_fakes.elasticsearch_fake import ElasticsearchFake, SearchError, error_reply, shard_failure
from saas_fakes.loghub_corpus import BASE, BASE_NS, load_corpus
from saas_fakes.server import LoopbackServer

from adapters.elasticsearch.config import ElasticsearchConfig, es_error
from adapters.elasticsearch.hits import from_ns, parse_ns
from adapters.elasticsearch.search import build_query, lucene_regex, sort_clause
from core_client.client import CoreClient
from core_client.errors import BadQuery, NotFound, ProviderUnavailable
from core_client.schemas import LogEntry, LogQuery, QueryScope

from .conftest import every_page

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
WHOLE = {"start": BASE, "end": BASE + timedelta(days=2)}
NANOS = "strict_date_optional_time_nanos"


def dsl(config: dict[str, Any] | None = None, **query: Any) -> dict[str, Any]:
    settings = ElasticsearchConfig.model_validate({"url": "http://es:9200", **(config or {})})
    return build_query(LogQuery.model_validate(query), settings)


# --- translation ------------------------------------------------------------------------------------------


def test_a_query_becomes_a_bool_query_with_ecs_fields() -> None:
    query = dsl(
        expression={
            "search": 'failed "invalid user" -root',
            "filters": [
                {"field": "host.name", "operator": "=", "value": "LabSZ"},
                {"field": "host.name", "operator": "contains", "value": "a*b?"},
                {"field": "message", "operator": "contains", "value": "Received disconnect"},
                {"field": "log.logger", "operator": "regex", "value": "^sshd"},
                {"field": "environment", "operator": "!=", "value": "staging"},
            ],
            "severityIn": ["WARNING", "error"],
        },
        scope={"service": "sshd"},
        start="2025-06-11T14:00:00Z",
        end="2025-06-11T15:00:00.5Z",
    )
    assert query == {
        "bool": {
            "filter": [
                {
                    "range": {
                        "@timestamp": {
                            "gte": "2025-06-11T14:00:00.000000Z",
                            "lt": "2025-06-11T15:00:00.500000Z",
                            "format": NANOS,
                        }
                    }
                },
                {"term": {"service.name": "sshd"}},
                {
                    "bool": {
                        "should": [
                            {"term": {"log.level": {"value": "warn", "case_insensitive": True}}},
                            {"term": {"log.level": {"value": "warning", "case_insensitive": True}}},
                            {"term": {"log.level": {"value": "error", "case_insensitive": True}}},
                            {"term": {"log.level": {"value": "err", "case_insensitive": True}}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                {"term": {"host.name": "LabSZ"}},
            ],
            "must": [
                {
                    "simple_query_string": {
                        "query": 'failed "invalid user" -root',
                        "fields": ["message"],
                        "default_operator": "and",
                        "flags": "NOT|PHRASE|PREFIX|WHITESPACE",
                    }
                },
                {"wildcard": {"host.name": {"value": "*a\\*b\\?*", "case_insensitive": True}}},
                {"match_phrase": {"message": "Received disconnect"}},
                {"regexp": {"log.logger": {"value": "(sshd).*", "flags": "NONE"}}},
            ],
            "must_not": [{"term": {"service.environment": "staging"}}],
        }
    }


def test_message_regex_matches_words_or_with_a_keyword_copy_the_whole_message() -> None:
    regex = {"filters": [{"field": "message", "operator": "regex", "value": "ssh\\d"}]}
    assert dsl(expression=regex) == {
        "bool": {
            "must": [{"regexp": {"message": {"value": "ssh\\d", "flags": "NONE", "case_insensitive": True}}}]
        }
    }
    keyword = {"fields": {"message_keyword": "message.keyword"}}
    assert dsl(keyword, expression=regex) == {
        "bool": {"must": [{"regexp": {"message.keyword": {"value": ".*(ssh\\d).*", "flags": "NONE"}}}]}
    }
    exact = {"filters": [{"field": "message", "operator": "=", "value": "x"}]}
    assert dsl(keyword, expression=exact) == {"bool": {"filter": [{"term": {"message.keyword": "x"}}]}}
    assert dsl(expression=exact) == {"bool": {"filter": [{"match_phrase": {"message": "x"}}]}}


@pytest.mark.parametrize(
    ("pattern", "lucene"),
    [
        ("timeout", ".*(timeout).*"),
        ("^GET", "(GET).*"),
        ("5\\d\\d$", ".*(5\\d\\d)"),
        ("^exact$", "exact"),
        ("a|b", ".*(a|b).*"),
        ("cost \\$", ".*(cost \\$).*"),
    ],
)
def test_regexes_match_anywhere_unless_anchored(pattern: str, lucene: str) -> None:
    assert lucene_regex(pattern) == lucene


def test_sort_is_by_nanoseconds_then_a_tiebreaker() -> None:
    config = ElasticsearchConfig.model_validate({"url": "http://es:9200"})
    assert sort_clause(config) == [
        {"@timestamp": {"order": "desc", "numeric_type": "date_nanos"}},
        {"_shard_doc": "desc"},
    ]
    config = ElasticsearchConfig.model_validate(
        {"url": "http://es:9200", "tiebreaker_field": "event.sequence", "fields": {"timestamp": "ts"}}
    )
    assert sort_clause(config) == [
        {"ts": {"order": "desc", "numeric_type": "date_nanos"}},
        {"event.sequence": "desc"},
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"scope": {"team": "payments"}}, r"team cannot be applied.*fields\.team"),
        ({"expression": {"filters": [{"field": "a b", "value": "x"}]}}, "not a field name"),
        (
            {"expression": {"filters": [{"field": "host.name", "operator": "regex", "value": "(x"}]}},
            "invalid regex",
        ),
    ],
)
def test_malformed_queries_are_refused_before_any_request(query: dict[str, Any], message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        dsl(**query)


def test_date_nanos_text_is_read_exactly() -> None:
    assert parse_ns("2025-06-11T14:20:00.123456789Z") == BASE_NS + 1200 * 10**9 + 123456789
    assert parse_ns("2025-06-11T14:20:00.123456788Z") < parse_ns("2025-06-11T14:20:00.123456789Z")
    assert parse_ns("2025-06-11T16:20:00.5+02:00") == BASE_NS + 1200 * 10**9 + 500_000_000
    assert parse_ns("2025-06-11T14:00:00Z") == parse_ns(1749650400000) == parse_ns("1749650400000") == BASE_NS
    assert from_ns(BASE_NS + 123456789) == BASE + timedelta(microseconds=123456)
    with pytest.raises(ProviderUnavailable, match="unreadable timestamp"):
        parse_ns("yesterday")


def test_error_details_name_the_shards_reason() -> None:
    failure = shard_failure("query_shard_exception", "failed to create query: x", "bad regex", "logs-a")
    response = httpx.Response(400, json={"error": failure.error, "status": 400})
    assert es_error(response) == ("search_phase_execution_exception: failed to create query: x; bad regex")


# --- against the fake -------------------------------------------------------------------------------------


@pytest.fixture
def fake(loghub_dir: Path) -> ElasticsearchFake:
    return ElasticsearchFake.seeded(load_corpus(loghub_dir), api_key=API_KEY)


@pytest.fixture
def server(loopback: LoopbackServer, fake: ElasticsearchFake) -> Iterator[LoopbackServer]:
    loopback.reset(fake.handle)
    loopback.contract = None
    yield loopback
    assert not loopback.violations, "\n".join(loopback.violations)


@pytest.fixture
def config(server: LoopbackServer) -> dict[str, Any]:
    return {"url": server.url, "api_key": API_KEY, "index": "logs-*"}


@pytest.fixture
def core(make_core: Callable[..., CoreClient], config: dict[str, Any]) -> CoreClient:
    return make_core("elasticsearch", config, "log")


Doc = dict[str, Any]


def expected(fake: ElasticsearchFake, keep: Callable[[Doc], bool]) -> list[tuple[int, str]]:
    """The corpus filtered in Python: (ns, document id), newest first."""
    docs = [doc for doc in fake.docs() if keep(doc["_source"])]
    return sorted(((parse_ns(d["_source"]["@timestamp"]), d["_id"]) for d in docs), key=lambda item: -item[0])


def got(entries: list[LogEntry]) -> list[tuple[int, str]]:
    return [(int(e.metadata["timestampNs"]), str(e.metadata["docId"])) for e in entries]


def same_documents(actual: list[tuple[int, str]], wanted: list[tuple[int, str]]) -> None:
    """The same documents, in the same nanosecond order (documents of one nanosecond in any order)."""
    assert sorted(actual) == sorted(wanted)
    assert [ns for ns, _ in actual] == [ns for ns, _ in wanted]


def source_has(doc: Doc, service: str | None = None, environment: str | None = None) -> bool:
    return (service is None or doc["service"]["name"] == service) and (
        environment is None or doc["service"]["environment"] == environment
    )


async def test_paging_in_a_point_in_time_skips_and_repeats_nothing(
    core: CoreClient, fake: ElasticsearchFake, server: LoopbackServer
) -> None:
    entries, pages = await every_page(core, LogQuery(limit=250))
    wanted = expected(fake, lambda doc: True)
    assert len(wanted) == 4000 and pages == 16
    same_documents(got(entries), wanted)
    assert len({e.id for e in entries}) == 4000
    assert len(server.requests_to("POST", "/logs-*/_pit")) == 1
    bodies = fake.searches
    assert len({b["pit"]["id"] for b in bodies}) == 1 and all(b["track_total_hits"] is False for b in bodies)
    assert [len(b.get("search_after", [])) for b in bodies] == [0] + [2] * 15
    assert fake.pits == {}  # closed after the last page


async def test_paging_by_a_tiebreaker_field_without_a_point_in_time(
    make_core: Callable[..., CoreClient],
    config: dict[str, Any],
    fake: ElasticsearchFake,
    server: LoopbackServer,
) -> None:
    core = make_core("elasticsearch", {**config, "tiebreaker_field": "event.sequence"}, "log")
    entries, _ = await every_page(core, LogQuery(scope=QueryScope(service="httpd"), limit=97, **WHOLE))
    same_documents(got(entries), expected(fake, lambda doc: source_has(doc, "httpd")))
    assert not server.requests_to("POST", "/logs-*/_pit")
    assert fake.searches[1]["sort"][1] == {"event.sequence": "desc"}
    assert fake.searches[1]["search_after"][1] == int(entries[96].fields["event.sequence"])


async def test_nanoseconds_order_documents_of_the_same_microsecond(
    core: CoreClient, fake: ElasticsearchFake
) -> None:
    entries, _ = await every_page(core, LogQuery(scope=QueryScope(service="sshd"), limit=500, **WHOLE))
    stamps = [int(e.metadata["timestampNs"]) for e in entries]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps) == 2000
    pairs = [(a, b) for a, b in itertools.pairwise(entries) if a.timestamp == b.timestamp]
    assert pairs and all(a.id != b.id for a, b in pairs)
    # The text Elasticsearch stores (date_nanos) is read to the nanosecond.
    by_id = {doc["_id"]: doc["_source"]["@timestamp"] for doc in fake.docs()}
    assert all(
        by_id[str(e.metadata["docId"])].endswith(f"{stamp % 10**9:09d}Z")
        for e, stamp in zip(entries, stamps, strict=True)
    )


async def test_search_text_is_analyzed_words_and_phrases(core: CoreClient, fake: ElasticsearchFake) -> None:
    query = LogQuery.model_validate({"expression": {"search": 'FAILED "invalid user" -root'}, "limit": 1000})
    entries, _ = await every_page(core, query)

    def keep(doc: Doc) -> bool:
        text = doc["message"].lower()
        words = set(re.findall(r"\w+", text))
        return (
            "failed" in words and re.search(r"\binvalid\W+user\b", text) is not None and "root" not in words
        )

    wanted = expected(fake, keep)
    assert len(wanted) > 50
    same_documents(got(entries), wanted)


async def test_scope_severity_and_regex_filters(core: CoreClient, fake: ElasticsearchFake) -> None:
    query = LogQuery.model_validate(
        {
            "expression": {
                "filters": [{"field": "host.name", "operator": "regex", "value": "^Lab"}],
                "severityIn": ["warn"],
            },
            "scope": {"service": "sshd", "environment": "prod"},
            "limit": 100,
            **WHOLE,
        }
    )
    entries, _ = await every_page(core, query)
    wanted = expected(fake, lambda doc: source_has(doc, "sshd", "prod") and doc["log"]["level"] == "warning")
    assert len(wanted) == 232
    same_documents(got(entries), wanted)
    first = entries[0]
    assert (first.service, first.severity, first.labels) == (
        "sshd",
        "warn",
        {"team": "security", "environment": "prod"},
    )
    assert first.fields["host.name"] == "LabSZ" and "message" not in first.fields
    assert first.id.startswith("es.") and first.metadata["index"] == "logs-sshd-2025.06.11"


async def test_message_regexes_on_words_and_on_a_keyword_copy(
    core: CoreClient, make_core: Callable[..., CoreClient], config: dict[str, Any], fake: ElasticsearchFake
) -> None:
    words = LogQuery.model_validate(
        {
            "expression": {"filters": [{"field": "message", "operator": "regex", "value": "jk2_init"}]},
            "limit": 1000,
        }
    )
    entries, _ = await every_page(core, words)
    same_documents(
        got(entries), expected(fake, lambda doc: "jk2_init" in re.findall(r"\w+", doc["message"].lower()))
    )
    whole = make_core("elasticsearch", {**config, "fields": {"message_keyword": "message.keyword"}}, "log")
    pattern = r"port 5\d{4} ssh2$"
    query = LogQuery.model_validate(
        {
            "expression": {"filters": [{"field": "message", "operator": "regex", "value": pattern}]},
            "limit": 1000,
        }
    )
    entries, _ = await every_page(whole, query)
    wanted = expected(fake, lambda doc: re.search(pattern, doc["message"]) is not None)
    assert len(wanted) > 100
    same_documents(got(entries), wanted)


async def test_team_scope_through_a_configured_field(
    make_core: Callable[..., CoreClient], config: dict[str, Any], fake: ElasticsearchFake
) -> None:
    core = make_core("elasticsearch", {**config, "fields": {"team": "labels.team"}}, "log")
    entries, _ = await every_page(core, LogQuery(scope=QueryScope(team="web"), limit=1000))
    same_documents(got(entries), expected(fake, lambda doc: doc["labels"]["team"] == "web"))


async def test_the_window_is_start_inclusive_end_exclusive(core: CoreClient, fake: ElasticsearchFake) -> None:
    stamps = sorted({parse_ns(d["_source"]["@timestamp"]) for d in fake.indices["logs-httpd-2025.06.11"]})
    start, end = stamps[5], stamps[30]
    query = LogQuery(start=from_ns(start), end=from_ns(end), scope=QueryScope(service="httpd"), limit=1000)
    entries, _ = await every_page(core, query)
    assert {ns for ns, _ in got(entries)} == set(stamps[5:30])
    same_documents(
        got(entries),
        expected(fake, lambda doc: source_has(doc, "httpd") and start <= parse_ns(doc["@timestamp"]) < end),
    )


async def test_context_returns_the_documents_around_one(core: CoreClient, fake: ElasticsearchFake) -> None:
    page = await core.logs.query(
        LogQuery.model_validate(
            {
                "expression": {"search": "Received disconnect"},
                "scope": {"service": "sshd", "environment": "staging"},
            }
        )
    )
    anchor = page.items[3]
    context = await core.logs.context(anchor.id, before=5, after=4)
    assert context.anchor.id == anchor.id and context.anchor.message == anchor.message
    neighbours = sorted(
        (parse_ns(d["_source"]["@timestamp"]), d["_id"])
        for d in fake.docs()
        if source_has(d["_source"], "sshd", "staging")
    )
    at = neighbours.index((int(anchor.metadata["timestampNs"]), str(anchor.metadata["docId"])))
    assert got(context.before) == neighbours[at - 5 : at]
    assert got(context.after) == neighbours[at + 1 : at + 5]
    with pytest.raises(NotFound, match="not an id this provider made"):
        await core.logs.context("lk.abc.def")
    gone = "es." + anchor.id.removeprefix("es.")[:-4] + "AAAA"
    with pytest.raises(NotFound):
        await core.logs.context(gone)


async def test_a_missing_index_is_not_found_and_an_empty_pattern_is_empty(
    make_core: Callable[..., CoreClient], config: dict[str, Any]
) -> None:
    missing = make_core("elasticsearch", {**config, "index": "logz"}, "log")
    with pytest.raises(NotFound, match=r"index 'logz' does not exist.*no such index \[logz\]") as caught:
        await missing.logs.query(LogQuery())
    assert str(caught.value).startswith("elasticsearch: ")
    empty = make_core(
        "elasticsearch", {**config, "index": "metrics-*", "tiebreaker_field": "event.sequence"}, "log"
    )
    assert (await empty.logs.query(LogQuery())).items == []


async def test_an_expired_point_in_time_asks_to_run_the_query_again(
    core: CoreClient, fake: ElasticsearchFake
) -> None:
    page = await core.logs.query(LogQuery(limit=10))
    fake.pits.clear()
    with pytest.raises(BadQuery, match="point in time has expired"):
        await core.logs.query(LogQuery(limit=10), cursor=page.next_cursor)


async def test_credentials_api_key_basic_and_from_the_environment(
    make_core: Callable[..., CoreClient],
    config: dict[str, Any],
    fake: ElasticsearchFake,
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    core = make_core("elasticsearch", config, "log")
    await core.logs.query(LogQuery(limit=1))
    assert server.exchanges[-1].headers["authorization"] == f"ApiKey {API_KEY}"
    fake.api_key, fake.basic = None, ("elastic", "changeme-42")
    basic = make_core(
        "elasticsearch",
        {"url": server.url, "basic_auth": {"username": "elastic", "password": "changeme-42"}},
        "log",
    )
    assert len((await basic.logs.query(LogQuery(limit=2))).items) == 2
    fake.api_key, fake.basic = API_KEY, None
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", API_KEY)
    from_env = make_core("elasticsearch", {"url": server.url}, "log")
    assert len((await from_env.logs.query(LogQuery(limit=2))).items) == 2
    anonymous_env = make_core("elasticsearch", {"url": server.url, "api_key": "wrong"}, "log")
    with pytest.raises(ProviderUnavailable, match=r"credentials refused \(401\)"):
        await anonymous_env.logs.query(LogQuery())


async def test_health_follows_the_cluster_colour(
    core: CoreClient, fake: ElasticsearchFake, make_core: Callable[..., CoreClient], config: dict[str, Any]
) -> None:
    report = await core.health()
    assert (report.status, report.providers[0].message) == ("ok", "cluster opspilot-test is green (1 nodes)")
    fake.cluster_status = "yellow"
    assert (await core.health()).providers[0].status == "ok"
    fake.cluster_status = "red"
    assert (await core.health()).providers[0].status == "degraded"
    wrong = make_core("elasticsearch", {**config, "api_key": "bm9wZQ=="}, "log")
    health = (await wrong.health()).providers[0]
    assert health.status == "down" and "credentials refused (401)" in health.message


async def test_a_refused_query_is_a_bad_query_with_the_reason(
    core: CoreClient, fake: ElasticsearchFake
) -> None:
    fake.refusals.append(
        shard_failure(
            "query_shard_exception",
            "failed to create query: Determinizing automaton would exceed 10000 work",
            "too complex",
            "logs-sshd-2025.06.11",
        )
    )
    with pytest.raises(
        BadQuery, match="search_phase_execution_exception: failed to create query: Determinizing"
    ) as caught:
        await core.logs.query(LogQuery())
    assert str(caught.value).startswith("elasticsearch: POST /_search returned 400")
    fake.refusals.append(
        SearchError(400, "parsing_exception", "[regexp] unknown token [START_ARRAY]", line=1, col=40)
    )
    with pytest.raises(BadQuery, match=r"parsing_exception: \[regexp\] unknown token"):
        await core.logs.query(LogQuery())


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_typed_and_name_elasticsearch(
    core: CoreClient, server: LoopbackServer, status: int
) -> None:
    kind = "security_exception"
    server.fail_next(
        status, error_reply(status, kind, "action [indices:data/read/search] is unauthorized").body
    )
    with pytest.raises(ProviderUnavailable, match=rf"credentials refused \({status}\)") as caught:
        await core.logs.query(LogQuery())
    assert caught.value.source == "elasticsearch" and str(caught.value).startswith("elasticsearch: ")
    assert len(server.exchanges) == 1


async def test_rejected_executions_are_retried_after_the_servers_delay(
    core: CoreClient, server: LoopbackServer
) -> None:
    rejected = error_reply(
        429, "es_rejected_execution_exception", "rejected execution of coordinating operation"
    )
    server.fail_next(429, rejected.body, headers={"Retry-After": "1"})
    assert len((await core.logs.query(LogQuery(limit=3))).items) == 3
    assert [e.status for e in server.exchanges[:2]] == [429, 200]


async def test_server_errors_are_retried_then_reported(core: CoreClient, server: LoopbackServer) -> None:
    server.fail_next(
        503,
        error_reply(
            503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]"
        ).body,
        times=4,
    )
    with pytest.raises(ProviderUnavailable, match="returned 503: cluster_block_exception") as caught:
        await core.logs.query(LogQuery())
    assert str(caught.value).startswith("elasticsearch: ")
    assert len(server.exchanges) == 4


async def test_a_tampered_cursor_is_a_bad_query(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="malformed cursor"):
        await core.logs.query(LogQuery(), cursor="e30")

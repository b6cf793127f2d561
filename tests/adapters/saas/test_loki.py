"""The loki provider: LogQL translation, and round trips through CoreClient against a loopback Loki that
evaluates the queries over real Loghub lines (Apache and OpenSSH)."""

from __future__ import annotations

import collections
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from saas_fakes.loghub_corpus import BASE, BASE_NS, load_corpus
from saas_fakes.loki_fake import LokiFake, text_reply
from saas_fakes.server import LoopbackServer

from adapters.loki.config import LokiConfig
from adapters.loki.entries import from_ns, to_ns
from adapters.loki.logql import build_logql
from core_client.client import CoreClient
from core_client.errors import BadQuery, ConfigurationError, NotFound, ProviderUnavailable
from core_client.schemas import LogEntry, LogQuery, QueryScope

from .conftest import every_page

TOKEN = "loki-gw-secret-7Hq2pLx"
TENANT = "acme"
WHOLE = {"start": BASE, "end": BASE + timedelta(days=2)}
Line = tuple[dict[str, str], int, str]


def logql(config: dict[str, Any] | None = None, **query: Any) -> str:
    return build_logql(
        LogQuery.model_validate(query), LokiConfig.model_validate({"url": "http://loki", **(config or {})})
    )


# --- translation ------------------------------------------------------------------------------------------


def test_scope_search_filters_and_severity_become_one_logql_query() -> None:
    query = logql(
        expression={
            "search": 'Failed "invalid user" -root ssh2*',
            "filters": [
                {"field": "host", "operator": "=", "value": "LabSZ"},
                {"field": "message", "operator": "regex", "value": r"port \d+"},
                {"field": "team", "operator": "contains", "value": "sec"},
            ],
            "severityIn": ["warning", "ERROR"],
        },
        scope={"service": "sshd", "environment": "prod"},
    )
    assert query == (
        '{service="sshd", env="prod", host="LabSZ", team=~"(?i).*sec.*"}'
        ' |~ "(?i)Failed" |~ "(?i)invalid user" !~ "(?i)root" |~ "(?i)ssh2" |~ "port \\\\d+"'
        ' | level=~"(?i)(?:warn|warning|error|err)"'
    )


def test_case_sensitive_search_uses_plain_line_filters_and_custom_labels() -> None:
    config = {
        "case_sensitive_search": True,
        "scope_labels": {"service": "app", "environment": "namespace", "team": None},
        "severity_label": "detected_level",
    }
    assert logql(config, expression={"search": "timeout -retry"}, scope={"service": "checkout"}) == (
        '{app="checkout"} |= "timeout" != "retry"'
    )
    assert logql(
        config, expression={"filters": [{"field": "severity", "operator": "!=", "value": "debug"}]}
    ) == ('{app=~".+"} | detected_level!~"(?i)(?:debug)"')
    with pytest.raises(BadQuery, match=r"team cannot be applied.*scope_labels\.team"):
        logql(config, scope={"team": "payments"})


def test_without_a_severity_label_severity_is_matched_as_words_in_the_line() -> None:
    assert logql({"severity_label": None}, expression={"severityIn": ["warn"]}) == (
        '{service=~".+"} |~ "(?i)\\\\b(?:warn|warning)\\\\b"'
    )


HOSTILE = 'a"} |= "x\\ (.*)'
HOSTILE_QUERY: dict[str, Any] = {
    "expression": {
        "search": "x\\ (.*)",
        "filters": [{"field": "message", "operator": "=", "value": HOSTILE}],
    },
    "scope": {"service": HOSTILE},
}


def test_every_value_is_escaped_so_input_cannot_change_the_query() -> None:
    assert logql(**HOSTILE_QUERY) == (
        r'{service="a\"} |= \"x\\ (.*)"} |~ "(?i)x\\\\" |~ "(?i)\\(\\.\\*\\)"'
        r' |~ "^a\"\\} \\|= \"x\\\\ \\(\\.\\*\\)$"'
    )


@pytest.mark.parametrize(
    ("expression", "scope", "message"),
    [
        ({"filters": [{"field": "message", "operator": "regex", "value": "(unclosed"}]}, {}, "invalid regex"),
        ({"filters": [{"field": "k8s.pod", "operator": "=", "value": "x"}]}, {}, "not a Loki label name"),
        ({"search": '"open quote'}, {}, "unterminated quote"),
        ({"filters": [{"field": "severity", "operator": "regex", "value": "e.*"}]}, {}, None),
    ],
)
def test_malformed_queries_are_refused_before_any_request(
    expression: dict[str, Any], scope: dict[str, Any], message: str | None
) -> None:
    if message is None:  # allowed with a severity label...
        assert logql(expression=expression).endswith('| level=~".*(?:e.*).*"')
        with pytest.raises(BadQuery, match="needs a severity label"):  # ...but not without one
            logql({"severity_label": None}, expression=expression)
        return
    with pytest.raises(BadQuery, match=message):
        logql(expression=expression, scope=scope)


def test_nanosecond_conversions_are_exact() -> None:
    moment = BASE + timedelta(microseconds=123456)
    assert to_ns(moment) == BASE_NS + 123_456_000
    assert from_ns(BASE_NS + 123_456_789) == moment


def test_config_refuses_two_credentials() -> None:
    with pytest.raises(ValueError, match="either bearer_token or basic_auth"):
        LokiConfig.model_validate(
            {"url": "http://loki", "bearer_token": "t", "basic_auth": {"username": "u", "password": "p"}}
        )


# --- against the fake -------------------------------------------------------------------------------------


@pytest.fixture
def fake(loghub_dir: Path) -> LokiFake:
    return LokiFake.seeded(load_corpus(loghub_dir), tenant=TENANT, token=TOKEN)


@pytest.fixture
def server(loopback: LoopbackServer, fake: LokiFake) -> Iterator[LoopbackServer]:
    loopback.reset(fake.handle)
    loopback.contract = None
    yield loopback
    assert not loopback.violations, "\n".join(loopback.violations)


@pytest.fixture
def config(server: LoopbackServer) -> dict[str, Any]:
    return {"url": server.url, "tenant": TENANT, "bearer_token": TOKEN}


@pytest.fixture
def core(make_core: Callable[..., CoreClient], config: dict[str, Any]) -> CoreClient:
    return make_core("loki", config, "log")


def expected(fake: LokiFake, keep: Callable[[Line], bool]) -> list[tuple[int, str, str]]:
    """The corpus filtered in Python: (ns, service, line) newest first."""
    chosen = [(ns, labels["service"], text) for labels, ns, text in fake.lines() if keep((labels, ns, text))]
    return sorted(chosen, key=lambda item: item[0], reverse=True)


def got(entries: list[LogEntry]) -> list[tuple[int, str, str]]:
    return [(int(e.metadata["timestampNs"]), e.service, e.message) for e in entries]


def same_lines(actual: list[tuple[int, str, str]], wanted: list[tuple[int, str, str]]) -> None:
    """The same lines, in the same nanosecond order (lines sharing a nanosecond may come in any order)."""
    assert sorted(actual) == sorted(wanted)
    assert [ns for ns, _, _ in actual] == [ns for ns, _, _ in wanted]


async def test_paging_through_every_line_skips_and_repeats_nothing(
    core: CoreClient, fake: LokiFake, server: LoopbackServer
) -> None:
    entries, pages = await every_page(core, LogQuery(limit=97, **WHOLE))
    wanted = expected(fake, lambda line: True)
    assert len(wanted) == len(fake.lines()) > 3400
    assert pages == -(-len(wanted) // 97)
    same_lines(got(entries), wanted)
    assert len({e.id for e in entries}) == len(entries)
    sent = [dict(e.query) for e in server.requests_to("GET", "/loki/api/v1/query_range")]
    assert {(s["direction"], s["start"]) for s in sent} == {("backward", str(BASE_NS))}
    # Each page ends just after the previous page's last line, so lines sharing its nanosecond come again.
    ends = [int(s["end"]) for s in sent[1:]]
    assert all(end - 1 in {ns for ns, _, _ in got(entries)} for end in ends)


async def test_small_pages_through_lines_that_share_a_nanosecond(core: CoreClient, fake: LokiFake) -> None:
    busiest, count = collections.Counter(ns for _, ns, _ in fake.lines()).most_common(1)[0]
    assert count >= 8
    start, end = from_ns(busiest - 5_000_000_000), from_ns(busiest + 1_000_000_000)
    entries, pages = await every_page(core, LogQuery(start=start, end=end, limit=3))
    same_lines(got(entries), expected(fake, lambda line: to_ns(start) <= line[1] < to_ns(end)))
    assert pages >= count // 3


async def test_nanoseconds_order_lines_of_the_same_microsecond(core: CoreClient, fake: LokiFake) -> None:
    query = LogQuery(scope=QueryScope(service="sshd", environment="staging"), limit=1000, **WHOLE)
    entries, _ = await every_page(core, query)
    stamps = [int(e.metadata["timestampNs"]) for e in entries]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps)
    same_micro = [(a, b) for a, b in itertools.pairwise(entries) if a.timestamp == b.timestamp]
    assert same_micro, "the corpus has lines 1 ns apart"
    assert all(a.id != b.id for a, b in same_micro)
    same_lines(
        got(entries),
        expected(fake, lambda line: line[0]["service"] == "sshd" and line[0]["env"] == "staging"),
    )


async def test_text_search_is_case_insensitive_and_every_word_must_match(
    core: CoreClient, fake: LokiFake
) -> None:
    query = LogQuery.model_validate(
        {"expression": {"search": 'failed "INVALID user" -root'}, "limit": 1000, **WHOLE}
    )
    entries, _ = await every_page(core, query)

    def keep(line: Line) -> bool:
        text = line[2].lower()
        return "failed" in text and "invalid user" in text and "root" not in text

    wanted = expected(fake, keep)
    assert len(wanted) > 50
    same_lines(got(entries), wanted)


async def test_regex_filter_service_scope_and_severity(core: CoreClient, fake: LokiFake) -> None:
    query = LogQuery.model_validate(
        {
            "expression": {
                "filters": [{"field": "message", "operator": "regex", "value": r"port 5\d{4} ssh2$"}],
                "severityIn": ["warn"],
            },
            "scope": {"service": "sshd", "environment": "prod"},
            "limit": 50,
            **WHOLE,
        }
    )
    entries, _ = await every_page(core, query)
    pattern = re.compile(r"port 5\d{4} ssh2$")
    wanted = expected(
        fake,
        lambda line: (
            line[0] == {"service": "sshd", "env": "prod", "level": "warning", "host": "LabSZ"}
            and pattern.search(line[2]) is not None
        ),
    )
    assert len(wanted) > 20
    same_lines(got(entries), wanted)
    first = entries[0]
    assert (first.service, first.severity) == ("sshd", "warn")
    assert first.labels == {"service": "sshd", "env": "prod", "level": "warning", "host": "LabSZ"}


async def test_the_window_is_start_inclusive_end_exclusive(core: CoreClient, fake: LokiFake) -> None:
    stamps = sorted({ns for labels, ns, _ in fake.lines() if labels["service"] == "httpd"})
    start, end = stamps[10], stamps[40]
    query = LogQuery(start=from_ns(start), end=from_ns(end), scope=QueryScope(service="httpd"), limit=1000)
    entries, _ = await every_page(core, query)
    ns = {int(e.metadata["timestampNs"]) for e in entries}
    assert min(ns) == start and max(ns) == stamps[39]
    same_lines(
        got(entries), expected(fake, lambda line: line[0]["service"] == "httpd" and start <= line[1] < end)
    )


async def test_without_start_the_window_is_the_lookback_before_now(
    make_core: Callable[..., CoreClient], config: dict[str, Any], server: LoopbackServer
) -> None:
    core = make_core("loki", {**config, "lookback_seconds": 600}, "log")
    page = await core.logs.query(LogQuery())
    assert page.items == []  # the corpus is in the past
    sent = dict(server.requests_to("GET", "/loki/api/v1/query_range")[-1].query)
    assert int(sent["end"]) - int(sent["start"]) == 600 * 1_000_000_000


async def test_context_returns_the_lines_around_one_in_its_service_and_environment(
    core: CoreClient, fake: LokiFake
) -> None:
    page = await core.logs.query(
        LogQuery.model_validate(
            {
                "expression": {"search": "Received disconnect"},
                "scope": {"service": "sshd", "environment": "prod"},
                **WHOLE,
            }
        )
    )
    anchor = page.items[7]
    context = await core.logs.context(anchor.id, before=4, after=3)
    assert context.anchor.id == anchor.id and context.anchor.message == anchor.message
    neighbours = sorted(
        (ns, text)
        for labels, ns, text in fake.lines()
        if labels["service"] == "sshd" and labels["env"] == "prod"
    )
    at = neighbours.index((int(anchor.metadata["timestampNs"]), anchor.message))
    assert [(int(e.metadata["timestampNs"]), e.message) for e in context.before] == neighbours[at - 4 : at]
    assert [(int(e.metadata["timestampNs"]), e.message) for e in context.after] == neighbours[at + 1 : at + 4]
    assert {e.labels["level"] for e in context.before + context.after} >= {
        "info"
    }  # any level, not only the anchor's


async def test_context_of_an_unknown_line_is_not_found(core: CoreClient) -> None:
    with pytest.raises(NotFound, match="not an id this provider made"):
        await core.logs.context("l_0123456789")
    page = await core.logs.query(LogQuery(limit=1, **WHOLE))
    real = page.items[0].id
    forged = real[:-20] + "0" * 20
    with pytest.raises(NotFound, match="no Loki line"):
        await core.logs.context(forged)


async def test_ids_are_stable_across_queries(core: CoreClient) -> None:
    broad = await core.logs.query(LogQuery(limit=20, **WHOLE))
    narrow = await core.logs.query(
        LogQuery(scope=QueryScope(service=broad.items[0].service), limit=20, **WHOLE)
    )
    shared = {e.id for e in broad.items} & {e.id for e in narrow.items}
    assert shared and all(e.id.startswith("lk.") for e in broad.items)


async def test_raw_logql_passes_through(core: CoreClient, server: LoopbackServer) -> None:
    raw = '{host="web-1"} |= "jk2_init()"'
    page = await core.logs.query(LogQuery(metadata={"logql": raw}, limit=5, **WHOLE))
    assert len(page.items) == 5 and all("jk2_init()" in e.message for e in page.items)
    assert dict(server.requests_to("GET", "/loki/api/v1/query_range")[-1].query)["query"] == raw


async def test_hostile_values_match_literally_at_loki(core: CoreClient, fake: LokiFake) -> None:
    fake.push({"service": HOSTILE, "env": "prod"}, BASE_NS + 5, HOSTILE)
    fake.push({"service": HOSTILE, "env": "prod"}, BASE_NS + 6, "x\\ (.*)| but not the whole line")
    page = await core.logs.query(LogQuery.model_validate({**HOSTILE_QUERY, **WHOLE}))
    assert [(e.service, e.message) for e in page.items] == [(HOSTILE, HOSTILE)]


async def test_tenant_header_and_token_are_sent(
    make_core: Callable[..., CoreClient], config: dict[str, Any], server: LoopbackServer
) -> None:
    core = make_core("loki", config, "log")
    await core.logs.query(LogQuery(limit=1, **WHOLE))
    headers = server.exchanges[-1].headers
    assert headers["x-scope-orgid"] == TENANT and headers["authorization"] == f"Bearer {TOKEN}"
    other = make_core("loki", {**config, "tenant": "globex"}, "log")
    assert (await other.logs.query(LogQuery(limit=5, **WHOLE))).items == []
    anonymous = make_core("loki", {k: v for k, v in config.items() if k != "tenant"}, "log")
    with pytest.raises(ProviderUnavailable, match=r"credentials refused \(401\)"):
        await anonymous.logs.query(LogQuery(**WHOLE))


async def test_basic_auth_and_the_token_from_the_environment(
    make_core: Callable[..., CoreClient],
    server: LoopbackServer,
    fake: LokiFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.token = None
    basic = make_core(
        "loki",
        {"url": server.url, "tenant": TENANT, "basic_auth": {"username": "ops", "password": "pw-9"}},
        "log",
    )
    await basic.logs.query(LogQuery(limit=1, **WHOLE))
    assert server.exchanges[-1].headers["authorization"].startswith("Basic ")
    fake.token = TOKEN
    monkeypatch.setenv("LOKI_BEARER_TOKEN", TOKEN)
    from_env = make_core("loki", {"url": server.url, "tenant": TENANT}, "log")
    assert len((await from_env.logs.query(LogQuery(limit=2, **WHOLE))).items) == 2


async def test_health_reports_the_version_or_why_it_is_down(
    core: CoreClient, make_core: Callable[..., CoreClient], config: dict[str, Any]
) -> None:
    report = await core.health()
    assert (report.status, report.providers[0].message) == ("ok", f"Loki 3.1.1, tenant {TENANT}")
    wrong = make_core("loki", {**config, "bearer_token": "wrong"}, "log")
    health = (await wrong.health()).providers[0]
    assert health.status == "down" and "credentials refused (401)" in health.message


async def test_a_parse_error_is_a_bad_query_with_lokis_message(core: CoreClient) -> None:
    with pytest.raises(
        BadQuery, match=r"Loki rejected \{host=\"web-1\"\} \|\|.*parse error at line 1, col 17"
    ) as caught:
        await core.logs.query(LogQuery(metadata={"logql": '{host="web-1"} || "x"'}, **WHOLE))
    assert str(caught.value).startswith("loki: ")
    with pytest.raises(BadQuery, match="empty-compatible value"):
        await core.logs.query(LogQuery(metadata={"logql": '{host=~".*"}'}, **WHOLE))


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_typed_and_name_loki(
    core: CoreClient, server: LoopbackServer, status: int
) -> None:
    server.fail_next(status, text_reply(status, "access denied").body)
    with pytest.raises(ProviderUnavailable, match=rf"credentials refused \({status}\)") as caught:
        await core.logs.query(LogQuery(**WHOLE))
    assert caught.value.source == "loki" and str(caught.value).startswith("loki: ")
    assert len(server.exchanges) == 1  # refused credentials are not retried


async def test_rate_limits_are_retried_after_the_servers_delay(
    core: CoreClient, server: LoopbackServer
) -> None:
    server.fail_next(429, text_reply(429, "too many outstanding requests").body, headers={"Retry-After": "1"})
    page = await core.logs.query(LogQuery(limit=3, **WHOLE))
    assert len(page.items) == 3
    assert [e.status for e in server.requests_to("GET", "/loki/api/v1/query_range")] == [429, 200]


async def test_server_errors_are_retried_then_reported(core: CoreClient, server: LoopbackServer) -> None:
    server.fail_next(500, text_reply(500, "rpc error: code = Unavailable").body)
    assert len((await core.logs.query(LogQuery(limit=2, **WHOLE))).items) == 2
    server.fail_next(500, text_reply(500, "rpc error: code = Unavailable").body, times=4)
    with pytest.raises(ProviderUnavailable, match="returned 500: rpc error") as caught:
        await core.logs.query(LogQuery(**WHOLE))
    assert str(caught.value).startswith("loki: ")


async def test_a_tampered_cursor_is_a_bad_query(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="malformed cursor"):
        await core.logs.query(LogQuery(**WHOLE), cursor="bm90LWpzb24")


def test_a_bad_config_names_the_key(make_core: Callable[..., CoreClient]) -> None:
    with pytest.raises(ConfigurationError, match="severity_label"):
        make_core("loki", {"url": "http://127.0.0.1:9", "severity_label": "log.level"}, "log")

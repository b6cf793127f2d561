"""Log search in the demo log store: full text, filters, scope, time, order and cursors, against brute force."""

from __future__ import annotations

import dataclasses
import random
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.demo.logs import DemoLogs
from adapters.demo.logstore import LogRow, LogStore, regex_literals
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.errors import BadQuery
from core_client.schemas import LogExpression, LogFilter, LogQuery, QueryScope, encode_cursor
from core_client.settings import load_settings

WORLD_START = datetime(2025, 3, 1, tzinfo=UTC)
WORLD_NOW = WORLD_START + timedelta(days=2)
LINES = 3000

SERVICES = {
    "checkout-api": "payments",
    "payment-gateway": "payments",
    "orders-worker": "fulfilment",
    "search-api": "discovery",
    "web-frontend": "discovery",
}
TEMPLATES = [
    ("info", "GET /api/orders/{n} 200 in {ms}ms"),
    ("info", "request completed for user {n} in {ms}ms"),
    ("debug", "cache hit for key orders:{p}"),
    ("warn", "slow query on pool-{p} took {ms}ms"),
    ("warn", "retrying request to 10.0.0.{p} (attempt {a})"),
    ("error", "connect ECONNREFUSED 10.0.0.{p}:5432 connection refused"),
    ("error", "payment declined: card_expired (code {n})"),
    ("fatal", "out of memory: killed worker pool-{p}"),
    ("info", "connection pool pool-{p} resized to {a} connections"),
    ("error", 'upstream said "bad gateway" (status 502) -> retry'),
]


@dataclass(frozen=True)
class World:
    rows: list[LogRow]
    path: Path


def generate(seed: int = 7, lines: int = LINES) -> list[LogRow]:
    """Synthetic lines, ascending in time, over two days."""
    rng = random.Random(seed)
    step = int((WORLD_NOW - WORLD_START).total_seconds() * 1000) // lines
    start_ms = int(WORLD_START.timestamp() * 1000)
    rows = []
    for i in range(lines):
        service = rng.choice(list(SERVICES))
        severity, template = rng.choice(TEMPLATES)
        message = template.format(
            n=rng.randint(1, 500), ms=rng.randint(1, 900), p=rng.randint(1, 9), a=rng.randint(1, 5)
        )
        labels = {"region": rng.choice(["eu-west-1", "us-east-1"]), "pod": f"{service}-{rng.randint(0, 3)}"}
        if rng.random() < 0.3:
            labels["canary"] = "true"
        rows.append(
            LogRow(
                id=f"log-{i:06d}",
                ts_ms=start_ms + i * step + rng.randint(0, step // 2),
                service=service,
                environment="staging" if rng.random() < 0.2 else "prod",
                team=SERVICES[service],
                severity=severity,
                message=message,
                labels=labels,
                fields={"latency_ms": rng.randint(1, 900), "trace_id": f"t{rng.getrandbits(32):08x}"},
            )
        )
    return rows


def build_store(path: Path, rows: list[LogRow], *, chunk: int = 700) -> None:
    conn = sqlite3.connect(path)
    store = LogStore(conn)
    store.create_schema()
    for i in range(0, len(rows), chunk):
        assert store.insert(rows[i : i + chunk]) == len(rows[i : i + chunk])
    store.finish()
    conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    rows = generate()
    path = tmp_path_factory.mktemp("logs") / "world.db"
    build_store(path, rows)
    return World(rows=rows, path=path)


@pytest.fixture
async def logs(world: World) -> AsyncIterator[DemoLogs]:
    provider = DemoLogs(world.path, FixedClock(WORLD_NOW))
    yield provider
    await provider.aclose()


@pytest.fixture
async def core(logs: DemoLogs) -> CoreClient:
    providers = {
        Capability.LOG: LoadedProvider(capability=Capability.LOG, name="demo", instance=logs, timeout=10)
    }
    return CoreClient(providers, gate=object(), clock=FixedClock(WORLD_NOW), settings=load_settings())  # type: ignore[arg-type]


# --- a brute-force oracle: what a query should return, computed in Python ------------------------------------


def tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[^\W_]+", text)]


def has_phrase(message: str, phrase: str, prefix: bool = False) -> bool:
    words, wanted = tokens(message), tokens(phrase)
    for i in range(len(words) - len(wanted) + 1):
        window = words[i : i + len(wanted)]
        if window[:-1] == wanted[:-1] and (
            window[-1].startswith(wanted[-1]) if prefix else window[-1] == wanted[-1]
        ):
            return True
    return False


def newest_first(rows: list[LogRow]) -> list[str]:
    return [r.id for r in sorted(rows, key=lambda r: r.ts_ms, reverse=True)]


async def all_ids(core: CoreClient, query: LogQuery) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await core.logs.query(query, cursor=cursor)
        ids += [entry.id for entry in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def q(search: str | None = None, *filters: LogFilter, **kwargs: object) -> LogQuery:
    severity_in = kwargs.pop("severity_in", [])
    return LogQuery(
        expression=LogExpression(search=search, filters=list(filters), severity_in=severity_in),
        limit=kwargs.pop("limit", 1000),
        **kwargs,
    )


# --- tests -------------------------------------------------------------------------------------------------------


async def test_everything_newest_first_by_default(core: CoreClient, world: World) -> None:
    assert await all_ids(core, q()) == newest_first(world.rows)


@pytest.mark.parametrize(
    ("search", "expect"),
    [
        ("ECONNREFUSED", lambda m: has_phrase(m, "econnrefused")),
        ("econnrefused refused", lambda m: has_phrase(m, "econnrefused") and has_phrase(m, "refused")),
        ('"connection refused"', lambda m: has_phrase(m, "connection refused")),
        ("pool-3", lambda m: has_phrase(m, "pool 3")),
        ("10.0.0.7", lambda m: has_phrase(m, "10 0 0 7")),
        ("declin*", lambda m: has_phrase(m, "declin", prefix=True)),
        ('"connection poo"*', lambda m: has_phrase(m, "connection poo", prefix=True)),
        ("pool -slow", lambda m: has_phrase(m, "pool") and not has_phrase(m, "slow")),
        ("-request", lambda m: not has_phrase(m, "request")),
    ],
)
async def test_full_text_search_matches_tokens_phrases_and_prefixes(
    core: CoreClient, world: World, search: str, expect: object
) -> None:
    wanted = newest_first([r for r in world.rows if expect(r.message)])  # type: ignore[operator]
    assert wanted, "the generator must produce lines for every case"
    assert await all_ids(core, q(search)) == wanted


@pytest.mark.parametrize(
    "search",
    [
        "(status 502)",
        "->",
        "orders:42",
        "card_expired:",
        "*",
        "- -",
        "AND OR NOT",
        "NEAR(a b)",
        "a:b:c",
        "^x",
        "{x}",
    ],
)
async def test_fts_syntax_in_user_text_is_literal(core: CoreClient, world: World, search: str) -> None:
    page = await core.logs.query(q(search))
    for entry in page.items:
        # Whatever matched contains every word (or, for punctuation-only terms, the literal text).
        for term in search.split():
            words = tokens(term)
            assert has_phrase(entry.message, " ".join(words)) if words else term in entry.message


async def test_punctuation_only_term_is_a_literal_substring(core: CoreClient, world: World) -> None:
    wanted = newest_first([r for r in world.rows if "->" in r.message])
    assert wanted
    assert await all_ids(core, q("->")) == wanted


@pytest.mark.parametrize("short_message", ["", "->"])
async def test_short_literals_and_odd_severities_find_and_count_every_line(
    tmp_path: Path, short_message: str
) -> None:
    # Rare short literals, which the index narrows to the lines holding one of their trigrams, and a store that
    # also holds a message too short to hold any trigram (which must still be found).
    rows = generate(seed=11, lines=600)
    rare = {40: "handoff a->b done", 41: "x|y split", 300: "tail ->", 301: "Zq at start", 302: "->"}
    rare = {i: message for i, message in rare.items() if message != "->" or short_message}
    rows = [
        dataclasses.replace(
            row,
            message=rare.get(i, row.message.replace("->", "then")),
            # A severity outside the usual five, which the word index's histogram counts line by line.
            severity="NOTICE" if i % 50 == 0 else row.severity,
        )
        for i, row in enumerate(rows)
    ]
    path = tmp_path / "short.db"
    build_store(path, rows)
    logs = DemoLogs(path, FixedClock(WORLD_NOW))
    providers = {
        Capability.LOG: LoadedProvider(capability=Capability.LOG, name="demo", instance=logs, timeout=10)
    }
    core = CoreClient(providers, gate=object(), clock=FixedClock(WORLD_NOW), settings=load_settings())  # type: ignore[arg-type]
    try:
        for query, holds in [
            (q("->"), lambda m: "->" in m),
            (q("connection"), lambda m: has_phrase(m, "connection")),
            (q("|"), lambda m: "|" in m),
            (q("<<"), lambda m: "<<" in m),
            (
                q(None, LogFilter(field="message", operator="contains", value="zQ")),
                lambda m: "zq" in m.lower(),
            ),
            (
                q(None, LogFilter(field="message", operator="regex", value=r"^Zq")),
                lambda m: m.startswith("Zq"),
            ),
            (
                q(None, LogFilter(field="message", operator="regex", value=r"a->b|->$")),
                lambda m: "a->b" in m or m.endswith("->"),
            ),
        ]:
            matching = [r for r in rows if holds(r.message)]
            assert await all_ids(core, query) == newest_first(matching), query.expression
            histogram = await core.logs.histogram(
                query.model_copy(update={"start": WORLD_START, "end": WORLD_NOW})
            )
            counted: Counter[str] = Counter()
            for bucket in histogram.buckets:
                counted.update(bucket.by_severity)
            assert histogram.total == len(matching)
            assert counted == Counter(r.severity for r in matching)
    finally:
        await logs.aclose()


async def test_words_and_substrings_together(core: CoreClient, world: World) -> None:
    expect = [
        r for r in world.rows if has_phrase(r.message, "refused") and "used 10.0.0.7" in r.message.lower()
    ]
    wanted = newest_first(expect)
    assert wanted
    flt = LogFilter(field="message", operator="contains", value="used 10.0.0.7")
    assert await all_ids(core, q("refused", flt)) == wanted


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"OOMKilled process [0-9]+", ["OOMKilled process "]),
        (r"a|bcd", []),
        (r"(?:abc)?def", ["def"]),
        (r"x(abc)+y", ["x", "abc", "y"]),
        (r"(?i)Kiwi", ["w"]),
        (r"(?i)Error", ["Error"]),
        (r"\.json$", [".json"]),
    ],
)
def test_regex_literals_are_what_every_match_contains(pattern: str, literals: list[str]) -> None:
    assert regex_literals(pattern) == literals


async def test_unterminated_quote_is_bad_query(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="unterminated quote"):
        await core.logs.query(q('"connection refused'))


FILTER_CASES = [
    (LogFilter(field="service", operator="=", value="checkout-api"), lambda r: r.service == "checkout-api"),
    (LogFilter(field="service", operator="!=", value="checkout-api"), lambda r: r.service != "checkout-api"),
    (LogFilter(field="service", operator="contains", value="API"), lambda r: "api" in r.service),
    (
        LogFilter(field="service", operator="regex", value=r"^(search|web)-"),
        lambda r: re.search(r"^(search|web)-", r.service),
    ),
    (LogFilter(field="severity", operator="=", value="ERROR"), lambda r: r.severity == "error"),
    (LogFilter(field="severity", operator="!=", value="info"), lambda r: r.severity != "info"),
    (LogFilter(field="severity", operator="contains", value="ar"), lambda r: "ar" in r.severity),
    (
        LogFilter(field="severity", operator="regex", value="^(warn|fatal)$"),
        lambda r: r.severity in ("warn", "fatal"),
    ),
    (
        LogFilter(field="message", operator="=", value="cache hit for key orders:4"),
        lambda r: r.message == "cache hit for key orders:4",
    ),
    (
        LogFilter(field="message", operator="!=", value="cache hit for key orders:4"),
        lambda r: r.message != "cache hit for key orders:4",
    ),
    (
        LogFilter(field="message", operator="contains", value="Pool-3"),
        lambda r: "pool-3" in r.message.lower(),
    ),
    (
        LogFilter(field="message", operator="regex", value=r"took [89]\d\dms"),
        lambda r: re.search(r"took [89]\d\dms", r.message),
    ),
    # Substrings and regexes narrowed by the trigram index, then checked exactly.
    (
        LogFilter(field="message", operator="contains", value="NREFUSED 10.0.0.7:54"),
        lambda r: "nrefused 10.0.0.7:54" in r.message.lower(),
    ),
    (
        LogFilter(field="message", operator="contains", value='said "BAD'),
        lambda r: 'said "bad' in r.message.lower(),
    ),
    (
        LogFilter(field="message", operator="regex", value=r"(?i)econnrefused 10\.0\.0\.[1-3]:"),
        lambda r: re.search(r"(?i)econnrefused 10\.0\.0\.[1-3]:", r.message),
    ),
    (
        LogFilter(field="message", operator="regex", value=r"ECONNREFUSED|declined"),
        lambda r: re.search(r"ECONNREFUSED|declined", r.message),
    ),
    (
        LogFilter(field="message", operator="regex", value=r"(pool-[1-3]) (took|resized)+ \d"),
        lambda r: re.search(r"(pool-[1-3]) (took|resized)+ \d", r.message),
    ),
    (LogFilter(field="region", operator="=", value="eu-west-1"), lambda r: r.labels["region"] == "eu-west-1"),
    (
        LogFilter(field="region", operator="!=", value="eu-west-1"),
        lambda r: r.labels["region"] != "eu-west-1",
    ),
    (LogFilter(field="canary", operator="=", value="true"), lambda r: r.labels.get("canary") == "true"),
    (LogFilter(field="canary", operator="!=", value="true"), lambda r: r.labels.get("canary") != "true"),
    (LogFilter(field="pod", operator="contains", value="WORKER"), lambda r: "worker" in r.labels["pod"]),
    (
        LogFilter(field="pod", operator="regex", value=r"-[02]$"),
        lambda r: re.search(r"-[02]$", r.labels["pod"]),
    ),
    (LogFilter(field="environment", operator="=", value="staging"), lambda r: r.environment == "staging"),
    (LogFilter(field="team", operator="!=", value="payments"), lambda r: r.team != "payments"),
]


@pytest.mark.parametrize(
    ("flt", "expect"),
    FILTER_CASES,
    ids=lambda v: f"{v.field}{v.operator}{v.value}" if isinstance(v, LogFilter) else "",
)
async def test_every_filter_operator(core: CoreClient, world: World, flt: LogFilter, expect: object) -> None:
    wanted = newest_first([r for r in world.rows if expect(r)])  # type: ignore[operator]
    assert 0 < len(wanted) < len(world.rows)
    assert await all_ids(core, q(None, flt)) == wanted


async def test_filters_combine_with_search_scope_and_severities(core: CoreClient, world: World) -> None:
    query = q(
        "pool",
        LogFilter(field="region", operator="=", value="us-east-1"),
        LogFilter(field="pod", operator="!=", value="orders-worker-1"),
        severity_in=["warn", "FATAL"],
        scope=QueryScope(team="fulfilment", environment="prod"),
    )
    wanted = newest_first(
        [
            r
            for r in world.rows
            if has_phrase(r.message, "pool")
            and r.labels["region"] == "us-east-1"
            and r.labels["pod"] != "orders-worker-1"
            and r.severity in ("warn", "fatal")
            and r.team == "fulfilment"
            and r.environment == "prod"
        ]
    )
    assert wanted
    assert await all_ids(core, query) == wanted


@pytest.mark.parametrize(
    ("scope", "expect"),
    [
        (QueryScope(service="payment-gateway"), lambda r: r.service == "payment-gateway"),
        (QueryScope(team="discovery"), lambda r: r.team == "discovery"),
        (QueryScope(environment="staging"), lambda r: r.environment == "staging"),
        (
            QueryScope(service="search-api", environment="prod"),
            lambda r: r.service == "search-api" and r.environment == "prod",
        ),
        (QueryScope(service="no-such-service"), lambda r: False),
    ],
)
async def test_scope(core: CoreClient, world: World, scope: QueryScope, expect: object) -> None:
    wanted = newest_first([r for r in world.rows if expect(r)])  # type: ignore[operator]
    assert await all_ids(core, q(None, scope=scope)) == wanted
    with_word = newest_first([r for r in world.rows if expect(r) and has_phrase(r.message, "request")])  # type: ignore[operator]
    assert await all_ids(core, q("request", scope=scope)) == with_word


async def test_time_range_is_half_open(core: CoreClient, world: World) -> None:
    pivot = world.rows[1000]
    start = datetime.fromtimestamp(pivot.ts_ms / 1000, UTC)
    end = start + timedelta(hours=3)
    end_ms = int(end.timestamp() * 1000)
    wanted = newest_first([r for r in world.rows if pivot.ts_ms <= r.ts_ms < end_ms])
    ids = await all_ids(core, q(None, start=start, end=end))
    assert ids == wanted and ids[-1] == pivot.id
    only_start = await all_ids(core, q("refused", start=start))
    assert only_start == newest_first(
        [r for r in world.rows if r.ts_ms >= pivot.ts_ms and has_phrase(r.message, "refused")]
    )
    assert await all_ids(core, q(None, start=WORLD_NOW + timedelta(days=1))) == []


async def test_start_after_end_is_bad_query(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="after end"):
        await core.logs.query(q(None, start=WORLD_NOW, end=WORLD_NOW - timedelta(hours=1)))


@pytest.mark.parametrize("search", [None, "request", '"connection refused"'])
async def test_pages_have_no_gaps_or_duplicates(core: CoreClient, world: World, search: str | None) -> None:
    full = await all_ids(core, q(search, limit=1000))
    query = q(search, limit=37)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await core.logs.query(query, cursor=cursor)
        assert len(page.items) == 37 or page.next_cursor is None
        seen += [e.id for e in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == full and len(set(seen)) == len(seen)
    assert pages == -(-len(full) // 37)


async def test_cursor_is_stable_and_checks_its_query(core: CoreClient) -> None:
    query = q("request", limit=20)
    first = await core.logs.query(query)
    assert first.next_cursor
    again = await core.logs.query(query, cursor=first.next_cursor)
    twice = await core.logs.query(query.model_copy(update={"limit": 20}), cursor=first.next_cursor)
    assert [e.id for e in again.items] == [e.id for e in twice.items]
    with pytest.raises(BadQuery, match="different query"):
        await core.logs.query(q("refused", limit=20), cursor=first.next_cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "e30",
        encode_cursor({"below": 10}),
        encode_cursor({"below": "x", "query": "q", "check": "c"}),
    ],
)
async def test_tampered_cursor_is_bad_query(core: CoreClient, cursor: str) -> None:
    with pytest.raises(BadQuery):
        await core.logs.query(q("request"), cursor=cursor)


async def test_cursor_with_a_forged_position_is_bad_query(core: CoreClient) -> None:
    from core_client.schemas import decode_cursor

    page = await core.logs.query(q("request", limit=5))
    position = decode_cursor(page.next_cursor or "")
    forged = encode_cursor({**position, "below": position["below"] + 100})
    with pytest.raises(BadQuery, match="altered"):
        await core.logs.query(q("request", limit=5), cursor=forged)


@pytest.mark.parametrize("pattern", ["(unclosed", "[z-a]", "*start", "(?P<x>a)(?P<x>b)"])
async def test_invalid_regex_is_bad_query_naming_it(core: CoreClient, pattern: str) -> None:
    with pytest.raises(BadQuery) as caught:
        await core.logs.query(q(None, LogFilter(field="message", operator="regex", value=pattern)))
    assert repr(pattern) in caught.value.message and "invalid regex" in caught.value.message


async def test_unusable_label_name_is_bad_query(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="label name"):
        await core.logs.query(q(None, LogFilter(field='a"]', operator="contains", value="x")))


async def test_entries_carry_ids_labels_fields_and_metadata(core: CoreClient, world: World) -> None:
    page = await core.logs.query(q(None, limit=3))
    newest = max(world.rows, key=lambda r: r.ts_ms)
    entry = page.items[0]
    assert entry.id == newest.id
    assert entry.timestamp == datetime.fromtimestamp(newest.ts_ms / 1000, UTC)
    assert (entry.service, entry.severity, entry.message) == (newest.service, newest.severity, newest.message)
    assert entry.labels == newest.labels and entry.fields == newest.fields
    assert entry.metadata == {"environment": newest.environment, "team": newest.team}
    assert entry.to_json()["id"] == newest.id
    assert len(page.items) == 3


async def test_default_page_size(core: CoreClient) -> None:
    page = await core.logs.query(LogQuery())
    assert len(page.items) == 50 and page.next_cursor

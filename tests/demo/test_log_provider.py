"""The demo log provider: health, context around a line, histograms, and how the store is built and opened."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.demo.logs import DemoLogs
from adapters.demo.logstore import LogRow, LogStore
from core_client.analysis.histogram import histogram_from_entries
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.errors import BadQuery, NotFound, ProviderUnavailable
from core_client.protocols import LogContextProvider, LogHistogramProvider, LogProvider
from core_client.schemas import LogEntry, LogExpression, LogFilter, LogQuery, QueryScope
from core_client.settings import load_settings

WORLD_NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
START = WORLD_NOW - timedelta(hours=6)
SERVICES = {"checkout-api": "payments", "orders-worker": "fulfilment", "search-api": "discovery"}
MESSAGES = [
    ("info", "request completed in {n}ms"),
    ("warn", "slow query took {n}ms"),
    ("error", "connect ECONNREFUSED 10.0.0.{d}:5432"),
    ("debug", "cache miss for key cart:{n}"),
    ("fatal", "worker crashed: out of memory"),
]


def generate(count: int = 2400, seed: int = 3) -> list[LogRow]:
    """Lines over the six hours before WORLD_NOW, ascending, several to a millisecond now and then."""
    rng = random.Random(seed)
    start_ms = int(START.timestamp() * 1000)
    ts = start_ms
    rows = []
    for i in range(count):
        ts += rng.choice([0, 4000, 10000, 18000])
        service = rng.choice(list(SERVICES))
        severity, template = rng.choice(MESSAGES)
        rows.append(
            LogRow(
                id=f"line-{i}",
                ts_ms=ts,
                service=service,
                environment=rng.choice(["prod", "prod", "staging"]),
                team=SERVICES[service],
                severity=severity,
                message=template.format(n=rng.randint(1, 999), d=rng.randint(1, 9)),
                labels={"region": rng.choice(["eu", "us"])},
                fields={"n": i},
            )
        )
    return rows


def build(path: Path, batches: list[list[LogRow]]) -> None:
    conn = sqlite3.connect(path)
    store = LogStore(conn)
    store.create_schema()
    for batch in batches:
        store.insert(batch)
    store.finish()
    conn.close()


@pytest.fixture(scope="module")
def rows() -> list[LogRow]:
    return generate()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, rows: list[LogRow]) -> Path:
    path = tmp_path_factory.mktemp("provider") / "logs.db"
    build(path, [rows[:1000], rows[1000:]])
    return path


@pytest.fixture
async def logs(db: Path) -> AsyncIterator[DemoLogs]:
    provider = DemoLogs(db, FixedClock(WORLD_NOW))
    yield provider
    await provider.aclose()


@pytest.fixture
def core(logs: DemoLogs) -> CoreClient:
    providers = {
        Capability.LOG: LoadedProvider(capability=Capability.LOG, name="demo", instance=logs, timeout=10)
    }
    return CoreClient(providers, gate=object(), clock=FixedClock(WORLD_NOW), settings=load_settings())  # type: ignore[arg-type]


def entry(row: LogRow) -> LogEntry:
    return LogEntry(
        id=row.id,
        timestamp=datetime.fromtimestamp(row.ts_ms / 1000, UTC),
        severity=row.severity,
        message=row.message,
    )


def test_implements_the_log_protocols(logs: DemoLogs) -> None:
    assert isinstance(logs, LogProvider)
    assert isinstance(logs, LogContextProvider)
    assert isinstance(logs, LogHistogramProvider)


async def test_health_reports_lines_and_span(core: CoreClient, rows: list[LogRow]) -> None:
    report = await core.health()
    (health,) = report.providers
    assert health.status == "ok" and health.provider == "demo" and health.capability == "log"
    assert f"{len(rows):,} log lines" in health.message
    assert datetime.fromtimestamp(rows[0].ts_ms / 1000, UTC).isoformat() in health.message


async def test_health_is_down_for_a_missing_or_half_built_store(tmp_path: Path) -> None:
    missing = DemoLogs(tmp_path / "nope.db", FixedClock(WORLD_NOW))
    assert (await missing.health()).status == "down"
    await missing.aclose()

    half = tmp_path / "half.db"
    conn = sqlite3.connect(half)
    store = LogStore(conn)
    store.create_schema()
    store.insert(generate(50))
    conn.commit()
    conn.close()
    logs = DemoLogs(half, FixedClock(WORLD_NOW))
    health = await logs.health()
    assert health.status == "down" and "not built" in health.message
    with pytest.raises(ProviderUnavailable, match="not built"):
        await logs.query(LogQuery(expression=LogExpression(search="request")))
    await logs.aclose()


@pytest.mark.parametrize("index", [0, 5, 1200, 2399])
async def test_context_is_the_same_stream_oldest_first(
    core: CoreClient, rows: list[LogRow], index: int
) -> None:
    anchor = rows[index]
    stream = [r for r in rows if (r.service, r.environment) == (anchor.service, anchor.environment)]
    position = stream.index(anchor)
    context = await core.logs.context(anchor.id, before=7, after=4)
    assert context.anchor.id == anchor.id
    assert [e.id for e in context.before] == [r.id for r in stream[max(0, position - 7) : position]]
    assert [e.id for e in context.after] == [r.id for r in stream[position + 1 : position + 5]]
    assert all(e.service == anchor.service for e in context.before + context.after)


async def test_context_of_unknown_line_is_not_found(core: CoreClient) -> None:
    with pytest.raises(NotFound, match="no-such-line"):
        await core.logs.context("no-such-line")


async def test_context_rejects_negative_counts(core: CoreClient, rows: list[LogRow]) -> None:
    with pytest.raises(BadQuery):
        await core.logs.context(rows[0].id, before=-1)


HISTOGRAM_QUERIES = [
    LogQuery(),
    LogQuery(start=START, end=WORLD_NOW),
    LogQuery(start=START + timedelta(minutes=17), end=START + timedelta(hours=2, minutes=3)),
    LogQuery(expression=LogExpression(search="ECONNREFUSED"), start=START, end=WORLD_NOW),
    # Decided by the index of words alone (counted from its rowids): lines of several severities, a cut window.
    LogQuery(
        expression=LogExpression(search="5"),
        start=START + timedelta(minutes=17, seconds=37),
        end=START + timedelta(hours=4, minutes=3),
    ),
    LogQuery(
        expression=LogExpression(search="5 -cart", severity_in=["error", "debug"]),
        scope=QueryScope(environment="prod"),
        start=START,
        end=WORLD_NOW,
    ),
    # Served by the per-minute rollup: windows and slots that cut minutes, scope, severities and attribute filters.
    LogQuery(
        expression=LogExpression(severity_in=["WARN", "error"]),
        scope=QueryScope(service="checkout-api", environment="prod"),
        start=START + timedelta(minutes=17, seconds=37),
        end=START + timedelta(hours=2, minutes=3, seconds=11, milliseconds=500),
    ),
    LogQuery(
        expression=LogExpression(
            filters=[
                LogFilter(field="severity", operator="!=", value="INFO"),
                LogFilter(field="team", operator="=", value="fulfilment"),
            ]
        ),
        start=START - timedelta(minutes=5),
        end=WORLD_NOW + timedelta(seconds=30),
    ),
    LogQuery(
        expression=LogExpression(
            filters=[LogFilter(field="region", operator="=", value="eu")], severity_in=["warn", "error"]
        ),
        scope=QueryScope(service="checkout-api"),
        start=START,
        end=WORLD_NOW,
    ),
    LogQuery(
        expression=LogExpression(
            filters=[LogFilter(field="message", operator="regex", value=r"took \d{3}ms")]
        ),
        scope=QueryScope(environment="staging"),
        start=START,
        end=WORLD_NOW,
    ),
]


@pytest.mark.parametrize("query", HISTOGRAM_QUERIES)
@pytest.mark.parametrize("buckets", [1, 7, 60])
async def test_histogram_equals_a_brute_force_count(core: CoreClient, query: LogQuery, buckets: int) -> None:
    histogram = await core.logs.histogram(query, buckets=buckets)
    end = query.end or WORLD_NOW
    start = query.start or end - timedelta(hours=1)
    everything: list[LogEntry] = []
    cursor = None
    while True:
        page = await core.logs.query(
            query.model_copy(update={"start": start, "end": end, "limit": 1000}), cursor=cursor
        )
        everything += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = histogram_from_entries(everything, start=start, end=end, buckets=buckets)
    assert histogram.total == len(everything) > 0
    assert histogram.bucket_seconds == expected.bucket_seconds
    assert [(b.start, b.count, b.by_severity) for b in histogram.buckets] == [
        (b.start, b.count, b.by_severity) for b in expected.buckets
    ]
    assert not histogram.truncated


async def test_histogram_rejects_an_empty_window(core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="empty"):
        await core.logs.histogram(LogQuery(start=WORLD_NOW, end=WORLD_NOW))


async def test_out_of_order_inserts_are_sorted_by_finish(tmp_path: Path) -> None:
    rows = generate(600, seed=11)
    path = tmp_path / "shuffled.db"
    # Per-service batches, as a builder writing one service after another would.
    build(path, [[r for r in rows if r.service == s] for s in SERVICES])
    logs = DemoLogs(path, FixedClock(WORLD_NOW))
    page = await logs.query(LogQuery(limit=1000))
    assert [e.timestamp for e in page.items] == sorted((e.timestamp for e in page.items), reverse=True)
    assert {e.id for e in page.items} == {r.id for r in rows}
    context = await logs.context(rows[300].id, before=3, after=3)
    stamps = [e.timestamp for e in [*context.before, context.anchor, *context.after]]
    assert stamps == sorted(stamps)
    await logs.aclose()


async def test_finish_twice_makes_later_lines_searchable(tmp_path: Path) -> None:
    rows = generate(300, seed=5)
    path = tmp_path / "twice.db"
    conn = sqlite3.connect(path)
    store = LogStore(conn)
    store.create_schema()
    store.insert(rows[:200])
    store.finish()
    store.insert(rows[200:])
    store.finish()
    conn.close()
    logs = DemoLogs(path, FixedClock(WORLD_NOW))
    found = await logs.query(LogQuery(expression=LogExpression(search="ECONNREFUSED"), limit=1000))
    assert [e.id for e in found.items] == [r.id for r in reversed(rows) if "ECONNREFUSED" in r.message]
    await logs.aclose()


async def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    rows = generate(20)
    conn = sqlite3.connect(tmp_path / "dup.db")
    store = LogStore(conn)
    store.create_schema()
    store.insert(rows + rows[:1])
    with pytest.raises(ValueError, match="unique ids"):
        store.finish()
    conn.close()


def file_state(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).digest()


async def test_provider_opens_the_store_read_only(db: Path, logs: DemoLogs, tmp_path: Path) -> None:
    await logs.query(LogQuery(limit=1))
    before = file_state(db)
    await asyncio.gather(*(logs.query(LogQuery(expression=LogExpression(search="slow"))) for _ in range(8)))
    assert file_state(db) == before
    missing = DemoLogs(tmp_path / "absent.db", FixedClock(WORLD_NOW))
    with pytest.raises(ProviderUnavailable, match="cannot open"):
        await missing.query(LogQuery())
    assert not (tmp_path / "absent.db").exists()
    await missing.aclose()

"""Log search and volume counts on real logs (Loghub's samples) equal a plain scan of the same lines.

Common words are counted from the full-text index's posting lists and rarer ones by reading their lines; words,
phrases, prefixes, exclusions, punctuation, substrings and regexes must all find and count exactly the lines a
scan of every line finds, per slot of the window and per severity.
"""

from __future__ import annotations

import csv
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.demo import logs as demo_logs
from adapters.demo.logs import DemoLogs
from adapters.demo.logstore import LogRow, LogStore
from core_client.analysis.histogram import histogram_from_entries
from core_client.clock import FixedClock
from core_client.schemas import LogEntry, LogExpression, LogFilter, LogQuery, QueryScope
from tests.conftest import SHARED_DATA, require

WORLD_START = datetime(2025, 4, 1, tzinfo=UTC)
# Each system's 2,000 lines, this many times over (as many environments): enough for common words to reach the
# posting-list count, while rarer ones are counted from their lines.
COPIES = 4
ENVIRONMENTS = ("prod", "staging", "canary", "dev")
# Three lines to a millisecond, eight seconds apart.
TICK_MS = 8_000


@dataclass(frozen=True)
class Store:
    rows: list[LogRow]
    # The rows as the provider's entries (as much of them as a histogram reads), in the same order.
    entries: list[LogEntry]
    path: Path

    @property
    def end(self) -> datetime:
        return _time(self.rows[-1].ts_ms + 1)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _loghub_lines(loghub_dir: Path) -> list[tuple[str, str, str]]:
    """(service, severity, message) of every Loghub sample, in file order; a system without levels logs "info"."""
    lines = []
    for path in sorted(loghub_dir.glob("*/*_2k.log_structured.csv")):
        service = path.parent.name.lower()
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                level = (row.get("Level") or "info").lower()
                lines.append((service, level, row["Content"]))
    return lines


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    loghub_dir = SHARED_DATA / "loghub"
    require(loghub_dir.is_dir(), f"Loghub samples not found at {loghub_dir} (set OPSPILOT_SHARED_DATA)")
    lines = _loghub_lines(loghub_dir)
    assert len(lines) >= 16_000, f"expected Loghub's eight 2k samples in {loghub_dir}"
    start_ms = int(WORLD_START.timestamp() * 1000)
    rows = []
    # The copies interleave, so every part of the window holds every system.
    for i in range(len(lines) * COPIES):
        copy, index = i % COPIES, i // COPIES
        service, severity, message = lines[index]
        rows.append(
            LogRow(
                id=f"lh-{i:06d}",
                ts_ms=start_ms + (i // 3) * TICK_MS,
                service=service,
                environment=ENVIRONMENTS[copy],
                team="platform",
                severity=severity,
                message=message,
            )
        )
    path = tmp_path_factory.mktemp("loghub") / "logs.db"
    conn = sqlite3.connect(path)
    log_store = LogStore(conn)
    log_store.create_schema()
    log_store.insert(rows)
    log_store.finish()
    conn.close()
    entries = [
        LogEntry(id=row.id, timestamp=_time(row.ts_ms), severity=row.severity, message=row.message)
        for row in rows
    ]
    return Store(rows, entries, path)


@pytest.fixture
async def logs(store: Store) -> AsyncIterator[DemoLogs]:
    provider = DemoLogs(store.path, FixedClock(store.end))
    yield provider
    await provider.aclose()


@functools.cache
def tokens(message: str) -> tuple[str, ...]:
    # unicode61 without diacritics on ASCII text: runs of letters and digits, case-folded.
    return tuple(re.findall(r"[^\W_]+", message.lower()))


def has_phrase(message: str, phrase: str) -> bool:
    words, wanted = tokens(message), tokens(phrase)
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


Scan = Callable[[LogRow], bool]
# A case's name, search text, filters, severities and service, and the plain scan that must find the same lines.
Case = tuple[str, str, list[LogFilter], list[str], str | None, Scan]

CASES: list[Case] = [
    ("common word", "from", [], [], None, lambda r: "from" in tokens(r.message)),
    ("common number", "10", [], [], None, lambda r: "10" in tokens(r.message)),
    ("two common words", "for user", [], [], None, lambda r: {"for", "user"} <= set(tokens(r.message))),
    ("rarer word", "error", [], [], None, lambda r: "error" in tokens(r.message)),
    (
        "phrase",
        '"authentication failure"',
        [],
        [],
        None,
        lambda r: has_phrase(r.message, "authentication failure"),
    ),
    ("prefix", "fail*", [], [], None, lambda r: any(t.startswith("fail") for t in tokens(r.message))),
    (
        "word less another",
        "from -user",
        [],
        [],
        None,
        lambda r: "from" in tokens(r.message) and "user" not in tokens(r.message),
    ),
    ("exclusion alone", "-blk", [], [], None, lambda r: "blk" not in tokens(r.message)),
    (
        "word and severities",
        "from",
        [],
        ["error", "fatal"],
        None,
        lambda r: "from" in tokens(r.message) and r.severity in ("error", "fatal"),
    ),
    (
        "word in a service",
        "user",
        [],
        [],
        "openssh",
        lambda r: "user" in tokens(r.message) and r.service == "openssh",
    ),
    (
        "word and environment",
        "block",
        [LogFilter(field="environment", operator="!=", value="prod")],
        [],
        None,
        lambda r: "block" in tokens(r.message) and r.environment != "prod",
    ),
    ("punctuation", "=", [], [], None, lambda r: "=" in r.message),
    ("short punctuation", "->", [], [], None, lambda r: "->" in r.message),
    (
        "substring",
        "",
        [LogFilter(field="message", operator="contains", value="UID=0")],
        [],
        None,
        lambda r: "uid=0" in r.message.lower(),
    ),
    (
        "regex with a literal",
        "",
        [LogFilter(field="message", operator="regex", value=r"blk_-?\d{3}")],
        [],
        None,
        lambda r: re.search(r"blk_-?\d{3}", r.message) is not None,
    ),
    (
        "regex without a literal",
        "",
        [LogFilter(field="message", operator="regex", value=r"\d{5}\b")],
        [],
        None,
        lambda r: re.search(r"\d{5}\b", r.message) is not None,
    ),
    (
        "word and regex",
        "from",
        [LogFilter(field="message", operator="regex", value=r"port \d+")],
        [],
        None,
        lambda r: "from" in tokens(r.message) and re.search(r"port \d+", r.message) is not None,
    ),
]


def _query(case: Case, start: datetime, end: datetime) -> LogQuery:
    _, search, filters, severities, service, _ = case
    return LogQuery(
        expression=LogExpression(search=search or None, filters=filters, severity_in=severities),
        scope=QueryScope(service=service),
        start=start,
        end=end,
        limit=1000,
    )


def windows(store: Store) -> list[tuple[datetime, datetime]]:
    """The whole span, and a window that starts and ends inside it, off the slots' and minutes' edges."""
    start = _time(store.rows[0].ts_ms)
    return [
        (start, store.end),
        (start + timedelta(hours=9, seconds=7), store.end - timedelta(hours=5, seconds=3)),
    ]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("buckets", [1, 7])
async def test_counts_equal_a_plain_scan(logs: DemoLogs, store: Store, case: Case, buckets: int) -> None:
    scan = case[-1]
    for start, end in windows(store):
        expected_lines = [
            entry
            for row, entry in zip(store.rows, store.entries, strict=True)
            if start <= entry.timestamp < end and scan(row)
        ]
        histogram = await logs.histogram(_query(case, start, end), buckets=buckets)
        expected = histogram_from_entries(expected_lines, start=start, end=end, buckets=buckets)
        assert histogram.total == len(expected_lines) > 0
        assert [(b.start, b.count, b.by_severity) for b in histogram.buckets] == [
            (b.start, b.count, b.by_severity) for b in expected.buckets
        ]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
async def test_counts_summed_slot_by_slot_equal_a_plain_scan(
    logs: DemoLogs, store: Store, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Searches no index narrows are summed a slot at a time once slots are long; here every slot is.
    monkeypatch.setattr(demo_logs, "SCAN_LINES_PER_SLOT", 1)
    await test_counts_equal_a_plain_scan(logs, store, case, buckets=7)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
async def test_search_finds_every_line_a_plain_scan_finds(logs: DemoLogs, store: Store, case: Case) -> None:
    start, end = windows(store)[1]
    scan = case[-1]
    expected = [r.id for r in reversed(store.rows) if start <= _time(r.ts_ms) < end and scan(r)]
    found: list[str] = []
    cursor = None
    while True:
        page = await logs.query(_query(case, start, end), cursor=cursor)
        found += [entry.id for entry in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert found == expected

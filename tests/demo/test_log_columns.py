"""Checks run over the store's columns (polars, Rust's regex engine) find exactly the lines SQLite and Python's
``re`` find: the translation of Python patterns on its own, then whole searches and counts, randomized, against
the same store without its columns."""

from __future__ import annotations

import random
import re
import re._parser as re_parser
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from adapters.demo import logcolumns
from adapters.demo.logcolumns import LineColumns, rust_regex
from adapters.demo.logs import DemoLogs
from adapters.demo.logstore import LogRow, LogStore
from core_client.clock import FixedClock
from core_client.schemas import LogExpression, LogFilter, LogQuery

WORLD_START = datetime(2025, 3, 1, tzinfo=UTC)
LINES = 2_400
STEP_MS = 30_000
WORLD_NOW = WORLD_START + timedelta(milliseconds=LINES * STEP_MS)

# Characters where Python's re and Rust's regex could part: both cases of the letters with wider case folding
# (k, s, i), digits, the underscore, the ASCII separators \x1c-\x1f Python counts as space, tabs and punctuation.
ASCII_ALPHABET = "aAbBkKsSiIzZ019_ -=:.,/\t\x1c\x1f()[]{}$^*+?|\\\"'"
# Text where the translated path must not run: a Kelvin sign, a long s, a dotted I, an accented e, a digit of
# another script.
WIDE_ALPHABET = ASCII_ALPHABET + "\u212a\u017f\u0130\u00e9\u0663"

# Every construct the translation handles, and some it must refuse.
PATTERNS = [
    r"=",
    r"[0-9]{4}ms",
    r"k",
    r"(?i)k",
    r"(?i)[a-k]",
    r"(?i)[^a-k]",
    r"(?i)[^s]",
    r"(?i:S)s",
    r"\s",
    r"\S\S",
    r"[\s=]",
    r"[^\s]",
    r"[\D]",
    r"[^\D_]",
    r"\w+",
    r"\W",
    r"\bk",
    r"k\b",
    r"^a",
    r"a$",
    r"(?m)^a",
    r"(?m)a$",
    r"\Aa",
    r"a\Z",
    r".a",
    r"(?s).a",
    r"a.{2,5}?b",
    r"(ab|k1|_)+",
    r"(?:a|b){3}",
    r"[^a]{2}",
    r"[\]\[]",
    r"\\",
    r"\$\^",
    r"(?i)(?-i:K)",
    r"a*",
    r"",
    r"[a-]",
    r"\x1c",
    r"[\x00-\x1f]",
]
UNTRANSLATABLE = [
    r"\Bz",
    r"(a)\1",
    r"(?=a)",
    r"(?<!a)b",
    r"(?>a+)",
    r"a++",
    "\u212a",
    r"a{2000}",
    r"(?P<x>a)(?P=x)",
]


def _texts(alphabet: str, count: int, seed: int, *, newlines: bool) -> list[str]:
    rng = random.Random(seed)
    letters = alphabet + ("\n" if newlines else "")
    return ["".join(rng.choice(letters) for _ in range(rng.randint(0, 12))) for _ in range(count)]


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    atoms = [
        lambda: re.escape(rng.choice(ASCII_ALPHABET)),
        lambda: ".",
        lambda: rng.choice([r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\b", "^", "$", r"\A", r"\Z"]),
        lambda: (
            "["
            + rng.choice(["", "^"])
            + "".join(
                rng.choice(["a-k", "0-9", r"\s", r"\w", r"\D", "_", "=", "K", r"\x1c"]) for _ in range(2)
            )
            + "]"
        ),
    ]
    if depth < 2:
        atoms += [
            lambda: "(" + _random_pattern(rng, depth + 1) + ")",
            lambda: "(?" + rng.choice(["i", "s", "m", ""]) + ":" + _random_pattern(rng, depth + 1) + ")",
            lambda: _random_pattern(rng, depth + 1) + "|" + _random_pattern(rng, depth + 1),
        ]
    out = ""
    for _ in range(rng.randint(1, 3)):
        out += rng.choice(atoms)()
        if rng.random() < 0.3:
            out += rng.choice(["*", "+", "?", "{1,2}", "{2}", "*?", "+?"])
    return out if depth else rng.choice(["", "", "(?i)", "(?m)", "(?s)"]) + out


def _valid(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _agree(patterns: list[str], texts: list[str], *, newlines: bool) -> int:
    """Assert that every translatable pattern finds the same texts in both engines; return how many were."""
    series = pl.Series(texts, dtype=pl.String)
    translated = 0
    for pattern in patterns:
        rust = rust_regex(pattern, newlines=newlines)
        if rust is None:
            continue
        translated += 1
        expected = [re.search(pattern, text) is not None for text in texts]
        assert series.str.contains(rust).to_list() == expected, (pattern, rust)
    return translated


def test_every_handled_construct_finds_what_python_finds() -> None:
    single = _texts(ASCII_ALPHABET, 600, 1, newlines=False)
    multi = _texts(ASCII_ALPHABET, 600, 2, newlines=True)
    assert _agree(PATTERNS, single, newlines=False) == len(PATTERNS)
    # Python's $ also matches before a final newline, which Rust cannot say: refused where texts hold newlines.
    assert rust_regex("a$", newlines=True) is None
    assert _agree(PATTERNS, multi, newlines=True) == len(PATTERNS) - 1


def test_random_patterns_find_what_python_finds() -> None:
    rng = random.Random(20251205)
    patterns = [p for p in (_random_pattern(rng) for _ in range(500)) if _valid(p)]
    single = _texts(ASCII_ALPHABET, 300, 3, newlines=False)
    multi = _texts(ASCII_ALPHABET, 300, 4, newlines=True)
    # Refused: only the patterns with \B or a possessive repeat, and with $ where texts hold newlines.
    refused = [p for p in patterns if "\\B" in p or "POSSESSIVE_REPEAT" in str(list(re_parser.parse(p)))]
    assert len(patterns) > 300
    assert _agree(patterns, single, newlines=False) == len(patterns) - len(refused)
    assert _agree(patterns, multi, newlines=True) > len(patterns) // 2


@pytest.mark.parametrize("pattern", UNTRANSLATABLE)
def test_constructs_without_a_counterpart_stay_with_python(pattern: str) -> None:
    assert rust_regex(pattern, newlines=False) is None


# --- Whole searches through the provider, with and without the columns ----------------------------------------


def _rows(alphabet: str, seed: int, *, newlines: bool) -> list[LogRow]:
    rng = random.Random(seed)
    start_ms = int(WORLD_START.timestamp() * 1000)
    texts = _texts(alphabet, LINES, seed, newlines=newlines)
    words = ["status=500", "took 1200ms", "pool-3", "OOMKilled", "key=value", "->", "a=b=c"]
    return [
        LogRow(
            id=f"line-{i:05d}",
            ts_ms=start_ms + i * STEP_MS,
            service=rng.choice(["api", "worker"]),
            environment="prod",
            team="core",
            severity=rng.choice(["info", "info", "warn", "error"]),
            message=f"{rng.choice(words)} {text}",
        )
        for i, text in enumerate(texts)
    ]


def _build(path: Path, rows: list[LogRow], *, columns: bool) -> Path:
    conn = sqlite3.connect(path)
    store = LogStore(conn)
    store.create_schema()
    store.insert(rows)
    store.finish()
    if not columns:
        # A store built before the columns were kept: every check runs in SQLite.
        conn.execute("DROP TABLE log_columns")
        conn.execute("DELETE FROM log_meta WHERE key = ?", [logcolumns.COLUMNS_KEY])
        conn.commit()
    conn.close()
    return path


def _random_query(rng: random.Random) -> LogQuery:
    search: list[str] = []
    filters: list[LogFilter] = []
    for _ in range(rng.randint(1, 2)):
        kind = rng.choice(["search", "negated", "contains", "regex", "regex", "equals"])
        if kind == "search":
            search.append(rng.choice(["=", ":", "->", "$", "\\", "="]))
        elif kind == "negated":
            search.append('-"' + rng.choice(["==", "::", ".,"]) + '"')
        elif kind == "contains":
            filters.append(
                LogFilter(field="message", operator="contains", value=rng.choice(["k", "S", "=", "i"]))
            )
        elif kind == "equals":
            filters.append(LogFilter(field="message", operator=rng.choice(["=", "!="]), value="-> a"))
        else:
            pattern = _random_pattern(rng)
            while not _valid(pattern):
                pattern = _random_pattern(rng)
            filters.append(LogFilter(field="message", operator="regex", value=pattern))
    start = WORLD_START + timedelta(minutes=rng.randint(0, 400))
    end = start + timedelta(minutes=rng.randint(30, 1200))
    return LogQuery(
        expression=LogExpression(search=" ".join(search) or None, filters=filters),
        start=start,
        end=end,
        limit=40,
    )


async def _everything(logs: DemoLogs, query: LogQuery) -> list[str]:
    found: list[str] = []
    cursor = None
    while True:
        page = await logs.query(query, cursor=cursor)
        found += [entry.id for entry in page.items]
        if (cursor := page.next_cursor) is None:
            return found


async def _counts(logs: DemoLogs, query: LogQuery, buckets: int) -> list[tuple[int, dict[str, int]]]:
    histogram = await logs.histogram(query, buckets=buckets)
    return [(bucket.count, bucket.by_severity) for bucket in histogram.buckets]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the columns' methods as they serve searches; short blocks, so paging walks several."""
    calls: list[str] = []
    monkeypatch.setattr(logcolumns, "FIRST_BLOCK_LINES", 50)

    def spy(name: str) -> Callable[..., Any]:
        original = getattr(LineColumns, name)

        def called(self: LineColumns, *args: Any) -> Any:
            result = original(self, *args)
            if result is not None:
                calls.append(name)
            return result

        return called

    for name in ("tally", "newest"):
        monkeypatch.setattr(LineColumns, name, spy(name))
    return calls


@pytest.fixture(params=["ascii", "wide"])
async def providers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, DemoLogs, DemoLogs]]:
    wide = request.param == "wide"
    rows = _rows(WIDE_ALPHABET if wide else ASCII_ALPHABET, 11, newlines=wide)
    with_columns = DemoLogs(_build(tmp_path / "columns.db", rows, columns=True), FixedClock(WORLD_NOW))
    without = DemoLogs(_build(tmp_path / "sqlite.db", rows, columns=False), FixedClock(WORLD_NOW))
    yield request.param, with_columns, without
    await with_columns.aclose()
    await without.aclose()


async def test_random_searches_and_counts_equal_sqlites(
    providers: tuple[str, DemoLogs, DemoLogs], served: list[str]
) -> None:
    kind, with_columns, without = providers
    rng = random.Random(7)
    for _ in range(60):
        query = _random_query(rng)
        buckets = rng.randint(1, 9)
        assert await _everything(with_columns, query) == await _everything(without, query), query
        assert await _counts(with_columns, query, buckets) == await _counts(without, query, buckets), query
    # Most of them ran over the columns: with non-ASCII text, only the checks that are not regexes do.
    assert served.count("tally") > (35 if kind == "ascii" else 10)
    assert served.count("newest") >= served.count("tally")


async def test_the_checks_no_index_narrows_run_over_the_columns(
    providers: tuple[str, DemoLogs, DemoLogs], served: list[str]
) -> None:
    kind, with_columns, without = providers
    window = {"start": WORLD_START, "end": WORLD_NOW}
    equals = LogQuery(expression=LogExpression(search="="), **window)
    digits = LogQuery(
        expression=LogExpression(filters=[LogFilter(field="message", operator="regex", value="[0-9]{4}ms")]),
        **window,
    )
    for query in (equals, digits):
        ids = await _everything(with_columns, query)
        assert ids == await _everything(without, query)
        assert await _counts(with_columns, query, 12) == await _counts(without, query, 12)
    assert ids, "the store holds lines with four-digit milliseconds"
    # '=' runs over the columns whatever the text; the regex only where every message is ASCII.
    assert served.count("tally") == (2 if kind == "ascii" else 1)

"""The demo world's log provider: search, context and histograms over the store of ``adapters.demo.logstore``.

SQLite work runs in worker threads (``asyncio.to_thread``), each borrowing a read-only connection from a small
pool, so a search never blocks the event loop; a cancelled call (a CoreClient timeout) interrupts its query. A
search that neither index narrows runs over the store's columns instead (``adapters.demo.logcolumns``), loaded
on the first such search.

Semantics: the search text is words and ``"phrases"`` that must all occur, ``word*`` prefixes and ``-word``
exclusions, matched on whole tokens, case-insensitively. Filters take ``=``, ``!=``, ``contains`` (case-insensitive
substring) and ``regex`` (Python ``re``, matched anywhere) on ``service``, ``severity``, ``message``,
``environment``, ``team`` or any label name; a line without the label never equals and always differs. Times are
half-open, ``[start, end)``; a query without them covers the whole world. A histogram without them covers the
hour before the clock's ``now``, like CoreClient's emulated one.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from adapters.demo.logcolumns import LineColumns, check_expression
from adapters.demo.logstore import (
    LINE_COLUMNS,
    REGEXP_FUNCTION,
    ROLLUP_MINUTE_MS,
    SEVERITIES_KEY,
    RollupPlan,
    SearchPlan,
    anchored,
    compile_rollup,
    compile_search,
    regexp,
    severity_match,
)
from core_client.analysis.histogram import bucket_seconds_for
from core_client.clock import Clock
from core_client.errors import BadQuery, NotFound, OpsPilotError, ProviderUnavailable
from core_client.schemas import (
    HistogramBucket,
    LogContext,
    LogEntry,
    LogHistogram,
    LogQuery,
    Page,
    ProviderHealth,
    decode_cursor,
    encode_cursor,
    page_size,
)
from core_client.schemas.base import MAX_LIMIT

T = TypeVar("T")

# How many SQLite virtual-machine steps run between two checks for cancellation.
PROGRESS_STEPS = 20_000
DEFAULT_HISTOGRAM_WINDOW = timedelta(hours=1)
# A histogram of a word search reads its matching lines rather than counting them in the full-text index, slot by
# slot and severity by severity, while there are fewer than this many per slot: below it, reading them is the
# quicker of the two (benchmarks/log_search.py, 200k to 4M lines).
READ_MATCHES_PER_SLOT = 600
# A histogram whose lines are all checked (no index narrows its search) sums each slot's severities in a query of
# its own from this many lines a slot: grouping sorts every match (half a second at a million), while each query
# costs a fixed part of a millisecond (benchmarks/log_search.py at a million lines: '=' counted in 300 ms, not 650).
SCAN_LINES_PER_SLOT = 20_000


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _entry(row: tuple[Any, ...]) -> LogEntry:
    _, line_id, ts_ms, service, environment, team, severity, message, labels, fields = row
    return LogEntry(
        id=line_id,
        timestamp=datetime.fromtimestamp(ts_ms / 1000, UTC),
        message=message,
        severity=severity,
        service=service,
        labels=json.loads(labels),
        fields=json.loads(fields),
        metadata={"environment": environment, "team": team},
    )


def _rollup_tally(
    conn: sqlite3.Connection, rollup: RollupPlan, start_ms: int, end_ms: int, width_ms: int, count: int
) -> list[tuple[int, str, int]]:
    """(slot, severity, lines) of ``[start_ms, end_ms)`` from the per-minute rollup, exact at every edge.

    A minute that a slot boundary (or the window's start or end) cuts is counted line by line; every other minute
    lies inside one slot and is read from the rollup, so the work grows with the window's minutes, not its lines.
    """
    boundaries = [min(start_ms + i * width_ms, end_ms) for i in range(count + 1)]
    cut = sorted({b - b % ROLLUP_MINUTE_MS for b in boundaries if b % ROLLUP_MINUTE_MS})
    first_minute = start_ms - start_ms % ROLLUP_MINUTE_MS
    where, args = rollup.where("r")
    excluded = f" AND r.minute_ms NOT IN ({', '.join('?' * len(cut))})" if cut else ""
    # Grouped in the rollup's key order (minute, severity): streamed, no sort; minutes go to slots here.
    per_minute = conn.execute(
        f"SELECT r.minute_ms, r.severity, sum(r.n) FROM {rollup.table} r "
        f"WHERE r.minute_ms >= ? AND r.minute_ms < ? AND {where}{excluded} GROUP BY r.minute_ms, r.severity",
        [first_minute, end_ms, *args, *cut],
    ).fetchall()
    slots: dict[tuple[int, str], int] = {}
    for minute, severity, n in per_minute:
        key = (min((minute - start_ms) // width_ms, count - 1), severity)
        slots[key] = slots.get(key, 0) + n
    rows = [(slot, severity, n) for (slot, severity), n in slots.items()]
    line_where, line_args = rollup.where("l")
    for minute in cut:
        lo, hi = max(minute, start_ms), min(minute + ROLLUP_MINUTE_MS, end_ms)
        rows += conn.execute(
            "SELECT min((l.ts_ms - ?) / ?, ?) AS slot, l.severity, count(*) FROM log_line l "
            f"WHERE l.ts_ms >= ? AND l.ts_ms < ? AND {line_where} GROUP BY slot, l.severity",
            [start_ms, width_ms, count - 1, lo, hi, *line_args],
        ).fetchall()
    return rows


def _postings_tally(
    conn: sqlite3.Connection, match: str, start_ms: int, end_ms: int, width_ms: int, count: int
) -> list[tuple[int, str, int]] | None:
    """(slot, severity, lines) of ``[start_ms, end_ms)`` matching ``match`` (anchored), counted from the full-text
    index's posting lists alone; ``None`` when the window holds so few matches that reading them costs less, or
    the store is older than its list of severities.

    Rowid order is time order, so the window and each slot are rowid ranges the index counts in without reading
    a line. A line has one severity, so the lines of one severity are the matches less those of every other:
    over the window that one is the store's commonest, whose list is never walked; in a slot, the window's
    commonest among the matches, and severities without a match in the window are not asked again.
    """
    severities = _severities(conn)
    if not severities:
        return None
    edges = [_first_rowid_at(conn, min(start_ms + i * width_ms, end_ms)) for i in range(count + 1)]

    def matches(expression: str, lo: int, hi: int) -> int:
        if lo >= hi:
            return 0
        return int(
            conn.execute(
                "SELECT count(*) FROM log_fts WHERE log_fts MATCH ? AND rowid >= ? AND rowid < ?",
                [expression, lo, hi],
            ).fetchone()[0]
        )

    def split(left: int, lo: int, hi: int, derived: str, asked: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for severity in asked:
            if not left:
                break
            n = matches(f"{match} AND {anchored(severity_match(severity))}", lo, hi)
            if n:
                counts[severity] = n
                left -= n
        if left:
            counts[derived] = left
        return counts

    total = matches(match, edges[0], edges[-1])
    if total < READ_MATCHES_PER_SLOT * count:
        return None
    window = split(total, edges[0], edges[-1], severities[0], severities[1:])
    if count == 1:
        return [(0, severity, n) for severity, n in window.items()]
    ranked = sorted(window, key=lambda severity: -window[severity])
    rows: list[tuple[int, str, int]] = []
    for slot, (lo, hi) in enumerate(itertools.pairwise(edges)):
        counts = split(matches(match, lo, hi), lo, hi, ranked[0], ranked[1:])
        rows += [(slot, severity, n) for severity, n in counts.items()]
    return rows


def _scan_tally(
    conn: sqlite3.Connection,
    plan: SearchPlan,
    severities: list[str],
    start_ms: int,
    end_ms: int,
    width_ms: int,
    count: int,
) -> list[tuple[int, str, int]] | None:
    """(slot, severity, lines) of ``[start_ms, end_ms)`` matching ``plan`` when nothing narrows it, every line
    of the window is checked and its slots are long; else ``None`` (then one grouped query costs less).

    Rowid order is time order, so each slot is a rowid range and its severities are summed in one pass, one
    column each: grouping the matches by slot and severity instead sorts every one of them in a temporary
    B-tree, which costs as much as the scan itself when nearly every line matches (``=``).
    """
    edges = [_first_rowid_at(conn, min(start_ms + i * width_ms, end_ms)) for i in range(count + 1)]
    if edges[-1] - edges[0] < SCAN_LINES_PER_SLOT * count:
        return None
    _, _, order = plan.source(conn, edges[0], edges[-1] - 1)
    # An exclusion's subquery would be built again for every slot.
    if order != "l.rowid" or plan.exclude_match is not None:
        return None
    sums = ", ".join("sum(l.severity = ?)" for _ in severities)
    rows: list[tuple[int, str, int]] = []
    for slot, (lo, hi) in enumerate(itertools.pairwise(edges)):
        if lo >= hi:
            continue
        sql, args, _ = plan.source(conn, lo, hi - 1)
        counts = conn.execute(f"SELECT {sums} {sql}", [*severities, *args]).fetchone()
        rows += [(slot, severity, n) for severity, n in zip(severities, counts, strict=True) if n]
    return rows


def _severities(conn: sqlite3.Connection) -> list[str] | None:
    """Every severity of the store's lines, commonest first; ``None`` for a store built before the list (and the
    anchor) were kept."""
    kept = conn.execute("SELECT value FROM log_meta WHERE key = ?", [SEVERITIES_KEY]).fetchone()
    return None if kept is None else [severity for severity, _ in json.loads(kept[0])]


def _first_rowid_at(conn: sqlite3.Connection, ms: int) -> int:
    """The rowid of the first line at or after ``ms`` (one past the last line when there is none)."""
    row = conn.execute(
        "SELECT rowid FROM log_line WHERE ts_ms >= ? ORDER BY ts_ms, rowid LIMIT 1", (ms,)
    ).fetchone()
    if row is not None:
        return int(row[0])
    return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM log_line").fetchone()[0]) + 1


class _ReadOnlyPool:
    """Read-only connections to one database file, lent to one thread at a time."""

    def __init__(self, db_path: Path) -> None:
        self._uri = f"{db_path.resolve().as_uri()}?mode=ro"
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []

    def acquire(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        conn.create_function(REGEXP_FUNCTION, 2, regexp, deterministic=True)
        with self._lock:
            self._all.append(conn)
        return conn

    def release(self, conn: sqlite3.Connection) -> None:
        self._idle.put(conn)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        while not self._idle.empty():
            self._idle.get_nowait()


class DemoLogs:
    """Logs of the demo world: ``LogProvider``, ``LogContextProvider`` and ``LogHistogramProvider``."""

    def __init__(self, db_path: Path, clock: Clock, *, source: str = "demo") -> None:
        self._db_path = Path(db_path)
        # Public: CoreClient takes a provider's own clock (the world's frozen world_now) as everyone's time.
        self.clock = clock
        self._source = source
        self._pool = _ReadOnlyPool(self._db_path)
        # The store's columns (adapters.demo.logcolumns), loaded by the first search that checks every line.
        self._columns_lock = threading.Lock()
        self._columns_loaded = False
        self._columns: LineColumns | None = None

    async def health(self) -> ProviderHealth:
        """How many lines the store holds and the time they span; ``down`` when it is missing or half-built."""
        started = time.perf_counter()

        def check(conn: sqlite3.Connection) -> dict[str, str]:
            return dict(conn.execute("SELECT key, value FROM log_meta").fetchall())

        try:
            meta = await self._run(check)
        except OpsPilotError as exc:
            return self._health("down", exc.message, started)
        if meta.get("finished") != "1":
            return self._health("down", f"log store {self._db_path} is not built yet", started)
        first = datetime.fromtimestamp(int(meta["first_ts_ms"]) / 1000, UTC).isoformat()
        last = datetime.fromtimestamp(int(meta["last_ts_ms"]) / 1000, UTC).isoformat()
        return self._health("ok", f"{int(meta['lines']):,} log lines from {first} to {last}", started)

    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]:
        """Lines matching ``query``, newest first, one page at a time."""
        plan = compile_search(query, source=self._source)
        start_ms, end_ms = self._window(query)
        fingerprint = self._fingerprint(query)
        below = self._cursor_position(cursor, fingerprint) if cursor else None
        size = page_size(query.limit)

        def search(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            lo, hi = self._rowid_range(conn, start_ms, end_ms)
            if below is not None:
                hi = min(hi, below - 1)
            over_columns = self._column_check(conn, plan)
            if over_columns is not None:
                columns, check = over_columns
                rowids = columns.newest(check, lo, hi, size + 1)
                if rowids is not None:
                    marks = ", ".join("?" * len(rowids))
                    return conn.execute(
                        f"SELECT {LINE_COLUMNS} FROM log_line l WHERE l.rowid IN ({marks}) ORDER BY l.rowid DESC",
                        rowids,
                    ).fetchall()
            sql, args, order = plan.source(conn, lo, hi)
            return conn.execute(
                f"SELECT {LINE_COLUMNS} {sql} ORDER BY {order} DESC LIMIT ?", [*args, size + 1]
            ).fetchall()

        rows = await self._run(search)
        more = len(rows) > size
        rows = rows[:size]
        next_cursor = self._make_cursor(rows[-1][0], fingerprint) if more else None
        return Page[LogEntry](items=[_entry(row) for row in rows], next_cursor=next_cursor)

    async def context(self, log_id: str, *, before: int = 20, after: int = 20) -> LogContext:
        """The lines of the same service and environment around ``log_id``, oldest first."""
        if before < 0 or after < 0:
            raise BadQuery(
                f"context needs before >= 0 and after >= 0, got {before} and {after}", source=self._source
            )
        before, after = min(before, MAX_LIMIT), min(after, MAX_LIMIT)

        def around(conn: sqlite3.Connection) -> tuple[Any, list[Any], list[Any]] | None:
            anchor = conn.execute(
                f"SELECT {LINE_COLUMNS} FROM log_line l WHERE l.id = ?", (log_id,)
            ).fetchone()
            if anchor is None:
                return None
            rowid, service, environment = anchor[0], anchor[3], anchor[4]
            stream = f"SELECT {LINE_COLUMNS} FROM log_line l WHERE l.service = ? AND l.environment = ?"
            earlier = conn.execute(
                f"{stream} AND l.rowid < ? ORDER BY l.rowid DESC LIMIT ?",
                (service, environment, rowid, before),
            ).fetchall()
            later = conn.execute(
                f"{stream} AND l.rowid > ? ORDER BY l.rowid ASC LIMIT ?", (service, environment, rowid, after)
            ).fetchall()
            return anchor, earlier[::-1], later

        found = await self._run(around)
        if found is None:
            raise NotFound(f"no log line has id {log_id!r}", source=self._source)
        anchor, earlier, later = found
        return LogContext(
            anchor=_entry(anchor), before=[_entry(r) for r in earlier], after=[_entry(r) for r in later]
        )

    async def histogram(self, query: LogQuery, *, buckets: int = 60) -> LogHistogram:
        """Lines matching ``query`` per equal slice of its window and per severity, counted in SQL."""
        if buckets < 1:
            raise BadQuery(f"a histogram needs at least one bucket, got {buckets}", source=self._source)
        end = query.end or self.clock.now()
        start = query.start or end - DEFAULT_HISTOGRAM_WINDOW
        if start >= end:
            raise BadQuery(
                f"histogram window is empty: start {start} is not before end {end}", source=self._source
            )
        width = bucket_seconds_for(start, end, buckets)
        count = max(int(-(-(end - start).total_seconds() // width)), 1)
        start_ms, end_ms = _ms(start), _ms(end)
        rollup = compile_rollup(query)
        plan = compile_search(query, source=self._source)

        def tally(conn: sqlite3.Connection) -> list[tuple[int, str, int]]:
            if rollup is not None:
                return _rollup_tally(conn, rollup, start_ms, end_ms, width * 1000, count)
            if plan.index_match is not None:
                counted = _postings_tally(conn, plan.index_match, start_ms, end_ms, width * 1000, count)
                if counted is not None:
                    return counted
            over_columns = self._column_check(conn, plan)
            if over_columns is not None:
                columns, check = over_columns
                lo, hi = self._rowid_range(conn, start_ms, end_ms)
                checked = columns.tally(check, lo, hi, start_ms, width * 1000, count)
                if checked is not None:
                    return checked
            severities = _severities(conn)
            if severities is not None:
                scanned = _scan_tally(conn, plan, severities, start_ms, end_ms, width * 1000, count)
                if scanned is not None:
                    return scanned
            lo, hi = self._rowid_range(conn, start_ms, end_ms)
            sql, args, _ = plan.source(conn, lo, hi)
            return conn.execute(
                f"SELECT min((l.ts_ms - ?) / ?, ?) AS slot, l.severity, count(*) {sql} GROUP BY slot, l.severity",
                [start_ms, width * 1000, count - 1, *args],
            ).fetchall()

        slots = [HistogramBucket(start=start + timedelta(seconds=i * width)) for i in range(count)]
        total = 0
        for slot, severity, n in await self._run(tally):
            bucket = slots[slot]
            bucket.count += n
            key = severity or "unknown"
            bucket.by_severity[key] = bucket.by_severity.get(key, 0) + n
            total += n
        return LogHistogram(start=start, end=end, bucket_seconds=width, buckets=slots, total=total)

    async def aclose(self) -> None:
        """Close every pooled connection and let the columns go."""
        await asyncio.to_thread(self._pool.close)
        with self._columns_lock:
            self._columns, self._columns_loaded = None, False

    # --- plumbing ---------------------------------------------------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a worker thread on a pooled connection; cancelling the call interrupts the query."""
        cancelled = threading.Event()

        def job() -> T:
            try:
                conn = self._pool.acquire()
            except sqlite3.Error as exc:
                raise ProviderUnavailable(
                    f"cannot open log store {self._db_path}: {exc}", source=self._source
                ) from exc
            conn.set_progress_handler(lambda: 1 if cancelled.is_set() else 0, PROGRESS_STEPS)
            try:
                return work(conn)
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc
            finally:
                conn.set_progress_handler(None, 0)
                self._pool.release(conn)

        try:
            return await asyncio.to_thread(job)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def _column_check(self, conn: sqlite3.Connection, plan: SearchPlan) -> tuple[LineColumns, pl.Expr] | None:
        """The store's columns and ``plan``'s checks over them, when SQLite would check every line of a window
        and the columns decide those checks exactly; else ``None``."""
        checks = plan.line_checks
        if not checks or not plan.checks_every_line(conn):
            return None
        with self._columns_lock:
            if not self._columns_loaded:
                self._columns = LineColumns.load(conn)
                self._columns_loaded = True
        if self._columns is None:
            return None
        check = check_expression(checks, self._columns)
        return None if check is None else (self._columns, check)

    def _translate(self, exc: sqlite3.Error) -> OpsPilotError:
        text = str(exc)
        if "fts5" in text:
            return BadQuery(f"search cannot be parsed: {text}", source=self._source)
        if "no such table" in text:
            return ProviderUnavailable(
                f"log store {self._db_path} is not built yet ({text})", source=self._source
            )
        if "interrupted" in text:
            return ProviderUnavailable("log search was cancelled", source=self._source)
        return ProviderUnavailable(f"log store {self._db_path} failed: {text}", source=self._source)

    def _health(self, status: Any, message: str, started: float) -> ProviderHealth:
        return ProviderHealth(
            capability="log",
            provider=self._source,
            status=status,
            message=message,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            checked_at=self.clock.now(),
        )

    def _window(self, query: LogQuery) -> tuple[int | None, int | None]:
        if query.start and query.end and query.start > query.end:
            raise BadQuery(f"start {query.start} is after end {query.end}", source=self._source)
        return (_ms(query.start) if query.start else None, _ms(query.end) if query.end else None)

    @staticmethod
    def _rowid_range(conn: sqlite3.Connection, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
        """The rowids of ``[start_ms, end_ms)``: rowid order is time order, so a window is a rowid range."""
        lo, hi = 1, conn.execute("SELECT max(rowid) FROM log_line").fetchone()[0] or 0
        if start_ms is not None:
            first = conn.execute(
                "SELECT rowid FROM log_line WHERE ts_ms >= ? ORDER BY ts_ms, rowid LIMIT 1", (start_ms,)
            ).fetchone()
            lo = first[0] if first else hi + 1
        if end_ms is not None:
            last = conn.execute(
                "SELECT rowid FROM log_line WHERE ts_ms < ? ORDER BY ts_ms DESC, rowid DESC LIMIT 1",
                (end_ms,),
            ).fetchone()
            hi = last[0] if last else 0
        return lo, hi

    @staticmethod
    def _fingerprint(query: LogQuery) -> str:
        # The page size may change between pages; anything else makes it another query.
        return hashlib.sha256(query.model_dump_json(exclude={"limit"}).encode()).hexdigest()[:16]

    @staticmethod
    def _checksum(rowid: int, fingerprint: str) -> str:
        return hashlib.sha256(f"{fingerprint}:{rowid}".encode()).hexdigest()[:12]

    def _make_cursor(self, rowid: int, fingerprint: str) -> str:
        return encode_cursor(
            {"below": rowid, "query": fingerprint, "check": self._checksum(rowid, fingerprint)}
        )

    def _cursor_position(self, cursor: str, fingerprint: str) -> int:
        position = decode_cursor(cursor, source=self._source)
        rowid = position.get("below")
        if not isinstance(rowid, int) or position.get("check") != self._checksum(
            rowid, position.get("query", "")
        ):
            raise BadQuery(f"cursor {cursor!r} was altered or not made by this provider", source=self._source)
        if position.get("query") != fingerprint:
            raise BadQuery(
                "cursor belongs to a different query; start again without a cursor", source=self._source
            )
        return rowid


__all__ = ["DemoLogs"]

"""The demo world's log store: log lines in SQLite, searchable in full text at a million lines and more.

Layout. ``log_line`` holds one row per line; its rowid is time order (``finish()`` re-sorts the table when lines
were inserted out of order), so "newest first" is ``ORDER BY rowid DESC``, a time range is a rowid range and a
cursor is a rowid. ``log_fts`` is a contentless FTS5 index built once in ``finish()`` over two columns:

- ``message``: the text, tokenized by unicode61 without stemming, so ``ECONNREFUSED`` is one token and
  ``pool-3`` or ``10.0.0.7`` are phrases of adjacent tokens (the search parser quotes every term, so they match).
- ``tags``: one exact token per attribute (``s<hex service>``, ``v<hex severity>``, ``e<hex environment>``,
  ``t<hex team>``, ``l<hex label name>x<hex value>``), so scope and equality filters are intersected inside the
  full-text index instead of row by row.

``log_trigram`` is a contentless FTS5 index of every message's trigrams (case-folded, ``detail=none``): it narrows
what the index of words cannot serve (punctuation such as ``->``, ``contains`` substrings, regexes through the
literal text they require) to the lines holding every trigram of those literals, and the exact check runs on those
lines only. A literal under three characters becomes the trigrams that contain it, read from ``log_trigram_vocab``
(the index's vocabulary and how many lines hold each), while those are few; else it is checked on every line of the
window. Those checks run over ``log_columns``, the lines as columns (``adapters.demo.logcolumns``), in native
code, wherever it decides them exactly as SQL would.

``log_rollup`` counts lines per minute, severity, service, environment and team, and ``log_rollup_severity`` per
minute and severity, so a volume histogram without search text reads rollup rows (a few per minute of its window)
whatever the number of lines (:func:`compile_rollup`). One whose search the index of words decides alone
(:attr:`SearchPlan.index_match`) is counted from the index's posting lists, a slot at a time as a rowid range,
without reading a line.

:func:`compile_search` turns a :class:`~core_client.schemas.LogQuery` into that SQL; the provider
(``adapters.demo.logs``) runs it.
"""

from __future__ import annotations

import functools
import json
import re
import re._constants as re_constants
import re._parser as re_parser
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from adapters.demo.logcolumns import MessageCheck, write_columns
from core_client.errors import BadQuery
from core_client.schemas import LogFilter, LogQuery

SEVERITIES = ("debug", "info", "warn", "error", "fatal")
# log_meta's key for the store's severities and their line counts.
SEVERITIES_KEY = "severities"
# Attributes with a column of their own; any other filter field is a label name.
COLUMN_FIELDS = ("service", "severity", "environment", "team", "message")
TAG_PREFIX = {"service": "s", "severity": "v", "environment": "e", "team": "t"}
REGEXP_FUNCTION = "opspilot_regexp"
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS log_line (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    team TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    labels TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Built in finish(): maintaining them row by row during a bulk load costs more than building them once.
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS log_line_id ON log_line(id);
CREATE INDEX IF NOT EXISTS log_line_ts ON log_line(ts_ms);
CREATE INDEX IF NOT EXISTS log_line_stream ON log_line(service, environment);
"""

FTS_TABLE = """
CREATE VIRTUAL TABLE log_fts USING fts5(
    message, tags, content='', columnsize=0, tokenize='unicode61 remove_diacritics 2'
)
"""

FTS_FILL = """
INSERT INTO log_fts(rowid, message, tags)
SELECT rowid, message,
       's' || hex(service) || ' v' || hex(severity) || ' e' || hex(environment) || ' t' || hex(team)
       || coalesce((SELECT ' ' || group_concat('l' || hex(key) || 'x' || hex(value), ' ')
                    FROM json_each(log_line.labels)), '')
FROM log_line ORDER BY rowid
"""

# The anchor: a document of its own at rowid 0 (no line has it) holding one token no line's tags hold. FTS5 (3.40)
# looks for the first match of an AND from the start of its posting lists, whatever rowid range the query asks
# for: when its parts (nearly) never meet, that walks both lists whole. With every positive part OR'd with the
# anchor, the first match is the anchor itself, and the range is then reached by seeking. Ranges start at rowid 1.
ANCHOR_TOKEN = "z"
ANCHOR_MATCH = f'tags : "{ANCHOR_TOKEN}"'
FTS_ANCHOR = f"INSERT INTO log_fts(rowid, message, tags) VALUES (0, '', '{ANCHOR_TOKEN}')"

TRIGRAM_TABLE = """
CREATE VIRTUAL TABLE log_trigram USING fts5(
    message, content='', columnsize=0, detail=none, tokenize='trigram case_sensitive 0'
)
"""
TRIGRAM_FILL = "INSERT INTO log_trigram(rowid, message) SELECT rowid, message FROM log_line ORDER BY rowid"
# The trigram index's vocabulary with the number of lines holding each trigram: a literal under three characters
# is looked up here to become the trigrams that hold it (fts5vocab computes the counts by reading every doclist,
# seconds at a million lines, so once at build time).
TRIGRAM_VOCAB_TABLE = """
CREATE TABLE log_trigram_vocab (term TEXT PRIMARY KEY, lines INTEGER NOT NULL) WITHOUT ROWID
"""
TRIGRAM_VOCAB_FILL = """
INSERT INTO log_trigram_vocab(term, lines) SELECT term, doc FROM temp.log_trigram_terms
"""
# A short literal narrows through the index only while the lines holding its trigrams stay a small share of the
# store (1 in this many at most); a commoner one is checked line by line, which then costs less.
SHORT_LITERAL_SHARE = 8
# and through at most this many trigrams, so the full-text query stays small.
SHORT_LITERAL_TRIGRAMS = 256

ROLLUP_MINUTE_MS = 60_000
# Keyed minute first, then severity: a window's rows come in the order the histogram groups them (no sort).
ROLLUP_TABLE = """
CREATE TABLE log_rollup (
    minute_ms INTEGER NOT NULL,
    severity TEXT NOT NULL,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    team TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (minute_ms, severity, service, environment, team)
) WITHOUT ROWID
"""
ROLLUP_FILL = f"""
INSERT INTO log_rollup(minute_ms, severity, service, environment, team, n)
SELECT (ts_ms / {ROLLUP_MINUTE_MS}) * {ROLLUP_MINUTE_MS}, severity, service, environment, team, count(*)
FROM log_line GROUP BY 1, 2, 3, 4, 5
"""
# The same counts summed over services: what a histogram without scope reads (five rows a minute at most).
SEVERITY_ROLLUP_TABLE = """
CREATE TABLE log_rollup_severity (
    minute_ms INTEGER NOT NULL,
    severity TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (minute_ms, severity)
) WITHOUT ROWID
"""
SEVERITY_ROLLUP_FILL = """
INSERT INTO log_rollup_severity(minute_ms, severity, n)
SELECT minute_ms, severity, sum(n) FROM log_rollup GROUP BY 1, 2
"""

LINE_COLUMNS = (
    "l.rowid, l.id, l.ts_ms, l.service, l.environment, l.team, l.severity, l.message, l.labels, l.fields"
)


@dataclass(frozen=True, slots=True)
class LogRow:
    """One log line as the world builder writes it."""

    id: str
    ts_ms: int
    service: str
    environment: str
    team: str
    severity: str
    message: str
    labels: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


def tag_token(attribute: str, value: str) -> str:
    """The exact ``tags`` token of ``attribute`` (service, severity, environment, team) having ``value``."""
    return TAG_PREFIX[attribute] + value.encode().hex()


def anchored(part: str) -> str:
    """A positive part of a ``match`` expression that also holds the anchor document (see ANCHOR)."""
    return f"({part} OR {ANCHOR_MATCH})"


def severity_match(severity: str) -> str:
    """The full-text ``match`` expression of the lines whose severity is exactly ``severity``."""
    return "tags : " + _fts_string(tag_token("severity", severity))


def label_token(name: str, value: str) -> str:
    """The exact ``tags`` token of label ``name`` having ``value``; ``x`` is not a hex digit, so it separates."""
    return "l" + name.encode().hex() + "x" + value.encode().hex()


def regexp(pattern: str, value: str | None) -> bool:
    """The SQLite function behind the ``regex`` operator: does ``pattern`` occur anywhere in ``value``."""
    return value is not None and _searcher(pattern)(value) is not None


@functools.lru_cache(maxsize=64)
def _searcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    # Called once per line a regex is checked on: re.search's own cache lookup would cost twice the match.
    # Patterns were validated before the query ran.
    return re.compile(pattern).search


class LogStore:
    """The write side: create the schema, bulk-insert lines, then ``finish()`` to make them searchable.

    The caller owns the connection and its pragmas; ``journal_mode=OFF`` and ``synchronous=OFF`` suit a build
    that is discarded when it fails.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._last_ts: int | None = None
        self._in_order = True

    def create_schema(self) -> None:
        """Create the line and metadata tables (indexes and the full-text index come in ``finish()``)."""
        self._conn.executescript(SCHEMA)

    def insert(self, rows: Iterable[LogRow]) -> int:
        """Append lines, expected in ascending ``ts_ms``; returns how many were written."""
        if self._last_ts is None:
            newest = self._conn.execute("SELECT ts_ms FROM log_line ORDER BY rowid DESC LIMIT 1").fetchone()
            self._last_ts = newest[0] if newest else -(2**62)
        count = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            if row.ts_ms < self._last_ts:
                self._in_order = False
            self._last_ts = max(self._last_ts, row.ts_ms)
            batch.append(
                (
                    row.id,
                    row.ts_ms,
                    row.service,
                    row.environment,
                    row.team,
                    row.severity,
                    row.message,
                    json.dumps(row.labels, separators=(",", ":"), sort_keys=True),
                    json.dumps(row.fields, separators=(",", ":"), sort_keys=True, default=str),
                )
            )
            count += 1
        self._conn.executemany(
            "INSERT INTO log_line(id, ts_ms, service, environment, team, severity, message, labels, fields)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        return count

    def finish(self) -> None:
        """Sort by time if needed, build the indexes and the full-text index, record the span, ANALYZE.

        Idempotent: lines inserted after an earlier ``finish()`` become searchable when it runs again.
        """
        started = time.perf_counter()
        conn = self._conn
        if not self._in_order:
            self._sort_by_time()
        try:
            conn.executescript(INDEXES)
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"log lines must have unique ids: {exc}") from exc
        conn.execute("DROP TABLE IF EXISTS log_fts")
        conn.execute(FTS_TABLE)
        conn.execute(FTS_FILL)
        conn.execute(FTS_ANCHOR)
        conn.execute("INSERT INTO log_fts(log_fts) VALUES ('optimize')")
        conn.execute("DROP TABLE IF EXISTS log_trigram")
        conn.execute(TRIGRAM_TABLE)
        conn.execute(TRIGRAM_FILL)
        conn.execute("INSERT INTO log_trigram(log_trigram) VALUES ('optimize')")
        conn.execute("DROP TABLE IF EXISTS log_trigram_vocab")
        conn.execute(TRIGRAM_VOCAB_TABLE)
        conn.execute("CREATE VIRTUAL TABLE temp.log_trigram_terms USING fts5vocab(main, log_trigram, row)")
        conn.execute(TRIGRAM_VOCAB_FILL)
        conn.execute("DROP TABLE temp.log_trigram_terms")
        # Messages under three characters hold no trigram: while there are any, short literals are not
        # narrowed through the vocabulary (they could be such a message).
        (short_lines,) = conn.execute("SELECT count(*) FROM log_line WHERE length(message) < 3").fetchone()
        write_columns(conn)
        conn.execute("DROP TABLE IF EXISTS log_rollup")
        conn.execute(ROLLUP_TABLE)
        conn.execute(ROLLUP_FILL)
        conn.execute("DROP TABLE IF EXISTS log_rollup_severity")
        conn.execute(SEVERITY_ROLLUP_TABLE)
        conn.execute(SEVERITY_ROLLUP_FILL)
        lines, first, last = conn.execute("SELECT count(*), min(ts_ms), max(ts_ms) FROM log_line").fetchone()
        severities = conn.execute(
            "SELECT severity, sum(n) FROM log_rollup_severity GROUP BY severity ORDER BY 2 DESC, 1"
        ).fetchall()
        meta = {
            "lines": str(lines),
            "first_ts_ms": str(first if first is not None else 0),
            "last_ts_ms": str(last if last is not None else 0),
            "short_lines": str(short_lines),
            # [[severity, lines], ...], commonest first: what counting from the posting lists splits by (a
            # store without it has no anchor either, and is counted line by line).
            SEVERITIES_KEY: json.dumps(severities),
            "build_seconds": f"{time.perf_counter() - started:.3f}",
            "finished": "1",
        }
        conn.executemany("INSERT OR REPLACE INTO log_meta(key, value) VALUES (?, ?)", meta.items())
        conn.execute("ANALYZE")
        conn.commit()
        self._in_order = True

    def _sort_by_time(self) -> None:
        # Rowid order must be time order: every query and cursor relies on it.
        self._conn.executescript(
            """
            DROP INDEX IF EXISTS log_line_id;
            DROP INDEX IF EXISTS log_line_ts;
            DROP INDEX IF EXISTS log_line_stream;
            ALTER TABLE log_line RENAME TO log_line_unsorted;
            """
            + SCHEMA
            + """
            INSERT INTO log_line(id, ts_ms, service, environment, team, severity, message, labels, fields)
            SELECT id, ts_ms, service, environment, team, severity, message, labels, fields
            FROM log_line_unsorted ORDER BY ts_ms, rowid;
            DROP TABLE log_line_unsorted;
            """
        )


# --- The read side: from a LogQuery to SQL -------------------------------------------------------------------


@dataclass
class SearchPlan:
    """A query compiled to SQL: an FTS5 ``match`` expression (if any) and row predicates with their arguments."""

    match: str | None = None
    # Excluded by the full-text index when there is nothing positive to match against.
    exclude_match: str | None = None
    # Trigrams every matching line holds (a necessary condition; the predicates decide).
    trigrams: list[str] = field(default_factory=list)
    # Literals under three characters every matching line holds: the store's vocabulary turns each into the
    # trigrams that contain it, when nothing else narrows the search.
    short_literals: list[str] = field(default_factory=list)
    predicates: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    # The predicates on the message as checks the store's columns can run too (adapters.demo.logcolumns), and
    # whether any predicate is on another column (then they cannot).
    message_checks: list[MessageCheck] = field(default_factory=list)
    checks_other_columns: bool = False

    # ``match`` with each of its positive parts OR'd with the anchor (see ANCHOR): the same lines.
    anchored_match: str | None = None
    # What the trigram index can do for the plan, read from the store once (see _trigram_match).
    _narrowing: tuple[bool, str | None] | None = field(default=None, repr=False, compare=False)

    @property
    def index_match(self) -> str | None:
        """The anchored ``match`` when it alone decides which lines match (nothing is checked on the lines
        themselves), so they can be counted from the index's posting lists without reading one; else ``None``."""
        return self.anchored_match if self.exclude_match is None and not self.predicates else None

    @property
    def line_checks(self) -> list[MessageCheck] | None:
        """The row predicates as message checks, when every one of them is on the message; else ``None``."""
        return None if self.checks_other_columns else self.message_checks

    def checks_every_line(self, conn: sqlite3.Connection) -> bool:
        """Whether a window's every line is checked: neither index narrows the search and nothing excludes."""
        possible, trigrams = self._trigram_match(conn)
        return possible and trigrams is None and self.match is None and self.exclude_match is None

    def require(self, literal: str) -> None:
        """Note that every matching line holds ``literal`` (case aside), for the trigram index to narrow by."""
        if len(literal) >= 3:
            self.trigrams += trigrams_of(literal)
        elif literal:
            self.short_literals.append(literal)

    def source(self, conn: sqlite3.Connection, lo: int, hi: int) -> tuple[str, list[Any], str]:
        """``FROM ... WHERE ...`` over the rowid range ``[lo, hi]``, its arguments, and the rowid column to order
        by (the outer loop's, so reading newest first needs no sort)."""
        possible, trigrams = self._trigram_match(conn)
        if not possible:
            return "FROM log_line l WHERE 0", [], "l.rowid"
        if self.match is not None:
            # CROSS JOIN keeps the full-text index as the outer loop, read newest first.
            sql = "FROM log_fts CROSS JOIN log_line l ON l.rowid = log_fts.rowid"
            where = ["log_fts MATCH ?", "log_fts.rowid BETWEEN ? AND ?"]
            args: list[Any] = [self.match, lo, hi]
            order = "log_fts.rowid"
            if trigrams is not None:
                where.append("l.rowid IN (SELECT rowid FROM log_trigram WHERE log_trigram MATCH ?)")
                args.append(trigrams)
        elif trigrams is not None:
            sql = "FROM log_trigram CROSS JOIN log_line l ON l.rowid = log_trigram.rowid"
            where = ["log_trigram MATCH ?", "log_trigram.rowid BETWEEN ? AND ?"]
            args = [trigrams, lo, hi]
            order = "log_trigram.rowid"
        else:
            sql = "FROM log_line l"
            where = ["l.rowid BETWEEN ? AND ?"]
            args = [lo, hi]
            order = "l.rowid"
        where += self.predicates
        args += self.args
        if self.exclude_match is not None:
            where.append("l.rowid NOT IN (SELECT rowid FROM log_fts WHERE log_fts MATCH ?)")
            args.append(self.exclude_match)
        return f"{sql} WHERE {' AND '.join(where)}", args, order

    def _trigram_match(self, conn: sqlite3.Connection) -> tuple[bool, str | None]:
        """Whether any line can match (no line holds a short literal no trigram holds), and the trigram index's
        MATCH expression (``None`` when it cannot narrow)."""
        if self._narrowing is None:
            self._narrowing = self._read_narrowing(conn)
        return self._narrowing

    def _read_narrowing(self, conn: sqlite3.Connection) -> tuple[bool, str | None]:
        groups = [_fts_string(t) for t in dict.fromkeys(self.trigrams)]
        if groups or self.match is not None:
            return True, " AND ".join(groups) or None
        for literal in dict.fromkeys(self.short_literals):
            holding = trigrams_holding(conn, literal)
            if holding is None:
                continue
            if not holding:
                return False, None
            groups.append("(" + " OR ".join(_fts_string(t) for t in holding) + ")")
        return True, " AND ".join(groups) or None


def trigrams_holding(conn: sqlite3.Connection, literal: str) -> list[str] | None:
    """The trigrams of the store's index that contain ``literal`` (under three characters): a line holding the
    literal holds one of them. ``None`` when they cannot narrow a search: too common (see SHORT_LITERAL_SHARE),
    a literal whose case folding SQLite and Python may not share, a store with messages under three characters
    (they hold no trigram) or one built before the vocabulary was kept."""
    if not literal.isascii():
        return None
    meta = dict(
        conn.execute("SELECT key, value FROM log_meta WHERE key IN ('lines', 'short_lines')").fetchall()
    )
    if meta.get("short_lines") != "0":
        return None
    rows = conn.execute(
        "SELECT term, lines FROM log_trigram_vocab WHERE instr(term, ?) > 0 LIMIT ?",
        [literal.lower(), SHORT_LITERAL_TRIGRAMS + 1],
    ).fetchall()
    if len(rows) > SHORT_LITERAL_TRIGRAMS or sum(n for _, n in rows) * SHORT_LITERAL_SHARE > int(
        meta["lines"]
    ):
        return None
    return [term for term, _ in rows]


@dataclass(frozen=True)
class SearchTerm:
    text: str
    prefix: bool = False
    negated: bool = False


def parse_search(text: str, *, source: str | None = None) -> list[SearchTerm]:
    """Split search text into terms: words and ``"quoted phrases"`` (all must match), ``word*`` for a prefix,
    ``-word`` to exclude. Every other character is literal; an unterminated quote is a ``BadQuery``."""
    terms: list[SearchTerm] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        # "-" excludes only a word or a phrase: "->" or "-" alone are literal text.
        negated = text[i] == "-" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] == '"')
        start = i + 1 if negated else i
        if text[start] == '"':
            close = text.find('"', start + 1)
            if close < 0:
                raise BadQuery(
                    f"unterminated quote at position {start + 1} of search {text!r}", source=source
                )
            body = text[start + 1 : close]
            i = close + 1
            prefix = i < n and text[i] == "*"
            i += 1 if prefix else 0
        else:
            j = start
            while j < n and not text[j].isspace() and text[j] != '"':
                j += 1
            body = text[start:j]
            i = j
            prefix = len(body) > 1 and body.endswith("*")
            body = body[:-1] if prefix else body
        if body.strip():
            terms.append(SearchTerm(body, prefix=prefix, negated=negated))
    return terms


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _indexable(text: str) -> bool:
    # unicode61 keeps letters and digits and drops the rest; text without any cannot be found in the index.
    return any(ch.isalnum() for ch in text)


def trigrams_of(literal: str) -> list[str]:
    """Trigrams that together cover ``literal`` (every third one and the last): a line holding ``literal`` holds
    them all. None for a literal under three characters, which the trigram index cannot narrow."""
    if len(literal) < 3:
        return []
    starts = sorted({*range(0, len(literal) - 2, 3), len(literal) - 3})
    return [literal[i : i + 3] for i in starts]


# Characters whose case-insensitive match in Python's re reaches beyond ASCII (the Kelvin sign, the long s, the
# dotted and dotless i): an IGNORECASE regex's literal stops at them rather than risk a trigram re never needs.
_WIDE_CASE = frozenset("kKsSiI")


def regex_literals(pattern: str) -> list[str]:
    """Literal runs every match of ``pattern`` contains, read from its top-level sequence (conservatively: an
    alternation, an optional part or a class ends a run and adds nothing)."""
    parsed = re_parser.parse(pattern)
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    runs: list[str] = []

    def walk(items: Any, ignore_case: bool) -> None:
        run: list[str] = []

        def close() -> None:
            if run:
                runs.append("".join(run))
                run.clear()

        for op, arg in items:
            if op is re_constants.LITERAL and not (ignore_case and (chr(arg) in _WIDE_CASE or arg > 127)):
                run.append(chr(arg))
                continue
            close()
            if op is re_constants.SUBPATTERN:
                _group, add_flags, del_flags, body = arg
                walk(body, (ignore_case or bool(add_flags & re.IGNORECASE)) and not del_flags & re.IGNORECASE)
            elif op in (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT) and arg[0] >= 1:
                walk(arg[2], ignore_case)
        close()

    walk(parsed, ignore_case)
    return runs


def _label_path(name: str, source: str | None) -> str:
    if not LABEL_NAME.match(name):
        raise BadQuery(
            f"filter field {name!r} is not a label name (letters, digits, '_', '.', '-', '/')", source=source
        )
    return f'$."{name}"'


def check_regex(pattern: str, *, source: str | None = None) -> None:
    """Compile ``pattern`` now, so a bad one is a ``BadQuery`` naming it and the reason, before any SQL runs."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise BadQuery(f"invalid regex {pattern!r}: {exc}", source=source) from None


def compile_search(query: LogQuery, *, source: str | None = None) -> SearchPlan:
    """The SQL plan of ``query``'s search text, filters, severities and scope (not its time range)."""
    positive: list[str] = []
    negative: list[str] = []
    plan = SearchPlan()

    for term in parse_search(query.expression.search or "", source=source):
        if _indexable(term.text):
            phrase = "message : " + _fts_string(term.text) + (" *" if term.prefix else "")
            (negative if term.negated else positive).append(phrase)
        else:
            # Punctuation only (":", "->"): the index of words does not hold it, so look for it in the text itself.
            if not term.negated:
                plan.require(term.text)
            plan.predicates.append("instr(l.message, ?) " + ("= 0" if term.negated else "> 0"))
            plan.args.append(term.text)
            plan.message_checks.append(MessageCheck("instr", term.text, negated=term.negated))

    scope = query.scope
    equalities = [("service", scope.service), ("team", scope.team), ("environment", scope.environment)]
    for attribute, value in equalities:
        if value:
            positive.append("tags : " + _fts_string(tag_token(attribute, value)))

    severities = [s.strip().lower() for s in query.expression.severity_in if s.strip()]
    if severities:
        positive.append("(" + " OR ".join(severity_match(s) for s in severities) + ")")

    for flt in query.expression.filters:
        _compile_filter(flt, plan, positive, negative, source)

    if positive:
        plan.match = " AND ".join(positive)
        plan.anchored_match = " AND ".join(anchored(part) for part in positive)
        if negative:
            excluded = " OR ".join(negative)
            plan.match = f"({plan.match}) NOT ({excluded})"
            plan.anchored_match = f"({plan.anchored_match}) NOT ({excluded})"
    elif negative:
        plan.exclude_match = " OR ".join(negative)
    return plan


@dataclass(frozen=True)
class RollupPlan:
    """Conditions on the attributes ``log_rollup`` keeps, written for any table that has those columns."""

    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def table(self) -> str:
        """The smallest rollup that holds every column the conditions name."""
        if all(column == "severity" for column, _, _ in self.conditions):
            return "log_rollup_severity"
        return "log_rollup"

    def where(self, alias: str) -> tuple[str, list[str]]:
        """``AND``-joined SQL conditions on ``alias``'s columns (``1`` when there are none), with arguments."""
        parts: list[str] = ["1"]
        args: list[str] = []
        for column, operator, values in self.conditions:
            if operator == "in":
                parts.append(f"{alias}.{column} IN ({', '.join('?' * len(values))})")
            else:
                parts.append(f"{alias}.{column} {operator} ?")
            args += values
        return " AND ".join(parts), args


def compile_rollup(query: LogQuery) -> RollupPlan | None:
    """The rollup plan of ``query`` when counting it needs only the attributes the rollup keeps: no search text,
    and filters that are ``=``/``!=`` on service, severity, environment or team. ``None`` otherwise."""
    if parse_search(query.expression.search or ""):
        return None
    conditions: list[tuple[str, str, tuple[str, ...]]] = []
    scope = query.scope
    for attribute, value in (
        ("service", scope.service),
        ("team", scope.team),
        ("environment", scope.environment),
    ):
        if value:
            conditions.append((attribute, "=", (value,)))
    severities = tuple(s.strip().lower() for s in query.expression.severity_in if s.strip())
    if severities:
        conditions.append(("severity", "in", severities))
    for flt in query.expression.filters:
        name = flt.field.strip()
        if name not in TAG_PREFIX or flt.operator not in ("=", "!="):
            return None
        value = flt.value.lower() if name == "severity" else flt.value
        conditions.append((name, flt.operator, (value,)))
    return RollupPlan(tuple(conditions))


def _compile_filter(
    flt: LogFilter, plan: SearchPlan, positive: list[str], negative: list[str], source: str | None
) -> None:
    name = flt.field.strip()
    value = flt.value.lower() if name == "severity" else flt.value
    if flt.operator in ("=", "!=") and name not in ("message",):
        # Exact (in)equality of an attribute or a label is one token of the full-text index.
        if name in TAG_PREFIX:
            token = tag_token(name, value)
        else:
            _label_path(name, source)
            token = label_token(name, value)
        (positive if flt.operator == "=" else negative).append("tags : " + _fts_string(token))
        return
    if name in COLUMN_FIELDS:
        column, column_args = f"l.{name}", []
    else:
        column, column_args = "json_extract(l.labels, ?)", [_label_path(name, source)]
    if flt.operator == "regex":
        check_regex(flt.value, source=source)
        if name == "message":
            for literal in regex_literals(flt.value):
                plan.require(literal)
        plan.predicates.append(f"{REGEXP_FUNCTION}(?, {column})")
        plan.args += [flt.value, *column_args]
        _note_check(plan, name, MessageCheck("regex", flt.value))
        return
    if name == "message" and flt.operator in ("=", "contains"):
        plan.require(value)
    condition = {
        "=": "{column} = ?",
        "!=": "{column} IS NOT ?",
        # Case-insensitive, as an operator typing a fragment expects.
        "contains": "instr(lower({column}), lower(?)) > 0",
    }[flt.operator]
    plan.predicates.append(condition.format(column=column))
    plan.args += [*column_args, value]
    _note_check(plan, name, MessageCheck(flt.operator, value))


def _note_check(plan: SearchPlan, name: str, check: MessageCheck) -> None:
    if name == "message":
        plan.message_checks.append(check)
    else:
        plan.checks_other_columns = True

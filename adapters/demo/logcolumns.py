"""The log store's lines as columns, where the checks no index narrows run in native code on both cores.

A search that neither full-text index narrows (a one-character punctuation such as ``=``, a regex without a
literal) is checked on every line of its window. SQLite does that a line at a time, calling Python's ``re`` for a
regex: at a million lines a third of a second for ``=`` and over a second for ``[0-9]{4}ms``, where ``grep -c``
takes 60 and 200 ms. Here the same checks run over a column of messages with polars (Rust's regex engine, in
parallel), which takes 20 to 40 ms (``benchmarks/log_search.py``).

The columns (rowid, time, severity, message) are written by ``LogStore.finish()`` into the database itself, in
the ``log_columns`` table as Arrow IPC parts, so they are renamed, copied and deleted with it and can never be
stale; a provider loads them on its first such search and keeps them (about 90 bytes a line).

Exactness: a check runs here only when polars decides it exactly as SQLite and Python's ``re`` do
(:func:`check_expression`), else it stays with SQLite:

- a punctuation search term: a case-sensitive substring (SQLite's ``instr``);
- ``contains``: a substring under ASCII case folding (SQLite's ``lower`` folds nothing else), as a regex whose
  letters are ``[aA]`` classes and every other character itself;
- ``=`` and ``!=`` on the message;
- ``regex``: Python's pattern rewritten in Rust's syntax (:func:`rust_regex`) when the pattern and every message
  are ASCII, where the two engines' classes and case folding agree, and only for the constructs both have (no
  backreferences, lookarounds, atomic groups, possessive repeats or ``\\B``).
"""

from __future__ import annotations

import io
import json
import re
import re._constants as re_constants
import re._parser as re_parser
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

# log_meta's key for what the columns hold: {"ascii": every message is ASCII, "newlines": some message has one}.
COLUMNS_KEY = "line_columns"
COLUMNS_TABLE = "CREATE TABLE log_columns (part INTEGER PRIMARY KEY, ipc BLOB NOT NULL)"
# Lines per stored part: parts bound the memory a build holds at once.
PART_LINES = 250_000
# A page's newest matches are looked for in a block of this many lines first, then in blocks twice as long.
FIRST_BLOCK_LINES = 8_192
# Rust's regex engine refuses repeats it cannot compile within its size limit; past this count, SQLite checks.
MAX_REPEAT_COUNT = 1_000
SCHEMA = {"rowid": pl.Int64, "ts_ms": pl.Int64, "severity": pl.String, "message": pl.String}

Operator = Literal["instr", "contains", "=", "!=", "regex"]


@dataclass(frozen=True)
class MessageCheck:
    """A condition on a line's message that SQL decides row by row; ``negated`` only for ``instr``."""

    operator: Operator
    value: str
    negated: bool = False


def write_columns(conn: sqlite3.Connection) -> None:
    """(Re)write ``log_columns`` from ``log_line`` and record in ``log_meta`` what the messages hold."""
    conn.execute("DROP TABLE IF EXISTS log_columns")
    conn.execute(COLUMNS_TABLE)
    ascii_text, newlines = True, False
    lines = conn.execute("SELECT rowid, ts_ms, severity, message FROM log_line ORDER BY rowid")
    part = 0
    while rows := lines.fetchmany(PART_LINES):
        frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
        message = frame["message"]
        ascii_text = ascii_text and not message.str.contains(r"[^\x00-\x7F]").any()
        newlines = newlines or bool(message.str.contains("\n", literal=True).any())
        buffer = io.BytesIO()
        frame.write_ipc(buffer, compression="lz4")
        conn.execute("INSERT INTO log_columns(part, ipc) VALUES (?, ?)", (part, buffer.getvalue()))
        part += 1
    conn.execute(
        "INSERT OR REPLACE INTO log_meta(key, value) VALUES (?, ?)",
        (COLUMNS_KEY, json.dumps({"ascii": ascii_text, "newlines": newlines})),
    )


class LineColumns:
    """Every line's rowid, time, severity and message in memory, rowid order, with what the messages hold."""

    def __init__(self, frame: pl.DataFrame, *, ascii_text: bool, newlines: bool) -> None:
        self._frame = frame
        self._rowids = frame["rowid"]
        self.ascii_text = ascii_text
        self.newlines = newlines

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> LineColumns | None:
        """The store's columns; ``None`` for a store built before they were kept."""
        kept = conn.execute("SELECT value FROM log_meta WHERE key = ?", [COLUMNS_KEY]).fetchone()
        if kept is None:
            return None
        facts = json.loads(kept[0])
        parts = [
            pl.read_ipc(io.BytesIO(ipc))
            for (ipc,) in conn.execute("SELECT ipc FROM log_columns ORDER BY part")
        ]
        # Left in parts: one contiguous copy would hold the whole store twice while it is made.
        frame = pl.concat(parts, rechunk=False) if parts else pl.DataFrame(schema=SCHEMA)
        return cls(frame, ascii_text=facts["ascii"], newlines=facts["newlines"])

    def tally(
        self, check: pl.Expr, lo: int, hi: int, start_ms: int, width_ms: int, count: int
    ) -> list[tuple[int, str, int]] | None:
        """(slot, severity, lines) of the lines with rowid in ``[lo, hi]`` that pass ``check``, slot ``i``
        holding times from ``start_ms + i * width_ms`` (the last one the rest); ``None`` when Rust's regex
        engine refuses the check."""
        slot = ((pl.col("ts_ms") - start_ms) // width_ms).clip(0, count - 1).alias("slot")
        try:
            counted = (
                self._between(lo, hi).lazy().filter(check).group_by(slot, "severity").agg(pl.len()).collect()
            )
        except pl.exceptions.ComputeError:
            return None
        return [(int(s), str(severity), int(n)) for s, severity, n in counted.iter_rows()]

    def newest(self, check: pl.Expr, lo: int, hi: int, limit: int) -> list[int] | None:
        """The rowids of the newest ``limit`` lines with rowid in ``[lo, hi]`` that pass ``check``, newest first;
        ``None`` when Rust's regex engine refuses the check.

        Looked for from the newest line back, in blocks that double, so a common match costs one small block and
        a rare one at most twice a scan of the range."""
        lines = self._between(lo, hi)
        found: list[int] = []
        end, block = lines.height, FIRST_BLOCK_LINES
        while end > 0 and len(found) < limit:
            begin = max(0, end - block)
            try:
                rowids = lines.slice(begin, end - begin).filter(check)["rowid"]
            except pl.exceptions.ComputeError:
                return None
            found += rowids.reverse().head(limit - len(found)).to_list()
            end, block = begin, block * 2
        return found

    def _between(self, lo: int, hi: int) -> pl.DataFrame:
        begin = int(self._rowids.search_sorted(lo, side="left"))
        end = int(self._rowids.search_sorted(hi, side="right"))
        return self._frame.slice(begin, max(0, end - begin))


def check_expression(checks: list[MessageCheck], columns: LineColumns) -> pl.Expr | None:
    """The polars expression true for exactly the lines passing every check; ``None`` when one of them has no
    exact counterpart here."""
    message = pl.col("message")
    expression = pl.lit(True)
    for check in checks:
        if check.operator == "instr":
            found = message.str.contains(check.value, literal=True)
            part = ~found if check.negated else found
        elif check.operator == "contains":
            part = message.str.contains(_ascii_folded(check.value))
        elif check.operator == "=":
            part = message == check.value
        elif check.operator == "!=":
            part = message != check.value
        else:
            if not columns.ascii_text:
                return None
            pattern = rust_regex(check.value, newlines=columns.newlines)
            if pattern is None:
                return None
            part = message.str.contains(pattern)
        expression = expression & part
    return expression


def _ascii_folded(literal: str) -> str:
    """A Rust regex finding ``literal`` as SQLite's ``instr(lower(m), lower(literal))`` does: ASCII letters in
    either case, every other character as itself."""
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else _char(ord(c)) for c in literal
    )


def _char(code: int) -> str:
    """One character in Rust's syntax, inside or outside a class."""
    ch = chr(code)
    return ch if ch.isascii() and ch.isalnum() else f"\\x{{{code:X}}}"


class _Untranslatable(Exception):
    """A construct of Python's ``re`` without an exact counterpart in Rust's regex syntax."""


# Python's \s on ASCII text: \t \n \v \f \r, the four separators \x1c-\x1f and the space; Rust's lacks \x1c-\x1f.
_SPACE = r"\t-\r\x{1C}-\x{20}"
_CATEGORIES = {
    re_constants.CATEGORY_DIGIT: ("0-9", False),
    re_constants.CATEGORY_NOT_DIGIT: ("0-9", True),
    re_constants.CATEGORY_WORD: ("0-9A-Za-z_", False),
    re_constants.CATEGORY_NOT_WORD: ("0-9A-Za-z_", True),
    re_constants.CATEGORY_SPACE: (_SPACE, False),
    re_constants.CATEGORY_NOT_SPACE: (_SPACE, True),
}


def rust_regex(pattern: str, *, newlines: bool) -> str | None:
    """Python ``re`` ``pattern`` in Rust's regex syntax, found in exactly the same ASCII texts as
    ``re.search`` finds it; ``None`` when the pattern is not ASCII or uses a construct without an exact
    counterpart. ``newlines``: whether a text may hold one (Python's ``$`` also matches before a final one)."""
    if not pattern.isascii():
        return None
    try:
        parsed = re_parser.parse(pattern)
        return _sequence(list(parsed), parsed.state.flags, newlines)
    except (re.error, _Untranslatable):
        return None


def _sequence(items: list[tuple[Any, Any]], flags: int, newlines: bool) -> str:
    return "".join(_item(op, arg, flags, newlines) for op, arg in items)


def _item(op: Any, arg: Any, flags: int, newlines: bool) -> str:
    ignore_case = bool(flags & re.IGNORECASE)
    if op is re_constants.LITERAL:
        ch = chr(arg)
        return f"[{ch.lower()}{ch.upper()}]" if ignore_case and ch.isalpha() else _char(arg)
    if op is re_constants.NOT_LITERAL:
        return _class([_char(arg)], negated=True, ignore_case=ignore_case)
    if op is re_constants.ANY:
        return "(?s:.)" if flags & re.DOTALL else "."
    if op is re_constants.IN:
        negated = bool(arg) and arg[0][0] is re_constants.NEGATE
        return _class([_class_item(o, a) for o, a in arg[negated:]], negated=negated, ignore_case=ignore_case)
    if op is re_constants.CATEGORY:
        body, negated = _CATEGORIES[arg]
        return _class([body], negated=negated, ignore_case=False)
    if op is re_constants.BRANCH:
        return "(?:" + "|".join(_sequence(list(branch), flags, newlines) for branch in arg[1]) + ")"
    if op is re_constants.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        return "(?:" + _sequence(list(body), (flags | add_flags) & ~del_flags, newlines) + ")"
    if op in (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT):
        low, high, body = arg
        if low > MAX_REPEAT_COUNT or (high is not re_constants.MAXREPEAT and high > MAX_REPEAT_COUNT):
            raise _Untranslatable("repeat count")
        bounds = f"{{{low},}}" if high is re_constants.MAXREPEAT else f"{{{low},{high}}}"
        lazy = "?" if op is re_constants.MIN_REPEAT else ""
        return f"(?:{_sequence(list(body), flags, newlines)}){bounds}{lazy}"
    if op is re_constants.AT:
        return _position(arg, flags, newlines)
    raise _Untranslatable(str(op))


def _position(at: Any, flags: int, newlines: bool) -> str:
    multiline = bool(flags & re.MULTILINE)
    if at is re_constants.AT_BEGINNING:
        return "(?m:^)" if multiline else r"\A"
    if at is re_constants.AT_BEGINNING_STRING:
        return r"\A"
    if at is re_constants.AT_END:
        if multiline:
            return "(?m:$)"
        if newlines:
            # Python's $ also matches before a final newline: Rust would need a lookahead.
            raise _Untranslatable("$ before a final newline")
        return r"\z"
    if at is re_constants.AT_END_STRING:
        return r"\z"
    if at is re_constants.AT_BOUNDARY:
        return r"\b"
    # AT_NON_BOUNDARY: Python's \B never matches in an empty text, Rust's does.
    raise _Untranslatable(str(at))


def _class_item(op: Any, arg: Any) -> str:
    if op is re_constants.LITERAL:
        return _char(arg)
    if op is re_constants.RANGE:
        return f"{_char(arg[0])}-{_char(arg[1])}"
    if op is re_constants.CATEGORY:
        body, negated = _CATEGORIES[arg]
        # Rust nests classes: [a[^0-9]] is a or any non-digit.
        return f"[^{body}]" if negated else body
    raise _Untranslatable(str(op))


def _class(items: list[str], *, negated: bool, ignore_case: bool) -> str:
    # Rust folds case before negating, so (?i:[^a]) matches neither a nor A, as Python's [^a] with IGNORECASE.
    body = "[" + ("^" if negated else "") + "".join(items) + "]"
    return f"(?i:{body})" if ignore_case else body


__all__ = ["LineColumns", "MessageCheck", "check_expression", "rust_regex", "write_columns"]

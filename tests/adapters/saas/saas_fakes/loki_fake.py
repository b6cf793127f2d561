"""A fake Grafana Loki that really evaluates LogQL log queries over an in-memory corpus.

What it follows from Loki's HTTP API: ``GET /loki/api/v1/query_range`` with ``query``, ``start`` and ``end`` as
nanosecond epochs (``end`` exclusive), ``limit`` (default 100, at most ``max_entries_limit_per_query`` = 5000) and
``direction`` (default ``backward``); the limit counts lines across every stream, newest (or oldest) first; the
answer is ``{"status":"success","data":{"resultType":"streams","result":[{"stream":{...},"values":[["<ns>",
"line"],...]}]}}``. LogQL: a stream selector (``=``, ``!=``, ``=~``, ``!~``, anchored regexes, one matcher that
cannot match an empty value required), line filters (``|=``, ``!=``, ``|~``, ``!~``) and label filter stages
(``| level=~"..."``). Errors are plain text, as Loki writes them (``parse error at line 1, col 9: ...``). With
multi-tenancy on, a request without ``X-Scope-OrgID`` is refused; a tenant sees only its own lines. A gateway token
is checked when one is set. Identical lines at the same nanosecond in one stream are stored once, as Loki does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from saas_fakes.loghub_corpus import CorpusLine
from saas_fakes.openapi import Exchange
from saas_fakes.server import Reply

MAX_ENTRIES = 5000
EMPTY_COMPATIBLE = (
    "parse error : queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will'
)
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<op>\|=|\|~|!=|!~|=~|=|\||\{|\}|,)'
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))"
)

Labels = tuple[tuple[str, str], ...]
LinePredicate = Callable[[str], bool]
LabelPredicate = Callable[[dict[str, str]], bool]


def text_reply(status: int, text: str) -> Reply:
    """A reply in Loki's style: plain text."""
    return Reply(status, text.encode())


class LogQLError(Exception):
    """A query the fake (like Loki) cannot parse; the message is Loki's wording."""


@dataclass
class _Tokens:
    query: str
    items: list[tuple[str, str, int]]
    at: int = 0

    @classmethod
    def scan(cls, query: str) -> _Tokens:
        items: list[tuple[str, str, int]] = []
        position = 0
        while position < len(query.rstrip()):
            match = _TOKEN.match(query, position)
            if not match or match.end() == position:
                raise LogQLError(
                    f"parse error at line 1, col {position + 1}: syntax error: unexpected character"
                )
            kind = match.lastgroup or ""
            items.append((kind, match.group(kind), match.start(kind) + 1))
            position = match.end()
        return cls(query, items)

    def peek(self) -> tuple[str, str, int] | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self, *kinds: str, values: tuple[str, ...] = ()) -> str:
        token = self.peek()
        if token is None or token[0] not in kinds or (values and token[1] not in values):
            column = token[2] if token else len(self.query) + 1
            found = token[1] if token else "end of input"
            raise LogQLError(f"parse error at line 1, col {column}: syntax error: unexpected {found}")
        self.at += 1
        return token[1]

    def string(self) -> str:
        token = self.take("str", "raw")
        return token[1:-1] if token.startswith("`") else str(json.loads(token))


def _regex(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as exc:
        raise LogQLError(f"parse error : error parsing regexp: {exc}") from None


def _matcher(label: str, op: str, value: str) -> LabelPredicate:
    """A label matcher: exact, or an anchored regex (as in Prometheus)."""
    if op in ("=~", "!~"):
        pattern, wanted = _regex(value), op == "=~"
        return lambda labels: (pattern.fullmatch(labels.get(label, "")) is not None) == wanted
    return lambda labels: (labels.get(label, "") == value) == (op == "=")


def _line_filter(op: str, value: str) -> LinePredicate:
    """A line filter: a substring, or a regex found anywhere in the line."""
    if op in ("|~", "!~"):
        pattern, wanted = _regex(value), op == "|~"
        return lambda line: (pattern.search(line) is not None) == wanted
    return lambda line: (value in line) == (op == "|=")


@dataclass
class LogQL:
    """A parsed log query: which streams, then which lines of them."""

    selector: list[LabelPredicate]
    lines: list[LinePredicate]
    labels: list[LabelPredicate]

    @classmethod
    def parse(cls, query: str) -> LogQL:
        tokens = _Tokens.scan(query)
        tokens.take("op", values=("{",))
        selector: list[LabelPredicate] = []
        selects = False
        while True:
            label = tokens.take("ident")
            op = tokens.take("op", values=("=", "!=", "=~", "!~"))
            value = tokens.string()
            selector.append(_matcher(label, op, value))
            selects = selects or (op == "=" and value != "") or (op == "=~" and not re.fullmatch(value, ""))
            if tokens.take("op", values=(",", "}")) == "}":
                break
        if not selects:
            raise LogQLError(EMPTY_COMPATIBLE)
        lines: list[LinePredicate] = []
        labels: list[LabelPredicate] = []
        while tokens.peek() is not None:
            op = tokens.take("op", values=("|=", "!=", "|~", "!~", "|"))
            if op == "|":
                label = tokens.take("ident")
                compare = tokens.take("op", values=("=", "!=", "=~", "!~"))
                labels.append(_matcher(label, compare, tokens.string()))
            else:
                lines.append(_line_filter(op, tokens.string()))
        return cls(selector, lines, labels)


@dataclass
class LokiFake:
    """Loki with one tenant's lines; ``token`` (a gateway's bearer token) is required when set."""

    tenant: str | None = None
    token: str | None = None
    streams: dict[Labels, dict[tuple[int, str], None]] = field(default_factory=dict)
    queries: list[dict[str, str]] = field(default_factory=list)
    version: str = "3.1.1"

    @classmethod
    def seeded(
        cls, corpus: list[CorpusLine], *, tenant: str | None = None, token: str | None = None
    ) -> LokiFake:
        fake = cls(tenant=tenant, token=token)
        for line in corpus:
            labels = {
                "service": line.service,
                "env": line.environment,
                "level": line.level,
                "host": line.host,
            }
            fake.push(labels, line.ns, line.text)
        return fake

    def push(self, labels: dict[str, str], ns: int, text: str) -> None:
        """Store a line; the same line at the same nanosecond in the same stream is kept once."""
        self.streams.setdefault(tuple(sorted(labels.items())), {})[(ns, text)] = None

    def lines(self) -> list[tuple[dict[str, str], int, str]]:
        """Every stored line: its stream's labels, its time and its text."""
        return [(dict(key), ns, text) for key, values in self.streams.items() for ns, text in values]

    def handle(self, ex: Exchange) -> Reply:
        if self.token is not None and ex.headers.get("authorization") != f"Bearer {self.token}":
            return text_reply(401, "Unauthorized")
        if ex.path == "/ready":
            return text_reply(200, "ready")
        if ex.path == "/loki/api/v1/status/buildinfo":
            return Reply(
                200,
                {"version": self.version, "revision": "0f1b4b5", "branch": "HEAD", "goVersion": "go1.22.6"},
            )
        if self.tenant is not None and not ex.headers.get("x-scope-orgid"):
            return text_reply(401, "no org id")
        if ex.method == "GET" and ex.path == "/loki/api/v1/query_range":
            params = dict(ex.query)
            self.queries.append(params)
            try:
                return self._query_range(params, own=ex.headers.get("x-scope-orgid") == self.tenant)
            except LogQLError as exc:
                return text_reply(400, str(exc))
        return text_reply(404, "404 page not found")

    def _query_range(self, params: dict[str, str], *, own: bool) -> Reply:
        try:
            start, end = int(params["start"]), int(params["end"])
            limit = int(params.get("limit", "100"))
        except (KeyError, ValueError):
            return text_reply(400, "invalid parameter: start, end and limit must be integers")
        if limit > MAX_ENTRIES:
            return text_reply(
                400,
                f"max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {MAX_ENTRIES})",
            )
        if end <= start:
            return text_reply(400, "invalid query, through < from")
        direction = params.get("direction", "backward").lower()
        query = LogQL.parse(params.get("query", ""))
        found: list[tuple[int, Labels, str]] = []
        for key, values in self.streams.items() if own else ():
            labels = dict(key)
            if not all(match(labels) for match in query.selector + query.labels):
                continue
            found += [
                (ns, key, text)
                for ns, text in values
                if start <= ns < end and all(keep(text) for keep in query.lines)
            ]
        found.sort(key=lambda item: item[0], reverse=direction == "backward")
        chosen = found[:limit]
        grouped: dict[Labels, list[list[str]]] = {}
        for ns, key, text in chosen:
            grouped.setdefault(key, []).append([str(ns), text])
        result = [{"stream": dict(key), "values": values} for key, values in grouped.items()]
        return Reply(
            200,
            {
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": result,
                    "stats": {"summary": {"totalEntriesReturned": len(chosen)}},
                },
            },
        )

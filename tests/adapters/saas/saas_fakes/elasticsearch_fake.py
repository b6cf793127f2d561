"""A fake Elasticsearch that really evaluates search requests over in-memory indices.

What it follows from the Elasticsearch REST API: ``POST /<index>/_search`` and, inside a point in time (``POST
/<index>/_pit?keep_alive=``, ``DELETE /_pit``), ``POST /_search`` with ``pit`` and no index; the query DSL's
``bool`` (``filter``, ``must``, ``must_not``, ``should`` + ``minimum_should_match``), ``range`` (``date_nanos``
bounds), ``term`` (``case_insensitive``), ``terms``, ``match_phrase``, ``simple_query_string`` (words, phrases,
``-`` exclusions, ``*`` prefixes, ``default_operator``), ``regexp`` (anchored, ``case_insensitive``), ``wildcard``,
``exists`` and ``match_all``; ``sort`` (with ``numeric_type: date_nanos`` sort values in nanoseconds, and
``_shard_doc`` in a point in time); ``search_after``; ``hits.hits[]._index/_id/_source/sort``; ``GET
/<index>/_doc/<id>``; ``GET /_cluster/health``. Index patterns: a comma-separated list of names and wildcards; a
missing concrete index is ``index_not_found_exception``, a wildcard matching nothing is no hits.

The mapping is fixed: ``@timestamp`` is ``date_nanos``, ``message`` is ``text`` (analyzed here as lower-cased word
characters, close to the standard analyzer), every other field is ``keyword``; ``<field>.keyword`` is a keyword copy
of a text field. Errors carry Elasticsearch's ``{"error": {"root_cause", "type", "reason", ...}, "status"}``.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from saas_fakes.loghub_corpus import CorpusLine
from saas_fakes.openapi import Exchange
from saas_fakes.server import Reply

TEXT_FIELDS = frozenset({"message"})
DATE_FIELDS = frozenset({"@timestamp"})
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")

Doc = dict[str, Any]


class SearchError(Exception):
    """A request Elasticsearch refuses: the status and the error object it answers with."""

    def __init__(self, status: int, kind: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.error = {
            "root_cause": [{"type": kind, "reason": reason, **extra}],
            "type": kind,
            "reason": reason,
            **extra,
        }

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.error, "status": self.status})


def error_reply(status: int, kind: str, reason: str) -> Reply:
    """An error in Elasticsearch's shape, for ``LoopbackServer.fail_next``."""
    return SearchError(status, kind, reason).reply()


def shard_failure(kind: str, reason: str, cause: str, index: str) -> SearchError:
    """A query every shard refused: ``search_phase_execution_exception`` with the shard's reason inside."""
    failure = SearchError(400, "search_phase_execution_exception", "all shards failed")
    shard_reason = {
        "type": kind,
        "reason": reason,
        "index": index,
        "caused_by": {"type": "illegal_argument_exception", "reason": cause},
    }
    failure.error = {
        "root_cause": [{"type": kind, "reason": reason, "index": index}],
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "phase": "query",
        "grouped": True,
        "failed_shards": [{"shard": 0, "index": index, "node": "n1", "reason": shard_reason}],
    }
    return failure


@functools.cache
def parse_nanos(value: Any) -> int:
    """A ``date_nanos`` bound or value: ``2025-06-11T14:20:00.123456789Z`` or epoch milliseconds."""
    if isinstance(value, int):
        return value * 1_000_000
    match = _ISO.match(str(value))
    if match is None:
        raise SearchError(
            400,
            "parse_exception",
            f"failed to parse date field [{value}] with format [strict_date_optional_time_nanos]",
        )
    whole = int(datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return whole * 1_000_000_000 + int((match.group(2) or "0").ljust(9, "0"))


def tokens(text: str) -> list[str]:
    """The standard analyzer, closely enough: lower-cased runs of word characters."""
    return re.findall(r"\w+", text.lower())


def _resolve(source: Any, path: str) -> Any:
    if not isinstance(source, dict):
        return None
    if path in source:
        return source[path]
    head, _, rest = path.partition(".")
    return _resolve(source.get(head), rest) if rest else None


def value_of(doc: Doc, path: str) -> Any:
    """A field's value; ``<text field>.keyword`` reads the text field as a keyword."""
    if path.endswith(".keyword") and path.removesuffix(".keyword") in TEXT_FIELDS:
        return _resolve(doc["_source"], path.removesuffix(".keyword"))
    return _resolve(doc["_source"], path)


def _one(clause: dict[str, Any], query_type: str) -> tuple[str, Any]:
    if len(clause) != 1:
        raise SearchError(
            400,
            "parsing_exception",
            f"[{query_type}] query doesn't support multiple fields, found [{', '.join(clause)}]",
        )
    return next(iter(clause.items()))


def _leaf(spec: Any, key: str = "value") -> tuple[str, bool]:
    """A leaf query's value and its ``case_insensitive`` flag, from the short (``{"f": v}``) or the long form."""
    if isinstance(spec, dict):
        return str(spec.get(key, "")), bool(spec.get("case_insensitive", False))
    return str(spec), False


def _nth(i: int) -> Callable[[tuple[list[Any], Doc]], Any]:
    return lambda item: item[0][i]


def _compile(pattern: str, field_name: str, *, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise shard_failure(
            "query_shard_exception",
            f"failed to create query: {exc}",
            f"invalid regular expression [{pattern}] on [{field_name}]",
            "logs",
        ) from None


class Matcher:
    """Evaluates one query clause against a document."""

    def matches(self, clause: dict[str, Any], doc: Doc) -> bool:
        query_type, body = _one(clause, "query")
        handler = getattr(self, "_" + query_type, None)
        if handler is None:
            raise SearchError(400, "parsing_exception", f"unknown query [{query_type}]", line=1, col=1)
        return bool(handler(body, doc))

    def _match_all(self, body: dict[str, Any], doc: Doc) -> bool:
        return True

    def _bool(self, body: dict[str, Any], doc: Doc) -> bool:
        for key in body:
            if key not in ("filter", "must", "must_not", "should", "minimum_should_match"):
                raise SearchError(400, "parsing_exception", f"[bool] query does not support [{key}]")

        def clauses(key: str) -> list[dict[str, Any]]:
            value = body.get(key, [])
            return value if isinstance(value, list) else [value]

        if not all(self.matches(c, doc) for c in clauses("filter") + clauses("must")):
            return False
        if any(self.matches(c, doc) for c in clauses("must_not")):
            return False
        should = clauses("should")
        default = 0 if clauses("filter") or clauses("must") else 1
        wanted = int(body.get("minimum_should_match", default if should else 0))
        return sum(self.matches(c, doc) for c in should) >= wanted

    def _term(self, body: dict[str, Any], doc: Doc) -> bool:
        name, spec = _one(body, "term")
        wanted, insensitive = _leaf(spec)
        value = value_of(doc, name)
        if value is None:
            return False
        if name in TEXT_FIELDS:
            return str(wanted) in tokens(str(value))
        values = value if isinstance(value, list) else [value]
        if insensitive:
            return any(str(v).lower() == str(wanted).lower() for v in values)
        return any(str(v) == str(wanted) for v in values)

    def _terms(self, body: dict[str, Any], doc: Doc) -> bool:
        name, wanted = _one(body, "terms")
        return any(self._term({name: value}, doc) for value in wanted)

    def _exists(self, body: dict[str, Any], doc: Doc) -> bool:
        return value_of(doc, body["field"]) is not None

    def _range(self, body: dict[str, Any], doc: Doc) -> bool:
        name, bounds = _one(body, "range")
        value = value_of(doc, name)
        if value is None:
            return False
        convert = parse_nanos if name in DATE_FIELDS else (lambda v: v)
        have = convert(value)
        checks = {
            "gte": lambda b: have >= b,
            "gt": lambda b: have > b,
            "lte": lambda b: have <= b,
            "lt": lambda b: have < b,
        }
        return all(checks[key](convert(bound)) for key, bound in bounds.items() if key in checks)

    def _match_phrase(self, body: dict[str, Any], doc: Doc) -> bool:
        name, spec = _one(body, "match_phrase")
        phrase, _ = _leaf(spec, "query")
        value = value_of(doc, name)
        if value is None:
            return False
        if name not in TEXT_FIELDS:
            return str(value) == str(phrase)
        return _contains_run(tokens(str(value)), tokens(str(phrase)))

    def _regexp(self, body: dict[str, Any], doc: Doc) -> bool:
        name, spec = _one(body, "regexp")
        pattern, insensitive = _leaf(spec)
        compiled = _compile(pattern, name, flags=re.IGNORECASE if insensitive else 0)
        value = value_of(doc, name)
        if value is None:
            return False
        candidates = tokens(str(value)) if name in TEXT_FIELDS else [str(value)]
        return any(compiled.fullmatch(candidate) for candidate in candidates)

    def _wildcard(self, body: dict[str, Any], doc: Doc) -> bool:
        name, spec = _one(body, "wildcard")
        pattern, insensitive = _leaf(spec)
        parts = re.split(r"(\\.|\*|\?)", pattern)
        regex = "".join(
            ".*" if p == "*" else "." if p == "?" else re.escape(p[1:] if p.startswith("\\") else p)
            for p in parts
        )
        value = value_of(doc, name)
        return (
            value is not None
            and re.fullmatch(regex, str(value), re.IGNORECASE if insensitive else 0) is not None
        )

    def _simple_query_string(self, body: dict[str, Any], doc: Doc) -> bool:
        text = " ".join(str(value_of(doc, f) or "") for f in body.get("fields") or ["message"])
        have = tokens(text)
        results = []
        for negated, phrase, word in re.findall(r'(-?)(?:"([^"]*)"|(\S+))', body["query"]):
            found = _query_term(have, phrase, word)
            if found is not None:
                results.append(found != bool(negated))
        if body.get("default_operator", "or").lower() == "and":
            return all(results)
        return any(results)


def _contains_run(have: list[str], wanted: list[str]) -> bool:
    return any(have[i : i + len(wanted)] == wanted for i in range(len(have) - len(wanted) + 1))


def _query_term(have: list[str], phrase: str, word: str) -> bool | None:
    """Whether one term of a simple query string occurs; None for a term the analyzer leaves nothing of."""
    if word.endswith("*") and len(word) > 1:
        prefix = tokens(word[:-1])
        if not prefix:
            return None
        return _contains_run(have, prefix[:-1]) and any(t.startswith(prefix[-1]) for t in have)
    wanted = tokens(phrase or word)
    if not wanted:
        return None
    return _contains_run(have, wanted) if phrase else all(t in have for t in wanted)


def _sort_specs(sort: list[Any]) -> list[tuple[str, str, str | None]]:
    specs: list[tuple[str, str, str | None]] = []
    for item in sort:
        if isinstance(item, str):
            specs.append((item, "asc", None))
            continue
        name, spec = next(iter(item.items()))
        if isinstance(spec, str):
            specs.append((name, spec, None))
        else:
            specs.append((name, spec.get("order", "asc"), spec.get("numeric_type")))
    return specs


@dataclass
class PointInTime:
    docs: list[Doc]
    keep_alive: str


@dataclass
class ElasticsearchFake:
    """A cluster with indices of documents; ``api_key`` or ``basic`` (user, password) is required when set."""

    api_key: str | None = None
    basic: tuple[str, str] | None = None
    indices: dict[str, list[Doc]] = field(default_factory=dict)
    pits: dict[str, PointInTime] = field(default_factory=dict)
    searches: list[dict[str, Any]] = field(default_factory=list)
    cluster_status: str = "green"
    # Errors the next searches answer with (after the point in time opened), as a cluster refusing a query does.
    refusals: list[SearchError] = field(default_factory=list)
    _pit_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def seeded(cls, corpus: list[CorpusLine], *, api_key: str | None = None) -> ElasticsearchFake:
        fake = cls(api_key=api_key)
        for line in corpus:
            fake.index(
                f"logs-{line.service}-2025.06.11",
                hashlib.sha1(str(line.sequence).encode()).hexdigest()[:20],
                {
                    "@timestamp": line.iso,
                    "message": line.text,
                    "service": {"name": line.service, "environment": line.environment},
                    "log": {"level": line.level},
                    "host": {"name": line.host},
                    "event": {"sequence": line.sequence},
                    "labels": {"team": "web" if line.service == "httpd" else "security"},
                },
            )
        return fake

    def index(self, index: str, doc_id: str, source: dict[str, Any]) -> None:
        self.indices.setdefault(index, []).append({"_index": index, "_id": doc_id, "_source": source})

    def docs(self) -> list[Doc]:
        """Every document, in index order."""
        return [doc for name in sorted(self.indices) for doc in self.indices[name]]

    # --- HTTP ------------------------------------------------------------------------------------------------

    def _authorized(self, ex: Exchange) -> Reply | None:
        header = ex.headers.get("authorization")
        accepted = set()
        if self.api_key is not None:
            accepted.add(f"ApiKey {self.api_key}")
        if self.basic is not None:
            accepted.add("Basic " + base64.b64encode(":".join(self.basic).encode()).decode())
        if not accepted or header in accepted:
            return None
        reason = (
            f"missing authentication credentials for REST request [{ex.path}]"
            if header is None
            else "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
        )
        reply = error_reply(401, "security_exception", reason)
        reply.headers["WWW-Authenticate"] = 'ApiKey, Basic realm="security" charset="UTF-8"'
        return reply

    def handle(self, ex: Exchange) -> Reply:
        refused = self._authorized(ex)
        if refused is not None:
            return refused
        parts = [p for p in ex.path.split("/") if p]
        try:
            body = json.loads(ex.body) if ex.body else {}
            if ex.method == "GET" and parts == ["_cluster", "health"]:
                return Reply(200, self._health())
            if ex.method == "DELETE" and parts == ["_pit"]:
                freed = self.pits.pop(body.get("id", ""), None) is not None
                return Reply(200 if freed else 404, {"succeeded": True, "num_freed": int(freed)})
            if ex.method == "POST" and parts == ["_search"]:
                return self._search(None, body)
            if ex.method == "POST" and len(parts) == 2 and parts[1] == "_search":
                return self._search(parts[0], body)
            if ex.method == "POST" and len(parts) == 2 and parts[1] == "_pit":
                return self._open_pit(parts[0], dict(ex.query))
            if ex.method == "GET" and len(parts) == 3 and parts[1] == "_doc":
                return self._get(parts[0], parts[2])
        except SearchError as exc:
            return exc.reply()
        return error_reply(
            405,
            "illegal_argument_exception",
            f"Incorrect HTTP method for uri [{ex.path}] and method [{ex.method}]",
        )

    def _health(self) -> dict[str, Any]:
        return {
            "cluster_name": "opspilot-test",
            "status": self.cluster_status,
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": len(self.indices),
            "active_shards": len(self.indices),
            "unassigned_shards": 0 if self.cluster_status == "green" else 1,
        }

    def _resolve(self, pattern: str) -> list[Doc]:
        docs: list[Doc] = []
        for part in pattern.split(","):
            if "*" in part:
                docs += [
                    doc
                    for name in sorted(self.indices)
                    if fnmatch.fnmatchcase(name, part)
                    for doc in self.indices[name]
                ]
            elif part in self.indices:
                docs += self.indices[part]
            else:
                raise SearchError(
                    404,
                    "index_not_found_exception",
                    f"no such index [{part}]",
                    **{"resource.type": "index_or_alias", "resource.id": part, "index": part},
                )
        return docs

    def _open_pit(self, pattern: str, params: dict[str, str]) -> Reply:
        if "keep_alive" not in params:
            raise SearchError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: [keep_alive] is not specified;",
            )
        pit_id = base64.urlsafe_b64encode(f"46ToAwMDaWR5BXV1aWQy-{next(self._pit_ids)}".encode()).decode()
        self.pits[pit_id] = PointInTime(list(self._resolve(pattern)), params["keep_alive"])
        return Reply(200, {"id": pit_id, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}})

    def _get(self, index: str, doc_id: str) -> Reply:
        docs = self._resolve(index)
        found = next((doc for doc in docs if doc["_id"] == doc_id), None)
        if found is None:
            return Reply(404, {"_index": index, "_id": doc_id, "found": False})
        return Reply(
            200,
            {
                "_index": index,
                "_id": doc_id,
                "_version": 1,
                "_seq_no": 0,
                "_primary_term": 1,
                "found": True,
                "_source": found["_source"],
            },
        )

    def _search(self, pattern: str | None, body: dict[str, Any]) -> Reply:
        self.searches.append(body)
        if self.refusals:
            raise self.refusals.pop(0)
        pit = body.get("pit")
        if pit is not None and pattern is not None:
            raise SearchError(
                400,
                "illegal_argument_exception",
                "[indices] cannot be used with point in time. Do not specify any index with point in time.",
            )
        if pit is not None:
            held = self.pits.get(pit.get("id", ""))
            if held is None:
                raise SearchError(
                    404,
                    "search_context_missing_exception",
                    f"No search context found for id [{pit.get('id')}]",
                )
            docs = held.docs
        else:
            docs = self._resolve(pattern or "*")
        matcher = Matcher()
        query = body.get("query", {"match_all": {}})
        chosen = [(position, doc) for position, doc in enumerate(docs) if matcher.matches(query, doc)]
        specs = _sort_specs(body.get("sort", []))
        if any(name == "_shard_doc" for name, _, _ in specs) and pit is None:
            raise SearchError(
                400,
                "illegal_argument_exception",
                "[_shard_doc] sort field cannot be used without [point in time]",
            )
        keyed = [(self._sort_values(specs, position, doc), doc) for position, doc in chosen]
        for i in reversed(range(len(specs))):
            keyed.sort(key=_nth(i), reverse=specs[i][1] == "desc")
        after = body.get("search_after")
        if after is not None:
            if len(after) != len(specs):
                raise SearchError(
                    400,
                    "illegal_argument_exception",
                    f"search_after has {len(after)} value(s) but sort has {len(specs)}.",
                )
            keyed = [item for item in keyed if self._is_after(item[0], after, specs)]
        size = int(body.get("size", 10))
        hits = [
            {
                "_index": doc["_index"],
                "_id": doc["_id"],
                "_score": None,
                "_source": doc["_source"],
                "sort": values,
            }
            for values, doc in keyed[:size]
        ]
        answer: dict[str, Any] = {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": None, "hits": hits},
        }
        if body.get("track_total_hits", True) is not False:
            answer["hits"]["total"] = {"value": len(keyed), "relation": "eq"}
        if pit is not None:
            answer["pit_id"] = pit["id"]
        return Reply(200, answer)

    @staticmethod
    def _sort_values(specs: list[tuple[str, str, str | None]], position: int, doc: Doc) -> list[Any]:
        values: list[Any] = []
        for name, _, numeric_type in specs:
            if name == "_shard_doc":
                values.append(position)
                continue
            value = value_of(doc, name)
            if name in DATE_FIELDS:
                ns = parse_nanos(value)
                values.append(ns if numeric_type == "date_nanos" else ns // 1_000_000)
            else:
                values.append(value)
        return values

    @staticmethod
    def _is_after(values: list[Any], after: list[Any], specs: list[tuple[str, str, str | None]]) -> bool:
        for have, boundary, (_, order, _) in zip(values, after, specs, strict=True):
            if have == boundary:
                continue
            return have < boundary if order == "desc" else have > boundary
        return False

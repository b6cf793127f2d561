"""LogQuery to LogQL: a stream selector from the scope and label filters, then line and label filter stages.

Search text is words and ``"quoted phrases"`` that must all occur in the line and ``-word`` exclusions (a trailing
``*`` is dropped: a substring match already matches a prefix). Each becomes a line filter, case-insensitive by
default (``|~ "(?i)word"``, which Loki runs as a plain substring scan) or, with ``case_sensitive_search``, the exact
``|= "word"``. Every value is written as an escaped LogQL string and, inside a regex, with its metacharacters
quoted, so no input can change the query's structure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from adapters.loki.config import LABEL_NAME, SOURCE, LokiConfig
from core_client.errors import BadQuery
from core_client.schemas import LogFilter, LogQuery, QueryScope

# Severities are read in lower case with these spellings folded; a query for one matches all its spellings.
SEVERITY_ALIASES = {"warning": "warn", "err": "error"}
_SEARCH_TERM = re.compile(r'(-(?=[\w"]))?(?:"([^"]*)("?)|(\S+))')
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def normalize_severity(raw: str) -> str:
    """A severity in lower case, with its common spellings folded (``WARNING`` -> ``warn``)."""
    lowered = raw.strip().lower()
    return SEVERITY_ALIASES.get(lowered, lowered)


def severity_spellings(severity: str) -> list[str]:
    """Every spelling that means ``severity``: ``warn`` -> ``warn``, ``warning``."""
    wanted = normalize_severity(severity)
    return [wanted, *sorted(alias for alias, canonical in SEVERITY_ALIASES.items() if canonical == wanted)]


def logql_string(value: str) -> str:
    """``value`` as a LogQL double-quoted string (Go's syntax, which JSON's escapes are a subset of)."""
    return json.dumps(value, ensure_ascii=False)


def quote_meta(text: str) -> str:
    """``text`` as a literal inside an RE2 regex (what Go's ``regexp.QuoteMeta`` does)."""
    return _REGEX_META.sub(r"\\\1", text)


def check_regex(pattern: str) -> None:
    """Refuse a regex that cannot compile before Loki sees it (RE2 accepts a subset of Python's syntax)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise BadQuery(f"invalid regex {pattern!r}: {exc}", source=SOURCE) from None


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a stream selector or of a label filter stage."""

    label: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.label}{self.op}{logql_string(self.value)}"

    def selects(self) -> bool:
        """Whether Loki accepts it as the selector's required matcher (one that cannot match an empty value)."""
        if self.op == "=":
            return self.value != ""
        try:
            return self.op == "=~" and re.fullmatch(self.value, "") is None
        except re.error:
            return False


@dataclass(frozen=True)
class SearchTerm:
    text: str
    negated: bool = False


def parse_search(text: str) -> list[SearchTerm]:
    """Words and ``"phrases"`` that must occur, ``-word`` exclusions; an unterminated quote is a ``BadQuery``."""
    terms: list[SearchTerm] = []
    for match in _SEARCH_TERM.finditer(text):
        negated, phrase, closed, word = match.groups()
        if phrase is not None and not closed:
            raise BadQuery(f"unterminated quote in search {text!r}", source=SOURCE)
        body = phrase if phrase is not None else (word.removesuffix("*") or word)
        if body.strip():
            terms.append(SearchTerm(body, negated=bool(negated)))
    return terms


def line_filter(text: str, *, negated: bool, case_sensitive: bool) -> str:
    """A line filter for a literal: ``|= "text"`` or ``|~ "(?i)text"`` (``!=``, ``!~`` when negated)."""
    if case_sensitive:
        return f"{'!=' if negated else '|='} {logql_string(text)}"
    return f"{'!~' if negated else '|~'} {logql_string('(?i)' + quote_meta(text))}"


def _contains(value: str) -> str:
    return "(?i).*" + quote_meta(value) + ".*"


def _anywhere(pattern: str) -> str:
    # Label matchers are anchored in LogQL; OpsPilot's regex filters match anywhere in the value.
    return f".*(?:{pattern}).*"


def label_matcher(label: str, condition: LogFilter) -> Matcher:
    """A filter on a label as a matcher: ``=`` and ``!=`` exact, ``contains`` case-insensitive, ``regex`` anywhere."""
    if condition.operator == "regex":
        check_regex(condition.value)
        return Matcher(label, "=~", _anywhere(condition.value))
    if condition.operator == "contains":
        return Matcher(label, "=~", _contains(condition.value))
    return Matcher(label, condition.operator, condition.value)


def message_filter(condition: LogFilter, *, case_sensitive: bool) -> str:
    """A filter on the line itself as a line filter."""
    value = condition.value
    if condition.operator == "regex":
        check_regex(value)
        return f"|~ {logql_string(value)}"
    if condition.operator == "contains":
        return line_filter(value, negated=False, case_sensitive=case_sensitive)
    whole = "^" + quote_meta(value) + "$"
    return f"{'|~' if condition.operator == '=' else '!~'} {logql_string(whole)}"


def severity_stage(severities: list[str], config: LokiConfig, *, negated: bool = False) -> str:
    """The stage keeping lines of these severities: a label filter, or words in the line text."""
    spellings = [quote_meta(s) for severity in severities for s in severity_spellings(severity)]
    alternatives = "|".join(dict.fromkeys(spellings))
    if config.severity_label:
        return (
            f"| {config.severity_label}{'!~' if negated else '=~'}{logql_string(f'(?i)(?:{alternatives})')}"
        )
    words = f"(?i)\\b(?:{alternatives})\\b"
    return f"{'!~' if negated else '|~'} {logql_string(words)}"


def _severity_filter(condition: LogFilter, config: LokiConfig) -> str:
    if condition.operator in ("=", "!="):
        return severity_stage([condition.value], config, negated=condition.operator == "!=")
    if config.severity_label is None:
        raise BadQuery(
            f"a {condition.operator!r} filter on severity needs a severity label (set severity_label)",
            source=SOURCE,
        )
    return "| " + label_matcher(config.severity_label, condition).render()


def _scope_label(dimension: str, config: LokiConfig) -> str:
    label: str | None = getattr(config.scope_labels, dimension)
    if label is None:
        raise BadQuery(
            f"{dimension} cannot be applied: no label is configured for it (set scope_labels.{dimension})",
            source=SOURCE,
        )
    return label


def scope_matchers(scope: QueryScope, config: LokiConfig) -> list[Matcher]:
    """Exact matchers for the scope's service, team and environment labels."""
    return [
        Matcher(_scope_label(dimension, config), "=", value)
        for dimension in ("service", "team", "environment")
        if (value := getattr(scope, dimension))
    ]


def selector(matchers: list[Matcher], config: LokiConfig) -> str:
    """``{...}``; without a matcher Loki accepts, every stream that has the service label."""
    if not any(m.selects() for m in matchers):
        if config.scope_labels.service is None:
            raise BadQuery(
                "Loki needs a label to select streams: give a scope or an '=' label filter", source=SOURCE
            )
        matchers = [Matcher(config.scope_labels.service, "=~", ".+"), *matchers]
    return "{" + ", ".join(m.render() for m in matchers) + "}"


def build_logql(query: LogQuery, config: LokiConfig) -> str:
    """The LogQL of a query: selector, line filters (search, message filters), then label filter stages."""
    case_sensitive = config.case_sensitive_search
    matchers = scope_matchers(query.scope, config)
    lines = [
        line_filter(term.text, negated=term.negated, case_sensitive=case_sensitive)
        for term in parse_search(query.expression.search or "")
    ]
    labels: list[str] = []
    for condition in query.expression.filters:
        name = condition.field.strip()
        if name == "message":
            lines.append(message_filter(condition, case_sensitive=case_sensitive))
        elif name == "severity":
            labels.append(_severity_filter(condition, config))
        elif name in ("service", "team", "environment"):
            matchers.append(label_matcher(_scope_label(name, config), condition))
        elif re.match(LABEL_NAME, name):
            matchers.append(label_matcher(name, condition))
        else:
            raise BadQuery(
                f"filter field {name!r} is not a Loki label name (letters, digits and '_')", source=SOURCE
            )
    if query.expression.severity_in:
        labels.append(severity_stage(query.expression.severity_in, config))
    return " ".join([selector(matchers, config), *lines, *labels])

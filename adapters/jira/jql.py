"""JQL built from a TicketQuery: every value quoted and escaped, so input can never change the query's shape."""

from __future__ import annotations

from adapters.jira.config import JiraConfig, ScopeField
from core_client.schemas import INCIDENT_FIELD, TicketQuery


def quote(value: str) -> str:
    """A JQL string literal: backslashes and double quotes escaped, control characters made spaces."""
    cleaned = "".join(" " if ord(ch) < 32 else ch for ch in value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in(field: str, values: list[str]) -> str:
    if len(values) == 1:
        return f"{field} = {quote(values[0])}"
    return f"{field} in ({', '.join(quote(v) for v in values)})"


def _scope(mapping: ScopeField, value: str | None) -> str | None:
    if not value or mapping.field == "none":
        return None
    field = "component" if mapping.field == "component" else "labels"
    return f"{field} = {quote(mapping.write(value))}"


def build_jql(query: TicketQuery, config: JiraConfig, *, extra: list[str] | None = None) -> str:
    """``project = "OPS" AND status in (...) AND ... ORDER BY updated DESC``."""
    clauses = [f"project = {quote(config.project)}"]
    if query.query:
        clauses.append(f"text ~ {quote(query.query)}")
    if query.statuses:
        clauses.append(_in("status", query.statuses))
    if query.assignees:
        clauses.append(_in("assignee", query.assignees))
    if query.reporter:
        clauses.append(f"reporter = {quote(query.reporter)}")
    incident = query.metadata.get(INCIDENT_FIELD)
    for mapping, value in (
        (config.service, query.scope.service),
        (config.team, query.scope.team),
        (config.environment, query.scope.environment),
        (config.incident, incident if isinstance(incident, str) else None),
    ):
        clause = _scope(mapping, value)
        if clause:
            clauses.append(clause)
    clauses += extra or []
    return " AND ".join(clauses) + " ORDER BY updated DESC"

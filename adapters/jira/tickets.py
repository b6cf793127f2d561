"""Jira Cloud issues as OpsPilot tickets: JQL search, create, edit, and status changes through transitions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from adapters.jira.adf import adf_to_text, text_to_adf
from adapters.jira.config import JiraConfig, ScopeField
from adapters.jira.jql import build_jql, quote
from adapters.rest import RestClient
from core_client.errors import BadQuery
from core_client.schemas import (
    FAULT_KIND_FIELD,
    INCIDENT_FIELD,
    SERVICE_FIELD,
    CreateTicketInput,
    Page,
    ProviderHealth,
    Ticket,
    TicketQuery,
    UpdateTicketInput,
    decode_cursor,
    encode_cursor,
    page_size,
)

SOURCE = "jira"
MAX_PAGE = 100
SEARCH_FIELDS = [
    "summary",
    "description",
    "status",
    "assignee",
    "reporter",
    "created",
    "updated",
    "priority",
    "labels",
    "components",
    "issuetype",
    "project",
]
# Input keys a ticket's ``fields`` may carry, and the Jira field each becomes (OpsPilot's own keys, below, too).
WRITABLE_FIELDS = ("labels", "components", "priority", "issueType")
_ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$|^\d+$")


def _error_detail(response: httpx.Response) -> str:
    """Jira's ``{"errorMessages": [...], "errors": {field: message}}``, as one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    messages = [str(m) for m in body.get("errorMessages") or []]
    messages += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    return "; ".join(messages)[:400] or str(body)[:200]


def _jira_time(value: str | None) -> datetime | None:
    """Jira's ``2024-05-01T10:02:03.123+0000``."""
    if not value:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    return datetime.fromisoformat(value)


def _issue_key(value: str) -> str:
    if not _ISSUE_KEY.match(value or ""):
        raise BadQuery(f"malformed Jira issue key {value!r}; expected e.g. OPS-123", source=SOURCE)
    return value


def grant_label(idempotency_key: str) -> str:
    """The label that marks the issue a grant created, so a repeated create finds it instead of doubling it."""
    return "opspilot-grant-" + re.sub(r"[^A-Za-z0-9_-]", "_", idempotency_key)[:200]


@dataclass
class _Edit:
    """What a ticket's ``fields`` become in Jira: fields to set, and labels and components to add."""

    fields: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)


class JiraTickets:
    """TicketProvider over Jira Cloud REST v3."""

    def __init__(
        self,
        config: JiraConfig,
        *,
        api_token: SecretStr,
        timeout: float = 10.0,
        retry_wait_max: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._rest = RestClient(
            source=SOURCE,
            base_url=config.site,
            headers={"Accept": "application/json"},
            auth=(config.email, api_token.get_secret_value()),
            timeout=timeout,
            detail=_error_detail,
            retry_wait_max=retry_wait_max,
            transport=transport,
        )

    async def health(self) -> ProviderHealth:
        await self._rest.get_json("/rest/api/3/myself")
        return ProviderHealth(capability="ticket", provider=SOURCE, status="ok")

    async def aclose(self) -> None:
        await self._rest.aclose()

    async def query(self, query: TicketQuery, *, cursor: str | None = None) -> Page[Ticket]:
        return await self._search(build_jql(query, self._config), cursor=cursor, limit=page_size(query.limit))

    async def _search(self, jql: str, *, cursor: str | None, limit: int) -> Page[Ticket]:
        body: dict[str, Any] = {"jql": jql, "maxResults": min(limit, MAX_PAGE), "fields": SEARCH_FIELDS}
        if cursor:
            token = decode_cursor(cursor, source=SOURCE).get("token")
            if not isinstance(token, str):
                raise BadQuery(f"malformed cursor {cursor!r}", source=SOURCE)
            body["nextPageToken"] = token
        # A search changes nothing, so it is a read (retried) although it is a POST.
        result = (await self._rest.read("POST", "/rest/api/3/search/jql", json=body)).json()
        token = result.get("nextPageToken")
        more = bool(token) and not result.get("isLast", False)
        return Page[Ticket](
            items=[self._ticket(issue) for issue in result.get("issues", [])],
            next_cursor=encode_cursor({"token": token}) if more else None,
        )

    async def get(self, ticket_id: str) -> Ticket:
        issue = await self._rest.get_json(
            f"/rest/api/3/issue/{_issue_key(ticket_id)}", params={"fields": ",".join(SEARCH_FIELDS)}
        )
        return self._ticket(issue)

    async def create(self, data: CreateTicketInput, *, idempotency_key: str | None = None) -> Ticket:
        """A new issue in the configured project. With a grant id, the issue carries a label naming it and an
        issue already carrying that label is returned instead: Jira has no idempotency key of its own."""
        edit = self._writable(data.fields)
        fields: dict[str, Any] = {
            "project": {"key": self._config.project},
            "summary": data.title,
            "issuetype": {"name": self._config.issue_type},
            **edit.fields,
        }
        if edit.labels:
            fields["labels"] = list(dict.fromkeys([*fields.get("labels", []), *edit.labels]))
        if edit.components:
            named = [c["name"] for c in fields.get("components", [])]
            fields["components"] = [{"name": name} for name in dict.fromkeys([*named, *edit.components])]
        if data.description:
            fields["description"] = text_to_adf(data.description)
        if idempotency_key:
            label = grant_label(idempotency_key)
            earlier = await self._search(
                f"project = {quote(self._config.project)} AND labels = {quote(label)}", cursor=None, limit=1
            )
            if earlier.items:
                return earlier.items[0]
            fields["labels"] = [*fields.get("labels", []), label]
        created = (await self._rest.write("POST", "/rest/api/3/issue", json={"fields": fields})).json()
        return await self.get(created["key"])

    async def update(
        self, ticket_id: str, changes: UpdateTicketInput, *, idempotency_key: str | None = None
    ) -> Ticket:
        """Edits fields with PUT (idempotent), then moves the status through a matching transition. OpsPilot's
        fields add their label or component to the issue's, keeping the others."""
        key = _issue_key(ticket_id)
        edit = self._writable(changes.fields or {})
        fields: dict[str, Any] = dict(edit.fields)
        if changes.title is not None:
            fields["summary"] = changes.title
        if changes.description is not None:
            fields["description"] = text_to_adf(changes.description)
        if changes.assignees is not None:
            if len(changes.assignees) > 1:
                raise BadQuery("a Jira issue has one assignee; give at most one account id", source=SOURCE)
            fields["assignee"] = {"accountId": changes.assignees[0]} if changes.assignees else None
        verbs: dict[str, Any] = {}
        if edit.labels:
            verbs["labels"] = [{"add": label} for label in edit.labels]
        if edit.components:
            verbs["components"] = [{"add": {"name": name}} for name in edit.components]
        if fields or verbs:
            body: dict[str, Any] = {"fields": fields}
            if verbs:
                body["update"] = verbs
            await self._rest.write("PUT", f"/rest/api/3/issue/{key}", json=body)
        if changes.status is not None:
            await self._transition(key, changes.status)
        return await self.get(key)

    async def _transition(self, key: str, status: str) -> None:
        available = (await self._rest.get_json(f"/rest/api/3/issue/{key}/transitions")).get("transitions", [])
        wanted = status.strip().lower()
        match = next(
            (t for t in available if str((t.get("to") or {}).get("name", "")).lower() == wanted), None
        ) or next((t for t in available if str(t.get("name", "")).lower() == wanted), None)
        if match is None:
            targets = sorted({str((t.get("to") or {}).get("name", t.get("name"))) for t in available})
            raise BadQuery(
                f"{key} cannot move to status {status!r} from where it is; available: "
                f"{', '.join(targets) or 'none'}",
                source=SOURCE,
            )
        await self._rest.write(
            "POST", f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": str(match["id"])}}
        )

    def _own_fields(self) -> dict[str, ScopeField]:
        """OpsPilot's ticket field keys and where each lives in Jira."""
        config = self._config
        return {
            INCIDENT_FIELD: config.incident,
            SERVICE_FIELD: config.service,
            FAULT_KIND_FIELD: config.fault_kind,
            "team": config.team,
            "environment": config.environment,
        }

    def _writable(self, given: dict[str, Any]) -> _Edit:
        edit = _Edit()
        own = self._own_fields()
        for name, value in given.items():
            if name in own:
                mapping = own[name]
                if mapping.field == "none" or value in (None, ""):
                    continue
                target = edit.components if mapping.field == "component" else edit.labels
                target.append(mapping.write(str(value)))
            elif name == "labels":
                edit.fields["labels"] = [str(v) for v in value]
            elif name == "components":
                edit.fields["components"] = [{"name": str(v)} for v in value]
            elif name == "priority":
                edit.fields["priority"] = {"name": str(value)}
            elif name == "issueType":
                edit.fields["issuetype"] = {"name": str(value)}
            elif name.startswith("customfield_"):
                edit.fields[name] = value
            else:
                raise BadQuery(
                    f"unknown ticket field {name!r}; Jira takes {', '.join([*WRITABLE_FIELDS, *own])} "
                    "and customfield_*",
                    source=SOURCE,
                )
        return edit

    def _read_own(self, labels: list[str], components: list[str]) -> dict[str, str]:
        """OpsPilot's fields read back from the labels and components that carry them."""
        found: dict[str, str] = {}
        for name, mapping in self._own_fields().items():
            written = (
                components if mapping.field == "component" else labels if mapping.field == "label" else []
            )
            values = [value for value in (mapping.read(item) for item in written) if value]
            if values:
                found[name] = values[0]
        return found

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        f = issue.get("fields") or {}
        assignee = f.get("assignee") or {}
        reporter = f.get("reporter") or {}
        return Ticket(
            id=issue["key"],
            key=issue["key"],
            title=f.get("summary") or "",
            description=adf_to_text(f.get("description")),
            status=(f.get("status") or {}).get("name", ""),
            assignees=[assignee["accountId"]] if assignee.get("accountId") else [],
            reporter=reporter.get("accountId", ""),
            url=f"{self._config.site}/browse/{issue['key']}",
            created_at=_jira_time(f.get("created")),
            updated_at=_jira_time(f.get("updated")),
            fields={
                **self._read_own(
                    list(f.get("labels") or []), [c.get("name", "") for c in f.get("components") or []]
                ),
                "assigneeName": assignee.get("displayName", ""),
                "reporterName": reporter.get("displayName", ""),
                "priority": (f.get("priority") or {}).get("name", ""),
                "issueType": (f.get("issuetype") or {}).get("name", ""),
                "labels": list(f.get("labels") or []),
                "components": [c.get("name", "") for c in f.get("components") or []],
                "project": (f.get("project") or {}).get("key", ""),
            },
            metadata={"jiraId": issue.get("id", "")},
        )

"""The jira provider through CoreClient, against a loopback Jira checked against Atlassian's OpenAPI description."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from saas_fakes.jira import JiraFake, errors, parse_jql
from saas_fakes.openapi import OpenApiContract
from saas_fakes.server import LoopbackServer

from adapters.jira.adf import adf_to_text, text_to_adf
from core_client.client import CoreClient
from core_client.errors import BadQuery, NotFound, OpsPilotError, ProviderUnavailable
from core_client.identity import Actor
from core_client.schemas import CreateTicketInput, QueryScope, TicketQuery, UpdateTicketInput

from .conftest import checked

TOKEN = "jira-secret-ATATT3xFfGF0"
EMAIL = "bot@acme.test"
DESCRIPTION = """## Impact

Checkout fails with **502** since 10:02; see [the dashboard](https://grafana.acme.test/d/1).

- payments-db CPU at *95%*
- run `kubectl rollout undo`

```sh
kubectl -n shop get pods
```"""


@pytest.fixture
def fake() -> JiraFake:
    return JiraFake.seeded(EMAIL, TOKEN)


@pytest.fixture
def server(
    loopback: LoopbackServer, fake: JiraFake, jira_contract: OpenApiContract
) -> Iterator[LoopbackServer]:
    loopback.reset(fake.handle)
    loopback.contract = jira_contract
    yield from checked(loopback)


@pytest.fixture
def core(make_core: Callable[..., CoreClient], server: LoopbackServer) -> CoreClient:
    return make_core(
        "jira", {"site": server.url, "email": EMAIL, "api_token": TOKEN, "project": "OPS"}, "ticket"
    )


async def test_query_builds_jql_from_filters_and_scope_and_pages_with_tokens(
    core: CoreClient, fake: JiraFake
) -> None:
    query = TicketQuery(
        statuses=["To Do", "Done"], scope=QueryScope(service="checkout", team="payments"), limit=2
    )
    keys: list[str] = []
    cursor = None
    while True:
        page = await core.tickets.query(query, cursor=cursor)
        keys += [t.key for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert keys == ["OPS-11", "OPS-9", "OPS-5", "OPS-3"]
    assert fake.searches[0] == (
        'project = "OPS" AND status in ("To Do", "Done") AND component = "checkout" '
        'AND labels = "team-payments" ORDER BY updated DESC'
    )


async def test_jql_values_are_escaped(core: CoreClient, fake: JiraFake) -> None:
    hostile = 'x" OR project = "SECRET\\'
    page = await core.tickets.query(TicketQuery(query=hostile, assignees=["acc-ada"]))
    assert page.items == []
    clauses = parse_jql(fake.searches[-1])
    assert ("text", "~", [hostile]) in clauses and len(clauses) == 3


async def test_ticket_fields_and_adf_description_are_mapped(core: CoreClient) -> None:
    ticket = await core.tickets.get("OPS-1")
    assert (ticket.id, ticket.key, ticket.title, ticket.status) == (
        "OPS-1",
        "OPS-1",
        "Checkout alert 1",
        "In Progress",
    )
    assert ticket.description == "Issue body 1"
    assert ticket.assignees == ["acc-ada"] and ticket.fields["assigneeName"] == "Ada Lovelace"
    assert ticket.reporter == "acc-alan" and ticket.fields["components"] == ["checkout"]
    assert ticket.url.endswith("/browse/OPS-1")
    assert ticket.updated_at is not None and ticket.updated_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await core.tickets.get("OPS-999")
    with pytest.raises(BadQuery, match="malformed Jira issue key"):
        await core.tickets.get("../myself")


async def test_create_converts_markdown_to_adf_and_is_idempotent_per_grant(
    core: CoreClient, server: LoopbackServer, fake: JiraFake, actor: Actor
) -> None:
    data = CreateTicketInput(
        title="Checkout outage", description=DESCRIPTION, fields={"labels": ["incident"]}
    )
    ticket = await core.tickets.create(data, actor=actor)
    stored = fake.issues[ticket.key]
    kinds = [node["type"] for node in stored["description"]["content"]]
    assert kinds == ["heading", "paragraph", "bulletList", "codeBlock"]
    assert {"type": "link", "attrs": {"href": "https://grafana.acme.test/d/1"}} in stored["description"][
        "content"
    ][1]["content"][3]["marks"]
    assert ticket.description == DESCRIPTION
    assert "opspilot-grant-grant-123" in stored["labels"] and "incident" in stored["labels"]
    again = await core.tickets.create(data, actor=actor)
    assert again.key == ticket.key and len(server.requests_to("POST", "/rest/api/3/issue")) == 1
    with pytest.raises(BadQuery, match="unknown ticket field 'colour'"):
        await core.tickets.create(CreateTicketInput(title="x", fields={"colour": "red"}), actor=actor)


async def test_opspilot_fields_become_labels_and_a_component_and_read_back(
    core: CoreClient, server: LoopbackServer, fake: JiraFake, actor: Actor
) -> None:
    data = CreateTicketInput(
        title="checkout: connection pool exhausted",
        description="Filed for INC-7",
        fields={"incidentId": "INC-7", "service": "checkout", "faultKind": "connection_pool_exhaustion"},
    )
    ticket = await core.tickets.create(data, actor=actor)
    stored = fake.issues[ticket.key]
    assert {"incident-INC-7", "fault-connection_pool_exhaustion"} <= set(stored["labels"])
    assert stored["components"] == ["checkout"]
    assert ticket.fields["incidentId"] == "INC-7"
    assert (
        ticket.fields["faultKind"] == "connection_pool_exhaustion" and ticket.fields["service"] == "checkout"
    )

    found = await core.tickets.query(TicketQuery(metadata={"incidentId": "INC-7"}))
    assert [t.key for t in found.items] == [ticket.key]
    assert 'labels = "incident-INC-7"' in fake.searches[-1]

    # An update adds the incident's label to those the issue has; it replaces none of them.
    before = list(fake.issues["OPS-1"]["labels"])
    updated = await core.tickets.update(
        "OPS-1", UpdateTicketInput(fields={"incidentId": "INC-7"}), actor=actor
    )
    assert fake.issues["OPS-1"]["labels"] == [*before, "incident-INC-7"]
    assert updated.fields["incidentId"] == "INC-7"


async def test_status_changes_go_through_transitions(
    core: CoreClient, server: LoopbackServer, actor: Actor
) -> None:
    updated = await core.tickets.update(
        "OPS-3",
        UpdateTicketInput(status="in progress", title="Checkout alert 3 (db)", assignees=["acc-alan"]),
        actor=actor,
    )
    assert (updated.status, updated.title, updated.assignees) == (
        "In Progress",
        "Checkout alert 3 (db)",
        ["acc-alan"],
    )
    sent = server.requests_to("POST", "/rest/api/3/issue/OPS-3/transitions")[0]
    assert sent.body == b'{"transition":{"id":"11"}}'
    with pytest.raises(BadQuery, match="available: Done, To Do"):
        await core.tickets.update("OPS-3", UpdateTicketInput(status="Closed"), actor=actor)
    with pytest.raises(BadQuery, match="one assignee"):
        await core.tickets.update("OPS-3", UpdateTicketInput(assignees=["acc-ada", "acc-alan"]), actor=actor)


async def test_reads_retry_429_and_5xx_but_writes_do_not(
    core: CoreClient, server: LoopbackServer, actor: Actor
) -> None:
    server.fail_next(429, errors(429, "Rate limit exceeded").body, headers={"Retry-After": "1"})
    server.fail_next(503)
    assert (await core.tickets.get("OPS-2")).key == "OPS-2"
    assert [e.status for e in server.requests_to("GET", "/rest/api/3/issue/OPS-2")] == [429, 503, 200]
    server.fail_next(429, errors(429, "Rate limit exceeded").body, headers={"Retry-After": "1"})
    with pytest.raises(ProviderUnavailable, match="429"):
        await core.tickets.update("OPS-2", UpdateTicketInput(title="t"), actor=actor)
    assert len(server.requests_to("PUT", "/rest/api/3/issue/OPS-2")) == 1


async def test_refused_credentials(core: CoreClient, server: LoopbackServer, actor: Actor) -> None:
    server.fail_next(401, errors(401, "Unauthorized").body)
    with pytest.raises(ProviderUnavailable, match="credentials refused \\(401\\)"):
        await core.tickets.query()
    # Jira documents 403 on edits (no permission to edit the issue), not on searches.
    server.fail_next(403, errors(403, "You do not have permission to edit issues in this project.").body)
    with pytest.raises(ProviderUnavailable, match="credentials refused \\(403\\)"):
        await core.tickets.update("OPS-1", UpdateTicketInput(title="t"), actor=actor)


async def test_the_token_is_never_logged_nor_in_an_error(
    make_core: Callable[..., CoreClient],
    server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)  # from the environment this time
    core = make_core("jira", {"site": server.url, "email": EMAIL, "project": "OPS"}, "ticket")
    assert (await core.health()).status == "ok"
    wrong = make_core(
        "jira", {"site": server.url, "email": EMAIL, "project": "OPS", "api_token": "nope"}, "ticket"
    )
    errors_seen: list[OpsPilotError] = []
    for call in (wrong.tickets.get("OPS-1"), core.tickets.get("OPS-404")):
        try:
            await call
        except OpsPilotError as exc:
            errors_seen.append(exc)
    server.fail_next(500, errors(500, "boom").body, times=4)
    try:
        await core.tickets.query()
    except OpsPilotError as exc:
        errors_seen.append(exc)
    assert len(errors_seen) == 3
    texts = (
        [str(e) for e in errors_seen]
        + [r.getMessage() for r in caplog.records]
        + [str(r.args) for r in caplog.records]
    )
    assert all(TOKEN not in t for t in texts)


def test_adf_round_trip_keeps_structure() -> None:
    document = text_to_adf(DESCRIPTION)
    assert adf_to_text(document) == DESCRIPTION
    assert text_to_adf(adf_to_text(document)) == document
    assert adf_to_text(None) == "" and text_to_adf("")["content"] == []

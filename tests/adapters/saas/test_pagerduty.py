"""The pagerduty provider through CoreClient, against a loopback PagerDuty checked against its OpenAPI description."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from saas_fakes.openapi import Exchange, OpenApiContract
from saas_fakes.pagerduty import PagerDutyFake, error
from saas_fakes.server import LoopbackServer

from core_client.client import CoreClient
from core_client.errors import BadQuery, ConfigurationError, NotFound, OpsPilotError, ProviderUnavailable
from core_client.identity import Actor
from core_client.schemas import (
    CreateIncidentInput,
    IncidentQuery,
    PageOnCallInput,
    QueryScope,
    ServiceQuery,
    TeamQuery,
    TimelineAppendInput,
    UpdateIncidentInput,
)

from .conftest import GRANT_ID, checked

API_KEY = "pd-secret-u+Zk3yQx9w"
CAPS = ("incident", "service", "team")


@pytest.fixture
def fake() -> PagerDutyFake:
    return PagerDutyFake.seeded(API_KEY)


@pytest.fixture
def server(
    loopback: LoopbackServer, fake: PagerDutyFake, pagerduty_contract: OpenApiContract
) -> Iterator[LoopbackServer]:
    loopback.reset(fake.handle)
    loopback.contract = pagerduty_contract
    yield from checked(loopback)


@pytest.fixture
def core(make_core: Callable[..., CoreClient], server: LoopbackServer) -> CoreClient:
    return make_core(
        "pagerduty",
        {
            "api_key": API_KEY,
            "base_url": server.url,
            "from_email": "ops@acme.test",
            "priority_ids": {"sev1": "PPRIO1"},
        },
        *CAPS,
    )


async def test_incidents_page_through_offset_pagination_behind_opaque_cursors(
    core: CoreClient, server: LoopbackServer
) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await core.incidents.query(IncidentQuery(limit=7), cursor=cursor)
        seen += [i.id for i in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        assert "offset" not in cursor  # opaque, not PagerDuty's parameter
    assert pages == 5 and len(seen) == 30 == len(set(seen))
    offsets = [dict(e.query)["offset"] for e in server.requests_to("GET", "/incidents")]
    assert offsets == ["0", "7", "14", "21", "28"]


async def test_incident_fields_are_mapped(core: CoreClient) -> None:
    incident = await core.incidents.get("PINC0001")
    assert incident.title == "Incident number 1 on payments"
    assert incident.status == "investigating"  # acknowledged
    assert incident.severity == "sev2"  # high urgency, no priority
    assert incident.service == "payments"
    assert incident.url == "https://acme.pagerduty.com/incidents/PINC0001"
    assert incident.fields["urgency"] == "high"
    assert incident.fields["incidentNumber"] == 1
    assert incident.fields["assignees"] == ["Ada Lovelace"]
    assert incident.fields["escalationPolicy"] == "payments-ep"
    assert incident.created_at == datetime(2025, 3, 1, 1, tzinfo=UTC)
    low = await core.incidents.get("PINC0002")
    assert (low.status, low.severity, low.fields["assignees"]) == ("resolved", "sev3", [])


async def test_query_filters_by_status_severity_scope_and_text(
    core: CoreClient, server: LoopbackServer
) -> None:
    page = await core.incidents.query(
        IncidentQuery(statuses=["open"], severities=["sev2"], scope=QueryScope(service="checkout"), limit=100)
    )
    assert page.items and all(
        i.status == "open" and i.severity == "sev2" and i.service == "checkout" for i in page.items
    )
    sent = server.requests_to("GET", "/incidents")[-1].query
    assert ("statuses[]", "triggered") in sent and ("urgencies[]", "high") in sent
    assert ("service_ids[]", "PSVC001") in sent
    text = await core.incidents.query(IncidentQuery(query="NUMBER 13 ", limit=100))
    assert [i.id for i in text.items] == ["PINC0013"]
    with pytest.raises(BadQuery, match="unknown incident status 'paused'"):
        await core.incidents.query(IncidentQuery(statuses=["paused"]))
    with pytest.raises(BadQuery, match="no PagerDuty service named 'nope'"):
        await core.incidents.query(IncidentQuery(scope=QueryScope(service="nope")))


async def test_create_update_and_timeline_send_from_and_dedup_key(
    core: CoreClient, server: LoopbackServer, actor: Actor
) -> None:
    created = await core.incidents.create(
        CreateIncidentInput(
            title="Checkout 502s", description="since 10:02", severity="sev1", service="checkout"
        ),
        actor=actor,
    )
    assert (created.status, created.severity, created.service) == ("open", "sev1", "checkout")
    post = server.requests_to("POST", "/incidents")[0]
    assert post.headers["from"] == "ops@acme.test"
    assert (
        b'"incident_key": "grant-123"' in post.body.replace(b'":"', b'": "') or GRANT_ID in post.body.decode()
    )
    assert created.fields["incidentKey"] == GRANT_ID

    updated = await core.incidents.update(
        created.id, UpdateIncidentInput(status="mitigating", title="Checkout 502s (db)"), actor=actor
    )
    assert (updated.status, updated.title) == ("investigating", "Checkout 502s (db)")
    assert server.requests_to("PUT", f"/incidents/{created.id}")[0].headers["from"] == "ops@acme.test"

    note = await core.incidents.append_timeline(
        created.id, TimelineAppendInput(body="rolled back v42"), actor=actor
    )
    assert (note.kind, note.body, note.incident_id) == ("note", "rolled back v42", created.id)
    timeline = await core.incidents.timeline(created.id)
    assert [e.kind for e in timeline.items] == ["trigger", "acknowledge", "note"]
    assert timeline.items[-1].body == "rolled back v42"
    assert timeline.items[0].actor["name"] == "Ada Lovelace"

    resolved = await core.incidents.update(created.id, UpdateIncidentInput(status="resolved"), actor=actor)
    assert resolved.status == "resolved"
    with pytest.raises(OpsPilotError, match="cannot change an incident's description"):
        await core.incidents.update(created.id, UpdateIncidentInput(description="x"), actor=actor)


async def test_a_repeated_create_with_the_same_grant_is_refused_not_doubled(
    core: CoreClient, actor: Actor
) -> None:
    data = CreateIncidentInput(title="Disk full", service="search")
    await core.incidents.create(data, actor=actor)
    with pytest.raises(BadQuery, match="matching dedup key"):
        await core.incidents.create(data, actor=actor)


async def test_writes_without_from_email_fail_clearly(
    make_core: Callable[..., CoreClient], server: LoopbackServer, actor: Actor
) -> None:
    core = make_core("pagerduty", {"api_key": API_KEY, "base_url": server.url}, "incident")
    assert (await core.incidents.get("PINC0001")).id == "PINC0001"  # reads need no From
    with pytest.raises(ConfigurationError, match="from_email"):
        await core.incidents.create(CreateIncidentInput(title="x", service="search"), actor=actor)
    assert not server.requests_to("POST", "/incidents")


async def test_services_teams_members_and_oncall(core: CoreClient, server: LoopbackServer) -> None:
    services = await core.services.all()
    assert len(services) == 10
    checkout = await core.services.get("checkout")
    assert checkout.id == "PSVC001" and checkout.owner_team == "payments"
    assert checkout.url == "https://acme.pagerduty.com/service-directory/PSVC001"
    scoped = await core.services.query(ServiceQuery(scope=QueryScope(team="payments")))
    assert sorted(s.name for s in scoped.items) == ["checkout", "payments"]

    teams = await core.teams.query(TeamQuery(name="pay"))
    assert [t.name for t in teams.items] == ["payments"]
    assert (await core.teams.get("PTEAM01")).name == "payments"
    members = await core.teams.members("PTEAM01")
    assert [(m.name, m.email) for m in members] == [
        ("Ada Lovelace", "ada@acme.test"),
        ("Alan Turing", "alan@acme.test"),
    ]

    shifts = await core.teams.oncall("PTEAM01", at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    assert [(s.member.name, s.escalation_level, s.schedule) for s in shifts] == [
        ("Ada Lovelace", 1, "payments-ep rota"),
        ("Alan Turing", 2, "payments-ep rota"),
    ]
    oncalls = server.requests_to("GET", "/oncalls")[0].query
    assert ("escalation_policy_ids[]", "PPOL001") in oncalls and ("since", "2025-03-01T12:00:00Z") in oncalls
    with pytest.raises(NotFound):
        await core.teams.get("PNOPE99")


async def test_paging_opens_a_high_urgency_incident_on_the_service(
    core: CoreClient, server: LoopbackServer, actor: Actor
) -> None:
    result = await core.teams.page(
        PageOnCallInput(service="payments", summary="Payments down", severity="sev3"), actor=actor
    )
    assert [m.name for m in result.paged] == ["Ada Lovelace"]
    assert result.url.startswith("https://acme.pagerduty.com/incidents/")
    created = await core.incidents.get(result.id)
    assert (created.severity, created.fields["urgency"], created.fields["incidentKey"]) == (
        "sev2",
        "high",
        GRANT_ID,
    )
    with pytest.raises(BadQuery, match="pages through a service"):
        await core.teams.page(PageOnCallInput(team="payments", summary="x"), actor=actor)


async def test_reads_retry_rate_limits_and_server_errors(core: CoreClient, server: LoopbackServer) -> None:
    server.fail_next(429, error(429, "Rate Limit Exceeded", 2020).body, headers={"Retry-After": "1"})
    server.fail_next(503, {"error": {"message": "Service Unavailable", "code": 5000}})
    incident = await core.incidents.get("PINC0001")
    assert incident.id == "PINC0001"
    assert [e.status for e in server.requests_to("GET", "/incidents/PINC0001")] == [429, 503, 200]


async def test_writes_are_never_retried(core: CoreClient, server: LoopbackServer, actor: Actor) -> None:
    server.fail_next(429, error(429, "Rate Limit Exceeded", 2020).body, headers={"Retry-After": "1"})
    with pytest.raises(ProviderUnavailable, match="429"):
        await core.incidents.append_timeline("PINC0001", TimelineAppendInput(body="x"), actor=actor)
    server.fail_next(500, {"error": {"message": "Internal Server Error", "code": 5000}})
    with pytest.raises(ProviderUnavailable, match="500"):
        await core.incidents.update("PINC0001", UpdateIncidentInput(status="resolved"), actor=actor)
    assert len(server.requests_to("POST", "/incidents/PINC0001/notes")) == 1
    assert len(server.requests_to("PUT", "/incidents/PINC0001")) == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials(core: CoreClient, server: LoopbackServer, status: int) -> None:
    server.fail_next(status, error(status, "Unauthorized" if status == 401 else "Forbidden", 2006).body)
    with pytest.raises(ProviderUnavailable, match=f"credentials refused \\({status}\\)"):
        await core.incidents.query()
    health = await core.health()
    assert {p.status for p in health.providers if p.provider == "pagerduty"} == {"ok"}


async def test_a_wrong_key_is_reported_by_health(
    make_core: Callable[..., CoreClient], server: LoopbackServer
) -> None:
    core = make_core("pagerduty", {"api_key": "wrong", "base_url": server.url}, "incident")
    report = await core.health()
    incident = next(p for p in report.providers if p.capability == "incident")
    assert incident.status == "down" and "credentials refused" in incident.message


async def test_the_api_key_is_never_logged_nor_in_an_error(
    core: CoreClient, server: LoopbackServer, actor: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[OpsPilotError] = []
    for status in (400, 401, 403, 404, 500):
        server.fail_next(status, error(status, "failed", 2001).body, times=4)
        try:
            await core.incidents.get("PINC0001")
        except OpsPilotError as exc:
            errors.append(exc)
    try:
        await core.incidents.create(CreateIncidentInput(title="x", service="missing"), actor=actor)
    except OpsPilotError as exc:
        errors.append(exc)
    assert len(errors) == 6
    texts = (
        [str(e) for e in errors]
        + [str(e.to_dict()) for e in errors]
        + [r.getMessage() for r in caplog.records]
    )
    texts += [str(r.args) for r in caplog.records]
    assert all(API_KEY not in text for text in texts)
    assert (
        server.exchanges[0].headers["authorization"] == f"Token token={API_KEY}"
    )  # it was sent, to PagerDuty only


def test_config_without_a_key_names_where_to_put_it(make_core: Callable[..., CoreClient]) -> None:
    with pytest.raises(ConfigurationError, match="PAGERDUTY_API_KEY"):
        make_core("pagerduty", {"base_url": "http://127.0.0.1:9"}, "incident")


def test_the_contract_catches_drift(pagerduty_contract: OpenApiContract) -> None:
    """The checker itself: a made-up parameter, a wrong type, a missing From and a bad response are caught."""
    bad_request = Exchange(
        "GET",
        "/incidents",
        [("limit", "ten"), ("colour", "red")],
        {},
        b"",
        200,
        b'{"incidents": [{"id": 5}]}',
    )
    problems = pagerduty_contract.check(bad_request)
    assert any("unknown query parameter 'colour'" in p for p in problems)
    assert any("query limit" in p for p in problems)
    assert any("incidents/0/id" in p for p in problems)
    write = Exchange("POST", "/incidents/P1/notes", [], {}, b'{"note": {}}', 200, b'{"note": {"id": "N"}}')
    problems = pagerduty_contract.check(write)
    assert any("missing required header 'From'" in p for p in problems)
    assert any("'content' is a required property" in p for p in problems)

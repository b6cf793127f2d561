"""The Incidents list and one incident's page on the small demo world (33 incidents; INC-4033 is the live one):
the backend functions, and the page states driven without a browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from console.backend.incident import incident_context
from console.backend.incidents import IncidentFilters, incidents_page, sort_page
from console.state.incidents import IncidentsState, IncidentState
from console.state.scope import ScopeState
from console.state.session import COOKIE_NAME, SessionState, login_url
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.gate import MutationGate
from core_client.links import parse_link, parse_time
from core_client.schemas import Incident, IncidentQuery, Page, ProviderHealth, QueryScope
from core_client.settings import load_settings
from core_client.store import ApprovalRequest, AuditEvent
from tests.console.browserless import Client
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]

LIVE = "INC-4033"


def test_filters_come_from_the_url_and_go_back_to_it() -> None:
    filters = IncidentFilters.from_params(
        {"status": "active", "severity": "sev1", "q": " pool ", "sort": "bogus"}
    )
    assert (filters.status, filters.severity, filters.text, filters.sort) == (
        "active",
        "sev1",
        "pool",
        "newest",
    )
    query = filters.query(QueryScope(service="orders-api"))
    assert query.statuses is not None and "resolved" not in query.statuses
    assert {"open", "triggered", "investigating", "identified", "mitigating", "monitoring"} <= set(
        query.statuses
    )
    assert (query.severities, query.query, query.limit) == (["sev1"], "pool", 25)
    assert query.scope.service == "orders-api"
    assert filters.to_params() == {"status": "active", "severity": "sev1", "q": "pool", "sort": None}
    assert IncidentFilters.from_params({"status": "exploded"}).status == ""


def test_a_sort_orders_the_page_when_the_provider_did_not() -> None:
    def at(hour: int) -> datetime:
        return datetime(2025, 6, 11, hour, tzinfo=UTC)

    page = [
        Incident(id="0", title="", status="resolved", severity="sev3", service="b", created_at=at(9)),
        Incident(
            id="1", title="", status="open", severity="sev1", service="c", created_at=at(8), updated_at=at(12)
        ),
        Incident(id="2", title="", status="monitoring", severity="sev2", service="a", created_at=at(7)),
    ]
    assert [i.id for i in sort_page(page, "newest")] == ["0", "1", "2"], "the provider's own order"
    assert [i.id for i in sort_page(page, "oldest")] == ["2", "1", "0"]
    assert [i.id for i in sort_page(page, "updated")] == ["1", "0", "2"]
    assert [i.severity for i in sort_page(page, "severity")] == ["sev1", "sev2", "sev3"]
    assert [i.status for i in sort_page(page, "status")] == ["open", "monitoring", "resolved"]
    assert [i.service for i in sort_page(page, "service")] == ["a", "b", "c"]


class OwnOrderIncidents:
    """An incident provider that ignores the ordering convention: newest first, whatever the query's metadata."""

    def __init__(self, incidents: list[Incident]) -> None:
        self.incidents = incidents

    async def health(self) -> ProviderHealth:
        return ProviderHealth(status="ok")

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        return Page[Incident](items=self.incidents)


async def test_with_a_provider_that_ignores_the_order_the_page_is_sorted_on_screen(tmp_path) -> None:
    now = datetime(2025, 6, 11, 12, tzinfo=UTC)
    newest_first = [
        Incident(id=f"INC-{n}", title="", severity=f"sev{n % 4 + 1}", created_at=now - timedelta(hours=n))
        for n in range(1, 6)
    ]
    settings = load_settings(files_dir=tmp_path / "files")
    clock = FixedClock(now)
    provider = LoadedProvider(Capability.INCIDENT, "own-order", OwnOrderIncidents(newest_first), 5.0)
    core = CoreClient(
        {Capability.INCIDENT: provider},
        gate=MutationGate.from_settings(settings, clock=clock),
        clock=clock,
        settings=settings,
    )
    oldest = await incidents_page(core, IncidentFilters(sort="oldest"), QueryScope(), None)
    assert not oldest.ordered_by_provider
    assert [row.id for row in oldest.rows] == ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"]
    worst = await incidents_page(core, IncidentFilters(sort="severity"), QueryScope(), None)
    assert [row.severity for row in worst.rows] == ["sev1", "sev2", "sev2", "sev3", "sev4"]


async def test_pages_of_25_with_a_cursor_newest_first(demo_core: CoreClient) -> None:
    first = await incidents_page(demo_core, IncidentFilters(), QueryScope(), None)
    assert len(first.rows) == 25 and first.next_cursor is not None
    assert first.rows[0].id == LIVE and first.rows[0].link == f"/incidents/{LIVE}"
    assert (first.rows[0].team, first.rows[0].environment, first.rows[0].age) == (
        "commerce",
        "prod",
        "34m ago",
    )
    second = await incidents_page(demo_core, IncidentFilters(), QueryScope(), first.next_cursor)
    assert len(second.rows) == 8 and second.next_cursor is None
    assert not {row.id for row in first.rows} & {row.id for row in second.rows}

    sev1 = await incidents_page(demo_core, IncidentFilters(severity="sev1"), QueryScope(), None)
    assert len(sev1.rows) == 5 and {row.severity for row in sev1.rows} == {"sev1"}
    active = await incidents_page(demo_core, IncidentFilters(status="active"), QueryScope(), None)
    assert [row.id for row in active.rows] == [LIVE]
    scoped = await incidents_page(demo_core, IncidentFilters(), QueryScope(service="checkout-api"), None)
    assert scoped.rows and {row.service for row in scoped.rows} == {"checkout-api"}


async def test_the_list_state_loads_pages_and_reads_its_filters_from_the_url(
    demo_core: CoreClient, people
) -> None:
    client = await signed_in(demo_core, "vera", "/incidents")
    await client.follow(await client.fire(ScopeState.open_page))

    page = await client.state(IncidentsState)
    assert (len(page.rows), page.page_number, page.has_next, page.loading, page.error) == (
        25,
        1,
        True,
        False,
        "",
    )
    await client.fire(IncidentsState.next_page)
    page = await client.state(IncidentsState)
    assert (len(page.rows), page.page_number, page.has_next) == (8, 2, False)
    await client.fire(IncidentsState.previous_page)
    assert (await client.state(IncidentsState)).rows[0].id == LIVE

    client.goto("/incidents?severity=sev2&sort=severity")
    await client.follow(await client.fire(ScopeState.open_page))
    page = await client.state(IncidentsState)
    assert (page.severity, page.sort, page.page_number) == ("sev2", "severity", 1)
    assert len(page.rows) == 8 and {row.severity for row in page.rows} == {"sev2"}


async def test_next_page_continues_the_query_that_made_its_cursor(demo_core: CoreClient, people) -> None:
    """A Next click carries the address its tab had then; page 2 is still page 2 of the rows shown, and the new
    address's query (not yet loaded) opens at its page 1 once its own load runs."""
    client = await signed_in(demo_core, "vera", "/incidents")
    await client.follow(await client.fire(ScopeState.open_page))
    first = await client.state(IncidentsState)
    assert (first.page_number, first.has_next) == (1, True)
    shown = {row.id for row in first.rows}

    client.goto("/incidents?severity=sev1")
    await client.fire(IncidentsState.next_page)
    second = await client.state(IncidentsState)
    assert (second.error, second.page_number, second.severity, len(second.rows)) == ("", 2, "", 8)
    assert not shown & {row.id for row in second.rows}

    await client.follow(await client.fire(ScopeState.open_page))
    sev1 = await client.state(IncidentsState)
    assert (sev1.error, sev1.page_number, sev1.has_next) == ("", 1, False)
    assert {row.severity for row in sev1.rows} == {"sev1"}
    await client.fire(IncidentsState.next_page)
    assert (await client.state(IncidentsState)).page_number == 1


async def test_the_sort_and_a_chosen_range_run_across_pages(demo_core: CoreClient, people) -> None:
    rank = {"sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4}
    client = await signed_in(demo_core, "vera", "/incidents?sort=severity")
    await client.follow(await client.fire(ScopeState.open_page))
    first = await client.state(IncidentsState)
    assert (first.ordered_by_provider, first.started_within, len(first.rows)) == (True, "", 25)
    first_ranks = [rank[row.severity] for row in first.rows]
    await client.fire(IncidentsState.next_page)
    second_ranks = [rank[row.severity] for row in (await client.state(IncidentsState)).rows]
    # The provider sorted all 33: page 2 carries on below page 1 instead of starting over at sev1.
    assert first_ranks + second_ranks == sorted(first_ranks + second_ranks)
    assert first_ranks[0] == 1 and second_ranks[-1] == 4 and len(second_ranks) == 8

    client.goto("/incidents?range=7d&sort=oldest")
    await client.follow(await client.fire(ScopeState.open_page))
    week = await client.state(IncidentsState)
    now = demo_core.clock.now()
    inside = [
        incident.id
        for incident in (await demo_core.incidents.query(IncidentQuery(limit=100))).items
        if incident.created_at and incident.created_at >= now - timedelta(days=7)
    ]
    assert 0 < len(inside) < 33 and week.started_within == "Last 7d"
    assert sorted(row.id for row in week.rows) == sorted(inside) and week.rows[-1].id == LIVE
    assert not week.has_next


async def test_filter_controls_write_the_url(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", "/incidents?service=checkout-api&severity=sev2")
    await client.follow(await client.fire(ScopeState.open_page))

    # Each writes the URL without navigating and opens page 1 of the filters it wrote, in the same event.
    active = await client.fire(IncidentsState.filter_status, value="active")
    [(how, url)] = active.urls()
    assert (how, url) == ("pushState", "/incidents?service=checkout-api&severity=sev2&status=active")
    assert active.handlers() == []
    client.goto(url)
    shown = await client.state(IncidentsState)
    assert shown.status == "active" and shown.rows
    assert all(row.status != "resolved" and row.severity == "sev2" for row in shown.rows)
    assert (await client.fire(IncidentsState.filter_severity, value="any")).urls() == [
        ("pushState", "/incidents?service=checkout-api&status=active")
    ]
    assert (await client.fire(IncidentsState.search, form={"q": " pool "})).urls() == [
        ("pushState", "/incidents?q=pool&service=checkout-api&status=active")
    ]
    assert (await client.fire(IncidentsState.clear_filters)).urls() == [
        ("pushState", "/incidents?service=checkout-api")
    ]


async def test_a_failing_provider_shows_on_the_list_not_as_a_crash(
    demo_core: CoreClient, people, monkeypatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection refused")

    monkeypatch.setattr(demo_core.provider_for(Capability.INCIDENT).instance, "query", broken)
    client = await signed_in(demo_core, "vera", "/incidents")
    await client.follow(await client.fire(ScopeState.open_page))

    page = await client.state(IncidentsState)
    assert "connection refused" in page.error and page.rows == [] and not page.loading


async def test_an_incident_with_what_surrounds_it(demo_core: CoreClient) -> None:
    incident = await demo_core.incidents.get(LIVE)
    context = await incident_context(demo_core, incident)

    assert [
        s.error for s in (context.timeline, context.alerts, context.deploys, context.tickets, context.metrics)
    ] == [""] * 5
    assert len(context.timeline.value or []) == 4
    assert any(
        row.status == "firing" and row.link.startswith("/alerts/") for row in context.alerts.value or []
    )
    assert [row.id for row in context.tickets.value or []] == ["OPS-1218"]
    charts = context.metrics.value or []
    assert [c.name for c in charts] == ["error_rate", "latency_ms (p99)", "request_rate", "cpu_usage"]
    assert all(len(c.points) > 30 and c.marker for c in charts)
    # Each opens the Metrics page on the incident's window (not the last 24 hours), its start marked.
    for chart in charts:
        link = parse_link(chart.link)
        start, end, mark = (parse_time(link.params[name]) for name in ("from", "to", "mark"))
        assert link.kind == "metrics" and link.params["service"] == incident.service
        assert chart.name.startswith(link.params["metric"])
        assert mark == incident.created_at and start < mark < end and end - start < timedelta(hours=24)


async def test_the_incident_page_state(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", f"/incidents/{LIVE}", route="/incidents/[incident_ref]")
    await client.follow(await client.fire(ScopeState.open_page))

    page = await client.state(IncidentState)
    assert (page.incident.id, page.incident.service, page.incident.severity) == (LIVE, "checkout-api", "sev2")
    assert (page.loading, page.context_loading, page.error) == (False, False, "")
    assert len(page.timeline) == 4 and page.tickets[0].id == "OPS-1218" and len(page.charts) == 4
    assert (page.new_status, page.new_severity) == ("investigating", "sev2")

    client.goto("/incidents/INC-0", route="/incidents/[incident_ref]")
    await client.fire(IncidentState.load)
    missing = await client.state(IncidentState)
    assert "no incident 'INC-0'" in missing.error and not missing.loading


async def _severity_to_sev1(core: CoreClient, username: str) -> tuple[Client, list[str]]:
    client = await signed_in(core, username, f"/incidents/{LIVE}", route="/incidents/[incident_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    await client.fire(IncidentState.pick_severity, value="sev1")
    sent = await client.fire(IncidentState.apply_severity)
    return client, sent.toasts()


async def test_an_admin_changes_the_severity_and_the_click_is_the_approval(
    demo_core: CoreClient, people
) -> None:
    client, toasts = await _severity_to_sev1(demo_core, "ada")

    assert len(toasts) == 1 and "Done: severity of INC-4033 set to sev1." in toasts[0]
    assert (await demo_core.incidents.get(LIVE)).severity == "sev1"
    assert (await client.state(IncidentState)).incident.severity == "sev1"  # reloaded
    with demo_core.gate.approvals.database.transaction() as session:
        request = session.scalars(select(ApprovalRequest)).one()
        trail = select(AuditEvent).where(AuditEvent.tool == "update_incident").order_by(AuditEvent.id)
        actions = [e.action for e in session.scalars(trail)]
    assert (request.tool, request.requested_by, request.decided_by, request.status) == (
        "update_incident",
        "ada",
        "ada",
        "executed",
    )
    assert actions == ["requested", "approved", "executed"]


async def test_a_responder_s_change_waits_for_an_approver_who_hears_of_it(
    demo_core: CoreClient, people
) -> None:
    _, toasts = await _severity_to_sev1(demo_core, "rick")

    assert "Sent for approval (approver, admin): severity of INC-4033 set to sev1." in toasts[0]
    assert "waits in Approvals" in toasts[0]
    assert (await demo_core.incidents.get(LIVE)).severity == "sev2"
    pending = demo_core.gate.approvals.list("pending").items
    assert [(r.tool, r.requested_by, r.risk) for r in pending] == [("update_incident", "rick", "medium")]
    # The demo's chat got the notice (sent by "system" under its own policy rule, audited): title and link.
    world = demo_core.provider_for(Capability.MESSAGING).instance.world
    rows = await world.run(lambda c: c.execute("SELECT channel, doc FROM message").fetchall())
    assert [channel for channel, _ in rows] == ["#opspilot-approvals"]
    body = json.loads(rows[0][1])["metadata"]["body"]
    assert body.startswith("Approval needed: Update incident INC-4033")
    assert body.endswith(f"/approvals/{pending[0].id}")


async def test_a_viewer_is_refused_on_the_server_whatever_the_page_showed(
    demo_core: CoreClient, people
) -> None:
    client, toasts = await _severity_to_sev1(demo_core, "vera")

    assert "vera is a viewer: viewers cannot change anything" in toasts[0]
    assert (await demo_core.incidents.get(LIVE)).severity == "sev2"
    note = await client.fire(IncidentState.add_note, form={"note": "let me in"})
    assert "viewers cannot change anything" in note.toasts()[0]
    assert len((await demo_core.incidents.timeline(LIVE)).items) == 4
    assert demo_core.gate.approvals.list().items == []


async def test_an_ended_session_cannot_act(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "ada", f"/incidents/{LIVE}", route="/incidents/[incident_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    client.cookies[COOKIE_NAME] = "forged"

    sent = await client.fire(IncidentState.add_note, form={"note": "hello"})

    assert sent.redirects() == [login_url(f"/incidents/{LIVE}", {})]
    assert (await client.state(SessionState)).user == ""
    assert len((await demo_core.incidents.timeline(LIVE)).items) == 4


async def test_a_note_from_the_page(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "abby", f"/incidents/{LIVE}", route="/incidents/[incident_ref]")
    await client.follow(await client.fire(ScopeState.open_page))

    sent = await client.fire(IncidentState.add_note, form={"note": "  Pool at 100%, rolling back  "})
    assert "Done: note added to INC-4033." in sent.toasts()[0]
    entries = (await demo_core.incidents.timeline(LIVE)).items
    assert (entries[-1].body, entries[-1].actor) == (
        "Pool at 100%, rolling back",
        {"id": "abby", "via": "console"},
    )
    assert len((await client.state(IncidentState)).timeline) == 5
    empty = await client.fire(IncidentState.add_note, form={"note": "   "})
    assert "the note is empty" in empty.toasts()[0]


async def test_investigate_asks_the_copilot_panel_about_the_incident(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", f"/incidents/{LIVE}", route="/incidents/[incident_ref]")
    await client.follow(await client.fire(ScopeState.open_page))

    sent = await client.fire(IncidentState.investigate)

    assert sent.handlers() == ["copilot_panel_state.investigate"]
    question = sent.backend[0].payload["question"]
    assert question.startswith(f"Investigate incident {LIVE} on checkout-api (Checkout error rate above 5%)")

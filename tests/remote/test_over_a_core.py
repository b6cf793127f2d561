"""The console's page states and a Copilot run, over the faithful fake OpsOrch Core (as issue 15 measured a real one).

Services are referenced by id, answers come in a new order on every call, a running deployment has Go's zero time
for ``finishedAt``, metrics carry ``.baseline`` companions. Every page must still read right, and the Copilot,
with a read-only foreign MCP server mapped to logs, must call it without a person and cite what it said.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console import runtime
from console.backend import incidents as incidents_backend
from console.backend.copilot import AnswerView, answer_view
from console.backend.incident import related_deploys
from console.backend.metrics import MetricView, metric_chart, metric_options
from console.backend.records import service_names
from console.backend.runs import load_run
from console.backend.session import ConsoleSessions
from console.state.alerts import AlertsState
from console.state.approvals import ApprovalsState
from console.state.deployments import DeploymentState
from console.state.incidents import IncidentsState
from console.state.logs import LogsState
from console.state.overview import OverviewState
from console.state.scope import ScopeState
from console.state.services import ServicesState, ServiceState
from copilot.citations import validate_answer
from copilot.machine import RunState
from copilot.planners.offline import OfflineInvestigator
from copilot.planners.offline.graph import ServiceGraph
from copilot.planning import PageContext
from copilot.records import RunView
from copilot.runtime import Copilot
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.schemas import DeploymentQuery
from core_client.settings import load_settings
from tests.console.demo_world import PASSWORD, signed_in
from tests.copilot.toolbox_fixtures import SERVERS
from tests.remote.fake_core import CATALOG, TOKEN, RunningCore, serving
from tests.support.cli_users import CliUser

ALICE = Actor(user="alice", role=Role.RESPONDER, via="console")


@pytest.fixture
def core_server() -> Iterator[RunningCore]:
    with serving() as running:
        yield running


@pytest.fixture
async def remote_core(core_server: RunningCore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CoreClient]:
    """Remote mode over the fake core, installed as the console's CoreClient, with a user to sign in as."""
    monkeypatch.setenv("OPSORCH_CORE_URL", core_server.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    core = CoreClient.from_settings(load_settings())
    monkeypatch.setattr(runtime, "RUNTIME", runtime.CoreRuntime(lambda: core))
    ConsoleSessions.of(core).users.add("rick", Role.RESPONDER, PASSWORD)
    yield core
    await core.aclose()


async def opened(core: CoreClient, url: str, route: str | None = None) -> Any:
    client = await signed_in(core, "rick", url, route)
    await client.follow(await client.fire(ScopeState.open_page))
    return client


async def test_the_console_reads_a_core_that_references_services_by_id(
    remote_core: CoreClient, core_server: RunningCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = core_server.state.data["incident"]
    # Every incident not resolved is open, whatever the provider calls its state ("triggered", "identified").
    open_on_checkout = [i for i in incidents if i["service"] == "svc-checkout" and i["status"] != "resolved"]
    client = await opened(remote_core, "/")
    await client.fire(OverviewState.load)
    overview = await client.state(OverviewState)
    tiles = {tile.key: tile for tile in overview.services}
    # Incidents reference services by id; each open one counts for its service.
    checkout = tiles["svc-checkout"]
    assert checkout.name == "Checkout API" and checkout.link == "/services/svc-checkout"
    assert open_on_checkout and checkout.open_incidents == len(open_on_checkout)
    assert checkout.status == "critical"
    assert tiles["svc-ledger"].status == "healthy" and tiles["svc-ledger"].tier == "tier 2"
    assert tiles["svc-web"].tier == "frontend"  # a tier word kept as given
    assert "svc-database" not in tiles  # referenced by an incident, but not in the catalog
    assert sum(tile.firing_alerts for tile in overview.services) == 32  # firing ones on catalog services
    # Rows name services as people do; a reference the catalog does not know is shown as given.
    shown = {row.service for row in [*overview.recent_incidents, *overview.alerts, *overview.deploys]}
    assert "Checkout API" in shown and not any(
        name.startswith("svc-") and name != "svc-database" for name in shown
    )

    # The service page, reached by id and by name, shows both directions of the dependency graph.
    for url in ("/services/svc-search", "/services/Search%20Service"):
        client.goto(url, route="/services/[service_ref]")
        await client.follow(await client.fire(ScopeState.open_page))
        page = await client.state(ServiceState)
        assert (page.service.id, page.service.name, page.error) == ("svc-search", "Search Service", "")
        assert sorted(n.name for n in page.called_by) == ["Checkout API", "Web Frontend"]
        assert page.incidents and page.status == "critical"
    client.goto("/services/svc-checkout", route="/services/[service_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    page = await client.state(ServiceState)
    assert [(n.name, n.known) for n in page.calls] == [("Payments Service", True), ("Search Service", True)]
    assert page.runbook_unserved and page.runbook_error == ""

    # The catalog list, with health counted by id.
    client.goto("/services")
    await client.follow(await client.fire(ScopeState.open_page))
    catalog = await client.state(ServicesState)
    assert [row.name for row in catalog.rows][:3] == ["Checkout API", "Fraud Scoring", "Ledger"]
    assert {row.name: row.open_incidents for row in catalog.rows}["Payments Service"] > 0
    # A core keeps no runbooks: said plainly, not warned about.
    assert not any("runbook" in note for note in catalog.notes)
    assert any("keep no runbooks" in note for note in catalog.unserved), catalog.unserved

    # The Incidents list paged by 5, over answers in a new order on every call: every incident once, in order.
    monkeypatch.setattr(incidents_backend, "PAGE_SIZE", 5)
    client.goto("/incidents")
    await client.follow(await client.fire(ScopeState.open_page))
    seen: list[str] = []
    while True:
        listing = await client.state(IncidentsState)
        assert listing.error == "" and len(listing.rows) <= 5
        seen += [row.id for row in listing.rows]
        if not listing.has_next:
            break
        await client.fire(IncidentsState.next_page)
    assert seen == [f"INC-{n:03d}" for n in range(1, 24)]  # newest first, none twice, none lost
    assert listing.ordered_by_provider and not listing.truncated
    assert {row.service for row in listing.rows} <= {
        "Checkout API",
        "Payments Service",
        "Search Service",
        "svc-database",
    }

    # A running deployment: Go's zero finishedAt is "not finished", not year 1.
    client.goto("/deployments/dep-0", route="/deployments/[deployment_ref]")
    await client.follow(await client.fire(ScopeState.open_page))
    deployment = await client.state(DeploymentState)
    assert deployment.error == "" and deployment.deployment.finished == "not finished"
    assert deployment.deployment.service == "Checkout API"
    assert deployment.deployment.service_link == "/services/svc-checkout"
    assert "not finished" in deployment.deployment.duration and "-" not in deployment.deployment.duration


async def test_a_copilot_run_calls_a_read_only_foreign_server_for_what_no_provider_serves(
    core_server: RunningCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # Payments degrades 40 minutes ago; checkout, which calls it, follows.
    core_server.state.metric_shifts = {
        "svc-payments": (now - timedelta(minutes=40), 4.0),
        "svc-checkout": (now - timedelta(minutes=37), 2.5),
    }
    core_server.state.missing.add("log")  # this core has no log plugin...
    with serving() as logs_core:  # ...but the foreign server reads another core that has one
        server = {
            "name": "opsorch",
            "command": [sys.executable, str(SERVERS / "opsorch_like.py")],
            "env": {"OPSORCH_CORE_URL": logs_core.url, "OPSORCH_CORE_TOKEN": TOKEN},
            "read_only": True,
            "capabilities": {"logs": "query-logs"},
        }
        monkeypatch.setenv("OPSORCH_CORE_URL", core_server.url)
        monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
        # This core has more incidents than OpsPilot reads of them: the answer must say it saw only some.
        monkeypatch.setenv("OPSORCH_INCIDENT_CONFIG", '{"max_items": 5}')
        settings = load_settings(copilot={"mcp_servers": [server]})
        core = CoreClient.from_settings(settings)
        copilot = Copilot.from_settings(settings, core=core, planner=OfflineInvestigator(settings))
        try:
            view = await copilot.investigate("Why is checkout failing?", user=ALICE)
            # As the console's panel and run page show it: services by name, linked by id.
            evidence = [item for outcome in view.outcomes for item in outcome.evidence]
            shown = answer_view(view.answer, evidence, await service_names(core)) if view.answer else None
        finally:
            await copilot.aclose()
            await core.aclose()
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.root_cause is not None and answer.root_cause.service == "svc-payments"
    # The core serves Payments' series only when asked for Payments: the run asked.
    scans = [o for o in view.outcomes if o.tool == "opspilot.detect_metric_anomalies"]
    assert "svc-payments" in {o.arguments.get("service") for o in scans}
    # Its restart "counter" compounds to 1e46: no counter, so no rate and no sign of a leak.
    assert answer.root_cause.fault_kind != "memory_leak"
    assert not [claim.text for claim in answer.claims if "/s" in claim.text]
    # The graph came from dependencies listed by id: checkout's trouble is traced to what it calls.
    # The Copilot's graph came from dependencies listed by id, so checkout's trouble is traced to what it calls.
    [catalog] = [o for o in view.outcomes if o.tool == "opspilot.query_services"]
    graph = ServiceGraph.from_rows(catalog.structured["items"])
    assert graph.dependencies_of("svc-checkout") == ("svc-payments", "svc-search")
    assert graph.key("Checkout API") == "svc-checkout"
    # The text names services as people call them; the structured answer keeps the catalog's ids.
    assert "Payments Service" in answer.verdict and "svc-payments" not in answer.summary
    assert [hop.service for hop in answer.path] == ["svc-payments", "svc-checkout"]
    assert shown is not None and shown.root_cause.startswith("Payments Service (")
    assert [(hop.label, hop.service) for hop in shown.path] == [
        ("Payments Service", "svc-payments"),
        ("Checkout API", "svc-checkout"),
    ]
    # The evidence chips too: "Payments Service http_request_duration_seconds", not "svc-payments ...".
    assert any(chip.label.startswith("Payments Service ") for chip in shown.citations), shown.citations
    catalog_ids = {service_id for service_id, *_ in CATALOG}
    assert not [chip.label for chip in shown.citations if catalog_ids & set(chip.label.split())]
    # "Calls" is what payments calls directly; the rules engine, reached through fraud scoring, is only counted.
    [root_claim] = [claim.text for claim in answer.claims if "left its baseline first" in claim.text]
    assert root_claim.startswith("Payments Service left its baseline first"), root_claim
    assert "Nothing it calls (Fraud Scoring, Ledger), nor the service they call in turn," in root_claim
    assert validate_answer(answer, evidence).ok
    foreign = [o for o in view.outcomes if o.tool == "opsorch.query-logs"]
    assert len(foreign) == 1 and foreign[0].ok, foreign
    assert foreign[0].arguments["scope"] == {"service": "svc-payments"}
    cited = {i for claim in answer.claims for i in claim.evidence_ids}
    assert {item.id for item in foreign[0].evidence} & cited, "the foreign server's answer is not cited"
    # Who calls a service is read off the catalog, which lists only what each one calls.
    services = {item.id: item.excerpt for item in catalog.evidence}
    assert "called by Checkout API, Web Frontend" in services["service:svc-search"]
    assert "calls Payments Service, Search Service" in services["service:svc-checkout"]
    # What the core does not serve is a plain note, not a failure; a capped read is said.
    assert not any(
        "failed (Unsupported" in note or "failed (CapabilityNotConfigured" in note for note in answer.missing
    )
    assert any(note.startswith("no source here serves logs") for note in answer.missing), answer.missing
    assert any(note.startswith("query_incidents: the source has more incidents") for note in answer.missing)


@pytest.fixture
def incidents_capped_at_10(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpsPilot reads at most 10 of the core's incidents to order them (the fake has 23)."""
    monkeypatch.setenv("OPSORCH_INCIDENT_CONFIG", '{"max_items": 10}')


async def test_a_list_page_says_when_the_source_had_more_than_it_reads(
    incidents_capped_at_10: None, remote_core: CoreClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incidents_backend, "PAGE_SIZE", 5)
    client = await opened(remote_core, "/incidents")
    listing = await client.state(IncidentsState)
    assert listing.error == "" and len(listing.rows) == 5 and listing.has_next
    assert listing.truncated  # shown under the list (listing.capped_note)
    client.goto("/alerts")
    await client.follow(await client.fire(ScopeState.open_page))
    alerts = await client.state(AlertsState)
    assert alerts.error == "" and alerts.rows and not alerts.truncated


@pytest.fixture
def logs_capped_at_10(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpsPilot reads at most 10 of the core's log lines to order them (the fake has 37)."""
    monkeypatch.setenv("OPSORCH_LOG_CONFIG", '{"max_items": 10}')


async def test_the_logs_page_says_when_the_source_had_more_lines_than_it_reads(
    logs_capped_at_10: None, remote_core: CoreClient
) -> None:
    client = await opened(remote_core, "/logs")
    await client.follow(await client.fire(LogsState.load))
    logs = await client.state(LogsState)
    assert logs.lines_error == "" and len(logs.rows) == 10
    assert logs.truncated  # shown under the lines (listing.capped_note)
    assert "lines counted, the source has more" in logs.volume_total  # the volume bars count some, not all


async def test_deploys_before_an_incident_started_before_it(remote_core: CoreClient) -> None:
    # INC-004 is on svc-checkout, opened four minutes before the fake's clock; dep-0 (checkout, running) started
    # after that, the others hours before.
    incident = await remote_core.incidents.get("INC-004")
    assert incident.created_at is not None and incident.service == "svc-checkout"
    rows = await related_deploys(remote_core, incident, incident.created_at + timedelta(hours=2))
    assert rows and "dep-0" not in {row.id for row in rows}
    deploys = {d.id: d for d in (await remote_core.deployments.query(DeploymentQuery(limit=50))).items}
    assert all((deploys[row.id].started_at or incident.created_at) <= incident.created_at for row in rows)
    # Of the service and of what it calls (payments, search), by id.
    assert {deploys[row.id].service for row in rows} <= {"svc-checkout", "svc-payments", "svc-search"}


async def test_the_metrics_page_draws_the_cores_baseline_and_names_every_series(
    remote_core: CoreClient,
) -> None:
    now = datetime.now(UTC)
    view = MetricView(metric="http_request_duration_seconds", start=now - timedelta(hours=1), end=now)
    options = {option.name: option for option in await metric_options(remote_core)}
    assert set(options) == {
        "http_request_duration_seconds",
        "http_requests_total",
        "container_restarts_total",
    }
    assert not any(name.endswith(".baseline") for name in options)
    chart = await metric_chart(remote_core, view, options[view.metric])
    names = [series.name for series in chart.series]
    assert names and all(name and name != "-" for name in names)
    assert not any(name.endswith(".baseline") for name in names)
    assert chart.band_of == names[0] and any("band" in point for point in chart.points)
    assert "baseline series" in chart.band_note  # drawn from the core's own expectation


def test_the_cli_keeps_library_logging_quiet_unless_asked(
    core_server: RunningCore, monkeypatch: pytest.MonkeyPatch, cli_user: Callable[..., CliUser]
) -> None:
    monkeypatch.setenv("OPSORCH_CORE_URL", core_server.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    alice = cli_user("alice", "responder")
    quiet = alice.invoke("ask", "What is open?", "--auto-reject")
    assert quiet.exit_code == 0, quiet.output
    assert "HTTP Request" not in quiet.stdout and "HTTP Request" not in quiet.stderr
    told = alice.invoke("-v", "ask", "What is open?", "--auto-reject")
    assert told.exit_code == 0, told.output
    assert "HTTP Request: POST " in told.stderr and "HTTP Request" not in told.stdout


def test_opspilot_ask_names_the_root_cause_and_its_evidence_as_people_call_them(
    core_server: RunningCore, monkeypatch: pytest.MonkeyPatch, cli_user: Callable[..., CliUser]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    core_server.state.metric_shifts = {
        "svc-payments": (now - timedelta(minutes=40), 4.0),
        "svc-checkout": (now - timedelta(minutes=37), 2.5),
    }
    monkeypatch.setenv("OPSORCH_CORE_URL", core_server.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    alice = cli_user("alice", "responder")
    asked = alice.invoke("ask", "Why is checkout failing?", "--auto-reject")
    assert asked.exit_code == 0, asked.output
    answer = asked.stdout.split("answer ready", 1)[1]
    assert "Root cause: Payments Service — " in answer
    citations = answer.split("Citations", 1)[1]
    assert " Payments Service http_request_duration_seconds" in citations
    # Links keep the ids (the console resolves both); what a person reads does not.
    assert "/metrics?metric=http_request_duration_seconds&service=svc-payments" in citations
    read = [line for line in citations.splitlines() if not line.lstrip().startswith("http")]
    assert not [line for line in read if "svc-payments" in line or "svc-checkout" in line]
    # `opspilot runs show` prints the stored run the same way.
    [run] = json.loads(alice.invoke("runs", "list", "--json").stdout)
    shown = alice.invoke("runs", "show", run["id"])
    assert shown.exit_code == 0, shown.output
    again = shown.stdout.split("answer ready", 1)[1]
    assert "Root cause: Payments Service — " in again
    cited = again.split("Citations", 1)[1]
    assert " Payments Service http_request_duration_seconds" in cited
    read = [line for line in cited.splitlines() if not line.lstrip().startswith("http")]
    assert not [line for line in read if "svc-payments" in line or "svc-checkout" in line], cited


async def test_a_series_found_by_both_scans_is_read_out_once(
    core_server: RunningCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checkout is the metrics' home service: the scan of every series and the scan of Checkout's own both find it.
    core_server.state.metric_shifts = {"svc-checkout": (datetime.now(UTC) - timedelta(minutes=37), 2.5)}
    view, _ = await investigated(core_server, monkeypatch, "Why is checkout failing?")
    answer = view.answer
    assert (
        answer is not None and answer.root_cause is not None and answer.root_cause.service == "svc-checkout"
    )
    scans = [
        o.arguments.get("service") for o in view.outcomes if o.tool == "opspilot.detect_metric_anomalies"
    ]
    assert None in scans and "svc-checkout" in scans
    [first] = [claim.text for claim in answer.claims if "left its baseline first" in claim.text]
    readings = [part.strip() for part in first.split(". ")[0].split(" UTC: ", 1)[1].split(";")]
    assert len(readings) == len(set(readings)), first


async def test_a_copilot_answer_about_an_incident_reads_its_service_and_never_blames_a_caller(
    core_server: RunningCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As over the real Core: the incident is on Payments; Checkout, which calls it, was in trouble first; the
    core serves Payments' series only when asked for Payments, and its restart "counter" compounds to 1e46."""
    now = datetime.now(UTC).replace(microsecond=0)
    core_server.state.metric_shifts = {
        "svc-checkout": (now - timedelta(minutes=50), 2.5),
        "svc-payments": (now - timedelta(minutes=40), 4.0),
    }
    incident = next(i for i in core_server.state.data["incident"] if i["service"] == "svc-payments")
    view, shown = await investigated(
        core_server,
        monkeypatch,
        f"Why is {incident['id']} happening?",
        PageContext(incident_id=incident["id"]),
    )
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None and shown is not None, view.error
    scans = [o for o in view.outcomes if o.tool == "opspilot.detect_metric_anomalies" and o.ok]
    assert any(o.arguments.get("service") == "svc-payments" for o in scans), (
        "Payments' own series were not read"
    )
    # The root is Payments itself (what it calls is healthy), or the answer says it cannot tell; never Checkout,
    # which calls Payments and so cannot be the cause of Payments' trouble.
    if answer.root_cause is not None:
        assert answer.root_cause.service == "svc-payments", answer.verdict
        # A restart count of 1e46 is no counter: it is no evidence of a leak, and no rate.
        assert answer.root_cause.fault_kind != "memory_leak", answer.claims
    text = "\n".join(
        [answer.summary, *(claim.text for claim in answer.claims), *(c.label for c in shown.citations)]
    )
    assert "not failing" not in text and "no strong departure" not in text, text
    assert "/s" not in text, text  # no series of this core is a counter: none is a rate
    # Ids only where the records' own titles carry them ("HighLatency svc-payments").
    for record in [*core_server.state.data["alert"], *core_server.state.data["incident"]]:
        text = text.replace(record["title"], "")
    assert not [service_id for service_id, *_ in CATALOG if service_id in text], text


async def investigated(
    core_server: RunningCore, monkeypatch: pytest.MonkeyPatch, question: str, page: PageContext | None = None
) -> tuple[RunView, AnswerView | None]:
    """The offline Copilot's run on ``question`` over the fake core, and its answer as the panel shows it."""
    monkeypatch.setenv("OPSORCH_CORE_URL", core_server.url)
    monkeypatch.setenv("OPSORCH_CORE_TOKEN", TOKEN)
    settings = load_settings()
    core = CoreClient.from_settings(settings)
    copilot = Copilot.from_settings(settings, core=core, planner=OfflineInvestigator(settings))
    try:
        view = await copilot.investigate(question, user=ALICE, page=page)
        evidence = [item for outcome in view.outcomes for item in outcome.evidence]
        shown = answer_view(view.answer, evidence, await service_names(core)) if view.answer else None
    finally:
        await copilot.aclose()
        await core.aclose()
    return view, shown


async def test_an_approval_shows_its_evidence_as_people_call_the_services(
    remote_core: CoreClient, core_server: RunningCore
) -> None:
    """The Approvals inbox and the run page's approvals show the evidence a request cites as the Copilot panel
    does: by its label, services by name ("Payments Service ..."), never by evidence id or catalog id."""
    now = datetime.now(UTC).replace(microsecond=0)
    core_server.state.metric_shifts = {
        "svc-payments": (now - timedelta(minutes=40), 4.0),
        "svc-checkout": (now - timedelta(minutes=37), 2.5),
    }
    settings = load_settings()
    copilot = Copilot.from_settings(settings, core=remote_core, planner=OfflineInvestigator(settings))
    try:
        asked = await copilot.investigate("Why is checkout failing?", user=ALICE)
        assert asked.answer is not None and asked.answer.proposed_actions, asked.error
        follow_up = await copilot.propose(asked.id, 0, by=ALICE)
        assert (await copilot.settle(follow_up.id)).state is RunState.NEEDS_APPROVAL
        rick = await opened(remote_core, "/approvals")
        await rick.follow(await rick.fire(ApprovalsState.load))
        [row] = (await rick.state(ApprovalsState)).pending
        on_run_page = (await load_run(copilot, remote_core, follow_up.id)).approvals
    finally:
        await copilot.aclose()
    cited = {item["id"] for item in remote_core.gate.approvals.get(row.id).evidence}
    for chips in (row.evidence, on_run_page[0].evidence):
        labels = [chip.label for chip in chips]
        assert any(label.startswith("Payments Service ") for label in labels), labels
        assert not cited & set(labels), labels
        catalog_ids = {service_id for service_id, *_ in CATALOG}
        assert not [label for label in labels if catalog_ids & set(label.split())], labels

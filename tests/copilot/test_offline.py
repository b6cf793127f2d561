"""The offline investigator, through the real runner and OpsPilot's own MCP tools, over small demo worlds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest

from adapters.demo.build import WorldSpec
from adapters.demo.scenario import Scenario, load_library
from copilot.answer import Answer, Evidence, QuestionKind, RootCause
from copilot.citations import validate_answer
from copilot.evals import missing_kinds
from copilot.machine import RunState
from copilot.planners.offline import OfflineInvestigator
from copilot.planners.offline.graph import ServiceGraph
from copilot.planners.offline.scope import read_scope
from copilot.planning import CallTools, PlanContext, ToolOutcome, ToolSpec
from copilot.records import RunView
from copilot.runtime import Copilot
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.links import parse_time
from core_client.settings import load_settings
from tests.demo.world_fixture import build_small, install

# Small worlds keep every scenario's signals; only the background history shrinks.
SCALE = 0.01
ALICE = Actor(user="alice", role=Role.RESPONDER, via="console")
MUTATIONS = ("create_ticket", "append_timeline_note")

Worlds = Callable[[str, int], tuple[Path, WorldSpec]]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Worlds:
    """Each (scenario, seed) world built once per module, on first use."""
    folder = tmp_path_factory.mktemp("offline-worlds")
    built: dict[WorldSpec, Path] = {}

    def world(scenario: str, seed: int = 1) -> tuple[Path, WorldSpec]:
        spec = WorldSpec(seed, scenario, SCALE)
        if spec not in built:
            built[spec] = build_small(folder, spec)
        return built[spec], spec

    return world


@asynccontextmanager
async def copilot_in(world: tuple[Path, WorldSpec]) -> AsyncIterator[Copilot]:
    """The Copilot with the offline investigator over ``world``, made the active world of this test."""
    install(*world)
    settings = load_settings()
    core = CoreClient.from_settings(settings)
    copilot = Copilot.from_settings(settings, core=core, planner=OfflineInvestigator(settings))
    try:
        yield copilot
    finally:
        await copilot.aclose()
        await core.aclose()


def scenario(name: str) -> Scenario:
    return load_library().get(name)


def evidence_of(view: RunView) -> list[Evidence]:
    return [item for outcome in view.outcomes for item in outcome.evidence]


def cited(view: RunView, answer: Answer | None = None) -> list[Evidence]:
    ids = {i for claim in (answer or view.answer or Answer(summary="")).claims for i in claim.evidence_ids}
    return [item for item in evidence_of(view) if item.id in ids]


async def ask(world: tuple[Path, WorldSpec], question: str) -> RunView:
    async with copilot_in(world) as copilot:
        return await copilot.investigate(question, user=ALICE)


@pytest.mark.parametrize(
    "name",
    [
        "orders-pool-exhaustion",
        "payflow-outage",
        "gateway-certificate-expiry",
        "catalog-config-and-cache-leak",
    ],
)
async def test_names_the_root_cause_and_fault_kind_with_valid_citations(worlds: Worlds, name: str) -> None:
    expected = scenario(name).expected
    view = await ask(worlds(name, 1), scenario(name).question)
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.root_cause is not None
    assert (answer.root_cause.service, answer.root_cause.fault_kind) == (
        expected.service,
        expected.fault_kind,
    )
    assert missing_kinds(expected.evidence, cited(view)) == []
    assert answer.claims and all(claim.evidence_ids for claim in answer.claims)
    assert validate_answer(answer, evidence_of(view)).ok
    assert 0.5 <= answer.confidence <= 0.95
    assert answer.missing == []
    assert expected.service in answer.summary


async def test_follow_ups_are_proposed_with_their_evidence_and_never_run(worlds: Worlds) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "Why is checkout failing?")
    assert view.answer is not None
    proposed = {action.tool: action for action in view.answer.proposed_actions}
    assert set(proposed) == {f"opspilot.{tool}" for tool in MUTATIONS}
    ticket = proposed["opspilot.create_ticket"]
    run_ids = {item.id for item in evidence_of(view)}
    assert ticket.evidence_ids and set(ticket.evidence_ids) <= run_ids
    description = ticket.arguments["ticket"]["description"]
    assert "orders-api" in description and "/metrics?metric=" in description and "/logs?q=" in description
    incident = next(item for item in evidence_of(view) if item.kind.value == "incident")
    assert proposed["opspilot.append_timeline_note"].arguments["incident_id"] == incident.ref
    assert not any(outcome.tool.endswith(MUTATIONS) for outcome in view.outcomes)
    assert view.pending_request_id is None


async def test_a_deploy_after_the_onset_is_a_decoy_not_the_cause(worlds: Worlds) -> None:
    # The scraper's surge begins ~35 min ago; a routine deploy of the same service lands ~10 min ago.
    view = await ask(worlds("search-traffic-spike", 2), scenario("search-traffic-spike").question)
    answer = view.answer
    assert answer is not None and answer.root_cause is not None
    assert (answer.root_cause.service, answer.root_cause.fault_kind) == ("search-api", "traffic_spike")
    decoys = [claim for claim in answer.claims if claim.text.startswith("Not the cause")]
    deployment = next(item for item in evidence_of(view) if item.kind.value == "deployment")
    assert any(
        deployment.id in claim.evidence_ids and "after the trouble began" in claim.text for claim in decoys
    )


async def test_a_why_question_about_a_service_that_is_fine_says_so_first(worlds: Worlds) -> None:
    # payflow is healthy in this world; orders-api's pool is what fails.
    view = await ask(worlds("orders-pool-exhaustion", 1), "Why is payflow failing?")
    answer = view.answer
    assert answer is not None and answer.root_cause is not None
    assert answer.verdict.startswith("payflow is not failing; orders-api is, since ")
    assert answer.root_cause.service == "orders-api"
    first = answer.claims[0]
    assert first.text.startswith("payflow shows no strong departure from its baseline")
    assert "service:payflow" in first.evidence_ids
    assert validate_answer(answer, evidence_of(view)).ok


async def test_a_harmless_deploy_and_an_unrelated_fault_are_told_apart_from_the_cause(worlds: Worlds) -> None:
    # accounts-api was deployed hours before its pool ran out; fulfillment-worker burns CPU, but nobody calls it.
    view = await ask(worlds("accounts-pool-and-worker-cpu", 3), "Why are logins failing?")
    answer = view.answer
    assert answer is not None and answer.root_cause is not None
    assert (answer.root_cause.service, answer.root_cause.fault_kind) == (
        "accounts-api",
        "connection_pool_exhaustion",
    )
    texts = [claim.text for claim in answer.claims]
    assert any(t.startswith("Separate trouble: fulfillment-worker") for t in texts)
    assert any("accounts-api" in t and "too early" in t for t in texts)


@pytest.mark.parametrize(
    ("name", "question", "dependents"),
    [
        (
            "postgres-disk-full",
            "Why are orders and accounts failing to save?",
            {"orders-api", "accounts-api"},
        ),
        ("cache-latency-injection", "Why is the whole site slow?", {"checkout-api", "api-gateway"}),
    ],
)
async def test_a_dependent_is_never_blamed_over_the_dependency_behind_it(
    worlds: Worlds, name: str, question: str, dependents: set[str]
) -> None:
    view = await ask(worlds(name, 2), question)
    answer = view.answer
    assert answer is not None and answer.root_cause is not None
    root = scenario(name).expected.service
    assert answer.root_cause.service == root
    propagation = next(
        claim for claim in answer.claims if claim.text.startswith("The other failing services")
    )
    for dependent in dependents:
        assert f"{dependent} at " in propagation.text
        assert f"anomaly:{dependent}:error_rate{{environment=prod}}" in propagation.evidence_ids
    assert f"anomaly:{root}:" not in " ".join(propagation.evidence_ids)


async def follow_up(world: tuple[Path, WorldSpec], first: str, then: str) -> Answer:
    """The answer to ``then``, asked in the same conversation right after ``first``."""
    async with copilot_in(world) as copilot:
        earlier = await copilot.investigate(first, user=ALICE)
        view = await copilot.investigate(then, user=ALICE, conversation_id=earlier.conversation_id)
    assert view.answer is not None and view.answer.root_cause is not None, view.error
    for claim in view.answer.claims:
        assert set(claim.evidence_ids) <= {item.id for item in evidence_of(view)}
    return view.answer


async def test_a_follow_up_reuses_the_earlier_root_cause_and_answers_what_changed(worlds: Worlds) -> None:
    world = worlds("checkout-release-regression", 1)
    answer = await follow_up(
        world, "Why are customers seeing errors at checkout?", "What changed before that?"
    )
    assert answer.root_cause == RootCause(service="checkout-api", fault_kind="bad_deploy")
    # Asked what changed, the verdict on the change comes first: the release before checkout-api's trouble.
    assert answer.kind is QuestionKind.CHANGE_VERDICT
    assert answer.verdict.startswith("Yes:") and "checkout-api" in answer.verdict
    assert answer.claims[0].text == answer.verdict.split(" The other changes")[0]
    assert any(i.startswith("deployment:") for i in answer.claims[0].evidence_ids)


async def test_a_follow_up_says_when_nothing_changed(worlds: Worlds) -> None:
    answer = await follow_up(
        worlds("orders-pool-exhaustion", 1), "Why is checkout failing?", "what changed before that?"
    )
    assert answer.root_cause is not None and answer.root_cause.service == "orders-api"
    assert answer.kind is QuestionKind.CHANGE_VERDICT
    assert answer.verdict.startswith("No deployment, configuration change or feature flag was found before")
    assert "orders-api" in answer.summary


def context_from(view: RunView, outcomes: list[ToolOutcome], **memory: object) -> PlanContext:
    """A planner's view of ``view`` with only ``outcomes``, as the runner would rebuild it."""
    tools = [
        ToolSpec(name=f"opspilot.{tool}", server="opspilot", tool=tool, kind="read_only")
        for tool in {o.tool.split(".", 1)[1] for o in view.outcomes} | set(MUTATIONS)
    ]
    return PlanContext(
        run_id=view.id,
        question=view.question,
        tools=sorted(tools, key=lambda t: t.name),
        outcomes=outcomes,
        memory={"offline": dict(memory)},
        now=_world_now(view),
    )


def _world_now(view: RunView) -> datetime:
    """The world's frozen now, as the investigator passed it to the anomaly detector."""
    detect = next(o for o in view.outcomes if o.tool.endswith("detect_metric_anomalies"))
    return parse_time(detect.arguments["until"])


@pytest.mark.parametrize(
    ("tool", "kind_evidence"),
    [("compare_log_patterns", "log_pattern:"), ("detect_metric_anomalies", "anomaly:")],
)
async def test_a_tool_that_failed_is_reported_as_not_checked(
    worlds: Worlds, tool: str, kind_evidence: str
) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "Why is checkout failing?")
    assert view.answer is not None
    broken = [
        o.model_copy(
            update={"ok": False, "structured": None, "evidence": [], "error": "provider unavailable: x"}
        )
        if o.tool.endswith(tool)
        else o
        for o in view.outcomes
    ]
    answer = OfflineInvestigator().conclude(context_from(view, broken, stage=3))
    # Either way the other half of the evidence still points at the pool's owner.
    assert answer.root_cause is not None and answer.root_cause.service == "orders-api"
    assert any(line.startswith(f"{tool} failed (provider unavailable") for line in answer.missing)
    assert answer.confidence < view.answer.confidence
    assert not any(i.startswith(kind_evidence) for claim in answer.claims for i in claim.evidence_ids)
    assert validate_answer(answer, [e for o in broken for e in o.evidence]).ok


async def test_the_planner_is_stateless_and_deterministic(worlds: Worlds) -> None:
    view = await ask(worlds("payflow-outage", 1), "Why are payments failing?")
    first_round = [o for o in view.outcomes if o.call_id.startswith("s1")]
    plans = [await OfflineInvestigator().plan(context_from(view, first_round, stage=1)) for _ in range(2)]
    assert isinstance(plans[0], CallTools) and plans[0] == plans[1]
    # Two scans of every series (serving signals, resources), then the asked service's and its callees' own.
    calls = plans[0].calls
    assert {call.tool for call in calls} == {"opspilot.detect_metric_anomalies"}
    assert [call.arguments.get("service") for call in calls][:3] == [None, None, "payments-api"]
    again = await ask(worlds("payflow-outage", 1), "Why are payments failing?")
    assert again.answer == view.answer


async def test_services_are_named_in_the_catalog_own_words(worlds: Worlds) -> None:
    install(*worlds("orders-pool-exhaustion", 1))
    core = CoreClient.from_settings(load_settings())
    try:
        rows = [s.model_dump(mode="json", by_alias=True) for s in await core.services.all()]
    finally:
        await core.aclose()
    graph = ServiceGraph.from_rows(rows)
    assert read_scope("Why are logins failing?", graph).named[0] == "accounts-api"
    assert read_scope("Why is the whole site slow?", graph).named == ("storefront-web",)
    assert read_scope("Why are card payments declined?", graph).named[0] == "payments-api"
    assert read_scope("Why are orders failing?", graph).named[0] == "orders-api"
    follow_up = read_scope("What changed before that?", graph)
    assert follow_up.named == () and follow_up.asks_about_changes

"""Questions of every kind the offline investigator reads, through the real runner and OpsPilot's own MCP tools over
a small demo world: each answer says its kind, its verdict answers the question, and its claims cite what the run's
calls returned."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from adapters.demo.build import WorldSpec
from copilot.answer import Answer, QuestionKind
from copilot.citations import validate_answer
from copilot.machine import RunState
from copilot.planners.offline.kinds.common import named_reading
from copilot.planning import PageContext
from copilot.records import RunView
from core_client.schemas.analysis import MetricAnomaly, MetricBaseline
from tests.copilot.test_offline import ALICE, Worlds, copilot_in, evidence_of, worlds

__all__ = ["worlds"]
# Orders' database pool runs dry: orders-api fails, and checkout-api, fulfillment-worker, api-gateway and
# storefront-web, which call it, follow; payments and search are untouched.
SCENARIO = "orders-pool-exhaustion"


async def ask(world: tuple[Path, WorldSpec], *questions: str, page: PageContext | None = None) -> RunView:
    """The last of ``questions``, each asked in one conversation after the ones before it."""
    async with copilot_in(world) as copilot:
        conversation = None
        for question in questions:
            view = await copilot.investigate(question, user=ALICE, page=page, conversation_id=conversation)
            conversation = view.conversation_id
    return view


def answered(view: RunView, kind: QuestionKind) -> Answer:
    """The run's answer, checked: done, of ``kind``, every claim cited with what the run's calls returned."""
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.kind is kind, answer.verdict
    assert validate_answer(answer, evidence_of(view)).ok
    assert answer.summary.startswith(answer.verdict)
    return answer


async def test_a_service_that_is_fine_is_said_healthy_and_a_failing_one_degraded(worlds: Worlds) -> None:
    world = worlds(SCENARIO, 1)
    fine = answered(await ask(world, "Is payflow down?"), QuestionKind.HEALTH)
    assert fine.verdict.startswith("No, payflow is healthy")
    assert fine.root_cause is None and fine.claims
    # The values behind "healthy", with their units, each cited by the series it was read from.
    assert re.search(r"healthy: error rate [\d.]+%, normally [\d.]+%; p95 [\d.]+ m?s, normally", fine.verdict)
    assert re.search(r"traffic [\d.]+ req/s, normally [\d.]+ req/s", fine.verdict)
    # A healthy service's readings never read as trouble ("errors", "down").
    assert not re.search(r"\b(errors|down|degraded|failing)\b", fine.verdict.split("healthy", 1)[1])
    now = next(c for c in fine.claims if c.text.startswith("payflow now: "))
    assert len([i for i in now.evidence_ids if i.startswith("metric:payflow:")]) == 3
    failing = answered(await ask(world, "is orders-api ok?"), QuestionKind.HEALTH)
    assert failing.verdict.startswith("No, orders-api is degraded") and "errors" in failing.verdict
    assert any("anomaly:orders-api:" in " ".join(c.evidence_ids) for c in failing.claims)
    caller = answered(await ask(world, "How is checkout-api doing?"), QuestionKind.HEALTH)
    assert "checkout-api is degraded" in caller.verdict
    assert any(
        "Of what checkout-api calls, directly or not: orders-api is degraded" in c.text for c in caller.claims
    )


async def test_the_situation_names_where_trouble_starts_and_what_is_open(worlds: Worlds) -> None:
    answer = answered(await ask(worlds(SCENARIO, 1), "What's going on?"), QuestionKind.SITUATION)
    assert answer.verdict.startswith("Trouble starts at orders-api")
    kinds = {i.split(":", 1)[0] for claim in answer.claims for i in claim.evidence_ids}
    assert {"anomaly", "incident", "alert"} <= kinds


async def test_ownership_names_the_owning_team_and_who_is_on_call(worlds: Worlds) -> None:
    world = worlds(SCENARIO, 1)
    oncall = answered(await ask(world, "Who is on call for orders-api?"), QuestionKind.OWNERSHIP)
    assert "is on call for orders-api" in oncall.verdict and "Commerce" in oncall.verdict
    cited = {i for claim in oncall.claims for i in claim.evidence_ids}
    assert {"service:orders-api", "team:commerce", "runbook:orders-api"} <= cited
    owner = answered(await ask(world, "which team owns payflow"), QuestionKind.OWNERSHIP)
    assert owner.verdict.startswith("payflow is owned by Payments")


async def test_an_unreadable_question_says_so_and_lists_what_it_can_answer(worlds: Worlds) -> None:
    view = await ask(worlds(SCENARIO, 1), "asdf qwerty")
    answer = answered(view, QuestionKind.UNKNOWN)
    assert answer.verdict.startswith("I could not tell what this question asks")
    assert answer.root_cause is None and "Who is on call for" in answer.summary
    # Nothing but the catalog was read: no investigation was run for a question nobody asked.
    assert {o.tool.split(".")[-1] for o in view.outcomes} <= {
        "query_services",
        "query_incidents",
        "query_alerts",
        "describe_metrics",
    }


async def test_follow_ups_answer_against_the_previous_turn(worlds: Worlds) -> None:
    world = worlds(SCENARIO, 1)
    why = answered(await ask(world, "Is orders-api healthy?", "why?"), QuestionKind.WHY_FAILING)
    assert why.root_cause is not None and why.root_cause.service == "orders-api"
    other = answered(await ask(world, "Who owns orders-api?", "what about payflow?"), QuestionKind.OWNERSHIP)
    assert other.verdict.startswith("payflow is owned by Payments")


async def test_the_page_says_which_service_a_question_is_about(worlds: Worlds) -> None:
    view = await ask(worlds(SCENARIO, 1), "is it healthy?", page=PageContext(service="payflow"))
    assert answered(view, QuestionKind.HEALTH).verdict.startswith("Yes, payflow is healthy")


def test_a_reading_names_its_metric_once() -> None:
    def anomaly(name: str, unit: str, facet: str) -> MetricAnomaly:
        at = datetime(2025, 6, 11, 13, 38, tzinfo=UTC)
        return MetricAnomaly(
            name=name,
            unit=unit,
            signal="errors",
            facet=facet,
            direction="up",
            onset=at,
            peak_at=at,
            peak_value=14.3,
            expected_at_peak=0.14,
            peak_z=40.0,
            anomalous_points=10,
            ongoing=True,
            baseline=MetricBaseline(median=0.14, scale=0.05, reference_start=at, reference_end=at, points=60),
        )

    assert (
        named_reading(anomaly("error_rate", "percent", "errors")) == "error_rate 14.3% errors, normally 0.14%"
    )
    counted = named_reading(anomaly("http_errors_total", "errors/s", "level"))
    assert counted.count("http_errors_total") == 1

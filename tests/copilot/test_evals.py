"""Evals: every shipped scenario under three seeds, through the real runner, the investigator beside two naive
baselines; and the ``opspilot eval`` command that prints and writes the same report."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from adapters.demo.company import SERVICE_BY_NAME, TEAM_BY_ID
from adapters.demo.generate import SEED_RANGES, Generated, generate_set, kind_questions
from adapters.demo.scenario import load_library
from console.cli import app
from console.commands.eval import (
    DEFAULT_SCALE,
    breakdown_table,
    demo_worlds,
    eval_cases,
    generated_cases,
    question_kind_table,
    reliability_table,
    run,
    summary_table,
)
from copilot.answer import Answer, Claim, Evidence, EvidenceKind, QuestionKind, RootCause
from copilot.evals import (
    EvalCase,
    EvalReport,
    Expected,
    VerdictCheck,
    eval_settings,
    missing_kinds,
    run_evals,
    score_run,
)
from copilot.machine import RunState
from copilot.planners.offline import OfflineInvestigator
from copilot.planning import ToolOutcome
from copilot.records import RunView
from core_client.settings import Settings, load_settings

SEEDS = 3
# Generated cases CI runs: about 5 minutes on 2 cores beside the rest of the suite.
CI_GENERATED = 10
# Issue #13's bar: 90% fully right on generated scenarios (10 of 10 on the CI range when it was raised). Never lower
# it: a miss here is a diagnosis rule to fix, and an abstention counts as not fully right.
CI_GENERATED_FLOOR = 90.0
# Worlds of the CI range whose questions of other kinds CI asks (the first of the range, shared with the set above).
KIND_WORLDS = 3
# The kinds of question the investigator reads apart from root-cause ones, asked in those worlds.
KINDS_READ = ("health", "situation", "ownership")
KIND_FLOOR = 90.0
HANDWRITTEN = Path(__file__).parents[1] / "evals" / "scenarios"
# Small worlds keep every scenario's signals; only the background history shrinks.
SCALE = 0.01
KEPT_VARIABLES = (
    "OPSPILOT_REQUIRE_SERVICES",
    "OPSPILOT_SHARED_DATA",
    "OPSPILOT_TEST_POSTGRES",
    "OPSPILOT_TEST_REDIS",
)


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Eval settings in a data folder of their own, with the developer's settings set aside."""
    folder = tmp_path_factory.mktemp("evals")
    with pytest.MonkeyPatch.context() as patch:
        for variable in list(os.environ):
            if variable.startswith(("OPSORCH_", "OPSPILOT_")) and variable not in KEPT_VARIABLES:
                patch.delenv(variable)
        for variable in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
            patch.delenv(variable, raising=False)
        (folder / "opspilot.toml").write_text("")
        patch.setenv("OPSPILOT_CONFIG", str(folder / "opspilot.toml"))
        patch.setenv("OPSPILOT_DATA_DIR", str(folder / "data"))
        settings = eval_settings(load_settings())
        settings.data_dir.mkdir(parents=True)
        try:
            yield settings
        finally:
            shutil.rmtree(settings.data_dir / "demo", ignore_errors=True)  # worlds of a few MB each


@pytest.fixture(scope="module")
def report(isolated: Settings) -> EvalReport:
    """The whole shipped library under three seeds, run once for this module."""
    library = load_library()
    cases = eval_cases(library, library.names(), SEEDS)
    return run(isolated, cases, scale=SCALE, seeds=SEEDS)


@pytest.fixture(scope="module")
def generated_report(isolated: Settings) -> EvalReport:
    """The CI range's first generated scenarios at the eval's default scale (never the held-out range)."""
    folder = isolated.data_dir / "generated"
    items, _ = generate_set(range(SEED_RANGES["ci"].start, SEED_RANGES["ci"].start + CI_GENERATED), folder)
    return run(isolated, generated_cases(items), scale=DEFAULT_SCALE, seeds=1, scenarios=folder)


@pytest.fixture(scope="module")
def kind_report(isolated: Settings) -> EvalReport:
    """Questions of every kind but root-cause (and follow-ups) in the first CI worlds, asked of the investigator
    alone: the baselines only answer root-cause questions."""
    folder = isolated.data_dir / "generated"
    start = SEED_RANGES["ci"].start
    items, _ = generate_set(range(start, start + KIND_WORLDS), folder)
    cases = [case for item in items for case in generated_kind_cases(item)]
    planners = [OfflineInvestigator(isolated)]
    world = demo_worlds(isolated, DEFAULT_SCALE, folder)
    return asyncio.run(
        run_evals(cases, settings=isolated, open_world=world, planners=planners, scale=DEFAULT_SCALE, seeds=1)
    )


def generated_kind_cases(item: Generated) -> list[EvalCase]:
    """The generator's questions of the kinds read so far, an unreadable question, and follow-ups, in ``item``'s
    world, each with what its verdict must say."""
    root = item.scenario.expected.service
    quiet = next(k for k in kind_questions(item) if k.kind == "health" and "healthy" in k.any_of).mentions[0]
    team = TEAM_BY_ID[SERVICE_BY_NAME[root].team]

    def case(question: str, kind: str, check: VerdictCheck, earlier: tuple[str, ...] = ()) -> EvalCase:
        expected = Expected(service=root, fault_kind="", question_kind=kind, verdict=check)
        return EvalCase(
            scenario=item.scenario.name,
            seed=item.seed,
            question=question,
            expected=expected,
            earlier=list(earlier),
        )

    cases = [
        case(
            k.question,
            k.kind,
            VerdictCheck(mentions=list(k.mentions), any_of=list(k.any_of), none_of=list(k.none_of)),
        )
        for k in kind_questions(item)
        if k.kind in KINDS_READ
    ]
    cases += [
        case("asdf qwerty", "unknown", VerdictCheck(mentions=["could not tell"])),
        case("why?", "why-failing", VerdictCheck(mentions=[root]), earlier=(f"Is {root} healthy?",)),
        case(
            f"what about {root}?",
            "ownership",
            VerdictCheck(mentions=[root], any_of=[team.name, team.id]),
            earlier=(f"Who owns {quiet}?",),
        ),
        case(
            f"and {quiet}?",
            "health",
            VerdictCheck(mentions=[quiet], any_of=["healthy"], none_of=["degraded", "down"]),
            earlier=(f"Is {root} healthy?",),
        ),
    ]
    return cases


@pytest.fixture(scope="module")
def handwritten_report(isolated: Settings) -> EvalReport:
    """Every hand-written scenario of tests/evals/scenarios (shapes the shipped files lack), one seed each."""
    library = load_library(HANDWRITTEN)
    names = [name for name, path in library.files.items() if path.parent == HANDWRITTEN]
    return run(
        isolated, eval_cases(library, sorted(names), 1), scale=DEFAULT_SCALE, seeds=1, scenarios=HANDWRITTEN
    )


def _print_tables(report: EvalReport) -> None:
    console = Console(width=140)
    console.print(summary_table(report))
    console.print(breakdown_table(report, "offline"))
    console.print(reliability_table(report))


def _misses(report: EvalReport) -> list[str]:
    return [
        f"{s.scenario}: {s.service}/{s.fault_kind} missing {s.missing_evidence}"
        for s in report.scores
        if s.planner == "offline" and not s.fully_right
    ]


@pytest.mark.slow
def test_generated_ci_set_holds_its_floor_and_beats_each_baseline_by_30_points(
    generated_report: EvalReport,
) -> None:
    _print_tables(generated_report)
    investigator = generated_report.percent_fully_right("offline")
    assert len([s for s in generated_report.scores if s.planner == "offline"]) == CI_GENERATED
    assert investigator >= CI_GENERATED_FLOOR, _misses(generated_report)
    for baseline in ("named-service", "most-errors"):
        assert investigator - generated_report.percent_fully_right(baseline) >= 30.0, baseline
    assert generated_report.reliability("offline"), "every run states a confidence in some bucket"


@pytest.mark.slow
def test_questions_of_every_kind_get_their_kind_and_a_true_verdict_first(kind_report: EvalReport) -> None:
    Console(width=140).print(question_kind_table(kind_report))
    scores = kind_report.scores
    assert {s.question_kind for s in scores} >= {*KINDS_READ, "unknown", "why-failing"}
    wrong = [
        f"{s.scenario} {s.question_kind}: answered {s.answered_kind}, verdict right {s.verdict_right}, "
        f"citations valid {s.citations_valid}"
        for s in scores
        if not s.fully_right
    ]
    assert kind_report.percent_fully_right("offline") >= KIND_FLOOR, wrong


@pytest.mark.slow
def test_handwritten_scenarios_are_at_least_95_percent_fully_right(handwritten_report: EvalReport) -> None:
    _print_tables(handwritten_report)
    assert len([s for s in handwritten_report.scores if s.planner == "offline"]) >= 10
    assert handwritten_report.percent_fully_right("offline") >= 95.0, _misses(handwritten_report)
    for baseline in ("named-service", "most-errors"):
        investigator = handwritten_report.percent_fully_right("offline")
        assert investigator - handwritten_report.percent_fully_right(baseline) >= 30.0, baseline


@pytest.mark.slow
def test_the_investigator_is_fully_right_on_at_least_90_percent_of_scenario_seed_pairs(
    report: EvalReport,
) -> None:
    offline = [s for s in report.scores if s.planner == "offline"]
    assert len(offline) == len(load_library().names()) * SEEDS
    wrong = [
        f"{s.scenario}/{s.seed}: {s.service}/{s.fault_kind} {s.missing_evidence}"
        for s in offline
        if not s.fully_right
    ]
    assert report.percent_fully_right("offline") >= 90.0, wrong


@pytest.mark.slow
def test_each_naive_baseline_scores_at_least_30_points_lower(report: EvalReport) -> None:
    investigator = report.percent_fully_right("offline")
    for baseline in ("named-service", "most-errors"):
        assert investigator - report.percent_fully_right(baseline) >= 30.0, baseline


@pytest.mark.slow
def test_every_run_is_scored_with_its_steps_calls_and_time(report: EvalReport) -> None:
    assert {s.planner for s in report.scores} == {"offline", "named-service", "most-errors"}
    for score in report.scores:
        assert score.error is None, score
        assert score.steps >= 2 and score.tool_calls >= 4 and score.seconds > 0
    assert all(s.citations_valid for s in report.scores if s.planner == "offline")
    lines = {line.planner: line for line in report.summary()}
    assert lines["offline"].runs == len(load_library().names()) * SEEDS
    assert lines["offline"].median_seconds <= lines["offline"].p95_seconds
    # The baselines blame a service but rarely the right one and the right kind together.
    assert lines["named-service"].service_right < lines["offline"].service_right


CASE = EvalCase(
    scenario="orders-pool-exhaustion",
    seed=1,
    question="Why is checkout failing?",
    expected=Expected(
        service="orders-api", fault_kind="connection_pool_exhaustion", evidence=["metric", "log_pattern"]
    ),
)


def evidence(kind: EvidenceKind, ref: str) -> Evidence:
    return Evidence(id=f"{kind.value}:{ref}", kind=kind, ref=ref, excerpt=ref, tool_call_id="s1c1")


def run_with(answer: Answer, found: list[Evidence], notes: list[str] | None = None) -> RunView:
    outcome = ToolOutcome(call_id="s1c1", tool="opspilot.x", arguments={}, ok=True, evidence=found)
    return RunView(
        id="r1",
        conversation_id="c1",
        question=CASE.question,
        user="eval",
        role="responder",
        state=RunState.DONE,
        planner="offline",
        outcomes=[outcome],
        answer=answer,
        notes=notes or [],
        created_at=datetime(2025, 6, 11, tzinfo=UTC),
        active_seconds=0.5,
    )


ANOMALY = evidence(EvidenceKind.ANOMALY, "orders-api:db_pool_in_use")
PATTERN = evidence(EvidenceKind.LOG_PATTERN, "p_1")
RIGHT = RootCause(service="orders-api", fault_kind="connection_pool_exhaustion")


def test_a_run_is_fully_right_with_the_cause_the_kind_the_evidence_and_valid_citations() -> None:
    answer = Answer(
        summary="s", claims=[Claim(text="pool", evidence_ids=[ANOMALY.id, PATTERN.id])], root_cause=RIGHT
    )
    score = score_run(CASE, "offline", run_with(answer, [ANOMALY, PATTERN]))
    assert score.fully_right and score.missing_evidence == [] and score.tool_calls == 1


def test_an_anomaly_is_metric_evidence_but_uncited_evidence_does_not_count() -> None:
    assert missing_kinds(["metric"], [ANOMALY]) == []
    answer = Answer(summary="s", claims=[Claim(text="pool", evidence_ids=[ANOMALY.id])], root_cause=RIGHT)
    score = score_run(CASE, "offline", run_with(answer, [ANOMALY, PATTERN]))
    assert score.service_right and score.kind_right
    assert not score.fully_right and score.missing_evidence == ["log_pattern"]


def test_a_claim_citing_what_no_call_returned_makes_the_citations_invalid() -> None:
    answer = Answer(
        summary="s",
        claims=[Claim(text="pool", evidence_ids=[ANOMALY.id, PATTERN.id, "log:made-up"])],
        root_cause=RIGHT,
    )
    assert not score_run(CASE, "offline", run_with(answer, [ANOMALY, PATTERN])).citations_valid
    fine = Answer(
        summary="s", claims=[Claim(text="pool", evidence_ids=[ANOMALY.id, PATTERN.id])], root_cause=RIGHT
    )
    dropped = run_with(fine, [ANOMALY, PATTERN], notes=["claim dropped: \u201cx\u201d (cites log:made-up)"])
    assert not score_run(CASE, "offline", dropped).citations_valid


def test_the_wrong_service_or_kind_is_not_right() -> None:
    claims = [Claim(text="pool", evidence_ids=[ANOMALY.id, PATTERN.id])]
    for cause in (
        RootCause(service="checkout-api", fault_kind=RIGHT.fault_kind),
        RIGHT.model_copy(update={"fault_kind": "bad_deploy"}),
    ):
        score = score_run(
            CASE,
            "offline",
            run_with(Answer(summary="s", claims=claims, root_cause=cause), [ANOMALY, PATTERN]),
        )
        assert not score.fully_right and score.service_right != score.kind_right


def test_opspilot_eval_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    target = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--seeds",
            "1",
            "--scenario",
            "payflow-outage",
            "--scale",
            str(SCALE),
            "--json",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "offline: 100% fully right" in result.output
    data = json.loads(target.read_text())
    assert [s["planner"] for s in data["scores"]] == ["offline", "named-service", "most-errors"]
    assert data["scores"][0]["service"] == "payflow" and data["scores"][0]["fully_right"] is True
    assert {line["planner"] for line in data["summary"]} == {"offline", "named-service", "most-errors"}
    assert (load_settings().data_dir / "evals" / "demo" / "worlds").is_dir()


def test_a_verdict_check_reads_words_not_substrings() -> None:

    unhealthy = VerdictCheck(mentions=["orders-api"], any_of=["degraded", "down"], none_of=["healthy"])
    assert unhealthy.holds("orders-api is degraded: 14.3% errors since 13:38.")
    assert not unhealthy.holds("orders-api is healthy.")
    assert not unhealthy.holds("orders-apix is down.")
    cleared = VerdictCheck(mentions=["search-api"], any_of=["not", "no"])
    assert cleared.holds("No: the search-api deploy came after the onset.")
    assert not cleared.holds("Yes: the search-api deploy broke it.")


def test_a_question_of_another_kind_is_right_when_read_as_that_kind_with_a_true_verdict() -> None:
    check = VerdictCheck(mentions=["orders-api"], any_of=["degraded", "down"])
    case = CASE.model_copy(
        update={
            "question": "Is orders-api healthy?",
            "expected": CASE.expected.model_copy(update={"question_kind": "health", "verdict": check}),
        }
    )
    claims = [Claim(text="pool", evidence_ids=[ANOMALY.id])]
    right = Answer(kind=QuestionKind.HEALTH, verdict="orders-api is degraded.", summary="s", claims=claims)
    assert score_run(case, "offline", run_with(right, [ANOMALY])).fully_right
    misread = right.model_copy(update={"kind": QuestionKind.WHY_FAILING})
    assert not score_run(case, "offline", run_with(misread, [ANOMALY])).fully_right
    wrong = right.model_copy(update={"verdict": "orders-api is healthy."})
    score = score_run(case, "offline", run_with(wrong, [ANOMALY]))
    assert not score.fully_right and not score.verdict_right and score.question_kind == "health"

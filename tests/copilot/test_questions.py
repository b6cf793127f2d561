"""How the offline investigator reads a question: its kind, its window, an incident or change it names, and
follow-ups against the conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from adapters.demo.company import SERVICES
from copilot.answer import Answer, QuestionKind
from copilot.planners.offline.graph import ServiceGraph
from copilot.planners.offline.questions import read_question
from copilot.planners.offline.scope import named_services
from copilot.planning import PlanContext, PriorTurn

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
GRAPH = ServiceGraph.from_rows(
    [
        {"id": "orders-api", "name": "orders-api", "dependencies": ["payflow"]},
        {"id": "payflow", "name": "payflow", "metadata": {"description": "card payments"}},
        {"id": "search-api", "name": "search-api", "metadata": {"description": "product search"}},
    ]
)


def asked(question: str, *earlier: str) -> PlanContext:
    turns = [PriorTurn(question=q, answer=Answer(summary="s")) for q in earlier]
    return PlanContext(run_id="r", question=question, conversation=turns, now=NOW)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Why is orders-api failing?", QuestionKind.WHY_FAILING),
        ("orders-api is throwing errors, why?", QuestionKind.WHY_FAILING),
        ("Is payflow down?", QuestionKind.HEALTH),
        ("Is search-api healthy right now?", QuestionKind.HEALTH),
        ("payflow", QuestionKind.HEALTH),
        ("Was the search-api deploy the cause?", QuestionKind.CHANGE_VERDICT),
        ("What's going on?", QuestionKind.SITUATION),
        ("Is everything ok?", QuestionKind.SITUATION),
        ("how's production looking?", QuestionKind.SITUATION),
        ("How is staging?", QuestionKind.SITUATION),
        ("how are we doing", QuestionKind.SITUATION),
        ("How's payflow looking?", QuestionKind.HEALTH),
        ("Who is on call for orders-api?", QuestionKind.OWNERSHIP),
        ("Who owns payflow?", QuestionKind.OWNERSHIP),
        ("What did orders-api log in the last hour?", QuestionKind.LOG_SUMMARY),
        ("Has this happened before on orders-api?", QuestionKind.HISTORY),
        ("asdf qwerty", QuestionKind.UNKNOWN),
        ("", QuestionKind.UNKNOWN),
    ],
)
def test_a_question_is_read_as_its_kind(question: str, kind: QuestionKind) -> None:
    assert read_question(asked(question), GRAPH).kind is kind


def test_a_window_an_incident_and_a_change_written_in_the_question_are_read() -> None:
    last_hour = read_question(asked("errors of payflow in the last 2 hours"), GRAPH)
    assert last_hour.since == NOW - timedelta(hours=2)
    since = read_question(asked("what did orders-api log since 14:10?"), GRAPH)
    assert since.since == NOW.replace(hour=14, minute=10)
    later = read_question(asked("what did orders-api log since 16:00?"), GRAPH)
    assert later.since == NOW.replace(hour=16) - timedelta(days=1)
    named = read_question(asked("was deploy dep-17 the cause of INC-6013?"), GRAPH)
    assert (named.incident_id, named.change_ref, named.kind) == (
        "INC-6013",
        "dep-17",
        QuestionKind.CHANGE_VERDICT,
    )


def test_follow_ups_resolve_against_the_previous_turn() -> None:
    why = read_question(asked("why?", "Is payflow down?"), GRAPH)
    assert why.kind is QuestionKind.WHY_FAILING and "payflow" in why.wording and why.follow_up
    other = read_question(asked("what about search-api?", "Who owns payflow?"), GRAPH)
    assert other.kind is QuestionKind.OWNERSHIP and other.wording == "search-api"
    earlier = read_question(asked("and before that?", "What did orders-api log in the last hour?"), GRAPH)
    assert earlier.kind is QuestionKind.LOG_SUMMARY
    assert (earlier.since, earlier.until) == (NOW - timedelta(hours=2), NOW - timedelta(hours=1))
    twice = read_question(
        asked("and before that?", "What did orders-api log in the last hour?", "earlier?"), GRAPH
    )
    assert (twice.since, twice.until) == (NOW - timedelta(hours=3), NOW - timedelta(hours=2))
    pronoun = read_question(asked("who owns it?", "Is payflow down?"), GRAPH)
    assert pronoun.kind is QuestionKind.OWNERSHIP and "payflow" in pronoun.wording


def test_a_question_that_stands_on_its_own_is_not_a_follow_up() -> None:
    fresh = read_question(asked("Who owns search-api?", "Is payflow down?"), GRAPH)
    assert fresh.kind is QuestionKind.OWNERSHIP and not fresh.follow_up and "payflow" not in fresh.wording


HELD_OUT = Path(__file__).parents[1] / "evals" / "kinds"
# The share of each held-out set of phrasings read right; raise a floor, never lower it. held_out_phrasings.yaml:
# 55 of 56 when written. held_out_phrasings_s6.yaml (every kind, written before the session's reader changes): 21 of
# 30 before them, 22 of 30 after. Its misses and those of held_out_phrasings_s7.yaml (19 of 30 when written) were read
# and the reader widened on them (30 of 30 each after), so neither is held out any more. held_out_phrasings_s8.yaml
# was written after that change and scored once, total only (28 of 30 before it and after): it is held out.
HELD_OUT_FLOORS = {
    "held_out_phrasings.yaml": 0.9,
    "held_out_phrasings_s6.yaml": 0.9,
    "held_out_phrasings_s7.yaml": 0.9,
    "held_out_phrasings_s8.yaml": 0.9,
}


@pytest.mark.parametrize("name", sorted(HELD_OUT_FLOORS))
def test_held_out_phrasings_are_read_as_their_kind(name: str) -> None:
    cases = yaml.safe_load((HELD_OUT / name).read_text(encoding="utf-8"))
    graph = ServiceGraph.from_rows([{"id": s.name, "name": s.name} for s in SERVICES])
    misread = []
    for case in cases:
        read = read_question(asked(case["question"], *case.get("earlier", [])), graph)
        if read.kind.value != case["kind"] or case.get("about", "") not in read.wording:
            misread.append(f"{case['question']!r} read as {read.kind.value}")
    groups = {case["kind"] for case in cases if not case.get("earlier")}
    assert {"health", "situation", "ownership", "unknown"} <= groups
    assert len(cases) - len(misread) >= HELD_OUT_FLOORS[name] * len(cases), misread


def test_a_word_written_as_a_services_own_name_part_names_that_service_alone() -> None:
    graph = ServiceGraph.from_rows(
        [
            {"id": "orders-api", "name": "orders-api", "dependencies": ["order-events"]},
            {"id": "order-events", "name": "order-events", "tier": 1},
        ]
    )
    # "orders" is orders-api's own word; order-events only shares its stem, so it is not asked about.
    assert named_services("Why are orders failing?", graph) == ["orders-api"]
    assert named_services("Is order-events ok?", graph) == ["order-events"]
    assert named_services("is the order queue backed up", graph) == ["order-events"]


def test_a_service_alone_is_asked_about_only_when_written_whole_or_with_nothing_else() -> None:
    graph = ServiceGraph.from_rows(
        [{"id": "order-events", "name": "order-events"}, {"id": "payments-api", "name": "payments-api"}]
    )
    # "order" is part of order-events' name, but this question asks nothing about it.
    assert read_question(asked("Can you order me a pizza?"), graph).kind is QuestionKind.UNKNOWN
    assert read_question(asked("order-events, all good?"), graph).kind is QuestionKind.HEALTH
    assert read_question(asked("payments?"), graph).kind is QuestionKind.HEALTH

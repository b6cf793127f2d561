"""Question kinds change-verdict, log-summary and history: the offline investigator through the real runner and
OpsPilot's own MCP tools, over small demo worlds. Each answer says its kind and answers the question first, and
cites only what the run's calls returned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.demo.build import WorldSpec
from adapters.demo.incidents import DemoIncidents
from adapters.demo.world import World
from copilot.answer import Answer, EvidenceKind, QuestionKind
from copilot.citations import validate_answer
from copilot.machine import RunState
from copilot.planners.offline.kinds.history import SIMILAR, same_line, similarity, traits_of_text, window_of
from copilot.planners.offline.readings import Findings, Signal
from copilot.records import RunView
from core_client.client import CoreClient
from core_client.schemas import (
    CreateIncidentInput,
    Incident,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
)
from core_client.schemas.analysis import PatternChange, PatternComparison
from core_client.settings import load_settings
from tests.copilot.test_evidence import call
from tests.copilot.test_offline import Worlds, ask, evidence_of, worlds
from tests.demo.world_fixture import build_small, install

__all__ = ["worlds"]
BUSIER = WorldSpec(1, "orders-pool-exhaustion", 0.1)
ONSET = "2025-06-11T13:30:00Z"


def answered(view: RunView, kind: QuestionKind) -> Answer:
    """The run's answer, checked: done, of ``kind``, its verdict first in the summary, every citation valid."""
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.kind is kind
    assert answer.summary.startswith(answer.verdict)
    assert answer.claims and all(claim.evidence_ids for claim in answer.claims)
    assert validate_answer(answer, evidence_of(view)).ok
    return answer


def cited_kinds(answer: Answer) -> set[str]:
    return {i.split(":", 1)[0] for claim in answer.claims for i in claim.evidence_ids}


async def test_a_deploy_after_the_onset_is_not_the_cause_and_the_verdict_says_so_first(
    worlds: Worlds,
) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "Was the search-api deploy the cause?")
    answer = answered(view, QuestionKind.CHANGE_VERDICT)
    deploys = [
        e for e in evidence_of(view) if e.kind is EvidenceKind.DEPLOYMENT and e.service == "search-api"
    ]
    assert deploys, "the run read the search-api deployment"
    assert answer.verdict.startswith("No:")
    assert deploys[0].ref in answer.verdict and "after orders-api began failing" in answer.verdict
    assert answer.root_cause is not None and answer.root_cause.service == "orders-api"
    # Evidence about the change itself: what its service logged after it.
    assert any("search-api" in c.text and "after it" in c.text for c in answer.claims[1:])
    assert [m.kind for m in answer.timeline].count("change") == 1
    # The fault is said in words, never by its identifier.
    assert "The trouble starts at orders-api, since " in answer.summary
    assert "connection pool is exhausted" in answer.summary
    assert "_" not in " ".join([answer.summary, *(c.text for c in answer.claims)]).replace("`", "")


async def test_the_release_that_broke_checkout_is_named_the_cause(worlds: Worlds) -> None:
    view = await ask(worlds("checkout-release-regression", 1), "Was the checkout-api release the cause?")
    answer = answered(view, QuestionKind.CHANGE_VERDICT)
    assert answer.verdict.startswith("Yes:")
    assert "checkout-api" in answer.verdict and "before checkout-api began failing" in answer.verdict
    assert "deployment" in cited_kinds(answer)
    assert answer.confidence >= 0.7


async def test_the_change_verdict_and_the_root_cause_answer_put_a_change_and_an_onset_on_one_timeline(
    worlds: Worlds,
) -> None:
    world = worlds("checkout-release-regression", 1)
    verdict = answered(
        await ask(world, "Was the checkout-api release the cause?"), QuestionKind.CHANGE_VERDICT
    )
    why = (await ask(world, "Why is checkout-api failing?")).answer
    assert why is not None and why.kind is QuestionKind.WHY_FAILING

    def moments(answer: Answer, kind: str) -> list[tuple[object, ...]]:
        return [(m.at, m.label, tuple(m.evidence_ids)) for m in answer.timeline if m.kind == kind]

    change = moments(verdict, "change")
    assert change and change == moments(why, "change")
    assert set(moments(verdict, "onset")) <= set(moments(why, "onset")) and moments(verdict, "onset")


async def test_what_changed_lists_every_change_with_the_cause_first(worlds: Worlds) -> None:
    view = await ask(worlds("checkout-release-regression", 1), "What changed before the errors began?")
    answer = answered(view, QuestionKind.CHANGE_VERDICT)
    changes = [m for m in answer.timeline if m.kind == "change"]
    assert len(changes) >= 2, "the harmless catalog-api deploy is weighed too"
    assert answer.verdict.startswith("Yes:") and "The other changes are not" in answer.verdict
    verdicts = [c.text for c in answer.claims if c.text.startswith(("Yes:", "No:", "Unlikely:"))]
    assert verdicts[0].startswith("Yes:") and any(v.startswith(("No:", "Unlikely:")) for v in verdicts[1:])


async def test_a_log_question_gets_the_services_patterns_with_counts_new_ones_first(worlds: Worlds) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "What did orders-api log in the last 2 hours?")
    answer = answered(view, QuestionKind.LOG_SUMMARY)
    assert answer.verdict.startswith("orders-api in prod logged ") and "new since then" in answer.verdict
    # The pattern that began with the fault is quoted literally, placeholders and all.
    assert "`timeout acquiring connection" in answer.verdict and "<" in answer.verdict
    assert {"log_pattern", "log"} <= cited_kinds(answer)
    patterns = {e.id: e for e in evidence_of(view) if e.kind is EvidenceKind.LOG_PATTERN}
    assert patterns and all(e.service in (None, "orders-api") for e in patterns.values())
    # Every line of the window is counted, not a sample of the newest: the most frequent patterns' counts come
    # from the same count as the verdict's total.
    total = int(answer.verdict.split(" logged ")[1].split()[0].replace(",", ""))
    compared = [o for o in view.outcomes if o.tool.endswith(".compare_log_patterns") and o.ok]
    assert [o.structured["linesAfter"] for o in compared] == [total] and total > 1000
    frequent = compared[0].structured["frequent"]
    assert frequent and sum(p["count"] for p in frequent) <= total
    assert frequent[0]["count"] > 1000, "the fault's own line is counted in full"
    claim = next(c.text for c in answer.claims if c.text.startswith("Most frequent in orders-api"))
    assert f"{total:,} lines since" in claim and f"\u00d7{frequent[0]['count']:,}" in claim


async def test_errors_of_a_service_read_only_its_errors(worlds: Worlds) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "errors of orders-api in the last hour")
    answer = answered(view, QuestionKind.LOG_SUMMARY)
    assert " errors since " in answer.verdict
    compared = [o for o in view.outcomes if o.tool.endswith(".compare_log_patterns") and o.ok]
    assert compared and compared[0].arguments["severities"] == ["error", "fatal", "critical"]
    counted = compared[0].structured["frequent"]
    assert counted and all(set(p["bySeverity"]) <= {"error", "fatal", "critical"} for p in counted)


async def test_has_this_happened_before_ranks_past_incidents_of_the_service_and_says_what_resolved_them(
    worlds: Worlds,
) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "Has orders-api had this before?")
    answer = answered(view, QuestionKind.HISTORY)
    # Its past incidents share its symptoms, but none was a pool running out or logged its lines: the history
    # says this fault is new, and still lists the nearest ones.
    assert answer.verdict.startswith(
        "No, not this fault as far as the history says: none of the "
    ) and "past incidents of orders-api with its symptoms shared its fault (connection pool exhaustion)" in (
        answer.verdict
    )
    incidents = {e.ref: e for e in evidence_of(view) if e.kind is EvidenceKind.INCIDENT}
    listed = [i.split(":", 1)[1] for c in answer.claims for i in c.evidence_ids if i.startswith("incident:")]
    assert listed and all("resolved" in incidents[ref].excerpt for ref in listed)
    assert all("of orders-api" in c.text for c in answer.claims[:3])
    # The closest ones' timelines were read, and what resolved them is quoted and cited.
    assert any("timeline" in cited_kinds(answer) and "resolved at" in c.text for c in answer.claims)


async def test_has_this_happened_before_with_no_service_means_the_fault_and_compares_its_logs(
    worlds: Worlds,
) -> None:
    view = await ask(worlds("orders-pool-exhaustion", 1), "Has this happened before?")
    answer = answered(view, QuestionKind.HISTORY)
    # The open incident is checkout-api's, but the fault under investigation is orders-api's pool.
    assert "past incidents of orders-api with its symptoms" in answer.verdict
    compared = [
        o
        for o in view.outcomes
        if o.tool.endswith(".compare_log_patterns") and o.arguments.get("service") == "orders-api"
    ]
    assert compared, "the closest past incidents' own log windows were mined"
    assert not any("not kept with past incidents" in note for note in answer.missing)
    # Each window compared either shares a line with the fault or says why it could not be compared.
    said = " ".join([*(c.text for c in answer.claims), *answer.missing])
    assert (
        "no logs are kept from the time of" in said or "the same log line" in said or "its logs then" in said
    )


async def test_a_past_incident_whose_logs_said_the_faults_own_lines_is_the_closest_and_cites_them(
    worlds: Worlds,
) -> None:
    path, spec = worlds("orders-pool-exhaustion", 2)
    # Someone opened the pool trouble as an incident of its own and closed it (a duplicate, resolved): its window
    # is within the logs kept, and they say what the fault's say now.
    incidents = DemoIncidents(World(path))
    past = await incidents.create(
        CreateIncidentInput(title="orders-api requests failing", service="orders-api", severity="sev3")
    )
    await incidents.append_timeline(
        past.id,
        TimelineAppendInput(kind="status", body="Resolved. Raised the pool size; errors back to baseline."),
    )
    await incidents.update(past.id, UpdateIncidentInput(status="resolved"))
    view = await ask((path, spec), "Has this happened before?")
    answer = answered(view, QuestionKind.HISTORY)
    assert answer.verdict.startswith("Yes: orders-api has had ") and past.id in answer.verdict
    assert "(1 of the same fault)" in answer.verdict
    assert "the same log line `timeout acquiring connection" in answer.verdict
    claim = next(c for c in answer.claims if past.id in c.text)
    assert "the same log line `timeout acquiring connection" in claim.text and " lines from " in claim.text
    assert "resolved at" in claim.text and "Raised the pool size" in claim.text
    # The same template is the same pattern (its id is the template's), cited once for both windows.
    assert any(i.startswith("log_pattern:") for i in claim.evidence_ids)


def _pattern(template: str, count: int, since: datetime) -> PatternChange:
    return PatternChange(
        id=f"p_{abs(hash(template)) % 10**12:012d}",
        template=template,
        count=count,
        first_seen=since,
        last_seen=since,
        example=template,
        change="new",
        count_before=0,
        count_after=count,
        rate_before=0.0,
        rate_after=float(count),
    )


def test_a_past_incident_that_logged_the_faults_own_lines_ranks_above_one_that_did_not() -> None:
    then = datetime(2025, 5, 1, 10, tzinfo=UTC)
    now = traits_of_text("orders-api", "orders-api errors")
    now.patterns = [
        _pattern("timeout acquiring connection from pool 'orders-main' after <duration>", 900, then)
    ]
    same = PatternComparison(
        since=then,
        start=then,
        end=then,
        lines_before=40,
        lines_after=300,
        patterns=3,
        changes=[_pattern("timeout acquiring connection from pool 'orders-main' after <*>", 250, then)],
    )
    other = same.model_copy(update={"changes": [_pattern("disk <*> is full", 250, then)]})
    unkept = same.model_copy(update={"changes": [], "lines_before": 0, "lines_after": 0})
    past = Incident(
        id="INC-1", title="orders-api error rate above 2%", service="orders-api", status="resolved"
    )
    shared = similarity(now, past, [], Findings(), window_of(now, same))
    apart = similarity(now, past, [], Findings(), window_of(now, other))
    assert shared.score > apart.score >= SIMILAR
    assert any("the same log line" in s for s in shared.shared)
    assert not window_of(now, unkept).kept and window_of(now, same).kept
    assert same_line("a <*> b c d", "a <ip> b c d") and not same_line("disk full", "pool exhausted")


def test_a_past_incident_shares_more_than_its_service_to_be_similar() -> None:
    now = traits_of_text("orders-api", "orders-api errors: timeout acquiring connection from pool")
    assert {Signal.ERRORS, Signal.POOL} <= now.symptoms and "connection_pool_exhaustion" in now.mechanisms

    def past(title: str, service: str = "orders-api") -> Incident:
        return Incident(id="INC-1", title=title, service=service, status="resolved")

    only_service = similarity(now, past("orders-api pods restarting"), [], Findings())
    same_symptom = similarity(now, past("orders-api error rate above 2%"), [], Findings())
    elsewhere = similarity(now, past("connection pool exhausted, errors", "accounts-api"), [], Findings())
    assert only_service.score < SIMILAR <= same_symptom.score
    assert elsewhere.score >= SIMILAR and any("the same fault" in shared for shared in elsewhere.shared)
    assert same_symptom.score < elsewhere.score, (
        "a resource and a mechanism shared say more than a common symptom"
    )
    # Reading an incident's timeline (for what resolved it) never ranks it below one whose timeline was not read.
    entry = TimelineEntry(
        id="INC-1-t5",
        incident_id="INC-1",
        at=datetime(2025, 6, 1, tzinfo=UTC),
        kind="status",
        body="Resolved. Scaled out to 6 replicas after a long look at dashboards and recent deploys.",
    )
    read = similarity(now, past("orders-api error rate above 2%"), [entry], Findings())
    assert read.score >= same_symptom.score and read.resolution == entry


@pytest.fixture(scope="module")
def busier_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world with more background lines than one side of a comparison reads over two days of every service."""
    return build_small(tmp_path_factory.mktemp("busier-world"), BUSIER)


async def test_a_comparison_that_could_not_read_every_line_says_it_was_sampled(busier_world: Path) -> None:
    install(busier_world, BUSIER)
    core = CoreClient.from_settings(load_settings())
    try:
        _, exact = await call(
            core, "compare_log_patterns", {"since": ONSET, "service": "orders-api", "before_hours": 1}
        )
        assert exact.ok and not exact.structured["sampled"]
        assert exact.structured["linesBefore"] + exact.structured["linesAfter"] > 0
        # Every service over the two days before: more lines than one side reads, so the newest were read.
        _, busy = await call(core, "compare_log_patterns", {"since": ONSET, "before_hours": 40})
        assert busy.ok and busy.structured["sampled"] and busy.structured["linesBefore"] >= 10_000
    finally:
        await core.aclose()

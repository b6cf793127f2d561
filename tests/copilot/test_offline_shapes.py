"""Fault shapes the shipped scenarios lack, each answered by rules about evidence (tests/copilot/shapes/*.yaml):
a kind whose usual metric is missing, told from its log lines; an internal dependency that logs its own outage;
one caller's surge saturating a dependency every caller shares; a surge beside a database whose own errors reach
none of the services in between; two dependencies failing at once for reasons of their own; a caller failing under
an incident open for the service it calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.demo.build import WorldSpec, build_world
from adapters.demo.scenario import SCENARIOS_ENV, load_library
from copilot.answer import Answer
from copilot.citations import validate_answer
from copilot.evals import missing_kinds
from copilot.machine import RunState
from copilot.records import RunView
from tests.copilot.test_offline import SCALE, ask, cited, evidence_of

SHAPES = Path(__file__).parent / "shapes"
LIBRARY = load_library(SHAPES)


@pytest.mark.parametrize(
    "name",
    [
        "shape-disk-full-no-disk-metric",
        "shape-internal-outage-own-logs",
        "shape-surge-saturates-shared-cache",
        "shape-surge-beside-a-database-erroring-alone",
        "shape-incident-service-seen-only-through-its-callers",
    ],
)
async def test_the_root_and_fault_kind_follow_from_the_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(SCENARIOS_ENV, str(SHAPES))
    scenario = LIBRARY.get(name)
    spec = WorldSpec(2, name, SCALE)
    built = tmp_path / f"{spec.key}.db"
    build_world(spec, LIBRARY, built)
    view = await ask((built, spec), scenario.question)
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.root_cause is not None
    assert (answer.root_cause.service, answer.root_cause.fault_kind) == (
        scenario.expected.service,
        scenario.expected.fault_kind,
    ), answer.summary
    assert missing_kinds(scenario.expected.evidence, cited(view)) == []
    assert validate_answer(answer, evidence_of(view)).ok
    # The answer says it first, and its path starts at the root, each hop onset no earlier than the one before.
    assert answer.verdict.startswith(scenario.expected.service)
    assert answer.path and answer.path[0].service == scenario.expected.service
    assert "went out" not in answer.summary  # no release is named without a deployment


async def answer_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, question: str | None = None
) -> tuple[Answer, RunView]:
    """The answer to ``question`` (else shape ``name``'s own) in the shape's small world, run to the end."""
    monkeypatch.setenv(SCENARIOS_ENV, str(SHAPES))
    spec = WorldSpec(2, name, SCALE)
    built = tmp_path / f"{spec.key}.db"
    build_world(spec, LIBRARY, built)
    view = await ask((built, spec), question or LIBRARY.get(name).question)
    assert view.state is RunState.DONE and view.answer is not None, view.error
    return view.answer, view


async def test_a_failure_with_nothing_behind_it_is_answered_not_enough_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # inventory-api fails with no change to it, no resource running out and only a bare "failed" log line.
    answer, view = await answer_of(tmp_path, monkeypatch, "shape-failing-with-nothing-behind-it")
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.root_cause is None
    assert answer.verdict == "Not enough evidence to name a cause."
    assert "Best candidate: inventory-api" in answer.summary
    assert "Next check: read inventory-api's own logs" in answer.summary
    assert "(/logs?service=inventory-api)" in answer.summary  # its log lines were seen, so the page has them
    assert answer.confidence <= 0.2
    assert any(note.startswith("no root cause named:") for note in answer.missing)
    assert answer.claims and validate_answer(answer, evidence_of(view)).ok


async def test_two_dependencies_failing_at_once_are_both_named_not_one_picked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # orders-api and inventory-api both run out of pooled connections in the same minute; checkout-api calls both.
    answer, view = await answer_of(tmp_path, monkeypatch, "shape-two-dependencies-fail-at-once")
    assert answer.root_cause is None and answer.path == []
    assert answer.verdict == "Not enough evidence to name a cause."
    assert "Best candidates: inventory-api and orders-api" in answer.summary
    assert "Next check: read checkout-api's error lines" in answer.summary
    assert answer.confidence <= 0.2
    # What speaks for each: its own departure, what it would explain and the lines that say why, each cited.
    for candidate in ("orders-api", "inventory-api"):
        claim = next(c for c in answer.claims if c.text.startswith(f"For {candidate}:"))
        assert "connection pool is exhausted" in claim.text
        assert f"anomaly:{candidate}:error_rate{{environment=prod}}" in claim.evidence_ids
    assert {m.label for m in answer.timeline} >= {"orders-api began failing", "inventory-api began failing"}
    assert validate_answer(answer, evidence_of(view)).ok


async def test_a_caller_is_never_the_root_of_trouble_on_record_for_what_it_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An incident is open for payments-api; checkout-api, which calls it, fails from its own release; payments-api
    # only begins restarting later.
    answer, view = await answer_of(
        tmp_path, monkeypatch, "shape-caller-fails-under-an-incident-on-what-it-calls"
    )
    assert answer.root_cause is None
    assert answer.verdict == "Not enough evidence to name a cause."
    assert "Best candidates: payments-api and checkout-api" in answer.summary
    assert "a caller's failure cannot explain what it calls" in answer.summary
    assert "Next check: read payments-api's own logs and metrics" in answer.summary
    assert "payments-api is not failing" not in answer.summary  # its incident says it is
    # Its own departure is said, with when it began against its callers' trouble, never "no strong departure".
    assert (
        "payments-api's own rate(restarts)" in answer.summary
        and "after its callers' trouble" in answer.summary
    )
    assert "no strong departure" not in answer.summary
    for_payments = next(c for c in answer.claims if c.text.startswith("For payments-api:"))
    assert any(i.startswith("incident:") for i in for_payments.evidence_ids)
    assert "anomaly:payments-api:rate(restarts){environment=prod}" in for_payments.evidence_ids
    for_checkout = next(c for c in answer.claims if c.text.startswith("For checkout-api:"))
    assert any(i.startswith("deployment:") for i in for_checkout.evidence_ids)
    assert validate_answer(answer, evidence_of(view)).ok


async def test_the_situation_never_starts_trouble_at_a_caller_of_an_incidents_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same world asked "What's going on?": checkout-api failed first, but it calls payments-api, whose incident
    # is open, so checkout-api's failure cannot be where payments-api's trouble starts.
    answer, view = await answer_of(
        tmp_path, monkeypatch, "shape-caller-fails-under-an-incident-on-what-it-calls", "What's going on?"
    )
    assert not answer.verdict.startswith("Trouble starts at checkout-api"), answer.verdict
    assert answer.verdict.startswith("checkout-api is failing since 13:51 UTC, but it calls payments-api")
    assert "1 open incident" in answer.verdict
    assert any(c.text.startswith("checkout-api since 13:51 UTC") for c in answer.claims)
    assert validate_answer(answer, evidence_of(view)).ok


async def test_trouble_on_record_is_not_pinned_on_a_failure_nothing_links_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An incident is open for payflow, whose own series show nothing; search-api fails from its release, but
    # payflow does not call it, so search-api's release explains some other trouble, not payflow's.
    answer, view = await answer_of(
        tmp_path, monkeypatch, "shape-incident-on-a-quiet-service-beside-unrelated-trouble"
    )
    assert answer.root_cause is None
    assert answer.verdict == "Not enough evidence to name a cause."
    assert "Best candidates: payflow and search-api" in answer.summary
    assert "payflow's trouble is on record but none of its own series left its baseline" in answer.summary
    assert "it is neither payflow nor anything it calls" in answer.summary
    assert "Next check: read payflow's own logs and metrics" in answer.summary
    assert "payflow is not failing" not in answer.summary  # its incident says it is
    for_payflow = next(c for c in answer.claims if c.text.startswith("For payflow:"))
    assert any(i.startswith("incident:") for i in for_payflow.evidence_ids)
    for_search = next(c for c in answer.claims if c.text.startswith("For search-api:"))
    assert any(i.startswith("deployment:") for i in for_search.evidence_ids)
    assert validate_answer(answer, evidence_of(view)).ok


async def test_a_health_verdict_says_the_sign_that_decides_it_with_that_signs_own_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # payflow's series are quiet, but an incident is open for it: that incident is why it is degraded (its alert,
    # firing since earlier, would not be), and the verdict dates it by the incident's own opening.
    answer, view = await answer_of(
        tmp_path,
        monkeypatch,
        "shape-incident-on-a-quiet-service-beside-unrelated-trouble",
        "Is payflow healthy?",
    )
    opened = next(
        e.at
        for e in evidence_of(view)
        if e.kind == "incident" and e.service == "payflow" and "resolved" not in e.excerpt
    )
    assert opened is not None
    assert answer.verdict.startswith("No, payflow is degraded: incident INC-") and answer.verdict.endswith(
        f"\u201cPayflow authorizations declined\u201d open, since {opened:%H:%M} UTC."
    ), answer.verdict
    # Its alert, firing since before the incident opened, is in the claims, not taken for what degrades it.
    assert any("Payflow declines above 1%" in c.text for c in answer.claims)

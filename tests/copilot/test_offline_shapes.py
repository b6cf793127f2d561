"""Fault shapes the shipped scenarios lack, each answered by rules about evidence (tests/copilot/shapes/*.yaml):
a kind whose usual metric is missing, told from its log lines; an internal dependency that logs its own outage;
one caller's surge saturating a dependency every caller shares; a surge beside a database whose own errors reach
none of the services in between."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.demo.build import WorldSpec, build_world
from adapters.demo.scenario import SCENARIOS_ENV, load_library
from copilot.citations import validate_answer
from copilot.evals import missing_kinds
from copilot.machine import RunState
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


async def test_a_failure_with_nothing_behind_it_is_answered_not_enough_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # inventory-api fails with no change to it, no resource running out and only a bare "failed" log line.
    name = "shape-failing-with-nothing-behind-it"
    monkeypatch.setenv(SCENARIOS_ENV, str(SHAPES))
    spec = WorldSpec(2, name, SCALE)
    built = tmp_path / f"{spec.key}.db"
    build_world(spec, LIBRARY, built)
    view = await ask((built, spec), LIBRARY.get(name).question)
    answer = view.answer
    assert view.state is RunState.DONE and answer is not None, view.error
    assert answer.root_cause is None
    assert answer.verdict == "Not enough evidence to name a cause."
    assert "Best candidate: inventory-api" in answer.summary
    assert "Next check: read inventory-api's own logs" in answer.summary
    assert answer.confidence <= 0.2
    assert any(note.startswith("no root cause named:") for note in answer.missing)
    assert answer.claims and validate_answer(answer, evidence_of(view)).ok

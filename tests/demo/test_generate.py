"""The scenario generator: valid files, a distribution fixed in code, ground truth from the generator, and seed
ranges that never overlap."""

from __future__ import annotations

from pathlib import Path

from adapters.demo.company import callers_by_hop
from adapters.demo.generate import (
    DECOY_RATES,
    SEED_RANGES,
    generate,
    generate_set,
    kind_questions,
    split_of,
)
from adapters.demo.plan import resolve
from adapters.demo.scenario import FAULT_KINDS, load_library


def test_two_hundred_development_seeds_cover_every_kind_depth_and_decoy(tmp_path: Path) -> None:
    seeds = range(SEED_RANGES["development"].start, SEED_RANGES["development"].start + 200)
    items, coverage = generate_set(seeds, tmp_path)
    assert set(coverage.kinds) == set(FAULT_KINDS)
    assert all(coverage.kinds[kind] >= 10 for kind in FAULT_KINDS)
    assert set(coverage.depths) == {1, 2, 3}
    assert all(coverage.decoys[name] >= 0.10 * len(items) for name in DECOY_RATES)
    # Every file went back through the validating loader, and the folder loads as a library.
    assert len(load_library(tmp_path).names()) >= 200


def test_the_expected_answer_is_the_generators_own_fault_and_the_symptom_is_downstream(
    tmp_path: Path,
) -> None:
    for seed in range(SEED_RANGES["ci"].start, SEED_RANGES["ci"].start + 60):
        item = generate(seed, tmp_path)
        scenario = item.scenario
        main = scenario.faults[0]
        assert (main.service, main.kind) == (scenario.expected.service, scenario.expected.fault_kind)
        reached = {name for name, _ in callers_by_hop(main.service, item.depth)}
        assert scenario.incident.service in reached
        for other in scenario.faults[1:]:
            assert other.service not in reached | {main.service}
        resolve(scenario, seed)  # plans without error


def test_a_seed_always_draws_the_same_scenario_and_ranges_are_disjoint(tmp_path: Path) -> None:
    first = generate(5_123, tmp_path / "a").path.read_text()
    assert generate(5_123, tmp_path / "b").path.read_text() == first
    assert split_of(5_123) == "held-out" and split_of(1_000) == "development" and split_of(9_000) == "ci"
    ranges = list(SEED_RANGES.values())
    assert all(set(a).isdisjoint(b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])


def test_each_generated_world_gets_a_question_of_every_other_kind(tmp_path: Path) -> None:
    kinds: set[str] = set()
    for seed in range(1_000, 1_030):
        item = generate(seed, tmp_path)
        questions = kind_questions(item)
        kinds |= {q.kind for q in questions}
        health = [q for q in questions if q.kind == "health"]
        assert health[0].mentions == (item.scenario.expected.service,)
    assert kinds == {"health", "situation", "ownership", "log-summary", "history", "change-verdict"}

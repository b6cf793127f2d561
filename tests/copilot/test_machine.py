"""The transition table: every legal move is allowed, every other move raises, and a store never writes one."""

from __future__ import annotations

import itertools

import pytest

from copilot.machine import TERMINAL, TRANSITIONS, IllegalTransition, RunState, check_transition
from copilot.store import RunStore, transition_entry
from tests.copilot.conftest import ALICE

LEGAL = {
    (RunState.PLAN, RunState.EXECUTE_TOOL),
    (RunState.PLAN, RunState.DONE),
    (RunState.PLAN, RunState.FAILED),
    (RunState.EXECUTE_TOOL, RunState.EVALUATE),
    (RunState.EXECUTE_TOOL, RunState.NEEDS_APPROVAL),
    (RunState.EXECUTE_TOOL, RunState.FAILED),
    (RunState.EVALUATE, RunState.PLAN),
    (RunState.EVALUATE, RunState.DONE),
    (RunState.EVALUATE, RunState.FAILED),
    (RunState.NEEDS_APPROVAL, RunState.EXECUTE_TOOL),
    (RunState.NEEDS_APPROVAL, RunState.PLAN),
    (RunState.NEEDS_APPROVAL, RunState.FAILED),
}
EVERY_MOVE = list(itertools.product(RunState, RunState))
# The shortest way from PLAN to each state, so the store can be put in any state by legal moves.
ROUTE = {
    RunState.PLAN: [],
    RunState.EXECUTE_TOOL: [RunState.EXECUTE_TOOL],
    RunState.EVALUATE: [RunState.EXECUTE_TOOL, RunState.EVALUATE],
    RunState.NEEDS_APPROVAL: [RunState.EXECUTE_TOOL, RunState.NEEDS_APPROVAL],
    RunState.DONE: [RunState.DONE],
    RunState.FAILED: [RunState.FAILED],
}


def test_the_table_is_exactly_the_design() -> None:
    assert {(source, target) for source, targets in TRANSITIONS.items() for target in targets} == LEGAL
    assert {RunState.DONE, RunState.FAILED} == TERMINAL


def test_every_live_state_can_fail_so_any_live_run_can_be_cancelled() -> None:
    for state in set(RunState) - TERMINAL:
        assert RunState.FAILED in TRANSITIONS[state]


@pytest.mark.parametrize(("source", "target"), EVERY_MOVE, ids=[f"{s}->{t}" for s, t in EVERY_MOVE])
def test_each_move_is_allowed_or_raises(source: RunState, target: RunState) -> None:
    if (source, target) in LEGAL:
        assert check_transition(source, target) == target
        return
    with pytest.raises(IllegalTransition) as raised:
        check_transition(source, target)
    assert (raised.value.source, raised.value.target) == (source, target)
    assert f"illegal transition {source} -> {target}" in str(raised.value)
    assert ("nothing (terminal)" in str(raised.value)) == (source in TERMINAL)


@pytest.mark.parametrize(("source", "target"), EVERY_MOVE, ids=[f"{s}->{t}" for s, t in EVERY_MOVE])
def test_the_store_makes_only_legal_moves(store: RunStore, source: RunState, target: RunState) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w", lease_seconds=60)
    state = RunState.PLAN
    for step in ROUTE[source]:
        store.append(run.id, [transition_entry(state, step, "route")], owner="w", expect=state)
        state = step
    before = store.get(run.id)
    assert before.state == source
    if (source, target) not in LEGAL:
        with pytest.raises(IllegalTransition):
            store.append(run.id, [transition_entry(source, target, "move")], owner="w", expect=source)
        assert store.get(run.id).steps == before.steps
        return
    store.append(run.id, [transition_entry(source, target, "move")], owner="w", expect=source)
    after = store.get(run.id)
    assert after.state == target
    assert after.steps[-1].data == {"from": source.value, "to": target.value, "reason": "move"}
    assert (after.finished_at is not None) == (target in TERMINAL)

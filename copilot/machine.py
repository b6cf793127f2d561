"""The run's state machine: the states, the transition table as data, and the check made on every move."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    PLAN = "PLAN"
    EXECUTE_TOOL = "EXECUTE_TOOL"
    EVALUATE = "EVALUATE"
    NEEDS_APPROVAL = "NEEDS_APPROVAL"
    DONE = "DONE"
    FAILED = "FAILED"


TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.PLAN: frozenset({RunState.EXECUTE_TOOL, RunState.DONE, RunState.FAILED}),
    RunState.EXECUTE_TOOL: frozenset({RunState.EVALUATE, RunState.NEEDS_APPROVAL, RunState.FAILED}),
    RunState.EVALUATE: frozenset({RunState.PLAN, RunState.DONE, RunState.FAILED}),
    # Approved: run the tool; rejected or expired: plan again, told why.
    RunState.NEEDS_APPROVAL: frozenset({RunState.EXECUTE_TOOL, RunState.PLAN, RunState.FAILED}),
    RunState.DONE: frozenset(),
    RunState.FAILED: frozenset(),
}

TERMINAL: frozenset[RunState] = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)


class IllegalTransition(RuntimeError):
    """A move the transition table does not allow; always a bug in the caller, never user input."""

    def __init__(self, source: RunState, target: RunState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[source])) or "nothing (terminal)"
        super().__init__(
            f"illegal transition {source} -> {target}; from {source} the run may go to {allowed}"
        )
        self.source = source
        self.target = target


def check_transition(source: RunState, target: RunState) -> RunState:
    """Return ``target`` when the table allows ``source -> target``; raise :class:`IllegalTransition` otherwise.

    Cancel is the one move outside the table's per-state lists: any live run may go to FAILED, which every
    non-terminal state already allows.
    """
    if target not in TRANSITIONS[source]:
        raise IllegalTransition(source, target)
    return target

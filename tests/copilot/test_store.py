"""The run store on SQLite and on the real PostgreSQL: schema, steps, leases, tool calls, evidence, conversations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from copilot.answer import Answer, Claim, Evidence, EvidenceKind, ProposedAction
from copilot.machine import IllegalTransition, RunState
from copilot.planning import PageContext, ToolOutcome, ToolRequest
from copilot.records import PendingCall
from copilot.store import STRUCTURED_LIMIT, TEXT_LIMIT, Entry, RunLost, RunStore, transition_entry
from core_client.errors import NotFound
from core_client.store import Database, migrate
from tests.copilot.conftest import ALICE, BOB, ManualClock


def to_execute(store: RunStore, run_id: str, owner: str, *calls: PendingCall) -> None:
    store.append(
        run_id,
        [transition_entry(RunState.PLAN, RunState.EXECUTE_TOOL, "calling")],
        owner=owner,
        expect=RunState.PLAN,
        pending_calls=[call.model_dump(mode="json") for call in calls],
    )


def pending(call_id: str, tool: str = "opspilot.search_logs", **arguments: object) -> PendingCall:
    return PendingCall(call_id=call_id, request=ToolRequest(tool=tool, arguments=dict(arguments)))


def test_migration_creates_exactly_the_models_schema(database: Database, database_url: str) -> None:
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    assert {"conversations", "runs", "run_steps", "tool_calls", "evidence"} <= set(
        inspect(database.engine).get_table_names()
    )
    migrate(database_url)  # a second time changes nothing
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_a_new_run_starts_in_plan_in_a_new_conversation(store: RunStore) -> None:
    page = PageContext(path="/incidents/INC-1", incident_id="INC-1", service="checkout")
    run = store.create_run("why is checkout failing?", user=ALICE, planner="offline", page=page)
    assert run.state == RunState.PLAN
    assert (run.user, run.role, run.planner) == ("alice", "responder", "offline")
    assert run.page == page
    assert run.steps == [] and run.outcomes == [] and run.answer is None
    again = store.get(run.id)
    assert again.conversation_id == run.conversation_id and again.question == "why is checkout failing?"


def test_unknown_run_and_conversation_are_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound, match="no run 'nope'"):
        store.get("nope")
    with pytest.raises(NotFound, match="no conversation 'nope'"):
        store.create_run("q", user=ALICE, planner="p", conversation_id="nope")


def test_steps_are_numbered_in_order_with_their_transitions(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    store.append(run.id, [Entry("plan", {"step": 1})], owner="w1")
    to_execute(store, run.id, "w1", pending("s1c1"))
    steps = store.get(run.id).steps
    assert [(s.seq, s.kind, s.state) for s in steps] == [
        (1, "plan", RunState.PLAN),
        (2, "transition", RunState.EXECUTE_TOOL),
    ]
    assert steps[1].data == {"from": "PLAN", "to": "EXECUTE_TOOL", "reason": "calling"}
    assert [s.seq for s in store.steps(run.id, after=1)] == [2]


def test_an_illegal_move_is_refused_before_anything_is_written(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    with pytest.raises(IllegalTransition, match="PLAN -> EVALUATE"):
        store.append(run.id, [transition_entry(RunState.PLAN, RunState.EVALUATE, "skip")], owner="w1")
    assert store.get(run.id).steps == []


def test_concurrent_writers_never_share_or_skip_a_step_number(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)

    def write(n: int) -> None:
        store.append(
            run.id, [Entry("note", {"text": f"note {n}"}), Entry("note", {"text": f"more {n}"})], owner=None
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(40)))
    view = store.get(run.id)
    assert [step.seq for step in view.steps] == list(range(1, 81))
    assert len(view.notes) == 80


def test_leases_are_exclusive_until_they_lapse(store: RunStore, clock: ManualClock) -> None:
    run = store.create_run("q", user=ALICE, planner="p")
    assert store.orphans() == [run.id]  # never started: anyone may take it
    assert store.acquire(run.id, "w1", seconds=30)
    assert not store.acquire(run.id, "w2", seconds=30)
    assert store.acquire(run.id, "w1", seconds=30)  # renewal
    assert store.orphans() == []
    with pytest.raises(RunLost, match="leased to w1, not w2"):
        store.append(run.id, [Entry("note", {"text": "hi"})], owner="w2")

    clock.advance(31)
    assert store.orphans() == [run.id]
    assert store.acquire(run.id, "w2", seconds=30)
    with pytest.raises(RunLost, match="leased to w2, not w1"):
        store.append(run.id, [Entry("note", {"text": "stale"})], owner="w1")
    store.release(run.id, "w2")
    assert store.acquire(run.id, "w3", seconds=30)


def test_a_finished_run_can_be_neither_leased_nor_changed(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    store.append(
        run.id,
        [
            Entry("answer", {"answer": {"summary": "x"}}),
            transition_entry(RunState.PLAN, RunState.DONE, "answered"),
        ],
        owner="w1",
        expect=RunState.PLAN,
        answer=Answer(summary="x").model_dump(mode="json"),
    )
    view = store.get(run.id)
    assert view.state == RunState.DONE and view.finished_at is not None and view.answer == Answer(summary="x")
    assert not store.acquire(run.id, "w1", seconds=30)
    assert store.orphans() == []
    with pytest.raises(RunLost, match="already finished"):
        store.append(run.id, [Entry("note", {"text": "late"})], owner=None)
    with pytest.raises(RunLost, match="already finished"):
        store.cancel(run.id, reason="cancelled by bob")


@pytest.mark.parametrize("state", [RunState.PLAN, RunState.EXECUTE_TOOL])
def test_cancel_ends_a_live_run_whoever_holds_it(store: RunStore, state: RunState) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    if state == RunState.EXECUTE_TOOL:
        to_execute(store, run.id, "w1", pending("s1c1"))
    store.cancel(run.id, reason=f"cancelled by {BOB.user}")
    view = store.get(run.id)
    assert view.state == RunState.FAILED and view.error == "cancelled by bob"
    assert view.steps[-1].data == {"from": state.value, "to": "FAILED", "reason": "cancelled by bob"}
    assert store.load(run.id).lease_owner is None


def test_tool_calls_and_their_evidence_are_kept_in_order(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    calls = [pending("s1c1", q="timeout"), pending("s1c2", "opspilot.get_incident", id="INC-1")]
    to_execute(store, run.id, "w1", *calls)
    store.begin_calls(run.id, calls, owner="w1")
    assert store.load(run.id).started_calls == {"s1c1": None, "s1c2": None}

    evidence = Evidence(
        id="incident:INC-1",
        kind=EvidenceKind.INCIDENT,
        ref="INC-1",
        excerpt="Checkout down",
        tool_call_id="s1c2",
        link="/incidents/INC-1",
    )
    # The second call finishes first; the run still lists them in the order they were planned.
    store.finish_call(
        run.id,
        ToolOutcome(
            call_id="s1c2",
            tool="opspilot.get_incident",
            arguments={"id": "INC-1"},
            ok=True,
            text="INC-1",
            structured={"id": "INC-1"},
            duration_ms=4.5,
            evidence=[evidence],
        ),
        owner="w1",
    )
    store.finish_call(
        run.id,
        ToolOutcome(
            call_id="s1c1",
            tool="opspilot.search_logs",
            arguments={"q": "timeout"},
            ok=False,
            error="provider down",
            duration_ms=12.0,
        ),
        owner="w1",
    )
    record = store.load(run.id)
    assert record.started_calls == {}
    assert [(o.call_id, o.ok) for o in record.view.outcomes] == [("s1c1", False), ("s1c2", True)]
    assert record.view.outcomes[1].evidence == [evidence]
    assert record.view.outcomes[1].structured == {"id": "INC-1"}
    assert record.view.outcomes[0].error == "provider down"
    kinds = [step.kind for step in record.view.steps]
    assert kinds == ["transition", "tool_call", "tool_call", "tool_result", "tool_result"]


def test_a_call_output_is_bounded(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    to_execute(store, run.id, "w1", pending("s1c1"))
    store.begin_calls(run.id, [pending("s1c1")], owner="w1")
    huge = ToolOutcome(
        call_id="s1c1",
        tool="opspilot.search_logs",
        arguments={},
        ok=True,
        text="x" * (TEXT_LIMIT * 2),
        structured={"lines": ["y" * 1000] * (STRUCTURED_LIMIT // 1000 + 10)},
    )
    store.finish_call(run.id, huge, owner="w1")
    (outcome,) = store.get(run.id).outcomes
    assert len(outcome.text) == TEXT_LIMIT
    assert outcome.structured["truncated"] is True


def test_a_call_cut_off_starts_over_in_place(store: RunStore) -> None:
    run = store.create_run("q", user=ALICE, planner="p", owner="w1", lease_seconds=30)
    calls = [pending("s1c1"), pending("s1c2")]
    to_execute(store, run.id, "w1", *calls)
    store.begin_calls(run.id, calls, owner="w1")
    store.finish_call(run.id, ToolOutcome(call_id="s1c2", tool="t", arguments={}, ok=True), owner="w1")
    store.begin_calls(run.id, calls[:1], owner="w1")  # the resumed worker makes the first call again
    store.finish_call(run.id, ToolOutcome(call_id="s1c1", tool="t", arguments={}, ok=True), owner="w1")
    assert [o.call_id for o in store.get(run.id).outcomes] == ["s1c1", "s1c2"]


def test_a_follow_up_sees_earlier_answers_and_what_they_cited(store: RunStore, clock: ManualClock) -> None:
    first = store.create_run(
        "why is checkout failing?", user=ALICE, planner="p", owner="w1", lease_seconds=30
    )
    to_execute(store, first.id, "w1", pending("s1c1"))
    store.begin_calls(first.id, [pending("s1c1")], owner="w1")
    cited = Evidence(
        id="log:a", kind=EvidenceKind.LOG, ref="a", excerpt="pool exhausted", tool_call_id="s1c1"
    )
    uncited = Evidence(id="log:b", kind=EvidenceKind.LOG, ref="b", excerpt="noise", tool_call_id="s1c1")
    proposed = Evidence(
        id="log:c", kind=EvidenceKind.LOG, ref="c", excerpt="for the ticket", tool_call_id="s1c1"
    )
    store.finish_call(
        first.id,
        ToolOutcome(call_id="s1c1", tool="t", arguments={}, ok=True, evidence=[cited, uncited, proposed]),
        owner="w1",
    )
    answer = Answer(
        summary="orders pool exhausted",
        claims=[Claim(text="pool exhausted", evidence_ids=["log:a"])],
        proposed_actions=[
            ProposedAction(tool="opspilot.create_ticket", arguments={}, reason="r", evidence_ids=["log:c"])
        ],
    )
    store.append(
        first.id,
        [
            transition_entry(RunState.EXECUTE_TOOL, RunState.EVALUATE, "made"),
            transition_entry(RunState.EVALUATE, RunState.DONE, "answered"),
        ],
        owner="w1",
        answer=answer.model_dump(mode="json"),
    )
    clock.advance(60)
    second = store.create_run("since when?", user=ALICE, planner="p", conversation_id=first.conversation_id)
    clock.advance(60)
    other = store.create_run("unrelated", user=ALICE, planner="p")

    (turn,) = store.conversation(second.conversation_id, before=second.id)
    assert turn.question == "why is checkout failing?"
    assert turn.answer == answer
    assert [item.id for item in turn.evidence] == ["log:a", "log:c"]
    assert store.conversation(other.conversation_id, before=other.id) == []


def test_runs_are_listed_newest_first_and_filtered(store: RunStore, clock: ManualClock) -> None:
    first = store.create_run("one", user=ALICE, planner="p")
    clock.advance(1)
    second = store.create_run("two", user=BOB, planner="p")
    clock.advance(1)
    third = store.create_run("three", user=ALICE, planner="p", conversation_id=first.conversation_id)
    store.cancel(second.id, reason="cancelled by bob")
    assert [r.id for r in store.list_runs()] == [third.id, second.id, first.id]
    assert [r.id for r in store.list_runs(user="alice")] == [third.id, first.id]
    assert [r.id for r in store.list_runs(conversation_id=first.conversation_id)] == [third.id, first.id]
    assert [r.id for r in store.list_runs(state=RunState.FAILED)] == [second.id]
    assert [r.id for r in store.list_runs(limit=1)] == [third.id]


def test_runs_page_on_from_the_last_one_listed_even_when_they_started_together(
    store: RunStore, clock: ManualClock
) -> None:
    # Five runs, three of them in the same instant: the page boundary falls among those.
    runs = [store.create_run(f"q{n}", user=ALICE, planner="p") for n in range(3)]
    for n in range(3, 5):
        clock.advance(1)
        runs.append(store.create_run(f"q{n}", user=ALICE, planner="p"))
    newest_first = [r.id for r in store.list_runs()]

    pages, before = [], None
    while True:
        page = [r.id for r in store.list_runs(limit=2, before=before)]
        if not page:
            break
        pages.append(page)
        before = page[-1]

    assert [run_id for page in pages for run_id in page] == newest_first
    assert sorted(newest_first) == sorted(r.id for r in runs)
    assert [len(page) for page in pages] == [2, 2, 1]
    with pytest.raises(NotFound):
        store.list_runs(before="no-such-run")

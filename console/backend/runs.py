"""What the runs pages show: a page of runs, and one run as a person reads it.

A run's persisted steps are many and small (a transition, a plan, each call begun and ended, an evaluation). The
run page shows them as a compact timeline instead: one row per thing that happened (a plan, a tool call with its
result, an evaluation, an approval, a note, the answer), each with its state, what it was, how long it took and a
one-line result, and its input and output in full (formatted JSON) behind a disclosure. Transitions fold into the
row that follows them; every step keeps its ``#step-{seq}`` anchor, so links into a run still land.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from console.backend.approvals import ApprovalRow, approval_row
from console.backend.copilot import AnswerView, answer_view, short
from console.backend.display import utc_label
from console.backend.records import ListFilters, service_names
from copilot.machine import TERMINAL, RunState
from copilot.planning import ToolOutcome
from copilot.records import RunSummary, RunView, StepView
from copilot.runtime import Copilot
from core_client.client import CoreClient
from core_client.store import AuditEvent

PAGE_SIZE = 25
# A tool's output beyond this many characters is cut on the page (the MCP tools keep theirs compact anyway).
OUTPUT_LIMIT = 6000


class RunsFilters(ListFilters):
    """The runs list's one filter: the state runs are in (``""`` for any)."""

    status: str = ""

    @classmethod
    def from_params(cls, params: Any) -> RunsFilters:
        status = str(params.get("status", ""))
        return cls(status=status if status in RunState.__members__ else "")

    def to_params(self) -> dict[str, str | None]:
        return {"status": self.status or None}


class RunRow(BaseModel):
    id: str
    question: str
    user: str
    state: str
    planner: str
    steps: int
    created: str
    finished: str
    error: str


class RunsPage(BaseModel):
    rows: list[RunRow]
    next_cursor: str | None
    # OpsPilot's own runs are paged by the database: never capped.
    truncated: bool = False


def run_row(summary: RunSummary) -> RunRow:
    return RunRow(
        id=summary.id,
        question=summary.question,
        user=summary.user,
        state=summary.state.value,
        planner=summary.planner,
        steps=summary.step_count,
        created=utc_label(summary.created_at),
        finished=utc_label(summary.finished_at),
        error=short(summary.error or "", 120),
    )


async def load_runs(
    copilot: Copilot, filters: RunsFilters, *, cursor: str | None = None, limit: int = PAGE_SIZE
) -> RunsPage:
    """One page of runs, newest first; ``cursor`` is the last run of the page before."""
    state = RunState(filters.status) if filters.status else None
    summaries = await copilot.list_runs(state=state, limit=limit + 1, before=cursor)
    rows = [run_row(summary) for summary in summaries[:limit]]
    return RunsPage(rows=rows, next_cursor=rows[-1].id if len(summaries) > limit else None)


class TimelineRow(BaseModel):
    """One thing that happened in a run (see the module docstring)."""

    seq: int
    # Every persisted step this row stands for: each keeps its #step-{seq} anchor.
    anchors: list[int]
    state: str
    what: str
    tool: str = ""
    ok: bool = True
    duration: str = ""
    summary: str = ""
    input: str = ""
    output: str = ""
    at: str = ""


class AuditRow(BaseModel):
    at: str
    actor: str
    action: str
    tool: str
    request_id: str
    result: str


class RunDetail(BaseModel):
    """Everything ``/runs/{id}`` shows."""

    id: str = ""
    question: str = ""
    user: str = ""
    planner: str = ""
    state: str = ""
    live: bool = False
    created: str = ""
    finished: str = ""
    active: str = ""
    calls: int = 0
    error: str = ""
    conversation_id: str = ""
    timeline: list[TimelineRow] = []
    has_answer: bool = False
    answer: AnswerView = AnswerView()
    notes: list[str] = []
    approvals: list[ApprovalRow] = []
    audit: list[AuditRow] = []


def pretty(value: Any) -> str:
    """A value as indented JSON (keys sorted), for reading."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def tool_output(text: str) -> str:
    """A tool's text result for reading: its headline, then its JSON body indented (other text as it is)."""
    headline, _, body = text.partition("\n")
    try:
        formatted = f"{headline}\n{pretty(json.loads(body))}" if body.strip() else text
    except ValueError:
        formatted = text
    if len(formatted) <= OUTPUT_LIMIT:
        return formatted
    return f"{formatted[:OUTPUT_LIMIT]}\n… ({len(formatted) - OUTPUT_LIMIT:,} more characters not shown)"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _plan_row(step: StepView, reason: str) -> TimelineRow:
    decision = step.data.get("decision") or {}
    calls = [call for call in decision.get("calls") or [] if isinstance(call, dict)]
    tools = ", ".join(str(call.get("tool", "")) for call in calls)
    said = reason or str(decision.get("thought") or decision.get("decision") or "")
    return TimelineRow(
        seq=step.seq,
        anchors=[step.seq],
        state=RunState.PLAN.value,
        what="plan",
        summary=short(f"{said} ({tools})" if tools else said),
        input=pretty(decision) if decision else "",
    )


def _call_row(step: StepView, outcome: ToolOutcome | None) -> TimelineRow:
    data = step.data
    tool = str(data.get("tool", ""))
    if outcome is None:
        # Called, no result yet (the run is live, or it stopped in the call).
        return TimelineRow(
            seq=step.seq,
            anchors=[step.seq],
            state=RunState.EXECUTE_TOOL.value,
            what="call",
            tool=tool,
            summary="running…",
            input=pretty(data.get("arguments", {})),
        )
    text = outcome.text if outcome.ok else (outcome.error or outcome.text)
    return TimelineRow(
        seq=step.seq,
        anchors=[step.seq],
        state=RunState.EXECUTE_TOOL.value,
        what="call",
        tool=outcome.tool,
        ok=outcome.ok,
        duration=_duration(outcome.duration_ms / 1000),
        summary=short(text.partition("\n")[0] or text),
        input=pretty(outcome.arguments),
        output=tool_output(text),
    )


def _other_row(step: StepView) -> TimelineRow:
    data = step.data
    # The state the step happened in (a step records the state the run is in after it).
    state = step.state
    match step.kind:
        case "evaluation":
            summary = f"{data.get('verdict', '')}: {data.get('note', '')}".rstrip(": ")
            what, state = "evaluate", RunState.EVALUATE
        case "approval":
            decided = f" by {data['decided_by']}" if data.get("decided_by") else ""
            why = f": {data['reason']}" if data.get("reason") else ""
            summary = f"{data.get('tool', '')} {data.get('status', '')}{decided}{why}"
            what, state = "approval", RunState.NEEDS_APPROVAL
        case "answer":
            summary = str((data.get("answer") or {}).get("summary", ""))
            what = "answer"
        case "note":
            summary, what = str(data.get("text", "")), "note"
        case _:
            # A transition shown on its own: the run stopped (FAILED), and why.
            summary, what = str(data.get("reason", "")), "stopped"
    return TimelineRow(
        seq=step.seq,
        anchors=[step.seq],
        state=state.value,
        what=what,
        ok=step.state != RunState.FAILED,
        summary=short(summary),
        input=pretty(data) if step.kind == "approval" else "",
    )


def timeline(view: RunView) -> list[TimelineRow]:
    """The run's steps as timeline rows, oldest first (see the module docstring)."""
    outcomes = {outcome.call_id: outcome for outcome in view.outcomes}
    reasons = {step.seq: str(step.data.get("reason", "")) for step in view.steps if step.kind == "transition"}
    rows: list[TimelineRow] = []
    calls: dict[str, TimelineRow] = {}
    folded: list[int] = []
    previous: datetime = view.created_at
    for step in view.steps:
        if step.kind == "tool_result":
            # Shown with its call; its anchor goes to that row.
            call = calls.get(str(step.data.get("call_id", "")))
            (call.anchors if call is not None else folded).append(step.seq)
            continue
        if step.kind == "transition" and step.state != RunState.FAILED:
            folded.append(step.seq)
            continue
        if step.kind == "plan":
            row = _plan_row(step, reasons.get(step.seq + 1, ""))
        elif step.kind == "tool_call":
            call_id = str(step.data.get("call_id", ""))
            row = calls[call_id] = _call_row(step, outcomes.get(call_id))
        else:
            row = _other_row(step)
        if not row.duration:
            row.duration = _duration(max((step.at - previous).total_seconds(), 0.0))
        row.anchors = [*folded, *row.anchors]
        row.at = step.at.strftime("%H:%M:%S")
        folded, previous = [], step.at
        rows.append(row)
    if folded and rows:
        rows[-1].anchors.extend(folded)
    return rows


def audit_row(event: AuditEvent) -> AuditRow:
    return AuditRow(
        at=utc_label(event.at),
        actor=event.actor,
        action=event.action,
        tool=event.tool,
        request_id=event.request_id or "",
        result=short(json.dumps(event.result, sort_keys=True, default=str), 200),
    )


def _run_detail(copilot: Copilot, run_id: str, name: Callable[[str], str]) -> RunDetail:
    view = copilot.store.get(run_id)
    book = copilot.approvals
    requests = book.list(run_id=run_id, limit=100).items
    now = book.clock.now()
    audit = [
        event for request in requests for event in book.audit.list(request_id=request.id, limit=50).items
    ]
    audit.sort(key=lambda event: event.at)
    evidence = [item for outcome in view.outcomes for item in outcome.evidence]
    return RunDetail(
        id=view.id,
        question=view.question,
        user=view.user,
        planner=view.planner,
        state=view.state.value,
        live=view.state not in TERMINAL,
        created=utc_label(view.created_at),
        finished=utc_label(view.finished_at),
        active=_duration(view.active_seconds),
        calls=len(view.outcomes),
        error=view.error or "",
        conversation_id=view.conversation_id,
        timeline=timeline(view),
        has_answer=view.answer is not None,
        answer=answer_view(view.answer, evidence, name) if view.answer else AnswerView(),
        notes=list(view.notes),
        approvals=[approval_row(request, now, name) for request in requests],
        audit=[audit_row(event) for event in audit],
    )


async def load_run(copilot: Copilot, core: CoreClient, run_id: str) -> RunDetail:
    """One run's answer, timeline, approvals and audit trail, its services named as ``core``'s catalog names
    them; ``NotFound`` when there is no such run."""
    return await asyncio.to_thread(_run_detail, copilot, run_id, await service_names(core))

"""What the Copilot panel and the runs pages show of a run: small rows made from a ``RunView``.

The answer's claims become numbered citations: each distinct evidence id a claim cites gets a number, in order of
first citation, and a chip that opens the evidence on its console page.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel

from console.backend.approvals import ApprovalRow, approval_row
from console.backend.display import utc_label
from copilot.answer import Answer, Evidence
from copilot.machine import TERMINAL, RunState
from copilot.planning import ToolOutcome
from copilot.records import RunSummary, RunView, StepView
from copilot.runtime import Copilot
from core_client.store import AuditEvent

SHORT = 160


class StepRow(BaseModel):
    """One persisted step: a transition, a plan, a call, an evaluation, an approval or a note."""

    seq: int
    kind: str
    state: str
    label: str
    detail: str
    at: str


class ToolCard(BaseModel):
    call_id: str
    tool: str
    arguments: str
    result: str
    ok: bool
    duration: str
    evidence_count: int


class Citation(BaseModel):
    number: int
    evidence_id: str
    kind: str
    excerpt: str
    href: str


class ProposalRow(BaseModel):
    """A follow-up the answer proposes; offering it files an approval request, nothing more."""

    index: int
    tool: str
    reason: str


class AnswerView(BaseModel):
    markdown: str = ""
    citations: list[Citation] = []
    root_cause: str = ""
    confidence: str = ""
    missing: list[str] = []
    proposals: list[ProposalRow] = []


class PendingApproval(BaseModel):
    """What a run waits for; empty (``request_id == ""``) when it waits for nothing."""

    request_id: str = ""
    tool: str = ""
    arguments: str = ""
    risk: str = ""
    evidence: list[Citation] = []


class TurnView(BaseModel):
    """A run as the Copilot panel shows it."""

    run_id: str
    done: bool
    question: str
    state: str
    live: bool
    states: list[str]
    tools: list[ToolCard]
    has_answer: bool
    answer: AnswerView
    error: str
    notes: list[str]
    waiting: bool
    pending: PendingApproval


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


def short(text: str, limit: int = SHORT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def compact_json(value: Any, limit: int = SHORT) -> str:
    return short(json.dumps(value, sort_keys=True, default=str), limit)


def _step_label(step: StepView) -> tuple[str, str]:
    data = step.data
    match step.kind:
        case "transition":
            return f"{data.get('source', '')} → {data.get('target', step.state)}", str(data.get("reason", ""))
        case "plan":
            calls = data.get("calls") or []
            tools = ", ".join(str(call.get("tool", "")) for call in calls if isinstance(call, dict))
            return f"plan: {data.get('decision', '')}", short(tools or str(data.get("thought", "")))
        case "tool_call":
            return f"call {data.get('tool', '')}", compact_json(data.get("arguments", {}))
        case "tool_result":
            status = "ok" if data.get("ok") else "error"
            return f"{data.get('tool', '')}: {status}", short(
                str(data.get("text") or data.get("error") or "")
            )
        case _:
            return step.kind, compact_json(data)


def step_row(step: StepView) -> StepRow:
    label, detail = _step_label(step)
    return StepRow(
        seq=step.seq,
        kind=step.kind,
        state=step.state.value,
        label=label,
        detail=detail,
        at=utc_label(step.at),
    )


def tool_card(outcome: ToolOutcome) -> ToolCard:
    return ToolCard(
        call_id=outcome.call_id,
        tool=outcome.tool,
        arguments=compact_json(outcome.arguments, 240),
        result=short(outcome.text if outcome.ok else outcome.error or outcome.text, 240),
        ok=outcome.ok,
        duration=f"{outcome.duration_ms:.0f} ms",
        evidence_count=len(outcome.evidence),
    )


def _citation(number: int, evidence: Evidence) -> Citation:
    return Citation(
        number=number,
        evidence_id=evidence.id,
        kind=evidence.kind.value,
        excerpt=short(evidence.excerpt, 240),
        href=evidence.link or "",
    )


def answer_view(answer: Answer, evidence: list[Evidence]) -> AnswerView:
    """The answer in markdown with ``[n]`` after each claim, and one chip per cited piece of evidence."""
    by_id = {item.id: item for item in evidence}
    numbers: dict[str, int] = {}
    lines = [answer.summary, ""]
    for claim in answer.claims:
        cited = [i for i in claim.evidence_ids if i in by_id]
        for evidence_id in cited:
            numbers.setdefault(evidence_id, len(numbers) + 1)
        marks = "".join(f"[{numbers[i]}]" for i in cited)
        lines.append(f"- {claim.text} {marks}".rstrip())
    root = answer.root_cause
    return AnswerView(
        markdown="\n".join(lines).strip(),
        citations=[_citation(n, by_id[i]) for i, n in numbers.items()],
        root_cause=f"{root.service} ({root.fault_kind.replace('_', ' ')})" if root else "",
        confidence=f"{answer.confidence:.0%}",
        missing=list(answer.missing),
        proposals=[
            ProposalRow(index=i, tool=action.tool, reason=action.reason)
            for i, action in enumerate(answer.proposed_actions)
        ],
    )


def _states(view: RunView) -> list[str]:
    """Every state the run has been in, in order: it starts in PLAN, then one per transition."""
    return [RunState.PLAN.value, *(step.state.value for step in view.steps if step.kind == "transition")]


def pending_approval(view: RunView, request: dict[str, Any] | None) -> PendingApproval:
    """The approval a NEEDS_APPROVAL run waits for, from its request row (as ``ApprovalRequest.model_dump()``)."""
    if view.state != RunState.NEEDS_APPROVAL or request is None or request.get("status") != "pending":
        return PendingApproval()
    cited = [Evidence.model_validate(item) for item in request.get("evidence", []) if "id" in item]
    return PendingApproval(
        request_id=str(request["id"]),
        tool=str(request["tool"]),
        arguments=json.dumps(json.loads(str(request["arguments"])), indent=2, sort_keys=True),
        risk=str(request.get("risk") or "unknown"),
        evidence=[_citation(n, item) for n, item in enumerate(cited, start=1)],
    )


def turn_view(view: RunView, request: dict[str, Any] | None = None) -> TurnView:
    evidence = [item for outcome in view.outcomes for item in outcome.evidence]
    return TurnView(
        run_id=view.id,
        done=view.state == RunState.DONE,
        question=view.question,
        state=view.state.value,
        live=view.state not in TERMINAL,
        states=_states(view),
        tools=[tool_card(outcome) for outcome in view.outcomes[-12:]],
        has_answer=view.answer is not None,
        answer=answer_view(view.answer, evidence) if view.answer else AnswerView(),
        error=view.error or "",
        notes=list(view.notes[-6:]),
        waiting=view.state == RunState.NEEDS_APPROVAL,
        pending=pending_approval(view, request),
    )


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
        error=summary.error or "",
    )


class CallRow(BaseModel):
    """One tool call of a run in full: what went in and what came out (cut to a readable size)."""

    call_id: str
    tool: str
    ok: bool
    duration: str
    arguments: str
    output: str
    evidence: list[Citation]


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
    error: str = ""
    conversation_id: str = ""
    steps: list[StepRow] = []
    calls: list[CallRow] = []
    has_answer: bool = False
    answer: AnswerView = AnswerView()
    notes: list[str] = []
    approvals: list[ApprovalRow] = []
    audit: list[AuditRow] = []


OUTPUT_LIMIT = 4000


def call_row(outcome: ToolOutcome) -> CallRow:
    output = outcome.text if outcome.ok else (outcome.error or outcome.text)
    return CallRow(
        call_id=outcome.call_id,
        tool=outcome.tool,
        ok=outcome.ok,
        duration=f"{outcome.duration_ms:.0f} ms",
        arguments=json.dumps(outcome.arguments, indent=2, sort_keys=True, default=str),
        output=output if len(output) <= OUTPUT_LIMIT else output[:OUTPUT_LIMIT] + "\n… (cut)",
        evidence=[_citation(n, item) for n, item in enumerate(outcome.evidence, start=1)],
    )


def audit_row(event: AuditEvent) -> AuditRow:
    return AuditRow(
        at=utc_label(event.at),
        actor=event.actor,
        action=event.action,
        tool=event.tool,
        request_id=event.request_id or "",
        result=compact_json(event.result, 200),
    )


def _run_detail(copilot: Copilot, run_id: str) -> RunDetail:
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
        active=f"{view.active_seconds:.1f} s",
        error=view.error or "",
        conversation_id=view.conversation_id,
        steps=[step_row(step) for step in view.steps],
        calls=[call_row(outcome) for outcome in view.outcomes],
        has_answer=view.answer is not None,
        answer=answer_view(view.answer, evidence) if view.answer else AnswerView(),
        notes=list(view.notes),
        approvals=[approval_row(request, now) for request in requests],
        audit=[audit_row(event) for event in audit],
    )


async def load_run(copilot: Copilot, run_id: str) -> RunDetail:
    """One run's trace, calls, answer, approvals and audit trail; ``NotFound`` when there is no such run."""
    return await asyncio.to_thread(_run_detail, copilot, run_id)


async def load_runs(copilot: Copilot, *, limit: int = 50) -> list[RunRow]:
    """The latest runs, newest first."""
    return [run_row(summary) for summary in await copilot.list_runs(limit=limit)]

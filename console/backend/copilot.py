"""What the Copilot panel shows of a run: a small view of its turn made from a ``RunView``, and its answer.

The answer's claims become numbered citations: each distinct evidence id a claim cites gets a number, in order of
first citation, and a chip that opens the evidence on its console page (the run page shows answers the same way).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from copilot.answer import Answer, Evidence
from copilot.machine import TERMINAL, RunState
from copilot.planning import ToolOutcome
from copilot.records import RunView

SHORT = 160


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


class ClaimView(BaseModel):
    """One claim of an answer and the numbers of the evidence it cites (``AnswerView.citations[n - 1]``)."""

    text: str
    numbers: list[int] = []


class AnswerView(BaseModel):
    """An answer laid out for reading: what was found, the claims with their evidence, what was left unchecked.

    Every text is shown as plain text: an answer quotes log lines and tickets, which are data, never markup.
    """

    summary: str = ""
    claims: list[ClaimView] = []
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
    """A run as the Copilot panel shows it (empty, ``run_id == ""``, before the first question)."""

    run_id: str = ""
    done: bool = False
    question: str = ""
    state: str = ""
    live: bool = False
    states: list[str] = []
    tools: list[ToolCard] = []
    has_answer: bool = False
    answer: AnswerView = AnswerView()
    error: str = ""
    waiting: bool = False
    pending: PendingApproval = PendingApproval()


def short(text: str, limit: int = SHORT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def compact_json(value: Any, limit: int = SHORT) -> str:
    return short(json.dumps(value, sort_keys=True, default=str), limit)


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


def citation(number: int, evidence: Evidence) -> Citation:
    """Evidence as a numbered chip opening it on its console page."""
    return Citation(
        number=number,
        evidence_id=evidence.id,
        kind=evidence.kind.value,
        excerpt=short(evidence.excerpt, 240),
        href=evidence.link or "",
    )


def answer_view(answer: Answer, evidence: list[Evidence]) -> AnswerView:
    """The answer with each claim's evidence numbered: each distinct piece cited gets a number, in order of
    first citation, and one chip; evidence no tool call of the run returned is left out."""
    by_id = {item.id: item for item in evidence}
    numbers: dict[str, int] = {}
    claims = []
    for claim in answer.claims:
        cited = [i for i in dict.fromkeys(claim.evidence_ids) if i in by_id]
        for evidence_id in cited:
            numbers.setdefault(evidence_id, len(numbers) + 1)
        claims.append(ClaimView(text=claim.text, numbers=[numbers[i] for i in cited]))
    root = answer.root_cause
    return AnswerView(
        summary=answer.summary,
        claims=claims,
        citations=[citation(n, by_id[i]) for i, n in numbers.items()],
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
        evidence=[citation(n, item) for n, item in enumerate(cited, start=1)],
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
        waiting=view.state == RunState.NEEDS_APPROVAL,
        pending=pending_approval(view, request),
    )

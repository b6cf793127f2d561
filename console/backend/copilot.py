"""What the Copilot panel shows of a run: a small view of its turn made from a ``RunView``, and its answer.

The answer's claims become numbered citations: each distinct evidence id a claim cites gets a number, in order of
first citation, and a chip that opens the evidence on its console page (the run page shows answers the same way).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel

from console.backend.approvals import PreviewView
from copilot.answer import Answer, Evidence
from copilot.evidence import shown
from copilot.followups import ProposalState
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
    label: str
    excerpt: str
    href: str


class OfferShown(BaseModel):
    """How an offer made from an answer (a proposed action, a draft to post) stands, as its button shows it.

    ``status`` is "" until it is offered, then says how it stands (pending, approved, executed, rejected...);
    ``label`` says so in words ("Filed as OPS-1965") and ``href`` opens the result or the request; a ``final``
    offer cannot be made again.
    """

    status: str = ""
    label: str = ""
    href: str = ""
    final: bool = False

    def showing(self, offer: ProposalState | None) -> Self:
        """This button as ``offer`` (None: not offered yet) leaves it."""
        if offer is None:
            return self
        return self.model_copy(
            update={"status": offer.status, "label": offer.label, "href": offer.href, "final": offer.final}
        )


class ProposalRow(OfferShown):
    """A follow-up the answer proposes; offering it files an approval request, nothing more."""

    index: int
    tool: str
    reason: str


class InlinePart(BaseModel):
    """A run of an answer's text: plain, or code (what a planner quoted in backticks, a log template say)."""

    text: str
    code: bool = False


class ClaimView(BaseModel):
    """One claim of an answer and the numbers of the evidence it cites (``AnswerView.citations[n - 1]``)."""

    parts: list[InlinePart]
    numbers: list[int] = []


class HopView(BaseModel):
    """A service of the answer's propagation path, root first, and when its trouble began."""

    service: str
    # What people call it ("Checkout API"); ``service`` is the reference its link is built from.
    label: str = ""
    onset: str
    numbers: list[int] = []


class MomentView(BaseModel):
    at: str
    kind: str
    label: str
    numbers: list[int] = []


class EvidenceGroup(BaseModel):
    """The cited evidence of one kind (``AnswerView.citations[n - 1]`` for each number)."""

    kind: str
    numbers: list[int]


class AnswerView(BaseModel):
    """An answer laid out for reading: the verdict first, the path from the root cause to the symptom, what
    happened when, the claims with their evidence, what was left unchecked.

    Text is shown as text (runs in backticks as code), never as markup: an answer quotes log lines and tickets,
    which are data.
    """

    kind: str = ""
    verdict: list[InlinePart] = []
    # The rest of the summary, when it says more than the verdict.
    summary: list[InlinePart] = []
    claims: list[ClaimView] = []
    path: list[HopView] = []
    timeline: list[MomentView] = []
    citations: list[Citation] = []
    evidence: list[EvidenceGroup] = []
    root_cause: str = ""
    confidence: str = ""
    missing: list[str] = []
    # Data that addresses an assistant or asks for actions: why, and the text quoted (never a finding).
    suspicious: list[str] = []
    proposals: list[ProposalRow] = []


class PendingApproval(BaseModel):
    """What a run waits for; empty (``request_id == ""``) when it waits for nothing."""

    request_id: str = ""
    tool: str = ""
    arguments: str = ""
    risk: str = ""
    evidence: list[Citation] = []
    preview: PreviewView = PreviewView()


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


def citation(number: int, evidence: Evidence, name: Callable[[str], str] = str) -> Citation:
    """Evidence as a numbered chip opening it on its console page, its service shown by ``name``."""
    evidence = shown(evidence, name)
    return Citation(
        number=number,
        evidence_id=evidence.id,
        kind=evidence.kind.value,
        label=evidence.label,
        excerpt=short(evidence.excerpt, 240),
        href=evidence.link or "",
    )


def inline(text: str) -> list[InlinePart]:
    """``text`` in runs: what stands between a pair of backticks is code, the rest plain (a lone backtick stays)."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: the last one is text
        pieces[-2:] = [pieces[-2] + "`" + pieces[-1]]
    return [InlinePart(text=piece, code=index % 2 == 1) for index, piece in enumerate(pieces) if piece]


def answer_view(answer: Answer, evidence: list[Evidence], name: Callable[[str], str] = str) -> AnswerView:
    """The answer with its evidence numbered: each distinct piece cited (by a claim, a hop of the path or a
    moment of the timeline) gets a number, in order of first citation, and one chip; evidence no tool call of
    the run returned is left out. ``name`` shows a service reference of the answer (its root cause, the hops of
    its path) as people call it (``records.service_names``)."""
    by_id = {item.id: item for item in evidence}
    numbers: dict[str, int] = {}

    def cite(ids: list[str]) -> list[int]:
        cited = [i for i in dict.fromkeys(ids) if i in by_id]
        return [numbers.setdefault(i, len(numbers) + 1) for i in cited]

    claims = [
        ClaimView(parts=inline(claim.text), numbers=cite(claim.evidence_ids)) for claim in answer.claims
    ]
    path = [
        HopView(
            service=hop.service,
            label=name(hop.service),
            onset=_clock(hop.onset),
            numbers=cite(hop.evidence_ids),
        )
        for hop in answer.path
    ]
    timeline = [
        MomentView(
            at=_clock(moment.at), kind=moment.kind, label=moment.label, numbers=cite(moment.evidence_ids)
        )
        for moment in answer.timeline
    ]
    citations = [citation(n, by_id[i], name) for i, n in numbers.items()]
    kinds = list(dict.fromkeys(item.kind for item in citations))
    root = answer.root_cause
    rest = answer.summary.strip()
    if rest.startswith(answer.verdict):
        rest = rest[len(answer.verdict) :].strip()
    return AnswerView(
        kind=answer.kind.value if answer.kind else "",
        verdict=inline(answer.verdict),
        summary=inline(rest),
        claims=claims,
        path=path,
        timeline=timeline,
        citations=citations,
        evidence=[
            EvidenceGroup(kind=kind, numbers=[c.number for c in citations if c.kind == kind])
            for kind in kinds
        ],
        root_cause=f"{name(root.service)} ({root.fault_kind.replace('_', ' ')})" if root else "",
        confidence=f"{answer.confidence:.0%}",
        missing=list(answer.missing),
        suspicious=[
            f"{', '.join(item.reasons)}: \u201c{short(item.excerpt, 240)}\u201d" for item in answer.suspicious
        ],
        proposals=[
            ProposalRow(index=i, tool=action.tool, reason=action.reason)
            for i, action in enumerate(answer.proposed_actions)
        ],
    )


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M UTC") if moment else ""


def _states(view: RunView) -> list[str]:
    """Every state the run has been in, in order: it starts in PLAN, then one per transition."""
    return [RunState.PLAN.value, *(step.state.value for step in view.steps if step.kind == "transition")]


def pending_approval(
    view: RunView,
    request: dict[str, Any] | None,
    preview: PreviewView | None = None,
    name: Callable[[str], str] = str,
) -> PendingApproval:
    """The approval a NEEDS_APPROVAL run waits for, from its request row (as ``ApprovalRequest.model_dump()``)
    and the change it would make; its evidence shows services by ``name``."""
    if view.state != RunState.NEEDS_APPROVAL or request is None or request.get("status") != "pending":
        return PendingApproval()
    cited = [Evidence.model_validate(item) for item in request.get("evidence", []) if "id" in item]
    return PendingApproval(
        request_id=str(request["id"]),
        tool=str(request["tool"]),
        arguments=json.dumps(json.loads(str(request["arguments"])), indent=2, sort_keys=True),
        risk=str(request.get("risk") or "unknown"),
        evidence=[citation(n, item, name) for n, item in enumerate(cited, start=1)],
        preview=preview or PreviewView(),
    )


def with_offers(answer: AnswerView, offers: list[ProposalState]) -> AnswerView:
    """``answer`` with each proposal showing how its offer stands (``offers`` of its run, keyed by index)."""
    by_key = {offer.key: offer for offer in offers}
    rows = [row.showing(by_key.get(str(row.index))) for row in answer.proposals]
    return answer.model_copy(update={"proposals": rows})


def turn_view(
    view: RunView,
    request: dict[str, Any] | None = None,
    preview: PreviewView | None = None,
    offers: list[ProposalState] | None = None,
    name: Callable[[str], str] = str,
) -> TurnView:
    """The panel's view of ``view``, with the request it waits on (and its preview), how the offers made from
    its answer stand, and its services shown by ``name``."""
    evidence = [item for outcome in view.outcomes for item in outcome.evidence]
    answer = answer_view(view.answer, evidence, name) if view.answer else AnswerView()
    return TurnView(
        run_id=view.id,
        done=view.state == RunState.DONE,
        question=view.question,
        state=view.state.value,
        live=view.state not in TERMINAL,
        states=_states(view),
        tools=[tool_card(outcome) for outcome in view.outcomes[-12:]],
        has_answer=view.answer is not None,
        answer=with_offers(answer, offers or []),
        error=view.error or "",
        waiting=view.state == RunState.NEEDS_APPROVAL,
        pending=pending_approval(view, request, preview, name),
    )

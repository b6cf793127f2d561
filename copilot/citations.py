"""The citation check every Answer passes before anyone sees it (DESIGN.md "The Copilot").

A claim stands only when it cites evidence and every id it cites was returned by a tool call of this run, with a
link (when the evidence has one) that opens in the console. Claims that fail are dropped and the drop is noted;
the same rule holds for proposed actions, whose evidence is what their approver is shown. The root cause goes
with the last claim: an answer none of whose claims stand has no supported root cause. The hops of the path and
the moments of the timeline keep only the ids that hold (a note says which were taken out).

Data is untrusted (``copilot.untrusted``): the evidence of the run whose text addresses an assistant or asks for
actions is listed in the answer's ``suspicious``; a claim that repeats such text is no finding and moves there; a
proposed action's arguments carry such text only marked as quoted data. Both planners pass through here.

The Claude planner gets one chance to repair: :func:`repair_prompt` says what was wrong and which ids exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from copilot.answer import Answer, Claim, Evidence, Hop, Moment, ProposedAction
from copilot.untrusted import flagged, is_suspicious, mark, mark_values, redact_quotes
from core_client.errors import BadQuery
from core_client.links import parse_link

MAX_IDS_IN_PROMPT = 200


class RejectedClaim(BaseModel):
    """A claim (or a proposed action, ``kind="action"``) that did not pass, and why."""

    kind: Literal["claim", "action"] = "claim"
    text: str
    evidence_ids: list[str] = Field(default_factory=list)
    reason: str


class CitationReport(BaseModel):
    """The answer as it may be shown, what was taken out of it, and a note for each removal."""

    answer: Answer
    rejected: list[RejectedClaim] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    evidence_ids: list[str] = Field(
        default_factory=list, description="every id this run's tool calls returned"
    )

    @property
    def ok(self) -> bool:
        """Whether the answer passed untouched."""
        return not self.rejected and not self.notes


def validate_answer(answer: Answer, evidence: list[Evidence]) -> CitationReport:
    """Check every claim and proposed action of ``answer`` against the ``evidence`` this run's tool calls returned.

    Returns the cleaned answer (failing claims and actions dropped, the root cause withdrawn when no claim is
    left to support it), the rejections with their reasons, and one note per change.
    """
    citable, broken = _citable(evidence)
    findings, repeated = _untrusted_claims(answer.claims)
    claims, rejected = _sift(findings, "claim", lambda claim: claim.text, citable, broken)
    rejected = repeated + rejected
    actions, rejected_actions = _sift(
        answer.proposed_actions, "action", lambda action: f"{action.tool}: {action.reason}", citable, broken
    )
    rejected += rejected_actions
    notes = [f"{item.kind} dropped: {_quote(item.text)} ({item.reason})" for item in rejected]
    # Marking is visible in the action itself: no note, so a planner is not asked to repair what was right.
    marked = [_marked(action) for action in actions]
    suspicious = flagged(
        [(item.id, item.excerpt) for item in evidence]
        + [(s.evidence_id, s.excerpt) for s in answer.suspicious]
        + [(next(iter(c.evidence_ids), None), c.text) for c in repeated]
    )
    update: dict[str, object] = {
        "claims": claims,
        "proposed_actions": marked,
        "suspicious": suspicious,
        "verdict": _said(answer.verdict),
        "summary": _said(answer.summary),
        "missing": [_said(item) for item in answer.missing],
    }
    path, path_notes = _kept_ids(answer.path, "path", citable)
    timeline, timeline_notes = _kept_ids(answer.timeline, "timeline", citable)
    notes += path_notes + timeline_notes
    update |= {"path": path, "timeline": timeline}
    if answer.root_cause is not None and not claims:
        cause = answer.root_cause
        notes.append(
            f"root cause withdrawn: no claim with valid evidence supports {cause.fault_kind} in {cause.service}"
        )
        update |= {"root_cause": None, "confidence": 0.0}
    return CitationReport(
        answer=answer.model_copy(update=update),
        rejected=rejected,
        notes=notes,
        evidence_ids=list(citable),
    )


UNTRUSTED_CLAIM = "it repeats text from the data that addresses an assistant or asks for actions: listed as suspicious content"


def _untrusted_claims(claims: list[Claim]) -> tuple[list[Claim], list[RejectedClaim]]:
    """The claims that may stand as findings (a suspicious quotation in one replaced by a pointer to the
    suspicious content), and a rejection for each that repeats suspicious text in its own words."""
    kept: list[Claim] = []
    repeated: list[RejectedClaim] = []
    for claim in claims:
        if not is_suspicious(claim.text):
            kept.append(claim)
            continue
        redacted = redact_quotes(claim.text)
        if is_suspicious(redacted):
            repeated.append(
                RejectedClaim(text=claim.text, evidence_ids=claim.evidence_ids, reason=UNTRUSTED_CLAIM)
            )
        else:
            kept.append(claim.model_copy(update={"text": redacted}))
    return kept, repeated


def _said(text: str) -> str:
    """The planner's own sentence with suspicious quotations replaced, and what still reads as an instruction
    marked as quoted data."""
    return mark(redact_quotes(text)) if is_suspicious(text) else text


def _marked(action: ProposedAction) -> ProposedAction:
    """``action`` with suspicious text in its arguments and reason marked as quoted data."""
    arguments = mark_values(action.arguments)
    reason = mark_values(action.reason)
    if arguments == action.arguments and reason == action.reason:
        return action
    assert isinstance(arguments, dict) and isinstance(reason, str)
    return action.model_copy(update={"arguments": arguments, "reason": reason})


Marked = TypeVar("Marked", Hop, Moment)


def _kept_ids(
    items: list[Marked], where: Literal["path", "timeline"], citable: dict[str, Evidence]
) -> tuple[list[Marked], list[str]]:
    """The items with only the evidence ids that may be cited, and a note per item that lost some."""
    kept: list[Marked] = []
    notes: list[str] = []
    for item in items:
        valid = [i for i in item.evidence_ids if i in citable]
        if len(valid) != len(item.evidence_ids):
            lost = ", ".join(i for i in item.evidence_ids if i not in citable)
            notes.append(f"{where} evidence dropped: {lost} (no tool call of this run returned it)")
            item = item.model_copy(update={"evidence_ids": valid})
        kept.append(item)
    return kept, notes


def repair_prompt(report: CitationReport) -> str:
    """What to tell a model whose answer failed the check, so it can send the whole answer once more."""
    lines = ["Some parts of your answer cannot be shown:"]
    for item in report.rejected:
        cited = ", ".join(item.evidence_ids) or "nothing"
        lines.append(f"- {item.kind} {_quote(item.text)} cites {cited}: {item.reason}")
    lines += [f"- {note}" for note in report.notes if note.startswith(("path ", "timeline "))]
    ids = report.evidence_ids
    if ids:
        shown = ", ".join(ids[:MAX_IDS_IN_PROMPT])
        more = f" (and {len(ids) - MAX_IDS_IN_PROMPT} more)" if len(ids) > MAX_IDS_IN_PROMPT else ""
        lines.append(f"The evidence ids this run's tool calls returned are: {shown}{more}.")
    else:
        lines.append("No tool call of this run returned any evidence yet.")
    lines.append(
        "Send the complete answer again. Cite only those ids, exactly as written; give every claim and every "
        "proposed action at least one; remove whatever you cannot support. Do not invent ids."
    )
    return "\n".join(lines)


def _citable(evidence: list[Evidence]) -> tuple[dict[str, Evidence], dict[str, str]]:
    """Evidence by id that may be cited, and the ids that may not (a link that does not parse) with the reason."""
    citable: dict[str, Evidence] = {}
    broken: dict[str, str] = {}
    for item in evidence:
        if item.link:
            try:
                parse_link(item.link)
            except BadQuery as error:
                broken[item.id] = f"evidence {item.id} has a malformed link: {error.message}"
                continue
        citable.setdefault(item.id, item)
    return citable, {evidence_id: why for evidence_id, why in broken.items() if evidence_id not in citable}


Cited = TypeVar("Cited", Claim, ProposedAction)


def _sift(
    items: list[Cited],
    kind: Literal["claim", "action"],
    describe: Callable[[Cited], str],
    citable: dict[str, Evidence],
    broken: dict[str, str],
) -> tuple[list[Cited], list[RejectedClaim]]:
    """The items whose citations hold, and a rejection for each of the others."""
    kept: list[Cited] = []
    rejected: list[RejectedClaim] = []
    for item in items:
        reason = _problem(item.evidence_ids, citable, broken)
        if reason is None:
            kept.append(item)
        else:
            rejected.append(
                RejectedClaim(kind=kind, text=describe(item), evidence_ids=item.evidence_ids, reason=reason)
            )
    return kept, rejected


def _problem(ids: list[str], citable: dict[str, Evidence], broken: dict[str, str]) -> str | None:
    if not ids:
        return "it cites no evidence"
    for evidence_id in ids:
        if evidence_id in broken:
            return broken[evidence_id]
        if evidence_id not in citable:
            return f"no tool call of this run returned evidence {evidence_id!r}"
    return None


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return f'"{text if len(text) <= limit else text[: limit - 1] + "…"}"'

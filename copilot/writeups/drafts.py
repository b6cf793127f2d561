"""Drafts written from a run's cited evidence: a postmortem for engineers and a status update for stakeholders.

The postmortem follows the usual blameless outline (summary, impact, timeline, root cause, contributing factors,
what went well, action items); the status update says, in plain words, what is affected, what we know, what is
being done and when the next update comes. Both are drafts: they say what the evidence shows and mark what a
person must still confirm; neither invents an owner or a fix the evidence does not support.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from copilot.answer import EvidenceKind, ProposedAction
from copilot.evidence import OWN_SERVER
from copilot.writeups.document import Document, Line, Section, bullets, link, paragraph, strong, text
from copilot.writeups.facts import Basis, Facts, clock, duration, stamp
from copilot.writeups.markdown import to_markdown
from copilot.writeups.quoting import quoted
from copilot.writeups.slack import to_message
from copilot.writeups.tickets import (
    AUTHOR_TYPE,
    NOTE_KIND,
    confidence_words,
    evidence_lines,
    symptom,
    ticket_title,
    timeline_lines,
)
from core_client.errors import BadQuery
from core_client.schemas import INCIDENT_FIELD, CreateTicketInput, TimelineAppendInput

DraftKind = Literal["postmortem", "status"]
DRAFT_KINDS: tuple[DraftKind, ...] = ("postmortem", "status")
# Where a draft can be posted: a ticket, a note on the incident's timeline, a chat message.
DraftTarget = Literal["ticket", "note", "message"]
DRAFT_TARGETS: tuple[DraftTarget, ...] = ("ticket", "note", "message")
NEXT_UPDATE = timedelta(minutes=30)
# An alert later than this after the onset is slow detection, worth an action item.
SLOW_DETECTION = timedelta(minutes=5)
RESOLVED = frozenset({"resolved", "closed", "done"})

# Per fault kind: what stops the bleeding, what keeps it from coming back, and what catches it earlier. Each is a
# proposal for the owners to weigh, worded as a task.
PLAYBOOK: dict[str, tuple[str, str, str]] = {
    "bad_deploy": (
        "Roll back {service} to the last good release and keep the rollout paused",
        "Gate {service} releases on error rate and latency in canary before full rollout",
        "Alert on {service}'s error rate per release version",
    ),
    "config_change": (
        "Revert the configuration change on {service}",
        "Validate {service}'s configuration before it is applied, and roll it out progressively",
        "Record configuration changes as deployments so they show beside the metrics",
    ),
    "connection_pool_exhaustion": (
        "Relieve {service}'s connection pool: find what holds connections (slow queries, leaked connections) and "
        "restart or scale {service} if needed",
        "Size {service}'s pool against the database's limits and set acquire and query timeouts",
        "Alert on {service}'s pool usage (in use over maximum) and connection wait time",
    ),
    "latency_injection": (
        "Find and remove what slows {service}'s responses (a dependency, a proxy rule, a fault injection)",
        "Set timeouts and retry budgets on calls to {service}",
        "Alert on {service}'s p95/p99 latency against its baseline",
    ),
    "certificate_expiry": (
        "Renew and deploy {service}'s TLS certificate",
        "Automate {service}'s certificate renewal",
        "Alert when {service}'s certificate has less than 14 days left",
    ),
    "memory_leak": (
        "Restart {service} on a schedule until the leak is fixed; capture a heap profile first",
        "Find and fix the leak in {service} (compare heap profiles over time)",
        "Alert on {service}'s memory growth trend, before the kill threshold",
    ),
    "dependency_outage": (
        "Fail over or degrade gracefully while {service} is down",
        "Add timeouts, circuit breakers and fallbacks around calls to {service}",
        "Alert on {service}'s availability as its callers see it",
    ),
    "disk_full": (
        "Free disk space on {service} (logs, temporary files) or grow the volume",
        "Set retention and rotation for what fills {service}'s disk",
        "Alert on {service}'s disk usage and its rate of growth",
    ),
    "cpu_saturation": (
        "Scale {service} out or shed load until its CPU has headroom",
        "Profile {service} under load and set autoscaling on CPU",
        "Alert on {service}'s CPU saturation and run-queue length",
    ),
    "traffic_spike": (
        "Rate-limit or shed the surge reaching {service}, and scale it out",
        "Set rate limits and autoscaling for {service} sized from this surge",
        "Alert on {service}'s request rate against its baseline",
    ),
}


def _intro(basis: Basis, what: str) -> Line:
    return [
        text(f"{what} by {basis.signature} on {stamp(basis.now)} from "),
        link(f"run {basis.run_id}", basis.run_url),
        text(". Every statement rests on the evidence linked below; check it before you circulate this."),
    ]


def _incident_line(facts: Facts) -> Line:
    incident = facts.basis.incident
    incident_id = facts.incident_id
    if incident_id is None:
        return [text("No incident was opened for it.")]
    spans: Line = [text("Incident "), link(incident_id, facts.incident_url or "")]
    if facts.incident_title:
        spans += [text(" "), quoted(facts.incident_title, limit=100)]
    parts = [p for p in ((incident.severity, incident.status) if incident else ()) if p]
    if parts:
        spans.append(text(f" ({', '.join(parts)})"))
    opened = facts.incident_opened
    if opened is not None:
        spans.append(text(f", opened {clock(opened)}"))
    return [*spans, text(".")]


def _ongoing(facts: Facts) -> bool:
    incident = facts.basis.incident
    return incident is None or incident.status.lower() not in RESOLVED


def _duration_line(facts: Facts) -> Line:
    onset = facts.onset
    if onset is None:
        return [text("Duration: unknown (no onset in the evidence).")]
    incident = facts.basis.incident
    if _ongoing(facts) or incident is None or incident.updated_at is None:
        return [
            text(
                f"Duration: {duration((facts.basis.now - onset).total_seconds())} so far (since {stamp(onset)}), ongoing when this was written."
            )
        ]
    return [
        text(
            f"Duration: {duration((incident.updated_at - onset).total_seconds())}, {stamp(onset)} to {stamp(incident.updated_at)}."
        )
    ]


def _detection(facts: Facts) -> tuple[Line | None, bool]:
    """How the trouble was noticed: the first alert against the onset, and whether it came late."""
    onset = facts.onset
    alerts = sorted(
        (a for a in facts.of_kind(EvidenceKind.ALERT) if a.at), key=lambda a: a.at or facts.basis.now
    )
    if onset is None or not alerts or alerts[0].at is None:
        return None, False
    first = alerts[0]
    assert first.at is not None
    late = first.at - onset
    line: Line = [
        text(f"The first alert fired {duration(late.total_seconds())} after the onset: "),
        quoted(first.label or first.ref, limit=100, href=facts.basis.absolute(first.link or "")),
    ]
    return [*line, text(".")], late > SLOW_DETECTION


def _contributing(facts: Facts, late_detection: bool) -> list[Line]:
    lines: list[Line] = []
    root = facts.root
    others = [a for a in facts.affected() if not a.root and a.since]
    if root and others:
        spread = max((a.since for a in others if a.since), default=None)
        within = (
            f" within {duration(((spread or facts.basis.now) - (facts.onset or facts.basis.now)).total_seconds())}"
            if facts.onset
            else ""
        )
        names = ", ".join(a.service for a in others)
        lines.append(
            [
                text(
                    f"The failure spread from {root} to {names}{within}: their calls to {root} did not contain it (timeouts, fallbacks or circuit breakers to confirm)."
                )
            ]
        )
    changes = [
        d for d in facts.of_kind(EvidenceKind.DEPLOYMENT) if d.at and facts.onset and d.at <= facts.onset
    ]
    for change in changes[:2]:
        assert change.at is not None and facts.onset is not None
        lines.append(
            [
                text(
                    f"A change shortly before the onset ({duration((facts.onset - change.at).total_seconds())} before): "
                ),
                quoted(change.label or change.ref, limit=100, href=facts.basis.absolute(change.link or "")),
            ]
        )
    if late_detection:
        lines.append(
            [text("Detection lagged: no alert fired until well after the service left its baseline.")]
        )
    for gap in facts.answer.missing[:3]:
        lines.append([text("Not checked during the investigation: " + gap)])
    return lines


def _went_well(facts: Facts, detection: Line | None, late_detection: bool) -> list[Line]:
    lines: list[Line] = []
    if detection is not None and not late_detection:
        lines.append(detection)
    if facts.root:
        kinds = sorted(
            {item.kind.value.replace("_", " ") for item in facts.cited if item.service == facts.root}
        )
        lines.append(
            [
                text(
                    f"The cause was narrowed to {facts.root} from {', '.join(kinds)} evidence, confidence {confidence_words(facts.answer.confidence)}."
                )
            ]
        )
    ruled_out = [
        d for d in facts.of_kind(EvidenceKind.DEPLOYMENT) if d.at and facts.onset and d.at > facts.onset
    ]
    if ruled_out:
        lines.append(
            [
                text(
                    f"{len(ruled_out)} change{'s' if len(ruled_out) != 1 else ''} made after the onset {'were' if len(ruled_out) != 1 else 'was'} ruled out, so nobody rolled back the wrong thing."
                )
            ]
        )
    return lines


def _actions(facts: Facts, late_detection: bool) -> list[Line]:
    root, kind = facts.root, facts.fault_kind
    if root is None or kind is None:
        return [[text("Confirm the root cause first: the investigation did not identify one.")]]
    owner = f"owners of {root}"
    mitigate, prevent, detect = PLAYBOOK.get(
        kind, ("Mitigate {service}", "Prevent a repeat in {service}", "Alert earlier on {service}")
    )
    items: list[Line] = [
        [strong("Mitigate: "), text(mitigate.format(service=root) + f" ({owner}).")],
        [strong("Prevent: "), text(prevent.format(service=root) + f" ({owner}).")],
        [strong("Detect: "), text(detect.format(service=root) + f" ({owner}).")],
    ]
    others = [a.service for a in facts.affected() if not a.root]
    if others:
        items.append(
            [
                strong("Contain: "),
                text(
                    f"Review how {', '.join(others[:3])} call{'s' if len(others) == 1 else ''} {root}: timeouts, retries with budgets, and a fallback when it fails (their owners)."
                ),
            ]
        )
    if late_detection:
        items.append(
            [
                strong("Detect: "),
                text(
                    f"Page on {root}'s departure from its baseline, not only on its callers' symptoms (on-call owners)."
                ),
            ]
        )
    return items


def postmortem(basis: Basis) -> Document:
    """The postmortem draft."""
    facts = Facts(basis)
    detection, late = _detection(facts)
    affected = facts.affected()
    impact: list[Line] = [
        [
            strong(a.service),
            text(
                f" \u2014 {'root cause, ' if a.root else ''}since {clock(a.since) if a.since else 'an unknown time'}"
            ),
        ]
        for a in affected
    ]
    impact += [_incident_line(facts), _duration_line(facts)]
    summary = [text(facts.verdict + " ")]
    others = [a.service for a in affected if not a.root]
    if others and facts.root:
        summary.append(
            text(
                f"Users of {', '.join(others)} saw {symptom(facts, others[0])} because they depend on {facts.root}. "
            )
        )
    summary.append(text(f"Root cause confidence: {confidence_words(facts.answer.confidence)}."))
    cause: Line = [strong(f"{facts.root}: {facts.fault_name}.") if facts.root else strong("Not identified.")]
    why = [[text(claim)] for claim in facts.root_claims(limit=4)]
    sections = [
        Section(blocks=[paragraph(*_intro(basis, "Draft"))]),
        Section(heading="Summary", blocks=[paragraph(*summary)]),
        Section(heading="Impact", blocks=[bullets(impact)]),
        Section(heading="Timeline (UTC)", blocks=[bullets(timeline_lines(facts, limit=14))]),
        Section(heading="Root cause", blocks=[paragraph(*cause), *([bullets(why)] if why else [])]),
        Section(
            heading="Contributing factors",
            blocks=[bullets(_contributing(facts, late) or [[text("None found in the evidence.")]])],
        ),
        Section(
            heading="What went well",
            blocks=[
                bullets(
                    _went_well(facts, detection, late)
                    or [[text("Nothing the evidence shows; add what the responders saw.")]]
                )
            ],
        ),
        Section(heading="Action items", blocks=[bullets(_actions(facts, late))]),
        Section(heading="Evidence", blocks=[bullets(evidence_lines(facts, limit=12))]),
    ]
    return Document(title=f"Postmortem (draft): {ticket_title(facts)}", sections=sections)


def status_update(basis: Basis) -> Document:
    """The stakeholder status update: plain words, no metric names."""
    facts = Facts(basis)
    incident = basis.incident
    ongoing = _ongoing(facts)
    state = (incident.status if incident and incident.status else "investigating").capitalize()
    head: Line = [strong("Status: "), text(state)]
    if incident and incident.severity:
        head += [text(" \u00b7 "), strong("Severity: "), text(incident.severity)]
    head += [text(f" \u00b7 as of {clock(basis.now)}")]
    affected = facts.affected()
    users = [a.service for a in affected if not a.root] or [a.service for a in affected]
    onset = facts.onset
    impact = [strong("Impact: "), text(f"Since {clock(onset)}, " if onset else "")]
    impact.append(
        text(
            f"requests to {', '.join(users)} are failing or slow."
            if users
            else "the impact is not known yet."
        )
    )
    if facts.root and facts.answer.confidence >= 0.45:
        cause = [
            strong("Cause: "),
            text(
                f"identified with {confidence_words(facts.answer.confidence)} confidence \u2014 {facts.root}: {facts.fault_name}."
            ),
        ]
    elif facts.root:
        cause = [
            strong("Cause: "),
            text(f"still being investigated; the leading suspect is {facts.root} ({facts.fault_name})."),
        ]
    else:
        cause = [strong("Cause: "), text("still being investigated.")]
    if facts.root and facts.fault_kind:
        mitigate = PLAYBOOK.get(facts.fault_kind, ("Mitigating {service}",))[0].format(service=facts.root)
        doing: Line = [strong("What we are doing: "), text(f"{mitigate}.")]
    else:
        doing = [strong("What we are doing: "), text("Narrowing down the cause.")]
    next_update = [
        strong("Next update: "),
        text(f"by {clock(basis.now + NEXT_UPDATE)}." if ongoing else "none planned: this is resolved."),
    ]
    lines = [head, impact, cause, doing, next_update]
    if facts.incident_id:
        lines.append([text("Details: "), link(facts.incident_id, facts.incident_url or "")])
    name = facts.incident_title or (f"{facts.root} {facts.fault_name}" if facts.root else "service trouble")
    title = f"Status update: {' '.join(name.split())}"
    return Document(title=title[:150], sections=[Section(blocks=[paragraph(*line) for line in lines])])


def draft(kind: DraftKind, basis: Basis) -> Document:
    """The draft of ``kind`` for ``basis``."""
    return postmortem(basis) if kind == "postmortem" else status_update(basis)


def posting(
    kind: DraftKind, target: DraftTarget, basis: Basis, *, channel: str | None = None
) -> ProposedAction:
    """The change that posts the ``kind`` draft for ``basis`` to ``target``, as written now: a ticket carrying the
    incident in its incident field, a signed note on the incident's timeline, or a message to ``channel``.
    ``BadQuery`` when the target needs what is missing (an incident for a note, a channel for a message)."""
    document = draft(kind, basis)
    facts = Facts(basis)
    name = "postmortem draft" if kind == "postmortem" else "status update"
    arguments: dict[str, Any]
    if target == "ticket":
        fields = {INCIDENT_FIELD: facts.incident_id} if facts.incident_id else {}
        ticket = CreateTicketInput(title=document.title, description=to_markdown(document), fields=fields)
        tool, arguments = "create_ticket", {"ticket": _json(ticket)}
        reason = f"File the {name} as a ticket" + (
            f" linked to {facts.incident_id}" if facts.incident_id else ""
        )
    elif target == "note":
        if not facts.incident_id:
            raise BadQuery(f"run {basis.run_id} names no incident to add the {name} to", source="copilot")
        note = TimelineAppendInput(
            kind=NOTE_KIND,
            body=to_markdown(document, with_title=True).strip(),
            actor={"name": basis.signature, "type": AUTHOR_TYPE, "onBehalfOf": basis.author},
            metadata={"runId": basis.run_id, "draft": kind},
        )
        tool, arguments = "append_timeline_note", {"incident_id": facts.incident_id, "note": _json(note)}
        reason = f"Add the {name} to {facts.incident_id}'s timeline"
    else:
        if not channel or not channel.strip():
            raise BadQuery(f"say which channel the {name} goes to", source="copilot")
        message = to_message(document, channel=channel.strip())
        tool, arguments = "send_message", {"message": _json(message)}
        reason = f"Post the {name} to {channel.strip()}"
    return ProposedAction(
        tool=f"{OWN_SERVER}.{tool}",
        arguments=arguments,
        reason=reason,
        evidence_ids=[item.id for item in facts.cited],
    )


def _json(model: CreateTicketInput | TimelineAppendInput | Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped

"""The ticket, the ticket update and the timeline note the Copilot proposes, written as an engineer would.

A ticket: a title naming the service and the symptom; a three-line summary; the root cause and how sure we are;
impact (which services, since when); a short timeline (onset, changes, alerts); the evidence as a short list of
labelled, absolute links; the incident in the ticket's incident field. An update adds a dated section to an open
ticket's description. A note is one paragraph on the incident's timeline. Each says who wrote it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from copilot.answer import EvidenceKind, Moment
from copilot.evidence import series_metric
from copilot.writeups.document import (
    Block,
    Document,
    Line,
    Section,
    Span,
    bullets,
    link,
    paragraph,
    strong,
    text,
)
from copilot.writeups.facts import Affected, Basis, Facts, clock, relative, said, stamp
from copilot.writeups.markdown import to_markdown
from copilot.writeups.quoting import quoted
from core_client.schemas import (
    FAULT_KIND_FIELD,
    INCIDENT_FIELD,
    SERVICE_FIELD,
    CreateTicketInput,
    Ticket,
    TimelineAppendInput,
    UpdateTicketInput,
)

TITLE_MAX = 120
CLAIM_MAX = 300
TIMELINE_LINES = 8
EVIDENCE_LINKS = 8
NOTE_LINKS = 3
KIND_WORDS: dict[EvidenceKind, str] = {
    EvidenceKind.ANOMALY: "Metric",
    EvidenceKind.METRIC: "Metric",
    EvidenceKind.LOG_PATTERN: "Log pattern",
    EvidenceKind.LOG: "Log line",
    EvidenceKind.DEPLOYMENT: "Change",
    EvidenceKind.ALERT: "Alert",
    EvidenceKind.INCIDENT: "Incident",
    EvidenceKind.TICKET: "Ticket",
    EvidenceKind.TIMELINE: "Timeline",
    EvidenceKind.RUNBOOK: "Runbook",
    EvidenceKind.SERVICE: "Service",
    EvidenceKind.FILE: "File",
}
NOTE_KIND = "note"
AUTHOR_TYPE = "copilot"


def symptom(facts: Facts, service: str) -> str:
    """What went wrong in ``service``, in a word, from the metric its first anomaly is about."""
    anomalies = [item for item in facts.of_kind(EvidenceKind.ANOMALY) if item.service == service]
    if not anomalies:
        return "trouble"
    metric = series_metric(anomalies[0].ref, service).lower()
    for words, name in (
        (("error", "5xx", "fail"), "errors"),
        (("latency", "duration", "response_time", "p99", "p95"), "slow responses"),
        (("cpu",), "CPU pressure"),
        (("memory", "heap", "rss"), "memory pressure"),
        (("disk", "filesystem"), "disk pressure"),
        (("saturation", "pool", "queue"), "saturation"),
        (("request", "traffic", "rps"), "a traffic change"),
    ):
        if any(word in metric for word in words):
            return name
    return f"{metric} off its baseline"


def _cut(value: str, limit: int) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


def ticket_title(facts: Facts) -> str:
    """``orders-api: connection pool exhausted - errors in checkout-api and 3 more since 13:38 UTC``."""
    root = facts.root
    if root is None:
        incident = facts.incident_id
        head = f"{facts.incident_title} ({incident})" if incident and facts.incident_title else facts.verdict
        return _cut(f"Follow-up: {head}", TITLE_MAX)
    others = [a.service for a in facts.affected() if not a.root]
    since = f" since {clock(facts.onset)}" if facts.onset else ""
    if others:
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        tail = f" \u2014 {symptom(facts, others[0])} in {others[0]}{more}{since}"
    else:
        tail = f" \u2014 {symptom(facts, root)}{since}"
    return _cut(f"{root}: {facts.fault_name}{tail}", TITLE_MAX)


def confidence_words(confidence: float) -> str:
    """``95% (high)``."""
    level = "high" if confidence >= 0.75 else "medium" if confidence >= 0.45 else "low"
    return f"{confidence:.0%} ({level})"


def _names(services: list[str]) -> str:
    if len(services) <= 1:
        return "".join(services)
    return ", ".join(services[:-1]) + " and " + services[-1]


def summary_lines(facts: Facts, *, related: list[Ticket]) -> list[Line]:
    """Three lines: what is wrong, who suffers since when, and where it is tracked."""
    affected = facts.affected()
    others = [a.service for a in affected if not a.root]
    root = facts.root
    if others and root:
        impact = f"{_names(others)} fail through {root}, since {clock(facts.onset)}."
    elif root:
        impact = f"Only {root} shows trouble so far (since {clock(facts.onset)})."
    else:
        impact = f"Affected: {_names([a.service for a in affected]) or 'no service identified yet'}."
    tracked: Line = []
    incident = facts.incident_id
    if incident:
        incident_url = facts.incident_url or ""
        tracked = [text("Incident "), link(incident, incident_url), text(" ")]
        if facts.incident_title:
            tracked.append(quoted(facts.incident_title, limit=100))
        basis_incident = facts.basis.incident
        if basis_incident is not None and (basis_incident.severity or basis_incident.status):
            state = ", ".join(p for p in (basis_incident.severity, basis_incident.status) if p)
            tracked.append(text(f" ({state})"))
        tracked.append(text(" tracks it."))
    else:
        tracked = [text("No incident is open for it.")]
    if related:
        tracked.append(text(" Reported in "))
        for n, ticket in enumerate(related[:3]):
            if n:
                tracked.append(text(", "))
            tracked.append(
                link(ticket.key or ticket.id, ticket.url or facts.basis.absolute(f"/tickets/{ticket.id}"))
            )
        tracked.append(text("."))
    return [[text(facts.verdict)], [text(impact)], tracked]


def _moment(facts: Facts, moment: Moment, *, with_day: bool) -> Line:
    """``**13:38** orders-api left its baseline: [`orders-api error_rate`](https://…)``; a change also says
    where it falls against the onset."""
    when = moment.at.strftime("%Y-%m-%d %H:%M" if with_day else "%H:%M")
    item = facts.evidence_of(moment)
    # A label that only repeats what the evidence quotes (an alert's title) says what happened in OpsPilot's words.
    label = (
        said(item)
        if item is not None and moment.label and moment.label in (item.label or "")
        else moment.label
    )
    spans: Line = [strong(when), text(" " + label)]
    if item is not None:
        href = facts.basis.absolute(item.link) if item.link else None
        spans += [text(": "), quoted(item.label or item.ref, limit=120, href=href)]
    if moment.kind == "change":
        placed = relative(moment.at, facts.onset)
        if placed:
            spans.append(text(f" ({placed})"))
    return spans


def timeline_lines(facts: Facts, *, limit: int = TIMELINE_LINES) -> list[Line]:
    """The short timeline, oldest first (times in UTC; with the date when it spans days)."""
    moments = facts.moments(limit=limit)
    with_day = len({m.at.date() for m in moments}) > 1
    return [_moment(facts, moment, with_day=with_day) for moment in moments]


def evidence_lines(facts: Facts, *, limit: int = EVIDENCE_LINKS) -> list[Line]:
    """``Metric: [`orders-api db_pool_in_use up: 40 where 8.8 is normal`](https://…)``, the cause's first."""
    return [
        [
            text(f"{KIND_WORDS.get(item.kind, item.kind.value)}: "),
            quoted(item.label or item.ref, limit=120, href=facts.basis.absolute(item.link or "")),
        ]
        for item in facts.links(limit=limit)
    ]


def _impact_line(facts: Facts, affected: Affected) -> Line:
    since = f"since {clock(affected.since)}" if affected.since else "since an unknown time"
    role = "root cause, " if affected.root else ""
    return [strong(affected.service), text(f" \u2014 {role}{since}")]


def ticket_document(facts: Facts, *, related: list[Ticket]) -> Document:
    """The whole ticket: summary, root cause, impact, timeline, evidence, what was not checked, who wrote it."""
    basis = facts.basis
    sections = [
        Section(
            heading="Summary", blocks=[paragraph(*line) for line in summary_lines(facts, related=related)]
        )
    ]
    cause: list[Span] = (
        [strong(f"{facts.root}: {facts.fault_name}")] if facts.root else [strong("Not identified yet")]
    )
    cause.append(text(f" \u2014 confidence {confidence_words(facts.answer.confidence)}."))
    why = [[text(_cut(claim, CLAIM_MAX))] for claim in facts.root_claims(limit=3)]
    sections.append(
        Section(heading="Root cause", blocks=[paragraph(*cause), *([bullets(why)] if why else [])])
    )
    impact = [_impact_line(facts, affected) for affected in facts.affected()]
    if impact:
        sections.append(Section(heading="Impact", blocks=[bullets(impact)]))
    moments = timeline_lines(facts)
    if moments:
        sections.append(Section(heading="Timeline (UTC)", blocks=[bullets(moments)]))
    links = evidence_lines(facts)
    if links:
        sections.append(Section(heading="Evidence", blocks=[bullets(links)]))
    if facts.answer.missing:
        missing = [[text(_cut(note, CLAIM_MAX))] for note in facts.answer.missing[:5]]
        sections.append(Section(heading="Not checked", blocks=[bullets(missing)]))
    sections.append(
        Section(
            blocks=[
                paragraph(
                    text(f"Written by {basis.signature} from "),
                    link(f"run {basis.run_id}", basis.run_url),
                    text("."),
                )
            ]
        )
    )
    return Document(title=ticket_title(facts), sections=sections)


def ticket_fields(facts: Facts) -> dict[str, str]:
    """OpsPilot's ticket fields: the incident it follows up and the root cause it records."""
    fields: dict[str, str] = {}
    if facts.incident_id:
        fields[INCIDENT_FIELD] = facts.incident_id
    if facts.root:
        fields[SERVICE_FIELD] = facts.root
    if facts.fault_kind:
        fields[FAULT_KIND_FIELD] = facts.fault_kind
    environment = facts.basis.incident.fields.get("environment") if facts.basis.incident else None
    if isinstance(environment, str) and environment:
        fields["environment"] = environment
    return fields


def new_ticket(basis: Basis, *, related: list[Ticket] | None = None) -> CreateTicketInput:
    """The ticket to file for ``basis``; ``related`` are open tickets of the incident that record no cause."""
    facts = Facts(basis)
    document = ticket_document(facts, related=related or [])
    return CreateTicketInput(
        title=document.title, description=to_markdown(document), fields=ticket_fields(facts)
    )


def update_heading(basis: Basis) -> str:
    return f"Update {stamp(basis.now)} by {basis.signature}"


class TicketUpdate(BaseModel):
    """An update of an open ticket: fields to set, and a section to add at the end of its description."""

    changes: UpdateTicketInput
    append_description: str


def ticket_update(basis: Basis, existing: Ticket) -> TicketUpdate:
    """A dated, signed section for an open ticket's description (added when the change is made, so its text
    stays as it is then), and the incident set in its incident field when it had none."""
    facts = Facts(basis)
    cause: list[Span] = [text(facts.verdict + " ")]
    if facts.root:
        cause += [text("Root cause: "), strong(f"{facts.root}: {facts.fault_name}")]
        cause.append(text(f", confidence {confidence_words(facts.answer.confidence)}."))
    blocks: list[Block] = [paragraph(*cause)]
    links = evidence_lines(facts, limit=5)
    if links:
        blocks.append(bullets(links))
    blocks.append(paragraph(text("From "), link(f"run {basis.run_id}", basis.run_url), text(".")))
    section = to_markdown(
        Document(title="", sections=[Section(heading=update_heading(basis), blocks=blocks)])
    )
    fields = {key: value for key, value in ticket_fields(facts).items() if not existing.fields.get(key)}
    return TicketUpdate(changes=UpdateTicketInput(fields=fields or None), append_description=section)


def timeline_note(basis: Basis, *, at: datetime | None = None) -> TimelineAppendInput:
    """One paragraph for the incident's timeline, signed, with a few labelled links and the run."""
    facts = Facts(basis)
    spans: Line = [strong(basis.signature), text(": " + facts.verdict)]
    if facts.root:
        spans.append(
            text(
                f" Root cause {facts.root} ({facts.fault_name}), confidence {confidence_words(facts.answer.confidence)}."
            )
        )
    links = facts.links(limit=NOTE_LINKS)
    if links:
        spans.append(text(" Evidence: "))
        for n, item in enumerate(links):
            if n:
                spans.append(text("; "))
            spans.append(quoted(item.label or item.ref, limit=80, href=basis.absolute(item.link or "")))
        spans.append(text("."))
    spans += [text(" "), link(f"Run {basis.run_id}", basis.run_url), text(".")]
    body = to_markdown(Document(title="", sections=[Section(blocks=[paragraph(*spans)])])).strip()
    metadata = {"runId": basis.run_id}
    if facts.root and facts.fault_kind:
        metadata.update({"rootService": facts.root, "faultKind": facts.fault_kind})
    return TimelineAppendInput(
        at=at,
        kind=NOTE_KIND,
        body=body,
        actor={"name": basis.signature, "type": AUTHOR_TYPE, "onBehalfOf": basis.author},
        metadata=metadata,
    )

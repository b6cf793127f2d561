"""Has this happened before: past incidents ranked by how much they resemble the trouble asked about.

1. Signals: which series of which service left their baseline now (what "this" looks like), and the incident
   history of the service asked about, over as long as the source keeps it, with the most recent resolved ones.
2. The timelines of the closest past incidents: what was done, and what resolved them.

Similarity rests on what any company's history says: the same service (or one it calls or is called by), the same
symptoms (errors, latency, restarts, a full disk... read from titles, descriptions and timelines as from metric
names), the same fault mechanism named in words, and shared words. Log patterns are not kept with past incidents,
so they are not compared; the answer says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from copilot.answer import Answer, Claim, EvidenceKind, Moment, QuestionKind
from copilot.evidence import evidence_id
from copilot.planners.offline.diagnosis import MECHANISM_WORDS, OUTAGE_WORDS
from copilot.planners.offline.kinds.why_failing import situation_of
from copilot.planners.offline.ranking import rank, read_signal
from copilot.planners.offline.readings import CLOSED_STATUSES, Findings, Signal, signal_of
from copilot.planners.offline.report import at, run_notes
from copilot.planners.offline.rounds import Round, apart, incident_of, request, signals_round
from copilot.planners.offline.scope import words
from copilot.planning import PlanContext, ToolRequest
from core_client.schemas import Incident, TimelineEntry

HISTORY_LIMIT = 50
TIMELINES_READ = 3
MAX_LISTED = 5
# Points toward similarity, by what is shared.
SAME_SERVICE, NEIGHBOUR, SAME_SYMPTOM, SAME_MECHANISM, SHARED_WORDS = 3.0, 1.0, 2.0, 2.0, 1.0
# Errors and slowness come with nearly every incident: sharing one of them counts for less.
COMMON_SYMPTOM = 1.0
SERVING = frozenset({Signal.ERRORS, Signal.LATENCY, Signal.TRAFFIC})
# Below this a past incident shares too little to be called the same thing happening again: the same service alone
# is not enough (every service has a history), it must also share a symptom, or a symptom and a mechanism elsewhere.
SIMILAR = SAME_SERVICE + COMMON_SYMPTOM
# Everyday words for symptoms that metric names do not use.
SYMPTOM_WORDS: dict[str, Signal] = {
    "slow": Signal.LATENCY,
    "timeout": Signal.LATENCY,
    "p99": Signal.LATENCY,
    "5xx": Signal.ERRORS,
    "502": Signal.ERRORS,
    "503": Signal.ERRORS,
    "500": Signal.ERRORS,
    "failing": Signal.ERRORS,
    "failure": Signal.ERRORS,
    "restarting": Signal.RESTARTS,
    "crash": Signal.RESTARTS,
    "oom": Signal.RESTARTS,
}
# What resolved an incident, as timelines say it.
RESOLVED = re.compile(
    r"\b(resolved|mitigated|fixed|rolled back|roll(ed)?[- ]?back|reverted|restarted|scaled|recovered)\b", re.I
)


@dataclass
class Traits:
    """What an incident (or the trouble now) is about: its service, symptoms, mechanism and words."""

    service: str | None
    symptoms: set[Signal] = field(default_factory=set)
    mechanisms: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)


@dataclass
class Match:
    """A past incident, how similar it is to the trouble now, and why."""

    incident: Incident
    score: float
    shared: list[str]
    resolution: TimelineEntry | None = None


def traits_of_text(service: str | None, text: str) -> Traits:
    """The symptoms and mechanisms ``text`` names, whatever the company (metric-name words, everyday words)."""
    lower = text.lower()
    # Every word for symptoms (the words that name services leave out "error", "slow"...).
    tokens = set(re.findall(r"[a-z0-9]+", lower))
    symptoms = {signal_of(w) for w in tokens} | {SYMPTOM_WORDS[w] for w in tokens if w in SYMPTOM_WORDS}
    mechanisms = {kind for kind, phrases in MECHANISM_WORDS if any(p in lower for p in phrases)}
    if any(p in lower for p in OUTAGE_WORDS) or "provider" in tokens:
        mechanisms.add("dependency_outage")
    return Traits(service, symptoms - {Signal.OTHER}, mechanisms, set(words(text)))


def trouble_now(context: PlanContext, findings: Findings) -> Traits:
    """What "this" is: the service asked about (or where trouble starts), what moved on it, what was said of it."""
    situation = situation_of(context, findings)
    ranking = rank(findings, situation.asked, situation.alerted)
    service = next(iter(situation.asked), None) or ranking.root
    incident = incident_of(context, findings)
    text = " ".join(
        [incident.title, incident.description] if incident is not None and incident.service == service else []
    )
    traits = traits_of_text(service, text)
    symptoms = ranking.affected.get(service or "")
    if symptoms is not None:
        traits.symptoms |= {s for a in symptoms.anomalies if (s := read_signal(a)) is not Signal.OTHER}
    for turn in reversed(context.conversation):
        if turn.answer is not None and turn.answer.root_cause is not None:
            traits.mechanisms.add(turn.answer.root_cause.fault_kind)
            break
    return traits


def similarity(now: Traits, past: Incident, timeline: list[TimelineEntry], findings: Findings) -> Match:
    """How much ``past`` resembles the trouble ``now``, and what they share."""
    text = " ".join([past.title, past.description, *(e.body for e in timeline)])
    then = traits_of_text(past.service, text)
    score, shared = 0.0, []
    graph = findings.graph
    if now.service and past.service == now.service:
        score += SAME_SERVICE
        shared.append(f"the same service, {graph.label(past.service)}")
    elif (
        now.service
        and past.service
        and (
            past.service in graph.dependencies_of(now.service)
            or now.service in graph.dependencies_of(past.service)
        )
    ):
        score += NEIGHBOUR
        shared.append(f"a neighbour, {graph.label(past.service)}")
    symptoms = sorted(s.value for s in now.symptoms & then.symptoms)
    if symptoms:
        score += sum(COMMON_SYMPTOM if Signal(s) in SERVING else SAME_SYMPTOM for s in symptoms)
        shared.append(f"the same symptom ({', '.join(symptoms)})")
    mechanisms = sorted(now.mechanisms & then.mechanisms)
    if mechanisms:
        score += SAME_MECHANISM
        shared.append(f"the same mechanism ({', '.join(m.replace('_', ' ') for m in mechanisms)})")
    # Words are compared on what both say of themselves (title, description): a timeline read for the closest
    # incidents only would otherwise dilute their share, and reorder them against incidents whose timeline was not read.
    said = set(words(f"{past.title} {past.description}"))
    common = now.words & said
    if now.words and common:
        score += SHARED_WORDS * len(common) / len(now.words | said)
    return Match(past, round(score, 2), shared, resolution_of(timeline))


def resolution_of(timeline: list[TimelineEntry]) -> TimelineEntry | None:
    """The timeline entry that says what resolved the incident, the last one that does."""
    return next(
        (e for e in sorted(timeline, key=lambda e: e.at, reverse=True) if RESOLVED.search(e.body)), None
    )


def past_incidents(context: PlanContext, findings: Findings) -> list[Incident]:
    """Incidents over and done with, other than the one the trouble is about."""
    current = incident_of(context, findings)
    return [
        i
        for i in findings.incidents
        if i.status.lower() in CLOSED_STATUSES and (current is None or i.id != current.id)
    ]


def ranked(context: PlanContext, findings: Findings) -> list[Match]:
    """Past incidents, most similar first (ties: the most recent)."""
    now = trouble_now(context, findings)
    by_incident: dict[str, list[TimelineEntry]] = {}
    for entry in findings.timeline:
        by_incident.setdefault(entry.incident_id, []).append(entry)
    matches = [
        similarity(now, i, by_incident.get(i.id, []), findings) for i in past_incidents(context, findings)
    ]
    return sorted(matches, key=lambda m: (-m.score, -_timestamp(m.incident.created_at), m.incident.id))


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _history_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    if apart(context, "incident"):
        return []
    service = trouble_now(context, findings).service
    calls = [
        request(
            context,
            "query_incidents",
            "the history of the service asked about",
            service=service,
            limit=HISTORY_LIMIT,
        )
        if service
        else None,
        request(
            context,
            "query_incidents",
            "the most recent incidents (the closed ones are the history)",
            limit=HISTORY_LIMIT,
        ),
    ]
    return [c for c in calls if c is not None]


def _timelines_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    closest = [m for m in ranked(context, findings) if m.score >= SIMILAR][:TIMELINES_READ]
    calls = [
        request(context, "get_incident_timeline", f"what resolved {m.incident.id}", incident_id=m.incident.id)
        for m in closest
    ]
    return [c for c in calls if c is not None]


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """The past incidents most like the trouble now, each cited, with what resolved it when its timeline says."""
    now = trouble_now(context, findings)
    matches = ranked(context, findings)
    similar = [m for m in matches if m.score >= SIMILAR]
    about = findings.graph.label(now.service) if now.service else "this trouble"
    claims = [_match_claim(findings, m) for m in similar[:MAX_LISTED]]
    if similar:
        best = similar[0]
        verdict = (
            f"Yes: {about} has had {len(similar)} similar incident{'s' if len(similar) > 1 else ''} before; the "
            f"closest is {_named(best.incident)}, sharing {', '.join(best.shared) or 'its words'}"
            + (f"; it was resolved: \u201c{best.resolution.body}\u201d" if best.resolution else "")
            + "."
        )
    else:
        symptoms = ", ".join(sorted(s.value for s in now.symptoms)) or "none measured"
        verdict = (
            f"No: none of the {len(matches)} past incidents read is of {about} with its symptoms ({symptoms})."
            if matches
            else f"No: the incident history has no past incident to compare with {about}'s trouble ({symptoms})."
        )
        if matches:
            claims.append(_match_claim(findings, matches[0], closest_only=True))
    missing = run_notes(context, findings, situation_of(context, findings))
    missing.append("log patterns are not kept with past incidents, so shared log patterns were not compared")
    return Answer(
        kind=QuestionKind.HISTORY,
        verdict=verdict,
        summary=verdict,
        claims=[c for c in claims if c.evidence_ids],
        timeline=[
            Moment(
                at=m.incident.created_at,
                kind="incident",
                label=_named(m.incident),
                evidence_ids=findings.cited(evidence_id(EvidenceKind.INCIDENT, m.incident.id)),
            )
            for m in similar[:MAX_LISTED]
            if m.incident.created_at is not None
        ],
        confidence=_confidence(similar, now),
        missing=missing,
    )


def _named(incident: Incident) -> str:
    when = incident.created_at.strftime("%Y-%m-%d") if incident.created_at else "an unknown day"
    return f"{incident.id} \u201c{incident.title}\u201d ({when})"


def _match_claim(findings: Findings, match: Match, *, closest_only: bool = False) -> Claim:
    incident = match.incident
    lead = "The closest, and still not alike" if closest_only else "Similar"
    text = f"{lead}: {_named(incident)}, {incident.severity or 'no severity'}, of {findings.graph.label(incident.service) if incident.service else 'no service'}"
    text += f": {', '.join(match.shared)}" if match.shared else ""
    ids = [evidence_id(EvidenceKind.INCIDENT, incident.id)]
    if match.resolution is not None:
        text += f"; resolved at {at(match.resolution.at)}: \u201c{match.resolution.body}\u201d"
        ids.append(evidence_id(EvidenceKind.TIMELINE, match.resolution.id))
    return Claim(text=text + ".", evidence_ids=findings.cited(*ids))


def _confidence(similar: list[Match], now: Traits) -> float:
    """More when the closest shares service, symptom and mechanism; less when the trouble now is barely known."""
    if not similar:
        return 0.6 if now.symptoms else 0.3
    best = similar[0].score
    full = SAME_SERVICE + SAME_SYMPTOM + SAME_MECHANISM
    return round(min(0.9, 0.4 + 0.5 * min(best, full) / full), 2)


ROUNDS: tuple[Round, ...] = (signals_round, _history_round, _timelines_round)
THOUGHTS: tuple[str, ...] = (
    "Find what the trouble looks like now: which series left their baseline, and where.",
    "Read the incident history of the service asked about, and the recent resolved incidents.",
    "Read the timelines of the closest past incidents: what resolved them.",
)

"""Has this happened before: past incidents ranked by how much they resemble the fault under investigation.

1. Signals: which series of which service left their baseline now, and when.
2. The fault now and the history: log patterns new since the onset and the changes before it (so the fault's kind
   and its own log lines are known, as the root-cause analysis reads them), the incident history of the service
   at fault, over as long as the source keeps it, and the most recent incidents.
3. The closest past incidents: their timelines (what was done, what resolved them) and, for a few, the log
   patterns new or grown when each began, compared with the fault's own (concurrently, each call bounded by the
   toolbox's timeout).

"This" is the fault under investigation: the service a question names, else the previous answer's root cause,
else the root the metrics point at (not the service an incident was reported on, which may only feel it).
Similarity rests on what any company's history says: the same service (or one it calls or is called by), the same
symptoms (errors, latency, restarts, a full disk... read from titles, descriptions and timelines as from metric
names), the same fault kind (named in words, or by the lines its logs said), and the same log lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from copilot.answer import Answer, Claim, EvidenceKind, Moment, QuestionKind
from copilot.evidence import evidence_id
from copilot.planners.offline.diagnosis import MECHANISM_WORDS, OUTAGE_WORDS, diagnose, log_mechanism
from copilot.planners.offline.kinds.why_failing import CHANGE_HISTORY, fallback_onset, situation_of
from copilot.planners.offline.ranking import Ranking, rank, read_signal
from copilot.planners.offline.readings import CLOSED_STATUSES, Findings, Signal, own_tool, signal_of
from copilot.planners.offline.report import at, run_notes
from copilot.planners.offline.rounds import (
    WARNINGS_AND_WORSE,
    Round,
    environment_of,
    incident_of,
    iso,
    patterns_request,
    request,
    signals_round,
)
from copilot.planners.offline.scope import words
from copilot.planning import PlanContext, ToolRequest
from core_client.schemas import Incident, TimelineEntry
from core_client.schemas.analysis import PatternChange, PatternComparison

HISTORY_LIMIT = 50
TIMELINES_READ = 3
# The past incidents whose own log patterns are mined and compared: a few, the closest by everything else, and the
# most recent similar ones (logs are kept for less time than incidents: the recent ones may be all there is).
WINDOWS_COMPARED = 3
RECENT_COMPARED = 2
# A past incident's window: from this long before it was opened (faults are felt before someone opens one) to
# this long after, compared with the hours before it, as the fault's own patterns were.
WINDOW_LEAD = timedelta(minutes=30)
WINDOW_AFTER = timedelta(minutes=30)
WINDOW_HOURS_BEFORE = 3
WINDOW_PATTERNS = 15
# The fault's own patterns compared: its loudest new lines.
FAULT_PATTERNS = 5
# Two templates are the same line when this share of their literal words (placeholders aside) is shared.
SAME_LINE = 0.7
MAX_LISTED = 5
# Points toward similarity, by what is shared.
SAME_SERVICE, NEIGHBOUR, SAME_SYMPTOM, SAME_MECHANISM, SHARED_WORDS = 3.0, 1.0, 2.0, 2.0, 1.0
# The same lines logged are the strongest sign of the same fault: a symptom is shared by many faults, a line by few.
SHARED_PATTERN = 3.0
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
_PLACEHOLDER = re.compile(r"<[^<>\s]*>")
# Where this kind keeps, in the run's memory, which past incident each window comparison was asked for.
MEMORY_KEY = "history"


@dataclass
class Traits:
    """What an incident (or the trouble now) is about: its service, symptoms, mechanism, words and log lines."""

    service: str | None
    symptoms: set[Signal] = field(default_factory=set)
    mechanisms: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    patterns: list[PatternChange] = field(default_factory=list)


@dataclass
class Window:
    """What a past incident's service began to log when it was opened (None: the logs were not compared)."""

    comparison: PatternComparison
    shared: list[tuple[PatternChange, PatternChange]] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        """Whether the log source still keeps lines of that time."""
        return self.comparison.lines_before + self.comparison.lines_after > 0


@dataclass
class Match:
    """A past incident, how similar it is to the trouble now, and why."""

    incident: Incident
    score: float
    shared: list[str]
    resolution: TimelineEntry | None = None
    window: Window | None = None
    # Whether it shares the fault itself (its kind, or the lines its logs said), not only service and symptoms.
    same_fault: bool = False


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


@dataclass(frozen=True)
class Fault:
    """The fault under investigation: its service, where its trouble was ranked from, and when it began."""

    service: str | None
    ranking: Ranking
    onset: datetime | None


def fault_now(context: PlanContext, findings: Findings) -> Fault:
    """The fault "this" means: the service the question names, else the previous answer's root cause, else the
    root the metrics point at from the page's or the incident's service, else that service itself."""
    situation = situation_of(context, findings)
    ranking = rank(findings, situation.asked, situation.alerted, situation.troubled)
    earlier = [
        findings.graph.key(turn.answer.root_cause.service)
        for turn in reversed(context.conversation)
        if turn.answer is not None and turn.answer.root_cause is not None
    ]
    service = next(iter([*situation.named, *earlier[:1]]), None) or ranking.root
    service = service or next(iter(situation.asked), None)
    symptoms = ranking.affected.get(service or "")
    onset = symptoms.onset if symptoms is not None else None
    return Fault(service, ranking, onset or ranking.onset)


def trouble_now(context: PlanContext, findings: Findings) -> Traits:
    """What "this" is: the fault's service, what moved on it, its kind and its own new log lines, what was said of it."""
    fault = fault_now(context, findings)
    service = fault.service
    incident = incident_of(context, findings)
    text = " ".join(
        [incident.title, incident.description] if incident is not None and incident.service == service else []
    )
    traits = traits_of_text(service, text)
    symptoms = fault.ranking.affected.get(service or "")
    if symptoms is not None:
        traits.symptoms |= {s for a in symptoms.anomalies if (s := read_signal(a)) is not Signal.OTHER}
    if service is not None and fault.onset is not None:
        anomalies = list(symptoms.anomalies) if symptoms is not None else []
        diagnosis = diagnose(findings, service, fault.onset, anomalies)
        if diagnosis.specific:
            traits.mechanisms.add(diagnosis.fault_kind)
        mine = {c.id: c for c in [*diagnosis.own_patterns, *diagnosis.complaints]}
        traits.patterns = sorted(mine.values(), key=lambda c: -c.count_after)[:FAULT_PATTERNS]
    for turn in reversed(context.conversation):
        if turn.answer is not None and turn.answer.root_cause is not None:
            traits.mechanisms.add(turn.answer.root_cause.fault_kind)
            break
    return traits


def same_line(one: str, other: str) -> bool:
    """Whether two templates are the same line: equal, or sharing most of their literal words (the miners of two
    windows may cut a variable differently)."""
    if one == other:
        return True
    first, second = (set(_PLACEHOLDER.sub(" ", t).lower().split()) for t in (one, other))
    return bool(first and second) and len(first & second) / len(first | second) >= SAME_LINE


def window_of(now: Traits, comparison: PatternComparison) -> Window:
    """The fault's patterns that ``comparison`` (a past incident's window) shows begin or grow as well."""
    shared = [
        (mine, then)
        for mine in now.patterns
        if (then := next((c for c in comparison.changes if same_line(mine.template, c.template)), None))
    ]
    return Window(comparison, shared)


def similarity(
    now: Traits,
    past: Incident,
    timeline: list[TimelineEntry],
    findings: Findings,
    window: Window | None = None,
) -> Match:
    """How much ``past`` resembles the trouble ``now``, and what they share (its logs' patterns when ``window``
    holds them)."""
    text = " ".join([past.title, past.description, *(e.body for e in timeline)])
    then = traits_of_text(past.service, text)
    if window is not None:
        said = log_mechanism(list(window.comparison.changes))
        if said is not None:
            then.mechanisms.add(said[0])
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
        shared.append(f"the same fault ({', '.join(m.replace('_', ' ') for m in mechanisms)})")
    if window is not None and window.shared:
        score += SHARED_PATTERN
        shared.append(f"the same log line `{window.shared[0][1].template}`")
    # Words are compared on what both say of themselves (title, description): a timeline read for the closest
    # incidents only would otherwise dilute their share, and reorder them against incidents whose timeline was not read.
    said_words = set(words(f"{past.title} {past.description}"))
    common = now.words & said_words
    if now.words and common:
        score += SHARED_WORDS * len(common) / len(now.words | said_words)
    same_fault = bool(mechanisms) or (window is not None and bool(window.shared))
    return Match(past, round(score, 2), shared, resolution_of(timeline), window, same_fault)


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


def ranked(context: PlanContext, findings: Findings, *, with_logs: bool = True) -> list[Match]:
    """Past incidents, most similar first (ties: the most recent); ``with_logs`` counts the log patterns of the
    windows compared so far."""
    now = trouble_now(context, findings)
    windows = past_windows(context, now) if with_logs else {}
    by_incident: dict[str, list[TimelineEntry]] = {}
    for entry in findings.timeline:
        by_incident.setdefault(entry.incident_id, []).append(entry)
    matches = [
        similarity(now, i, by_incident.get(i.id, []), findings, windows.get(i.id))
        for i in past_incidents(context, findings)
    ]
    return sorted(matches, key=lambda m: (-m.score, -_timestamp(m.incident.created_at), m.incident.id))


def _window_start(incident: Incident) -> datetime | None:
    return incident.created_at - WINDOW_LEAD if incident.created_at is not None else None


def past_windows(context: PlanContext, now: Traits) -> dict[str, Window]:
    """The past incidents' windows this run compared, by incident: each call asked one service from the moment
    :func:`_window_start` gives, so a call is told apart from the fault's own comparison by its arguments."""
    specs = {spec.name: spec for spec in context.tools}
    asked: dict[tuple[str, str], PatternComparison] = {}
    for outcome in context.outcomes:
        spec = specs.get(outcome.tool)
        if spec is None or spec.tool != "compare_log_patterns" or not outcome.ok:
            continue
        service, since = outcome.arguments.get("service"), outcome.arguments.get("since")
        if isinstance(service, str) and isinstance(since, str) and isinstance(outcome.structured, dict):
            try:
                asked[(service, since)] = PatternComparison.model_validate(outcome.structured)
            except ValueError:
                continue
    windows: dict[str, Window] = {}
    for incident_id, (service, since) in _window_keys(context).items():
        comparison = asked.get((service, since))
        if comparison is not None:
            windows[incident_id] = window_of(now, comparison)
    return windows


def _window_keys(context: PlanContext) -> dict[str, tuple[str, str]]:
    """The (service, since) each past incident's window was asked with, as the run's memory kept it."""
    kept = context.memory.get(MEMORY_KEY, {}).get("windows", {})
    return {str(k): (str(v[0]), str(v[1])) for k, v in kept.items()} if isinstance(kept, dict) else {}


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _fault_and_history_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    """The fault's own log patterns and the changes before it (what kind of fault it is), and the history."""
    fault = fault_now(context, findings)
    onset = fault.onset or fault.ranking.first_onset() or fallback_onset(context, findings)
    calls = [patterns_request(context, findings, onset, WARNINGS_AND_WORSE)]
    if not context.clock_apart("deployment"):
        calls.append(
            request(
                context,
                "query_deployments",
                "changes before the onset (what kind of fault this is)",
                start=iso(onset - CHANGE_HISTORY),
                end=iso(context.now),
                environment=environment_of(context, findings),
                limit=30,
            )
        )
    if not context.clock_apart("incident"):
        service = fault.service
        calls += [
            request(
                context,
                "query_incidents",
                f"the history of {findings.graph.label(service)}, where the fault is",
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


def _closest_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    """The closest incidents' timelines, and what the closest few logged when they began."""
    now = trouble_now(context, findings)
    closest = [m for m in ranked(context, findings, with_logs=False) if m.score >= SIMILAR]
    calls = [
        request(context, "get_incident_timeline", f"what resolved {m.incident.id}", incident_id=m.incident.id)
        for m in closest[:TIMELINES_READ]
    ]
    keys: dict[str, tuple[str, str]] = {}
    if now.patterns and not context.clock_apart("log"):
        recent = sorted(closest[WINDOWS_COMPARED:], key=lambda m: -_timestamp(m.incident.created_at))
        for match in [*closest[:WINDOWS_COMPARED], *recent[:RECENT_COMPARED]]:
            start, service = _window_start(match.incident), match.incident.service
            if start is None or not service or start >= context.now:
                continue
            until = min(start + WINDOW_LEAD + WINDOW_AFTER, context.now)
            call = request(
                context,
                "compare_log_patterns",
                f"what {findings.graph.label(service)} began to log when {match.incident.id} was opened",
                since=iso(start),
                service=service,
                before_hours=WINDOW_HOURS_BEFORE,
                until=iso(until),
                severities=WARNINGS_AND_WORSE,
                limit=WINDOW_PATTERNS,
            )
            if call is not None:
                calls.append(call)
                keys[match.incident.id] = (service, iso(start))
    context.memory.setdefault(MEMORY_KEY, {})["windows"] = keys
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
        closest = (
            f"the closest is {_named(best.incident)}, sharing {', '.join(best.shared) or 'its words'}"
            + (f"; it was resolved: \u201c{best.resolution.body}\u201d" if best.resolution else "")
            + "."
        )
        fault = _fault_words(now)
        if fault and not any(m.same_fault for m in similar):
            # Symptoms are shared by many faults: without the fault's kind or lines in common, it is not this again.
            verdict = (
                f"No, not this fault as far as the history says: none of the {len(similar)} past incidents of {about} "
                f"with its symptoms shared its fault ({fault}) or its log lines; " + closest
            )
        else:
            again = sum(m.same_fault for m in similar)
            verdict = (
                f"Yes: {about} has had {len(similar)} similar incident{'s' if len(similar) > 1 else ''} before"
                + (f" ({again} of the same fault)" if fault and again else "")
                + "; "
                + closest
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
    missing += _log_notes(context, now, similar)
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


def _fault_words(now: Traits) -> str:
    """The fault under investigation by kind ("connection pool exhaustion"), or "" when its kind is unknown."""
    return " or ".join(kind.replace("_", " ") for kind in sorted(now.mechanisms))


def _log_notes(context: PlanContext, now: Traits, similar: list[Match]) -> list[str]:
    """What could not be said of log patterns, and why."""
    if own_tool(context.tools, "compare_log_patterns") is None or context.clock_apart("log"):
        return ["logs were not read, so shared log patterns were not compared"]
    if not now.patterns:
        return ["the fault logged no new pattern of its own, so past incidents' logs were not compared"]
    unkept = [m.incident.id for m in similar if m.window is not None and not m.window.kept]
    notes = []
    if unkept:
        notes.append(
            f"no logs are kept from the time of {', '.join(unkept)}, so their log patterns were not compared"
        )
    if similar and not any(m.window is not None for m in similar):
        notes.append("the closest incidents' log patterns could not be read, so they were not compared")
    return notes


def _named(incident: Incident) -> str:
    when = incident.created_at.strftime("%Y-%m-%d") if incident.created_at else "an unknown day"
    return f"{incident.id} \u201c{incident.title}\u201d ({when})"


def _match_claim(findings: Findings, match: Match, *, closest_only: bool = False) -> Claim:
    incident = match.incident
    lead = "The closest, and still not alike" if closest_only else "Similar"
    text = f"{lead}: {_named(incident)}, {incident.severity or 'no severity'}, of {findings.graph.label(incident.service) if incident.service else 'no service'}"
    text += f": {', '.join(match.shared)}" if match.shared else ""
    ids = [evidence_id(EvidenceKind.INCIDENT, incident.id)]
    window = match.window
    if window is not None and window.shared:
        mine, then = window.shared[0]
        # The line itself is quoted among what is shared: here, how much of it then and now.
        text += (
            f" ({then.count_after:,} lines from {at(then.first_seen)} then, "
            f"{mine.count_after:,} from {at(mine.first_seen)} now)"
        )
        ids += [
            evidence_id(EvidenceKind.LOG_PATTERN, then.id),
            evidence_id(EvidenceKind.LOG_PATTERN, mine.id),
        ]
    elif window is not None and window.kept:
        text += (
            f"; its logs then ({window.comparison.lines_after:,} warning and error lines) shared none of the "
            "fault's new patterns"
        )
    if match.resolution is not None:
        text += f"; resolved at {at(match.resolution.at)}: \u201c{match.resolution.body}\u201d"
        ids.append(evidence_id(EvidenceKind.TIMELINE, match.resolution.id))
    return Claim(text=text + ".", evidence_ids=findings.cited(*ids))


def _confidence(similar: list[Match], now: Traits) -> float:
    """More when the closest shares service, symptom, fault and lines; less when the trouble now is barely known."""
    if not similar:
        return 0.6 if now.symptoms else 0.3
    best = similar[0].score
    full = SAME_SERVICE + SAME_SYMPTOM + SAME_MECHANISM + SHARED_PATTERN
    return round(min(0.9, 0.4 + 0.5 * min(best, full) / full), 2)


ROUNDS: tuple[Round, ...] = (signals_round, _fault_and_history_round, _closest_round)
THOUGHTS: tuple[str, ...] = (
    "Find what the trouble looks like now: which series left their baseline, and where.",
    "Read what the fault's logs began to say and the changes before it, and the incident history where it is.",
    "Read the closest past incidents' timelines, and compare what their logs began to say with the fault's.",
)

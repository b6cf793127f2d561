"""Was this change the cause; what changed before T: a verdict on each change asked about, said first.

1. Signals: which series left their baseline, and when (the onset of the trouble the change is weighed against).
2. Changes: deployments, configuration changes and feature flags over the hours before the onset (or before the
   time asked about) up to now, and the log patterns new since the trouble began.
3. After each change asked about: the log patterns of its service that are new or grown since it went out.

A change is the cause when it went out to the root of the trouble shortly before the trouble began there (the
root-cause analysis's own suspect). It is not when it went out after the trouble began, when its service stayed
at its baseline after it, when its service's trouble follows another's that it calls, or when it is too old to
explain an onset it did not lead. Each verdict says its timing against the onset and the evidence for and against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from copilot.answer import Answer, Claim, EvidenceKind, Moment, QuestionKind, RootCause
from copilot.evidence import evidence_id
from copilot.planners.offline.diagnosis import Diagnosis, diagnose
from copilot.planners.offline.graph import ServiceGraph
from copilot.planners.offline.kinds.why_failing import fallback_onset, situation_of
from copilot.planners.offline.questions import Question, question_of
from copilot.planners.offline.ranking import CHANGE_LEAD, CHANGE_SLACK, Ranking, rank
from copilot.planners.offline.readings import Findings
from copilot.planners.offline.report import (
    PHRASES,
    Situation,
    anomaly_id,
    at,
    change_kind,
    change_moment,
    checked_path,
    minutes,
    onset_moment,
    run_notes,
)
from copilot.planners.offline.rounds import (
    WARNINGS_AND_WORSE,
    Round,
    environment_of,
    iso,
    patterns_request,
    request,
    signals_round,
)
from copilot.planners.offline.scope import CHANGE_WORDS, named_services
from copilot.planning import PlanContext, ToolRequest
from core_client.schemas import Deployment
from core_client.units import anomaly_reading

# Changes are read over this long before the onset (or the time asked about), up to now.
CHANGE_HISTORY = timedelta(hours=3)
# A service is the changed one when named this many words or fewer from a change word.
CHANGE_REACH = 3
# A change named by its service is looked for this far back.
NAMED_HISTORY = timedelta(hours=24)
# "What changed before T" lists at most this many changes, the nearest to T first.
MAX_CHANGES = 6
# The changes whose own logs are compared before and after them.
MAX_COMPARED = 3
# A change's own logs are compared with the hours before it.
PATTERN_HOURS_BEFORE = 3


@dataclass(frozen=True)
class Weighed:
    """One change and the verdict on it: whether it caused the trouble, and why (or why not)."""

    change: Deployment
    cause: bool
    verdict: str
    evidence_ids: list[str]


def fault_in_words(fault_kind: str) -> str:
    """What a fault kind means, as a sentence's clause ("its database connection pool is exhausted, ..."), never the
    kind's identifier."""
    return PHRASES.get(fault_kind, fault_kind.replace("_", " "))


def changed_services(question: Question, graph: ServiceGraph) -> list[str]:
    """The services whose change the question names: those named next to a change word ("the search-api deploy",
    "the new orders-api release", "a config change to catalog"), not the ones whose trouble it mentions ("caused
    the checkout errors")."""
    words = question.wording.split()
    near: list[str] = []
    for index, word in enumerate(words):
        if CHANGE_WORDS.search(word):
            window = " ".join(words[max(0, index - CHANGE_REACH) : index + CHANGE_REACH + 1])
            near += named_services(window, graph)
    return list(dict.fromkeys(near))


def asked_changes(
    question: Question, findings: Findings, onset: datetime | None, now: datetime
) -> list[Deployment]:
    """The changes the question is about: the one it names (by id or version), else the latest to each service it
    names, else every change in the hours before the time asked about (the onset, or now), nearest first."""
    dated = [d for d in findings.deployments if d.started_at is not None]
    ref = (question.change_ref or "").lower().lstrip("#")
    if ref:
        named = [d for d in dated if ref in (d.id.lower(), d.version.lower(), d.version.lower().lstrip("v"))]
        if named:
            return named[:1]
    services = set(changed_services(question, findings.graph))
    latest = [
        max(mine, key=_started)
        for service in sorted(services)
        if (mine := [d for d in dated if d.service == service and _started(d) <= (question.until or now)])
    ]
    if latest:
        return sorted(latest, key=_started, reverse=True)
    end = question.until or onset or now
    window = [d for d in dated if end - CHANGE_HISTORY <= _started(d) <= end + CHANGE_SLACK]
    return sorted(window, key=_started, reverse=True)[:MAX_CHANGES]


def weigh(change: Deployment, findings: Findings, ranking: Ranking, diagnosis: Diagnosis | None) -> Weighed:
    """The verdict on ``change`` against the trouble ``ranking`` found, with its evidence."""
    started = _started(change)
    service, root, onset = change.service, ranking.root, ranking.onset
    label = findings.graph.label
    what = f"{change.id}, a {change_kind(change)} of {label(service)} ({change.version or 'unversioned'}), went out at {at(started)}"
    ids = [evidence_id(EvidenceKind.DEPLOYMENT, change.id)]
    symptoms = ranking.affected.get(service)
    if root is None or onset is None:
        if symptoms is not None and symptoms.onset is not None and symptoms.onset >= started:
            top = max(symptoms.anomalies, key=lambda a: abs(a.peak_z))
            verdict = f"Possibly: {what}, and {label(service)} left its baseline {minutes(symptoms.onset - started)} later ({anomaly_reading(top)})."
            return Weighed(change, False, verdict, [*ids, anomaly_id(top)])
        return Weighed(
            change, False, f"No sign of it: {what} and no service left its baseline after it.", ids
        )
    root_ids = [anomaly_id(a) for a in ranking.affected[root].serving()[:1]]
    trouble = f"{label(root)} began failing at {at(onset)}"
    if diagnosis is not None and diagnosis.change is not None and diagnosis.change.id == change.id:
        verdict = (
            f"Yes: {what}, {minutes(onset - started)} before {trouble}; "
            f"{PHRASES.get(diagnosis.fault_kind, 'it began failing right after it')}."
        )
        return Weighed(change, True, verdict, ids + root_ids)
    if started > onset + CHANGE_SLACK:
        verdict = f"No: {what}, {minutes(started - onset)} after {trouble}, so it cannot have started it."
        return Weighed(change, False, verdict, ids + root_ids)
    if symptoms is None or symptoms.onset is None:
        verdict = f"No: {what}, and {label(service)} stayed at its baseline after it; the trouble is {label(root)}'s, since {at(onset)}."
        return Weighed(change, False, verdict, ids + root_ids)
    if service != root:
        top = max(symptoms.anomalies, key=lambda a: abs(a.peak_z))
        ids += [*root_ids, anomaly_id(top)]
        if service in ranking.coverage:
            verdict = (
                f"No: {what}; {label(service)}'s trouble since {at(symptoms.onset)} follows {label(root)}'s, which it depends on "
                f"and which began at {at(onset)}, not the change."
            )
        elif started <= symptoms.onset <= started + CHANGE_LEAD:
            # Trouble of its own, apart from the root's: the change may explain that, not what the root fails of.
            verdict = (
                f"Not of {label(root)}'s trouble, but possibly of {label(service)}'s own: {what}, "
                f"{minutes(symptoms.onset - started)} before {label(service)} left its baseline ({anomaly_reading(top)})."
            )
        else:
            verdict = (
                f"No: {what}; {label(service)}'s own trouble began at {at(symptoms.onset)}, not right after it, "
                f"and {trouble} apart from it."
            )
        return Weighed(change, False, verdict, ids)
    lead = onset - started
    reason = (
        f"{minutes(lead)} before {trouble}, too long before for errors to have followed it"
        if lead > CHANGE_LEAD
        else f"just before {trouble}, but the evidence names another cause: {fault_in_words(diagnosis.fault_kind) if diagnosis else 'unknown'}"
    )
    return Weighed(change, False, f"Unlikely: {what}, {reason}.", ids + root_ids)


def _started(change: Deployment) -> datetime:
    assert change.started_at is not None  # only dated changes are weighed
    return change.started_at


def _trouble(context: PlanContext, findings: Findings) -> tuple[Situation, Ranking, Diagnosis | None]:
    """The trouble the changes are weighed against: the root-cause analysis over the question's symptoms (its
    named services stand for the changes asked about, not for the trouble, so only the page, the incident and
    the alerts say where it is)."""
    situation = situation_of(context, findings)
    named = set(changed_services(question_of(context), findings.graph))
    asked = [s for s in situation.asked if s not in named]
    ranking = rank(findings, asked, situation.alerted, situation.troubled)
    diagnosis = None
    if ranking.root is not None and ranking.onset is not None:
        diagnosis = diagnose(
            findings, ranking.root, ranking.onset, list(ranking.affected[ranking.root].anomalies)
        )
    return situation, ranking, diagnosis


def _changes_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    _, ranking, _ = _trouble(context, findings)
    question = question_of(context)
    onset = ranking.onset or ranking.first_onset() or fallback_onset(context, findings)
    start = min(onset, question.until or onset) - CHANGE_HISTORY
    calls = [patterns_request(context, findings, onset, WARNINGS_AND_WORSE)]
    if not context.clock_apart("deployment"):
        environment = environment_of(context, findings)
        calls.append(
            request(
                context,
                "query_deployments",
                "the changes before the trouble",
                start=iso(start),
                end=iso(context.now),
                environment=environment,
                limit=50,
            )
        )
        # A change named by its service may be older than the hours before the trouble: that is part of the answer.
        calls += [
            request(
                context,
                "query_deployments",
                f"the latest changes to {findings.graph.label(service)}",
                service=service,
                start=iso(context.now - NAMED_HISTORY),
                end=iso(context.now),
                environment=environment,
                limit=10,
            )
            for service in changed_services(question, findings.graph)[:MAX_COMPARED]
        ]
    return [c for c in calls if c is not None]


def _after_changes_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    """What each change's own service began to log after it went out."""
    if context.clock_apart("log"):
        return []
    _, ranking, _ = _trouble(context, findings)
    changes = asked_changes(question_of(context), findings, ranking.onset, context.now)[:MAX_COMPARED]
    calls = [
        request(
            context,
            "compare_log_patterns",
            f"what {findings.graph.label(change.service)} began to log after {change.id}",
            since=iso(_started(change)),
            service=change.service,
            before_hours=PATTERN_HOURS_BEFORE,
            until=iso(context.now),
            severities=WARNINGS_AND_WORSE,
            environment=environment_of(context, findings),
            limit=10,
        )
        for change in changes
        if _started(change) < context.now
    ]
    return [c for c in calls if c is not None]


def _log_evidence(change: Deployment, findings: Findings) -> Claim | None:
    """For or against ``change``: what its service began to log after it."""
    comparison = findings.service_patterns.get(change.service)
    if comparison is None:
        return None
    # The comparison was asked from the change's start: everything in it is new or grown since the change.
    fresh = list(comparison.changes)
    ids = [evidence_id(EvidenceKind.DEPLOYMENT, change.id)]
    if not fresh:
        text = (
            f"Against {change.id}: {findings.graph.label(change.service)} logged no new or grown warning or error pattern after it "
            f"({comparison.lines_after} such lines since {at(comparison.since)})."
        )
        return Claim(text=text, evidence_ids=findings.cited(*ids))
    chosen = sorted(fresh, key=lambda c: -c.count_after)[:2]
    said = "; ".join(
        f"`{c.template}` ({c.count_after} lines from {at(c.first_seen)}, {c.change})" for c in chosen
    )
    text = f"For {change.id}: after it, {findings.graph.label(change.service)} began to log {said}."
    pattern_ids = [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in chosen]
    return Claim(text=text, evidence_ids=findings.cited(*ids, *pattern_ids))


def _baseline_evidence(change: Deployment, findings: Findings, ranking: Ranking) -> Claim:
    """For or against ``change``: whether its service left its baseline after it went out."""
    started, service = _started(change), change.service
    ids = [evidence_id(EvidenceKind.DEPLOYMENT, change.id), evidence_id(EvidenceKind.SERVICE, service)]
    symptoms = ranking.affected.get(service)
    if symptoms is None or symptoms.onset is None or not symptoms.anomalies:
        text = f"Against {change.id}: no metric of {findings.graph.label(service)} left its baseline strongly after it."
        return Claim(text=text, evidence_ids=findings.cited(*ids))
    top = max(symptoms.anomalies, key=lambda a: abs(a.peak_z))
    ids.append(anomaly_id(top))
    if symptoms.onset < started - CHANGE_SLACK:
        text = (
            f"Against {change.id}: {findings.graph.label(service)}'s trouble ({anomaly_reading(top)}) began at {at(symptoms.onset)}, "
            f"{minutes(started - symptoms.onset)} before it went out."
        )
    else:
        text = (
            f"For {change.id}: {findings.graph.label(service)} left its baseline {minutes(symptoms.onset - started)} after it went out "
            f"({anomaly_reading(top)}, from {at(symptoms.onset)})."
        )
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """A verdict on each change asked about, first, then the evidence for and against it."""
    question = question_of(context)
    situation, ranking, diagnosis = _trouble(context, findings)
    changes = asked_changes(question, findings, ranking.onset, context.now)
    weighed = [weigh(c, findings, ranking, diagnosis) for c in changes]
    claims = [Claim(text=w.verdict, evidence_ids=findings.cited(*w.evidence_ids)) for w in weighed]
    for w in weighed[:MAX_COMPARED]:
        claims.append(_baseline_evidence(w.change, findings, ranking))
        logged = _log_evidence(w.change, findings)
        if logged is not None:
            claims.append(logged)
    context_claim = _trouble_claim(findings, ranking, diagnosis)
    if context_claim is not None:
        claims.append(context_claim)
    verdict = _verdict(question, weighed, ranking, findings.graph)
    root_cause = (
        RootCause(service=ranking.root, fault_kind=diagnosis.fault_kind)
        if ranking.root is not None and diagnosis is not None
        else None
    )
    missing = run_notes(context, findings, situation)
    summary = verdict
    if ranking.root is not None and diagnosis is not None:
        summary += (
            f" The trouble starts at {findings.graph.label(ranking.root)}, since {at(ranking.onset)}: "
            f"{fault_in_words(diagnosis.fault_kind)}."
        )
    return Answer(
        kind=QuestionKind.CHANGE_VERDICT,
        verdict=verdict,
        summary=summary,
        claims=[c for c in claims if c.evidence_ids],
        root_cause=root_cause,
        path=checked_path(findings, situation, ranking),
        timeline=_timeline(findings, ranking, weighed),
        confidence=_confidence(weighed, ranking),
        missing=missing,
    )


def _verdict(question: Question, weighed: list[Weighed], ranking: Ranking, graph: ServiceGraph) -> str:
    if not weighed:
        named = changed_services(question, graph)
        if named:
            return (
                f"No: no deployment, configuration change or feature flag of {', '.join(map(graph.label, named))} was found in the "
                f"last {minutes(NAMED_HISTORY)}, so no change of it explains the trouble."
            )
        when = at(question.until) if question.until else "the trouble"
        scope = f"before {when}" if question.until or ranking.onset else "in the last hours"
        return f"No deployment, configuration change or feature flag was found {scope}, so no change explains it."
    if len(weighed) == 1:
        return weighed[0].verdict
    causes = [w for w in weighed if w.cause]
    listed = ", ".join(f"{w.change.id} ({graph.label(w.change.service)})" for w in weighed)
    if causes:
        return f"{causes[0].verdict} The other changes are not: {', '.join(w.change.id for w in weighed if not w.cause)}."
    return (
        f"None of the {len(weighed)} changes ({listed}) caused the trouble; the nearest: {weighed[0].verdict}"
    )


def _trouble_claim(findings: Findings, ranking: Ranking, diagnosis: Diagnosis | None) -> Claim | None:
    """Where the trouble the changes were weighed against starts, and why."""
    root = ranking.root
    if root is None or diagnosis is None:
        return None
    serving = sorted(ranking.affected[root].serving(), key=lambda a: a.onset)[:2]
    text = f"The trouble starts at {findings.graph.label(root)} at {at(ranking.onset)}: " + "; ".join(
        anomaly_reading(a) for a in serving
    )
    patterns = diagnosis.own_patterns[:1] or diagnosis.evidence_patterns[:1]
    text += "".join(f"; its logs say `{c.template}` ({c.count_after} lines)" for c in patterns)
    text += f"; {fault_in_words(diagnosis.fault_kind)}."
    ids = [anomaly_id(a) for a in serving] + [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in patterns]
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def _timeline(findings: Findings, ranking: Ranking, weighed: list[Weighed]) -> list[Moment]:
    moments = [m for w in weighed if (m := change_moment(findings, w.change)) is not None]
    root, onset = ranking.root, ranking.onset
    if root is not None and onset is not None:
        moments.append(onset_moment(findings, root, onset, ranking.affected[root]))
    return sorted(moments, key=lambda m: m.at)


def _confidence(weighed: list[Weighed], ranking: Ranking) -> float:
    """Timing settles a change that came after the onset; a cause rests on the root-cause analysis as well."""
    if not weighed:
        return 0.5 if ranking.root is not None else 0.3
    first = weighed[0]
    if ranking.root is None:
        return 0.4
    if first.cause:
        return 0.8
    if ranking.onset is not None and _started(first.change) > ranking.onset + CHANGE_SLACK:
        return 0.9
    return 0.7


ROUNDS: tuple[Round, ...] = (signals_round, _changes_round, _after_changes_round)
THOUGHTS: tuple[str, ...] = (
    "Find which services left their baseline, and when the trouble began.",
    "Read the deployments, configuration changes and flags before the trouble, and what the logs began to say.",
    "Compare each change's own logs before and after it went out.",
)

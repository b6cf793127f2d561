"""The Answer: claims that each cite what the run's calls returned, the root cause, a calibrated confidence, what
could not be checked, and the follow-ups (a ticket carrying the evidence, a timeline note) proposed for approval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from copilot.answer import Answer, Claim, EvidenceKind, Hop, Moment, ProposedAction, QuestionKind, RootCause
from copilot.evidence import evidence_id, series_ref
from copilot.planners.offline.diagnosis import PREDATES, Diagnosis, is_config
from copilot.planners.offline.ranking import (
    CHANGE_SLACK,
    ERROR_SEVERITIES,
    ONSET_TOLERANCE,
    Ranking,
    Symptoms,
    covered,
    is_resource_trouble,
    is_serving,
    own_trouble,
)
from copilot.planners.offline.readings import Failure, Findings, own_tool
from copilot.planners.offline.rounds import clock_note
from copilot.planning import PlanContext, ToolSpec
from core_client.schemas import Deployment, Incident
from core_client.schemas.analysis import MetricAnomaly, PatternChange
from core_client.units import anomaly_reading, number

CHANGES_BEFORE = timedelta(hours=3)
MAX_DECOY_CHANGES = 3
MAX_OLD_PATTERNS = 2
MAX_CITED_PATTERNS = 3
MAX_CHAINS = 4
MAX_DESCRIPTION_CHARS = 6_000

PHRASES: dict[str, str] = {
    "bad_deploy": "a release that began failing requests right after it went out",
    "config_change": "a configuration change that began failing requests right after it was applied",
    "connection_pool_exhaustion": "its database connection pool is exhausted, so requests wait and time out",
    "latency_injection": "its responses slowed down sharply",
    "certificate_expiry": "its TLS certificate expired, so clients refuse to connect",
    "memory_leak": "it leaks memory until its pods are killed and restarted",
    "dependency_outage": "it is failing most calls (an outage of a service we depend on)",
    "disk_full": "its disk filled up, so writes fail",
    "cpu_saturation": "its CPU is saturated, so requests queue and slow down",
    "traffic_spike": "a surge of traffic overloads it",
}
# What could not be concluded when a tool failed or is missing.
CONSEQUENCES: dict[str, str] = {
    "query_services": "the dependency graph was not read, so the root is the strongest departure, not ranked",
    "detect_metric_anomalies": "metric departures and the onset were not checked",
    "compare_log_patterns": "log patterns before and after the onset were not compared",
    "query_deployments": "deployments and configuration changes before the onset were not checked",
    "query_incidents": "open incidents were not read",
    "query_alerts": "firing alerts were not read",
    "describe_metrics": "the metric catalog was not read, so certificate expiry was not checked",
    "query_metrics": "certificate expiry was not checked",
    "get_runbook": "no runbook was consulted",
}
# What a tool reads, for a source that does not serve it at all.
NOT_SERVED: dict[str, str] = {
    "get_runbook": "runbooks",
    "compare_log_patterns": "logs",
    "query_deployments": "deployments",
    "detect_metric_anomalies": "metrics",
    "describe_metrics": "metrics",
    "query_metrics": "metrics",
    "query_incidents": "incidents",
    "query_alerts": "alerts",
    "query_services": "a service catalog",
}
# What a capped tool's items are.
CAPPED_NOUN: dict[str, str] = {
    "query_incidents": "incidents",
    "query_alerts": "alerts",
    "query_deployments": "deployments",
    "query_services": "services",
}


# What an answer that names no cause states as its confidence in one: it is not fully right.
ABSTAINED_CONFIDENCE = 0.1


@dataclass
class Situation:
    """What the question is about, as the investigator read it."""

    asked: list[str]
    alerted: list[str]
    incident: Incident | None
    # The services the question itself names (``asked`` adds the page's and the incident's).
    named: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    asks_about_changes: bool = False
    unavailable: list[str] = field(default_factory=list)
    # The services whose trouble is on record: the incident's, and those asked about with an alert firing.
    troubled: list[str] = field(default_factory=list)


def at(value: datetime | None) -> str:
    """A time as operators read it in chat: ``13:37 UTC``."""
    return value.strftime("%H:%M UTC") if value else "an unknown time"


def minutes(delta: timedelta) -> str:
    """A duration as ``4 min``, ``3 h`` or ``2 h 15 min``."""
    total = round(abs(delta.total_seconds()) / 60)
    if total < 90:
        return f"{total} min"
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def anomaly_id(anomaly: MetricAnomaly) -> str:
    return evidence_id(EvidenceKind.ANOMALY, series_ref(anomaly.name, anomaly.service, anomaly.labels))


def compose(
    findings: Findings, situation: Situation, ranking: Ranking, diagnoses: Mapping[str, Diagnosis]
) -> Answer:
    """The answer for a ranking and the diagnosis of its root (and of every candidate tied with it); "not enough
    evidence" when the candidates cannot be told apart or only callers of the trouble on record are failing;
    without a root, an answer that says what was looked at and found."""
    missing = missing_notes(findings, situation)
    if ranking.root is None and ranking.refused:
        seen = _seen_claims(findings, situation, ranking)
        return _abstention(
            findings, situation, ranking, diagnoses, seen, missing, _refused_doubt(findings, ranking)
        )
    diagnosis = diagnoses.get(ranking.root or "")
    if ranking.root is None or ranking.onset is None or diagnosis is None:
        return _no_root(findings, situation, missing)
    root, onset = ranking.root, ranking.onset
    unsettled = _tie_doubt(findings, situation, ranking) or _unlinked_doubt(findings, situation, ranking)
    if unsettled is not None:
        seen = _seen_claims(findings, situation, ranking)
        return _abstention(findings, situation, ranking, diagnoses, seen, missing, unsettled)
    claims = [
        claim
        for claim in (
            # Asked what changed, the changes come first.
            _changes_claim(findings, root, onset) if situation.asks_about_changes else None,
            _fine_claim(findings, situation, ranking),
            _symptom_claim(findings, situation, ranking),
            _root_claim(findings, ranking),
            _kind_claim(findings, root, onset, diagnosis),
            _log_claim(findings, root, diagnosis),
            _propagation_claim(findings, ranking, diagnosis),
            *_decoy_claims(findings, ranking, diagnosis),
        )
        if claim is not None and claim.evidence_ids
    ]
    doubt = _doubt(findings, ranking, diagnosis)
    path = checked_path(findings, situation, ranking)
    if doubt is not None and not _explains_asked(situation, root, path):
        return _abstention(findings, situation, ranking, diagnoses, claims, missing, doubt)
    summary = _summary(situation, ranking, diagnosis, findings.graph.label)
    if doubt is not None:
        # The trouble asked about is the root's, passed on along the path: that cause is known. What is not is
        # why the root itself fails, and what to check for it.
        summary += f" {doubt.reason}. Next check: {doubt.next_check}."
        missing = [*missing, f"no cause named for {findings.graph.label(root)}'s own failure: {doubt.reason}"]
    answer = Answer(
        kind=QuestionKind.CHANGE_VERDICT if situation.asks_about_changes else QuestionKind.WHY_FAILING,
        summary=summary,
        claims=claims,
        root_cause=RootCause(service=root, fault_kind=diagnosis.fault_kind),
        path=path,
        timeline=_timeline(findings, ranking, diagnosis),
        confidence=_confidence(situation, ranking, diagnosis, findings),
        missing=missing,
    )
    answer.proposed_actions = _proposals(findings, situation, answer, ranking)
    return answer


def _seen_claims(findings: Findings, situation: Situation, ranking: Ranking) -> list[Claim]:
    """What an answer naming no root says was seen: the symptoms and the errors that predate them (what speaks for
    each candidate is added by :func:`_abstention`); no claim that a candidate is the root, nor a "not the cause"
    for a change that may be one."""
    onset = ranking.first_onset()
    claims = [
        _symptom_claim(findings, situation, ranking),
        *(_old_patterns(findings, onset) if onset else []),
    ]
    return [c for c in claims if c is not None and c.evidence_ids]


@dataclass(frozen=True)
class Doubt:
    """Why the evidence is too thin to name a cause, who the best candidates are, and what to check next.
    ``root_known`` says whether the trouble starts at the first candidate for sure (only its cause is unknown)."""

    reason: str
    candidates: list[str]
    next_check: str
    root_known: bool = False


def _doubt(findings: Findings, ranking: Ranking, diagnosis: Diagnosis) -> Doubt | None:
    """Why a root cause should not be named, or None when the evidence names one: the root fails with nothing
    behind it (no change to it, no resource running out, no log line naming a cause, no word of an outage)."""
    root = ranking.root
    if root is None or diagnosis.specific:
        return None
    name = findings.graph.label
    start = ranking.onset
    return Doubt(
        reason=(
            f"{name(root)} is where the trouble starts, since {at(start)}, but nothing says why: no change to it, "
            "no resource of its own running out and no log line naming a cause or an outage"
        ),
        candidates=[root, *ranking.competing[:2]],
        next_check=(
            f"read {name(root)}'s own logs from {at(start - PREDATES if start else None)} for its first errors "
            f"({logs_of(findings, root)}), and look for changes made outside the deployment record (a feature flag, "
            "infrastructure, a certificate or a secret) to it or to what it calls"
        ),
        root_known=True,
    )


def logs_of(findings: Findings, service: str) -> str:
    """Where to read ``service``'s logs in a next check: its Logs page, unless no log source is configured, the log
    source keeps another time or the log patterns compared held none of its lines; then the check says so rather
    than sending the reader to a page that may well be empty (the log source may not serve that service at all)."""
    if findings.log_clock is not None:
        return (
            f"the log source here keeps another time ({findings.log_clock.describe()}), not its recent lines"
        )
    if any(f.tool == "compare_log_patterns" and f.unserved for f in findings.failures):
        return "no log source of OpsPilot's serves them: read them where they are kept"
    comparisons = [c for c in (findings.patterns, findings.service_patterns.get(service)) if c is not None]
    key = findings.graph.key
    seen = any(
        key(source) == service
        for comparison in comparisons
        for pattern in [*comparison.changes, *comparison.frequent]
        for source in pattern.services
    ) or any(line.service and key(line.service) == service for line in findings.log_lines)
    if seen or not comparisons:
        return f"/logs?service={service}"
    return f"no log pattern of {findings.graph.label(service)}'s was among those compared: its logs may be kept elsewhere"


def _tie_doubt(findings: Findings, situation: Situation, ranking: Ranking) -> Doubt | None:
    """Why the root cannot be named when other roots are tied with it: they began within minutes of each other,
    neither calls the other, and each explains about as much; the next check is where a failing request says
    which dependency failed it."""
    root = ranking.root
    if root is None or not ranking.tied:
        return None
    name, graph = findings.graph.label, findings.graph
    candidates = [root, *ranking.tied]
    onsets = [ranking.affected[c].onset for c in candidates]
    began = ", ".join(f"{name(c)} at {at(o)}" for c, o in zip(candidates, onsets, strict=True))
    explains = ", ".join(f"{name(c)} {len(covered(c, ranking.affected, graph)) - 1}" for c in candidates)
    start = min((o for o in onsets if o is not None), default=None)
    shared = [
        s
        for s in ranking.coverage
        if s not in candidates and all(s in covered(c, ranking.affected, graph) for c in candidates)
    ]
    asked = [s for s in situation.asked if s in shared] or shared
    since = at(start - PREDATES if start else None)
    if asked:
        where = asked[0]
        first = (
            f"read {name(where)}'s error lines from {since} ({logs_of(findings, where)}): the dependency its failing "
            "requests name is the one that fails them"
        )
    else:
        first = (
            "read each candidate's own logs from "
            + since
            + " for its first errors ("
            + "; ".join(logs_of(findings, c) for c in candidates)
            + ")"
        )
    return Doubt(
        reason=(
            f"they began failing within minutes of each other ({began}), neither calls the other, and each "
            f"would explain about as many of the failing services ({explains})"
        ),
        candidates=candidates,
        next_check=f"{first}; then look for a change, a resource running out or an outage at each candidate",
    )


def _refused_doubt(findings: Findings, ranking: Ranking) -> Doubt:
    """Why no root can be named when the only failing services call a service whose trouble is on record: a
    caller's failure cannot explain what it calls, and the service's own trouble did not show in its series."""
    name = findings.graph.label
    troubled = [t for t in ranking.troubled if any(findings.graph.reaches(r, t) for r in ranking.refused)]
    callers = ranking.refused[:3]
    onsets = [o for c in callers if (o := ranking.affected[c].onset) is not None]
    start = min(onsets, default=None)
    one = len(callers) == 1
    own = "; ".join(_own_state(findings, ranking, t, start) for t in troubled)
    return Doubt(
        reason=(
            f"{_listed([name(c) for c in callers])} {'is' if one else 'are'} failing, since {at(start)}, but "
            f"{'it calls' if one else 'they call'} {_listed([name(t) for t in troubled])}, whose trouble is on record, "
            f"and a caller's failure cannot explain what it calls; {own}"
        ),
        candidates=[*troubled[:2], *callers[:2]],
        next_check=(
            f"read {_listed([name(t) for t in troubled])}'s own logs and metrics from "
            f"{at(start - PREDATES if start else None)} ("
            + "; ".join(logs_of(findings, t) for t in troubled[:2])
            + "): its trouble may not show in the series scanned, and its callers' failures may be its effect"
        ),
    )


def _unlinked_doubt(findings: Findings, situation: Situation, ranking: Ranking) -> Doubt | None:
    """Why the root cannot be named when the trouble asked about is on record (an incident or an alert) but not in
    the asked service's own series, and the root is neither that service nor anything it calls: the root is then
    the cause of some other trouble, and nothing links it to this one."""
    root, graph, name = ranking.root, findings.graph, findings.graph.label
    if root is None or ranking.chosen_for == "asked":
        return None
    unseen = [
        s
        for s in situation.asked
        if s in situation.troubled
        and s not in ranking.affected
        and not own_trouble(ranking.departed.get(s))
        and not graph.reaches(s, root)
    ]
    if not unseen:
        return None
    service = unseen[0]
    start = ranking.onset
    calls = (
        f"it is neither {name(service)} nor anything it calls"
        if service in graph.nodes
        else f"the catalog does not list {name(service)}, so nothing says what it calls"
    )
    return Doubt(
        reason=(
            f"{name(service)}'s trouble is on record but none of its own series left its baseline, and "
            f"{name(root)}, failing since {at(start)}, is not linked to it: {calls}"
        ),
        candidates=[service, root],
        next_check=(
            f"read {name(service)}'s own logs and metrics from {at(start - PREDATES if start else None)} "
            f"({logs_of(findings, service)}), and whether it depends on {name(root)}"
        ),
    )


def _explains_asked(situation: Situation, root: str, path: list[Hop]) -> bool:
    """Whether the root is not a service asked about but one their trouble verifiably follows: the checked path
    runs from it to a service asked about. Then it is the cause of that trouble, even when nothing says why the
    root itself fails."""
    asked = set(situation.asked)
    return root not in asked and bool(path) and any(hop.service in asked for hop in path[1:])


def _own_state(findings: Findings, ranking: Ranking, service: str, start: datetime | None) -> str:
    """What a service on record shows of its own: failing since when, its strongest departure of its own (and
    whether it began after its callers' trouble), or no strong departure at all."""
    name = findings.graph.label(service)
    if service in ranking.affected:
        return f"{name} began failing too, at {at(ranking.affected[service].onset)}"
    mine = own_trouble(ranking.departed.get(service))
    if not mine:
        return f"{name}'s own series show no strong departure"
    top = mine[0]
    later = (
        f", after its callers' trouble began at {at(start)}"
        if start is not None and top.onset > start
        else ""
    )
    return f"{name}'s own {anomaly_reading(top)}, from {at(top.onset)}{later}"


def _abstention(
    findings: Findings,
    situation: Situation,
    ranking: Ranking,
    diagnoses: Mapping[str, Diagnosis],
    claims: list[Claim],
    missing: list[str],
    doubt: Doubt,
) -> Answer:
    """An answer that says "not enough evidence" first, names the best candidates with what speaks for each and
    the next check to run, and names no root cause."""
    name = findings.graph.label
    candidates = _listed([name(c) for c in doubt.candidates])
    summary = (
        f"Not enough evidence to name a cause. Best {'candidate' if len(doubt.candidates) == 1 else 'candidates'}: "
        f"{candidates}; {doubt.reason}. Next check: {doubt.next_check}."
    )
    fine = [s for s in not_failing(situation, ranking) if s not in ranking.troubled]
    if fine:
        summary = (
            f"{_listed([name(s) for s in fine])} {'is' if len(fine) == 1 else 'are'} not failing. " + summary
        )
    diagnosis = diagnoses.get(ranking.root or "")
    if doubt.root_known and diagnosis is not None:
        path, timeline = checked_path(findings, situation, ranking), _timeline(findings, ranking, diagnosis)
    else:
        # Naming no root, the answer draws no chain from one: each candidate's onset and change instead.
        spoken = [
            _candidate_claim(findings, situation, ranking, c, diagnoses.get(c)) for c in doubt.candidates
        ]
        claims = [c for c in spoken if c is not None and c.evidence_ids] + claims
        path, timeline = [], _candidate_timeline(findings, ranking, doubt.candidates, diagnoses)
    return Answer(
        kind=QuestionKind.CHANGE_VERDICT if situation.asks_about_changes else QuestionKind.WHY_FAILING,
        verdict="Not enough evidence to name a cause.",
        summary=summary,
        claims=claims,
        root_cause=None,
        path=path,
        timeline=timeline,
        confidence=ABSTAINED_CONFIDENCE,
        missing=[*missing, f"no root cause named: {doubt.reason}"],
    )


def _candidate_claim(
    findings: Findings, situation: Situation, ranking: Ranking, candidate: str, diagnosis: Diagnosis | None
) -> Claim | None:
    """What speaks for one candidate: its own departure and onset, what it would explain, and the change, resource
    or log lines behind it; for a service whose trouble is on record but not in its series, that record."""
    name, graph = findings.graph.label, findings.graph
    parts: list[str] = []
    ids: list[str] = [evidence_id(EvidenceKind.SERVICE, candidate)]
    symptoms = ranking.affected.get(candidate)
    if symptoms is not None and symptoms.anomalies:
        top = max(symptoms.anomalies, key=lambda a: (is_serving(a), abs(a.peak_z)))
        parts.append(f"{anomaly_reading(top)}, since {at(symptoms.onset)}")
        ids.append(anomaly_id(top))
        explained = [s for s in covered(candidate, ranking.affected, graph) if s != candidate]
        if explained:
            parts.append(
                f"it would explain {_listed([name(s) for s in explained])}, which call it, directly or not"
            )
    else:
        mine = own_trouble(ranking.departed.get(candidate))[:1]
        parts += [f"its own {anomaly_reading(a)}, from {at(a.onset)}" for a in mine]
        ids += [anomaly_id(a) for a in mine]
        incident = situation.incident
        if incident is not None and incident.service and graph.key(incident.service) == candidate:
            parts.append(f"{incident.id} \u201c{incident.title}\u201d is open for it")
            ids.append(evidence_id(EvidenceKind.INCIDENT, incident.id))
        alerts = [a for a in findings.firing_alerts() if a.service == candidate][:2]
        parts += [f"{a.title} is firing" for a in alerts]
        ids += [evidence_id(EvidenceKind.ALERT, a.id) for a in alerts]
        callers = [r for r in ranking.refused if graph.reaches(r, candidate)]
        if callers:
            parts.append(
                f"{_listed([name(c) for c in callers])}, which {'calls' if len(callers) == 1 else 'call'} it, {'fails' if len(callers) == 1 else 'fail'}"
            )
    if diagnosis is not None and diagnosis.specific:
        if diagnosis.change is not None:
            change = diagnosis.change
            parts.append(
                f"{change.id} ({change.version or 'a change'}) went out to it at {at(change.started_at)}"
            )
            ids.append(evidence_id(EvidenceKind.DEPLOYMENT, change.id))
        resources = [a for a in diagnosis.anomalies if not is_serving(a)][:2]
        parts += [f"{anomaly_reading(a)}, from {at(a.onset)}" for a in resources]
        ids += [anomaly_id(a) for a in resources]
        said = diagnosis.evidence_patterns[:1] or diagnosis.own_patterns[:1]
        parts += [_saying(c, diagnosis) for c in said]
        ids += [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in said]
        parts.append(f"if it is the cause, {PHRASES[diagnosis.fault_kind]}")
    if not parts:
        return None
    return Claim(text=f"For {name(candidate)}: " + "; ".join(parts) + ".", evidence_ids=findings.cited(*ids))


def _candidate_timeline(
    findings: Findings, ranking: Ranking, candidates: list[str], diagnoses: Mapping[str, Diagnosis]
) -> list[Moment]:
    """Each candidate's onset and the change just before it, in time order."""
    moments = [
        onset_moment(findings, c, symptoms.onset, symptoms)
        for c in candidates
        if (symptoms := ranking.affected.get(c)) is not None and symptoms.onset is not None
    ]
    changes = [d.change for c in candidates if (d := diagnoses.get(c)) is not None and d.change is not None]
    moments += [m for m in (change_moment(findings, change) for change in changes) if m is not None]
    return sorted(moments, key=lambda m: m.at)


def not_failing(situation: Situation, ranking: Ranking) -> list[str]:
    """The services asked about (named in the question, else the page's and the incident's) that show no trouble
    of their own (no strong departure of a known signal going the worse way): the answer says so first."""
    asked = situation.named or situation.asked
    return [
        s
        for s in asked
        if s not in ranking.affected and s != ranking.root and not own_trouble(ranking.departed.get(s))
    ]


def _fine_claim(findings: Findings, situation: Situation, ranking: Ranking) -> Claim | None:
    """What shows that the services the question names are fine: the scan of every series found nothing strong."""
    fine = not_failing(situation, ranking)
    report = findings.anomalies
    if not fine or report is None:
        return None
    name = findings.graph.label
    one = len(fine) == 1
    text = (
        f"{_listed([name(s) for s in fine])} {'shows' if one else 'show'} no strong departure from "
        f"{'its' if one else 'their'} baseline between {at(report.detect_start)} and {at(report.detect_end)}; "
        f"{name(ranking.root or '?')} is where the trouble starts."
    )
    ids = [evidence_id(EvidenceKind.SERVICE, s) for s in fine]
    symptoms = ranking.affected.get(ranking.root or "")
    if symptoms is not None:
        ids += [anomaly_id(a) for a in symptoms.serving()[:1]]
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _summary(situation: Situation, ranking: Ranking, diagnosis: Diagnosis, name: Callable[[str], str]) -> str:
    root = name(ranking.root) if ranking.root else "?"
    after, alongside = followers(ranking)
    # An unspecific diagnosis gets here only for a root the trouble asked about verifiably follows (see compose).
    text = (
        f"{root} is the likely root cause ({diagnosis.fault_kind.replace('_', ' ')}): {PHRASES.get(diagnosis.fault_kind, '')}, "
        f"since {at(ranking.onset)}."
    )
    if after:
        one = len(after) == 1
        text += (
            f" {', '.join(map(name, after))} {'fails' if one else 'fail'} because of it: "
            f"{'it calls' if one else 'they call'} it, and {'its' if one else 'their'} trouble began after its own."
        )
    if alongside:
        text += (
            f" {', '.join(map(name, alongside))} also {'calls' if len(alongside) == 1 else 'call'} it and began "
            f"failing within {minutes(ONSET_TOLERANCE)} of it."
        )
    fine = not_failing(situation, ranking)
    if fine:
        text = (
            f"{_listed([name(s) for s in fine])} {'is' if len(fine) == 1 else 'are'} not failing; {root} is, since "
            f"{at(ranking.onset)}. " + text
        )
    if situation.asks_about_changes:
        change = diagnosis.change
        text = (
            f"Just before {root}'s trouble began, {change.id} ({change.version or 'a change'}) went out to it at "
            f"{at(change.started_at)}. "
            if change is not None
            else f"No deployment or configuration change to {root} preceded its trouble. "
        ) + text
    return text


def _symptom_claim(findings: Findings, situation: Situation, ranking: Ranking) -> Claim | None:
    asked = [s for s in situation.asked if s in ranking.affected]
    name = findings.graph.label
    parts: list[str] = []
    ids: list[str] = []
    incident = situation.incident
    if incident is not None:
        service = name(incident.service) if incident.service else "no service"
        parts.append(f"{incident.id} \u201c{incident.title}\u201d is open for {service}")
        ids.append(evidence_id(EvidenceKind.INCIDENT, incident.id))
    alerts = [
        a for a in findings.firing_alerts() if a.service in set(situation.asked) | set(ranking.coverage)
    ]
    if alerts:
        parts.append("firing: " + "; ".join(f"{a.title} ({name(a.service)})" for a in alerts[:4]))
        ids += [evidence_id(EvidenceKind.ALERT, a.id) for a in alerts[:4]]
    for service in asked[:3]:
        serving = ranking.affected[service].serving()
        if serving:
            top = max(serving, key=lambda a: abs(a.peak_z))
            parts.append(
                f"{name(service)} {anomaly_reading(top)}, since {at(ranking.affected[service].onset)}"
            )
            ids.append(anomaly_id(top))
    if not parts:
        return None
    return Claim(text="What is visible: " + "; ".join(parts) + ".", evidence_ids=findings.cited(*ids))


def _root_claim(findings: Findings, ranking: Ranking) -> Claim | None:
    root = ranking.root or ""
    symptoms = ranking.affected.get(root)
    if symptoms is None or not symptoms.anomalies:
        return None
    # A host or a resource serves no requests: what left its baseline is its own CPU, memory or disk.
    departed = symptoms.serving() or [a for a in symptoms.anomalies if is_resource_trouble(a)]
    shown = sorted(departed, key=lambda a: a.onset)[:3]
    # "Calls" names the services it calls directly; the ones reached through them are counted, not listed.
    name = findings.graph.label
    called = sorted(findings.graph.dependencies_of(root), key=name)
    further = len(findings.graph.downstream(root) - set(called))
    beyond = (
        f", nor any of the {further} services they call in turn,"
        if further > 1
        else ", nor the service they call in turn,"
        if further
        else ""
    )
    readings = "; ".join(f"{anomaly_reading(a)}, from {at(a.onset)}" for a in shown)
    text = (
        f"{name(root)} left its baseline first, at {at(symptoms.onset)}"
        + (f": {readings}" if readings else "")
        + (
            f". Nothing it calls ({', '.join(map(name, called))}){beyond} was in trouble before it."
            if called
            else ". It calls no other service of ours."
        )
    )
    ids = [anomaly_id(a) for a in shown] + [evidence_id(EvidenceKind.SERVICE, root)]
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def _kind_claim(findings: Findings, root: str, onset: datetime, diagnosis: Diagnosis) -> Claim | None:
    kind, service = diagnosis.fault_kind, findings.graph.label(root)
    if diagnosis.certificate is not None:
        series = diagnosis.certificate
        last = series.points[-1]
        text = f"{service}'s serving certificate has {number(last.value)} days left at {at(last.timestamp)}: it has expired."
        ref = series_ref(series.name, series.service, series.labels)
        return Claim(text=text, evidence_ids=findings.cited(evidence_id(EvidenceKind.METRIC, ref)))
    if diagnosis.change is not None:
        change = diagnosis.change
        lead = minutes(onset - change.started_at) if change.started_at else "?"
        what = "configuration change" if kind == "config_change" else "deployment"
        text = (
            f"{change.id}, a {what} of {service} ({change.version or 'unversioned'}), started at "
            f"{at(change.started_at)}, {lead} before the errors began: {PHRASES[kind]}."
        )
        return Claim(text=text, evidence_ids=findings.cited(evidence_id(EvidenceKind.DEPLOYMENT, change.id)))
    naming = diagnosis.evidence_patterns[:2]
    if not diagnosis.anomalies and not naming:
        return None
    moved = diagnosis.anomalies[:3]
    said = [_saying(c, diagnosis) for c in naming]
    text = f"{service}: " + "; ".join([*(f"{anomaly_reading(a)}, from {at(a.onset)}" for a in moved), *said])
    text += f" \u2014 {PHRASES[kind]}." if diagnosis.specific else "."
    ids = [anomaly_id(a) for a in moved] + [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in naming]
    if kind == "dependency_outage":
        ids += [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in diagnosis.complaints[:2]]
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def _saying(pattern: PatternChange, diagnosis: Diagnosis) -> str:
    """A pattern that names the fault, quoted as what the service logs, or what its callers log about it."""
    own = any(c.id == pattern.id for c in diagnosis.own_patterns)
    return f"{'its logs say' if own else 'its callers log'} \u201c{pattern.template}\u201d ({pattern.count_after} lines)"


def _log_claim(findings: Findings, root: str, diagnosis: Diagnosis) -> Claim | None:
    name = findings.graph.label
    own = sorted(
        diagnosis.own_patterns, key=lambda c: (not ERROR_SEVERITIES & set(c.by_severity), -c.count_after)
    )
    if own:
        chosen = own[:MAX_CITED_PATTERNS]
        text = f"New in {name(root)}'s logs since the onset: " + "; ".join(
            f"\u201c{c.template}\u201d ({c.count_after} lines from {at(c.first_seen)})" for c in chosen
        )
    elif diagnosis.complaints:
        chosen = diagnosis.complaints[:MAX_CITED_PATTERNS]
        text = f"{name(root)} logs nothing of its own, but its callers do: " + "; ".join(
            f"\u201c{c.template}\u201d ({c.count_after} lines from {', '.join(map(name, c.services))})"
            for c in chosen
        )
    else:
        return None
    patterns = [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in chosen]
    examples = [evidence_id(EvidenceKind.LOG, c.example_id) for c in chosen if c.example_id]
    return Claim(text=text + ".", evidence_ids=findings.cited(*patterns, *examples))


def followers(ranking: Ranking) -> tuple[list[str], list[str]]:
    """The services the root explains: those whose trouble began at or after the root's, and those whose measured
    onset came a little before it (within the tolerance), which may not be said to have followed it."""
    root, start = ranking.root, ranking.onset
    dependents = [s for s in ranking.coverage if s != root]
    after = [s for s in dependents if start is None or (o := ranking.affected[s].onset) is None or o >= start]
    return after, [s for s in dependents if s not in after]


def checked_path(findings: Findings, situation: Situation, ranking: Ranking) -> list[Hop]:
    """The chain from the root to the service asked about (else the farthest explained one), each hop calling the
    previous one in the dependency graph and beginning no earlier than it (within the tolerance); empty when no
    such chain exists."""
    root = ranking.root
    if root is None:
        return []
    targets = [s for s in situation.asked if s in ranking.coverage and s != root] or [
        s for s in reversed(ranking.coverage) if s != root
    ]
    for target in targets:
        chain = list(reversed(findings.graph.path(target, root)))
        if chain and chain[0] == root and _in_order(chain, ranking):
            return [_hop(findings, ranking, service) for service in chain]
    return [_hop(findings, ranking, root)]


def _in_order(chain: list[str], ranking: Ranking) -> bool:
    onsets = [ranking.affected[s].onset if s in ranking.affected else None for s in chain]
    return all(
        earlier is None or later is None or later + ONSET_TOLERANCE >= earlier
        for earlier, later in pairwise(onsets)
    )


def _hop(findings: Findings, ranking: Ranking, service: str) -> Hop:
    symptoms = ranking.affected.get(service)
    serving = symptoms.serving() if symptoms else []
    ids = [anomaly_id(max(serving, key=lambda a: abs(a.peak_z)))] if serving else []
    return Hop(
        service=service,
        onset=symptoms.onset if symptoms else None,
        evidence_ids=findings.cited(*ids, evidence_id(EvidenceKind.SERVICE, service)),
    )


def change_kind(change: Deployment) -> str:
    """What a change is, in words: a deployment, a configuration change or a feature flag."""
    what = str(change.fields.get("change") or change.fields.get("type") or "").lower()
    if what == "flag" or "flag" in change.fields:
        return "feature flag change"
    return "configuration change" if is_config(change) else "deployment"


def change_moment(findings: Findings, change: Deployment) -> Moment | None:
    """A change on a timeline: "dep-17 to orders-api (v2.3.1)", or its kind when it has no version."""
    if change.started_at is None:
        return None
    return Moment(
        at=change.started_at,
        kind="change",
        label=f"{change.id} to {findings.graph.label(change.service)} ({change.version or change_kind(change)})",
        evidence_ids=findings.cited(evidence_id(EvidenceKind.DEPLOYMENT, change.id)),
    )


def onset_moment(findings: Findings, service: str, onset: datetime, symptoms: Symptoms) -> Moment:
    """When ``service`` began failing on a timeline, cited by its first serving departure."""
    return Moment(
        at=onset,
        kind="onset",
        label=f"{findings.graph.label(service)} began failing",
        evidence_ids=findings.cited(*[anomaly_id(a) for a in symptoms.serving()[:1]]),
    )


def _timeline(findings: Findings, ranking: Ranking, diagnosis: Diagnosis) -> list[Moment]:
    """Onsets along the coverage, the suspect change and the alerts that fired, in time order."""
    moments = [
        onset_moment(findings, service, symptoms.onset, symptoms)
        for service in ranking.coverage[: MAX_CHAINS + 1]
        if (symptoms := ranking.affected.get(service)) is not None and symptoms.onset is not None
    ]
    change = diagnosis.change
    suspect = change_moment(findings, change) if change is not None else None
    if suspect is not None:
        moments.append(suspect)
    covered = set(ranking.coverage)
    moments += [
        Moment(
            at=alert.created_at,
            kind="alert",
            label=alert.title,
            evidence_ids=findings.cited(evidence_id(EvidenceKind.ALERT, alert.id)),
        )
        for alert in findings.firing_alerts()
        if alert.service in covered and alert.created_at is not None
    ][:MAX_CHAINS]
    return sorted(moments, key=lambda m: m.at)


def _propagation_claim(findings: Findings, ranking: Ranking, diagnosis: Diagnosis) -> Claim | None:
    root = ranking.root or ""
    dependents, _ = followers(ranking)
    if not dependents:
        return None
    ids: list[str] = [evidence_id(EvidenceKind.SERVICE, root)]
    for service in dependents:
        serving = ranking.affected[service].serving()
        if serving:
            ids.append(anomaly_id(max(serving, key=lambda a: abs(a.peak_z))))
        ids.append(evidence_id(EvidenceKind.SERVICE, service))
    ids += [evidence_id(EvidenceKind.LOG_PATTERN, c.id) for c in diagnosis.complaints[:2]]
    name = findings.graph.label
    chains = [
        " \u2192 ".join(map(name, findings.graph.path(s, root) or [s])) for s in dependents[:MAX_CHAINS]
    ]
    more = "; \u2026" if len(dependents) > MAX_CHAINS else ""
    onsets = ", ".join(f"{name(s)} at {at(ranking.affected[s].onset)}" for s in dependents)
    text = (
        f"The other failing services call {name(root)}, directly or not, and began failing after it ({onsets}); "
        f"how they reach it: {'; '.join(chains)}{more}. Their symptoms are {name(root)}'s, not causes of their own."
    )
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def _changes_claim(findings: Findings, root: str, onset: datetime) -> Claim | None:
    name = findings.graph.label
    watched = {root} | findings.graph.downstream(root)
    before = sorted(
        (
            d
            for d in findings.deployments
            if d.service in watched
            and d.started_at is not None
            and onset - CHANGES_BEFORE <= d.started_at <= onset
        ),
        key=lambda d: d.started_at or onset,
        reverse=True,
    )
    if not before:
        symptoms_ids = [evidence_id(EvidenceKind.SERVICE, root)]
        text = (
            f"Nothing changed before it: no deployment or configuration change to {name(root)} or what it calls, directly "
            f"or not, in the {minutes(CHANGES_BEFORE)} before {at(onset)}."
        )
        return Claim(text=text, evidence_ids=findings.cited(*symptoms_ids))
    listed = "; ".join(
        f"{d.id} {name(d.service)} {d.version or ''} at {at(d.started_at)} ({minutes(onset - d.started_at)} before)"
        for d in before[:5]
        if d.started_at is not None
    )
    return Claim(
        text=f"What changed in the {minutes(CHANGES_BEFORE)} before {at(onset)}: {listed}.",
        evidence_ids=findings.cited(*(evidence_id(EvidenceKind.DEPLOYMENT, d.id) for d in before[:5])),
    )


def _decoy_claims(findings: Findings, ranking: Ranking, diagnosis: Diagnosis) -> list[Claim]:
    root, onset = ranking.root or "", ranking.onset
    if onset is None:
        return []
    claims = [
        *_decoy_changes(findings, ranking, diagnosis.change, onset),
        *_old_patterns(findings, onset),
        *_other_trouble(findings, ranking, root),
    ]
    return claims


def _decoy_changes(
    findings: Findings, ranking: Ranking, suspect: Deployment | None, onset: datetime
) -> list[Claim]:
    root, name = ranking.root or "", findings.graph.label
    others = [
        d
        for d in findings.deployments
        if d.started_at is not None
        and (suspect is None or d.id != suspect.id)
        and onset - CHANGES_BEFORE <= d.started_at
    ]
    others.sort(key=lambda d: abs((d.started_at or onset) - onset))
    claims = []
    for change in others[:MAX_DECOY_CHANGES]:
        started = change.started_at or onset
        if started > onset + CHANGE_SLACK:
            why = f"{minutes(started - onset)} after the trouble began at {at(onset)}, so it cannot have caused it"
        elif change.service == root:
            why = f"{minutes(onset - started)} before the onset, too early: errors did not follow it"
        elif change.service in ranking.affected:
            why = f"but {name(change.service)}'s errors follow {name(root)}'s, which it calls"
        else:
            why = f"and no errors followed on {name(change.service)}"
        text = (
            f"Not the cause: {change.id} of {name(change.service)} ({change.version or 'a change'}) at {at(started)}, "
            f"{why}."
        )
        claims.append(
            Claim(text=text, evidence_ids=findings.cited(evidence_id(EvidenceKind.DEPLOYMENT, change.id)))
        )
    return claims


def _old_patterns(findings: Findings, onset: datetime) -> list[Claim]:
    if findings.patterns is None:
        return []
    older = [
        c
        for c in findings.patterns.changes
        if ERROR_SEVERITIES & set(c.by_severity) and (c.change == "grown" or c.first_seen < onset - PREDATES)
    ]
    older.sort(key=lambda c: -c.count_after)
    return [
        Claim(
            text=(
                f"Not the cause: \u201c{c.template}\u201d ({', '.join(map(findings.graph.label, c.services))}) was "
                f"logged from {at(c.first_seen)}, before the trouble began at {at(onset)}: it predates it."
            ),
            evidence_ids=findings.cited(evidence_id(EvidenceKind.LOG_PATTERN, c.id)),
        )
        for c in older[:MAX_OLD_PATTERNS]
    ]


def _other_trouble(findings: Findings, ranking: Ranking, root: str) -> list[Claim]:
    name = findings.graph.label
    explained = ranking.coverage[:3]
    claims = []
    for other in [r for r in ranking.roots if r != root and r not in ranking.coverage][:2]:
        symptoms: Symptoms = ranking.affected[other]
        if not symptoms.anomalies:
            continue
        top = max(symptoms.anomalies, key=lambda a: (is_serving(a), abs(a.peak_z)))
        # Those that call it were failing before it began: trouble travels from a service to its callers.
        earlier = [e for e in explained if findings.graph.reaches(e, other)]
        why = (
            "it explains fewer of the failing services"
            if other in ranking.competing
            else f"{_listed([name(e) for e in earlier])} began failing before it, so it does not explain "
            f"{'its' if len(earlier) == 1 else 'their'} trouble"
            if earlier
            else f"{name(explained[0])} does not depend on it, so it does not explain its trouble"
            if len(explained) == 1
            else f"none of {', '.join(map(name, explained))} depends on it, so it does not explain their trouble"
        )
        text = f"Separate trouble: {name(other)} shows {anomaly_reading(top)}, since {at(symptoms.onset)}, but {why}."
        claims.append(Claim(text=text, evidence_ids=findings.cited(anomaly_id(top))))
    return claims


def _confidence(situation: Situation, ranking: Ranking, diagnosis: Diagnosis, findings: Findings) -> float:
    """Higher when the root explains what was asked about, the kind has a specific signal and the logs agree;
    lower with competing roots and with checks that could not be made."""
    score = 0.3 + {"asked": 0.25, "alerted": 0.1}.get(ranking.chosen_for, 0.0)
    if diagnosis.specific:
        score += 0.2
    if diagnosis.own_patterns or diagnosis.complaints:
        score += 0.1
    if len(ranking.coverage) >= 2:
        score += 0.1
    score -= min(0.3, 0.15 * len(ranking.competing))
    score -= min(0.3, 0.1 * (len(findings.failures) + len(situation.unavailable)))
    return round(min(0.95, max(0.05, score)), 2)


def missing_notes(findings: Findings, situation: Situation) -> list[str]:
    """What could not be checked, and why: failed calls, tools the run lacks, sources read only up to a cap."""
    notes = [_failure_note(f) for f in findings.failures]
    notes += [
        f"{tool} is not available to this run: {CONSEQUENCES.get(tool, 'not checked')}"
        for tool in situation.unavailable
    ]
    notes += [
        f"{tool}: the source has more {CAPPED_NOUN.get(tool, 'items')} than it is read for (its max_items cap) "
        "and no stable order, so some were not considered"
        for tool in findings.capped
    ]
    return notes


def run_notes(context: PlanContext, findings: Findings, situation: Situation) -> list[str]:
    """Everything an answer's ``missing`` says: what could not be checked, and which clock its times are on."""
    notes = missing_notes(findings, situation)
    clock = clock_note(context)
    return [*notes, clock] if clock is not None else notes


def _failure_note(failure: Failure) -> str:
    """What a failed call leaves unchecked; a source that simply does not serve it (a core without a log plugin,
    a catalog without runbooks) is said plainly, since nothing went wrong."""
    consequence = CONSEQUENCES.get(failure.tool, "its result was not used")
    if failure.unserved:
        served = NOT_SERVED.get(failure.tool, f"what {failure.tool} reads")
        return f"no source here serves {served}: {consequence}"
    first_line = failure.error.splitlines()[0] if failure.error else ""
    return f"{failure.tool} failed ({first_line[:200]}): {consequence}"


def _no_root(findings: Findings, situation: Situation, missing: list[str]) -> Answer:
    claims: list[Claim] = []
    report = findings.anomalies
    if report is not None:
        ids = [anomaly_id(a) for a in report.anomalies[:3]]
        strongest = (
            "; ".join(f"{findings.graph.label(a.service)} {anomaly_reading(a)}" for a in report.anomalies[:3])
            or "none"
        )
        claims.append(
            Claim(
                text=(
                    f"No service left its baseline strongly enough to be a symptom between "
                    f"{at(report.detect_start)} and {at(report.detect_end)} (strongest: {strongest})."
                ),
                evidence_ids=findings.cited(*ids),
            )
        )
    if situation.incident is not None:
        claims.append(
            Claim(
                text=f"{situation.incident.id} \u201c{situation.incident.title}\u201d is open.",
                evidence_ids=findings.cited(evidence_id(EvidenceKind.INCIDENT, situation.incident.id)),
            )
        )
    fine = [findings.graph.label(s) for s in situation.named]
    return Answer(
        # Nothing departed, so every service the question names is fine: that answers it first.
        summary=f"{_listed(fine)} {'is' if len(fine) == 1 else 'are'} not failing: no service shows a strong "
        "departure from its baseline."
        if fine
        else "I could not find where the trouble starts: no service shows a strong departure from its baseline.",
        claims=[c for c in claims if c.evidence_ids],
        root_cause=None,
        confidence=0.1,
        missing=[*missing, "no root cause: nothing left its baseline strongly enough to rank"],
    )


def _proposals(
    findings: Findings, situation: Situation, answer: Answer, ranking: Ranking
) -> list[ProposedAction]:
    cited = list(dict.fromkeys(i for claim in answer.claims for i in claim.evidence_ids))
    proposals = []
    ticket = own_tool_name(situation, "create_ticket")
    root_cause = answer.root_cause
    if ticket is not None and root_cause is not None:
        proposals.append(
            ProposedAction(
                tool=ticket,
                arguments={
                    "ticket": {
                        "title": f"{findings.graph.label(root_cause.service)}: {root_cause.fault_kind.replace('_', ' ')} since {at(ranking.onset)}",
                        "description": _description(findings, answer),
                        "fields": {
                            "service": root_cause.service,
                            "faultKind": root_cause.fault_kind,
                            **({"incident": situation.incident.id} if situation.incident else {}),
                        },
                    }
                },
                reason="File a follow-up for the owning team that carries the evidence",
                evidence_ids=cited,
            )
        )
    note = own_tool_name(situation, "append_timeline_note")
    if note is not None and situation.incident is not None:
        proposals.append(
            ProposedAction(
                tool=note,
                arguments={
                    "incident_id": situation.incident.id,
                    "note": {"kind": "note", "body": _note(findings, answer)},
                },
                reason="Record the finding on the incident's timeline",
                evidence_ids=cited,
            )
        )
    return proposals


def own_tool_name(situation: Situation, tool: str) -> str | None:
    """The run's namespaced name of OpsPilot's ``tool``, if the run has it."""
    spec = own_tool(situation.tools, tool)
    return spec.name if spec is not None else None


def _links(findings: Findings, ids: list[str]) -> str:
    return ", ".join(
        f"[{i}]({findings.evidence[i].link})" if findings.evidence[i].link else i
        for i in ids
        if i in findings.evidence
    )


def _description(findings: Findings, answer: Answer) -> str:
    lines = [answer.summary, "", "Findings:"]
    lines += [f"- {claim.text} ({_links(findings, claim.evidence_ids)})" for claim in answer.claims]
    text = "\n".join(lines)
    return text if len(text) <= MAX_DESCRIPTION_CHARS else text[: MAX_DESCRIPTION_CHARS - 1] + "\u2026"


def _note(findings: Findings, answer: Answer) -> str:
    top = [i for claim in answer.claims[:3] for i in claim.evidence_ids[:2]]
    return f"Copilot: {answer.summary} Evidence: {_links(findings, top)}"

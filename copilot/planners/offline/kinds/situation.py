"""What is going on: the current situation, ranked.

One round after the shared context (open incidents, firing alerts, the catalog): the anomaly scan of every
service. The services off their baseline are ranked over the dependency graph as a root-cause question's are
(``copilot.planners.offline.ranking``), so the verdict names where trouble starts and what it reaches, before the
open incidents and firing alerts; a second, independent trouble is listed on its own.
"""

from __future__ import annotations

from collections import defaultdict

from copilot.answer import Answer, Claim, EvidenceKind, QuestionKind
from copilot.evidence import evidence_id
from copilot.planners.offline.kinds.common import named_reading
from copilot.planners.offline.kinds.why_failing import situation_of
from copilot.planners.offline.ranking import Ranking, rank
from copilot.planners.offline.readings import Findings
from copilot.planners.offline.report import anomaly_id, at, run_notes
from copilot.planners.offline.rounds import Round, signals_round
from copilot.planning import PlanContext
from core_client.schemas import Alert

LISTED = 5
SEVERITY_ORDER = {"critical": 0, "sev1": 0, "high": 1, "sev2": 1, "major": 1, "warning": 2, "medium": 2}


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """Where trouble is now, ranked: its roots and what they reach, then open incidents and firing alerts."""
    incidents = findings.active_incidents()
    alerts = findings.firing_alerts()
    key = findings.graph.key
    on_record = list(dict.fromkeys(key(i.service) for i in incidents if i.service))
    # A caller of a service with an open incident is never where its trouble starts (unless its traffic surged).
    ranking = rank(
        findings, on_record, list(dict.fromkeys(key(a.service) for a in alerts if a.service)), on_record
    )
    roots = [r for r in (ranking.root, *ranking.competing) if r is not None]
    roots += [r for r in ranking.roots if r not in roots and r not in ranking.refused]
    counts = f"{_count(len(incidents), 'open incident')}, {_count(len(alerts), 'alert')} firing"
    if roots:
        root = roots[0]
        reached = [s for s in ranking.coverage if s != root]
        reach = (
            f", reaching {_count(len(reached), 'service')} that {'depends' if len(reached) == 1 else 'depend'} on it"
            if reached
            else ""
        )
        verdict = (
            f"Trouble starts at {findings.graph.label(root)}, since {at(ranking.onset)}{reach}; {counts}."
        )
    elif ranking.refused:
        # Only callers of a service with an open incident fail: its trouble shows through them, not where it starts.
        caller = ranking.refused[0]
        called = [t for t in ranking.troubled if findings.graph.reaches(caller, t)] or ranking.troubled
        verdict = (
            f"{findings.graph.label(caller)} is failing since {at(ranking.affected[caller].onset)}, but it calls "
            f"{', '.join(map(findings.graph.label, called))}, whose incident is open, so where the trouble starts "
            f"is not clear yet; {counts}."
        )
    elif incidents or alerts:
        verdict = f"No service is off its baseline now; {counts}."
    else:
        verdict = "All quiet: no open incident, no alert firing, and every service is within its baseline."
    claims = [
        *(_trouble_claim(findings, ranking, r) for r in (roots or ranking.refused)[:LISTED]),
        _incidents_claim(findings),
        _alerts_claim(findings, alerts),
    ]
    summary = verdict
    if len(roots) > 1:
        summary += f" Separate trouble: {', '.join(map(findings.graph.label, roots[1:LISTED]))}."
    missing = run_notes(context, findings, situation_of(context, findings))
    return Answer(
        kind=QuestionKind.SITUATION,
        verdict=verdict,
        summary=summary,
        claims=[c for c in claims if c is not None and c.evidence_ids],
        confidence=0.9 if findings.anomalies is not None else 0.4,
        missing=missing,
    )


def _count(number: int, noun: str) -> str:
    return f"{'no' if number == 0 else number} {noun}{'s' if number != 1 else ''}"


def _trouble_claim(findings: Findings, ranking: Ranking, root: str) -> Claim | None:
    symptoms = ranking.affected.get(root)
    if symptoms is None:
        return None
    label = findings.graph.label
    top = sorted(symptoms.serving() or symptoms.anomalies, key=lambda a: -abs(a.peak_z))[:2]
    readings = "; ".join(map(named_reading, top))
    onsets = {
        s: onset
        for s, by in ranking.explained_by.items()
        if root in by and (onset := ranking.affected[s].onset) is not None
    }
    followers = sorted(onsets, key=lambda s: onsets[s])
    after = ""
    ids = [anomaly_id(a) for a in top]
    if followers:
        after = (
            " Then: "
            + ", ".join(f"{label(s)} ({at(ranking.affected[s].onset)})" for s in followers[:LISTED])
            + "."
        )
        ids += [
            anomaly_id(ranking.affected[s].anomalies[0])
            for s in followers[:LISTED]
            if ranking.affected[s].anomalies
        ]
    return Claim(
        text=f"{label(root)} since {at(symptoms.onset)}: {readings}.{after}",
        evidence_ids=findings.cited(*ids),
    )


def _incidents_claim(findings: Findings) -> Claim | None:
    incidents = sorted(
        findings.active_incidents(), key=lambda i: SEVERITY_ORDER.get((i.severity or "").lower(), 3)
    )[:LISTED]
    if not incidents:
        return None
    parts = "; ".join(
        f"{i.id} \u201c{i.title}\u201d ({i.severity or 'no severity'}, "
        f"{findings.graph.label(i.service) if i.service else 'no service'}, "
        f"opened {at(i.created_at)})"
        for i in incidents
    )
    return Claim(
        text=f"Open: {parts}.",
        evidence_ids=findings.cited(*(evidence_id(EvidenceKind.INCIDENT, i.id) for i in incidents)),
    )


def _alerts_claim(findings: Findings, alerts: list[Alert]) -> Claim | None:
    by_service: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_service[findings.graph.key(alert.service) if alert.service else "no service"].append(alert)
    if not by_service:
        return None
    ordered = sorted(by_service.items(), key=lambda item: -len(item[1]))[:LISTED]
    parts = "; ".join(
        f"{findings.graph.label(service)}: " + ", ".join(f"\u201c{a.title}\u201d" for a in group[:3])
        for service, group in ordered
    )
    ids = [evidence_id(EvidenceKind.ALERT, a.id) for _, group in ordered for a in group[:3]]
    return Claim(text=f"Firing: {parts}.", evidence_ids=findings.cited(*ids))


ROUNDS: tuple[Round, ...] = (signals_round,)
THOUGHTS: tuple[str, ...] = ("Find which services left their baseline, and when.",)

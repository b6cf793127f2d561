"""Who owns X, who is on call for it: the catalog's owner, the team's members and on-call, the runbook.

The shared context round already read the catalog, which names each service's owning team. One more round asks,
concurrently, for that team (members and who is on call now, by escalation level) and the service's runbook.
Asked of no service in particular ("who is on call?"), it reads every team the catalog names.
"""

from __future__ import annotations

import re

from copilot.answer import Answer, Claim, EvidenceKind, QuestionKind
from copilot.evidence import evidence_id
from copilot.planners.offline.kinds.common import asked_services
from copilot.planners.offline.kinds.why_failing import situation_of
from copilot.planners.offline.questions import question_of
from copilot.planners.offline.readings import Findings, Staffing
from copilot.planners.offline.report import at, run_notes
from copilot.planners.offline.rounds import Round, request
from copilot.planning import PlanContext, ToolRequest
from core_client.schemas import OnCallShift

# A question about who to reach now, rather than who owns a service.
ASKS_ONCALL = re.compile(
    r"\bon[- ]?call\b|\bpage\b|\bcall\b|\bescalat\w*|\bcontact\b|\breach\b|\bwake\b", re.I
)
TEAMS_READ = 8


def _teams_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    services = asked_services(context, findings)[:1]
    nodes = findings.graph.nodes
    if services:
        teams = [nodes[s].team for s in services if s in nodes and nodes[s].team]
    else:
        teams = sorted({n.team for n in nodes.values() if n.team})[:TEAMS_READ]
    calls = [
        request(context, "get_team", "who is in the team and on call", team_id=t)
        for t in dict.fromkeys(teams)
    ]
    calls += [request(context, "get_runbook", "what to check and do", service=s) for s in services]
    return [c for c in calls if c is not None]


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """The owner (or who is on call) first, then the team, its on-call rota and the runbook, each cited."""
    services = asked_services(context, findings)
    oncall_first = ASKS_ONCALL.search(question_of(context).wording) is not None
    teams = {t.team.id: t for t in findings.teams}
    if not services:
        return _everyone(context, findings, teams)
    service = services[0]
    called = findings.graph.label(service)
    node = findings.graph.nodes.get(service)
    team_id = node.team if node is not None else ""
    staffing = teams.get(team_id)
    claims = [
        Claim(
            text=f"The catalog names {team_id or 'no team'} as the owner of {called}.",
            evidence_ids=findings.cited(evidence_id(EvidenceKind.SERVICE, service)),
        )
    ]
    if not team_id:
        verdict = f"The catalog names no owner for {called}."
    elif staffing is None:
        verdict = f"{called} is owned by team {team_id}; who is on call could not be read."
    else:
        claims.append(_team_claim(context, findings, staffing))
        name = _team_name(staffing)
        first = staffing.oncall[0] if staffing.oncall else None
        if first is None:
            verdict = f"{called} is owned by {name}; nobody is listed on call for it."
        elif oncall_first:
            verdict = (
                f"{_person(first)} is on call for {called}{_until(context, first)}, for its owner {name}."
            )
        else:
            verdict = f"{called} is owned by {name}; on call now: {_person(first)}."
    runbook = next((r for r in findings.runbooks if r.service == service), None)
    if runbook is not None:
        claims.append(
            Claim(
                text=f"Runbook: {runbook.title or service + ' runbook'}.",
                evidence_ids=findings.cited(evidence_id(EvidenceKind.RUNBOOK, runbook.service)),
            )
        )
    return Answer(
        kind=QuestionKind.OWNERSHIP,
        verdict=verdict,
        summary=verdict,
        claims=[c for c in claims if c.evidence_ids],
        confidence=0.95 if staffing is not None else 0.5,
        missing=run_notes(context, findings, situation_of(context, findings)),
    )


def _everyone(context: PlanContext, findings: Findings, teams: dict[str, Staffing]) -> Answer:
    """Who is on call in every team the catalog names."""
    staffed = [t for t in teams.values() if t.oncall]
    if staffed:
        verdict = (
            "On call now: " + "; ".join(f"{_team_name(t)}: {_person(t.oncall[0])}" for t in staffed) + "."
        )
    else:
        verdict = (
            "Name a service to ask who owns it or is on call for it (e.g. \u201cWho owns <service>?\u201d)."
        )
    return Answer(
        kind=QuestionKind.OWNERSHIP,
        verdict=verdict,
        summary=verdict,
        claims=[_team_claim(context, findings, t) for t in staffed],
        confidence=0.9 if staffed else 0.2,
        missing=run_notes(context, findings, situation_of(context, findings)),
    )


def _team_claim(context: PlanContext, findings: Findings, staffing: Staffing) -> Claim:
    rota = "; ".join(f"level {s.escalation_level}: {_person(s)}{_until(context, s)}" for s in staffing.oncall)
    people = ", ".join(f"{m.name or m.id} ({m.role})" if m.role else m.name or m.id for m in staffing.members)
    text = f"Team {_team_name(staffing)}: " + (f"on call {rota}" if rota else "nobody listed on call")
    text += f"; members: {people}." if people else "."
    return Claim(text=text, evidence_ids=findings.cited(evidence_id(EvidenceKind.TEAM, staffing.team.id)))


def _team_name(staffing: Staffing) -> str:
    team = staffing.team
    return f"{team.name} ({team.id})" if team.name and team.name != team.id else team.id


def _person(shift: OnCallShift) -> str:
    member = shift.member
    handle = f" ({member.handle})" if member.handle else ""
    return f"{member.name or member.id}{handle}"


def _until(context: PlanContext, shift: OnCallShift) -> str:
    """When the shift ends, with its day when that is not today."""
    end = shift.end
    if end is None:
        return ""
    return f" until {at(end)}" if end.date() == context.now.date() else f" until {end:%b %d %H:%M} UTC"


ROUNDS: tuple[Round, ...] = (_teams_round,)
THOUGHTS: tuple[str, ...] = ("Read the owning team, who is on call now, and the runbook.",)

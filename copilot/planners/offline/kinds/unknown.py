"""A question the investigator cannot read: it says so, and lists what it can answer, with examples.

It never answers another question instead (a root-cause report to "asdf" helps no one). The examples name a
service of the catalog the context round read, so they can be asked as they stand.
"""

from __future__ import annotations

from copilot.answer import Answer, Claim, EvidenceKind, QuestionKind
from copilot.evidence import evidence_id
from copilot.planners.offline.readings import Findings
from copilot.planners.offline.rounds import Round
from copilot.planning import PlanContext

SERVICES_LISTED = 12
# What each kind answers, and an example with "{service}" standing for a service of the catalog.
CAN_ANSWER: tuple[tuple[str, str], ...] = (
    ("why a service is failing or slow", "Why is {service} failing?"),
    ("whether a service is healthy, degraded or down", "Is {service} healthy?"),
    ("whether a change caused it, or what changed", "Was the last {service} deploy the cause?"),
    ("what is going on overall", "What's going on?"),
    ("who owns a service and who is on call", "Who is on call for {service}?"),
    ("what a service logged", "What errors did {service} log in the last hour?"),
    ("whether it happened before", "Has this happened before on {service}?"),
)


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """That the question could not be read, what can be asked instead, and the services known."""
    nodes = sorted(findings.graph.nodes.values(), key=lambda n: (n.tier or 99, n.name))
    example = (nodes[0].label or nodes[0].name) if nodes else "checkout"
    verdict = "I could not tell what this question asks, so I have not answered it."
    lines = "; ".join(f"{what} (\u201c{ask.format(service=example)}\u201d)" for what, ask in CAN_ANSWER)
    summary = f"{verdict} I can answer: {lines}."
    claims = []
    if nodes:
        listed = nodes[:SERVICES_LISTED]
        more = f" and {len(nodes) - len(listed)} more" if len(nodes) > len(listed) else ""
        claims.append(
            Claim(
                text=f"Services I can answer about: {', '.join(n.label or n.name for n in listed)}{more}.",
                evidence_ids=findings.cited(*(evidence_id(EvidenceKind.SERVICE, n.name) for n in listed)),
            )
        )
    return Answer(
        kind=QuestionKind.UNKNOWN,
        verdict=verdict,
        summary=summary,
        claims=[c for c in claims if c.evidence_ids],
        confidence=0.0,
        missing=["the question matched no kind of question the offline investigator reads"],
    )


ROUNDS: tuple[Round, ...] = ()
THOUGHTS: tuple[str, ...] = ()

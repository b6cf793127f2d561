"""What a write-up says, read from an answer and the evidence it cites: the root cause, which services suffered
and since when, what happened in what order, and which evidence to link.

Everything here comes from the evidence's own fields (kind, when, whose, label, link), so it holds for any
planner's answer and any provider's data; nothing is parsed back out of prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from copilot.answer import Answer, Evidence, EvidenceKind, Moment
from core_client.schemas import Incident

# Evidence that shows a service in trouble (which services suffered, and from when).
SYMPTOM_KINDS = (EvidenceKind.ANOMALY, EvidenceKind.ALERT, EvidenceKind.INCIDENT)
# The order evidence is listed in a write-up (what shows the cause first, the surroundings last), and how many of
# each kind a short list holds, so one kind cannot crowd out the others.
LINK_ORDER: dict[EvidenceKind, int] = {
    EvidenceKind.ANOMALY: 3,
    EvidenceKind.LOG_PATTERN: 2,
    EvidenceKind.DEPLOYMENT: 2,
    EvidenceKind.LOG: 1,
    EvidenceKind.METRIC: 1,
    EvidenceKind.ALERT: 2,
    EvidenceKind.INCIDENT: 1,
    EvidenceKind.TICKET: 2,
    EvidenceKind.TIMELINE: 1,
    EvidenceKind.RUNBOOK: 1,
    EvidenceKind.SERVICE: 0,
    EvidenceKind.FILE: 1,
}
# Short names of the fault kinds, for titles: "<service>: <name>".
FAULT_NAMES: dict[str, str] = {
    "bad_deploy": "failing since a release",
    "config_change": "failing since a configuration change",
    "connection_pool_exhaustion": "connection pool exhausted",
    "latency_injection": "responses slowed down",
    "certificate_expiry": "TLS certificate expired",
    "memory_leak": "leaking memory",
    "dependency_outage": "a dependency it needs is down",
    "disk_full": "disk full",
    "cpu_saturation": "CPU saturated",
    "traffic_spike": "overloaded by a traffic surge",
}


class Basis(BaseModel):
    """What a write-up is made from."""

    answer: Answer
    evidence: list[Evidence] = Field(description="the evidence the answer cites (others are ignored)")
    run_id: str
    author: str = Field(description="the person the Copilot acts for")
    console_url: str
    now: datetime = Field(description="now, on the clock of the world the evidence comes from")
    incident: Incident | None = None

    @property
    def signature(self) -> str:
        """Who wrote it, as every write-up says: ``OpsPilot Copilot for ada``."""
        return f"OpsPilot Copilot for {self.author}"

    def absolute(self, link: str) -> str:
        """A console link (``/metrics?...``) as a full URL; a full URL stays as it is."""
        if link.startswith(("http://", "https://")):
            return link
        return self.console_url.rstrip("/") + "/" + link.lstrip("/")

    @property
    def run_url(self) -> str:
        return self.absolute(f"/runs/{self.run_id}")


@dataclass(frozen=True)
class Affected:
    """A service in trouble, and the first time the evidence shows it."""

    service: str
    since: datetime | None
    root: bool


# How a timeline line derived from evidence names what happened, by the evidence's kind.
MOMENT_KINDS: dict[EvidenceKind, str] = {
    EvidenceKind.ANOMALY: "onset",
    EvidenceKind.LOG_PATTERN: "log",
    EvidenceKind.DEPLOYMENT: "change",
    EvidenceKind.ALERT: "alert",
    EvidenceKind.INCIDENT: "incident",
}


class Facts:
    """The answer and its cited evidence, read for writing."""

    def __init__(self, basis: Basis) -> None:
        self.basis = basis
        self.answer = basis.answer
        cited = [i for claim in basis.answer.claims for i in claim.evidence_ids]
        cited += [i for action in basis.answer.proposed_actions for i in action.evidence_ids]
        by_id = {item.id: item for item in basis.evidence}
        self.cited: list[Evidence] = [by_id[i] for i in dict.fromkeys(cited) if i in by_id]

    @property
    def root(self) -> str | None:
        return self.answer.root_cause.service if self.answer.root_cause else None

    @property
    def fault_kind(self) -> str | None:
        return self.answer.root_cause.fault_kind if self.answer.root_cause else None

    @property
    def fault_name(self) -> str:
        kind = self.fault_kind or ""
        return FAULT_NAMES.get(kind, kind.replace("_", " "))

    def of_kind(self, *kinds: EvidenceKind) -> list[Evidence]:
        return [item for item in self.cited if item.kind in kinds]

    @property
    def incident_id(self) -> str | None:
        if self.basis.incident is not None:
            return self.basis.incident.id
        incidents = self.of_kind(EvidenceKind.INCIDENT)
        return incidents[0].ref if incidents else None

    @property
    def incident_title(self) -> str:
        if self.basis.incident is not None:
            return self.basis.incident.title
        incidents = [i for i in self.of_kind(EvidenceKind.INCIDENT) if i.ref == self.incident_id]
        if not incidents:
            return ""
        # An evidence label leads with the id ("INC-6013 Checkout error rate"); the title is what follows it.
        label, ref = incidents[0].label, incidents[0].ref
        return label[len(ref) :].strip(" :-\u2014") if label.startswith(ref) else label

    @property
    def incident_opened(self) -> datetime | None:
        if self.basis.incident is not None and self.basis.incident.created_at is not None:
            return self.basis.incident.created_at
        incidents = [i for i in self.of_kind(EvidenceKind.INCIDENT) if i.ref == self.incident_id]
        return incidents[0].at if incidents else None

    @property
    def incident_url(self) -> str | None:
        incident_id = self.incident_id
        return self.basis.absolute(f"/incidents/{incident_id}") if incident_id else None

    def affected(self) -> list[Affected]:
        """The services in trouble, the root first, then in the order their trouble began: the answer's checked
        ``path`` (root to symptom, with onsets), and every other service an anomaly, an alert or an incident
        among the cited evidence shows."""
        first: dict[str, datetime | None] = {hop.service: hop.onset for hop in self.answer.path}
        for item in self.of_kind(*SYMPTOM_KINDS):
            if not item.service:
                continue
            known = first.get(item.service)
            if item.at is not None and (known is None or item.at < known):
                first[item.service] = item.at
            else:
                first.setdefault(item.service, known)
        root = self.root or (self.answer.path[0].service if self.answer.path else None)
        if root is not None:
            first.setdefault(root, None)
        far = datetime.max.replace(tzinfo=self.basis.now.tzinfo)
        ordered = sorted(first, key=lambda name: (name != root, first[name] or far, name))
        return [Affected(service=name, since=first[name], root=name == root) for name in ordered]

    @property
    def onset(self) -> datetime | None:
        """When the trouble began: the root's first departure, else the earliest the evidence shows."""
        affected = self.affected()
        root_since = next((a.since for a in affected if a.root and a.since), None)
        return root_since or min((a.since for a in affected if a.since), default=None)

    def evidence_of(self, moment: Moment) -> Evidence | None:
        """The first cited evidence a timeline moment rests on."""
        by_id = {item.id: item for item in self.cited}
        return next((by_id[i] for i in moment.evidence_ids if i in by_id), None)

    def moments(self, *, limit: int) -> list[Moment]:
        """A short timeline, oldest first, at most ``limit`` lines: the answer's own when it has one, with the
        changes and the incident's opening it cites beside them (a reader of a ticket or a postmortem looks for
        both); otherwise each affected service's first anomaly, new log patterns, changes, alerts and the incident
        opening (the root's and the changes' kept first when there are too many)."""
        if self.answer.timeline:
            told = {i for moment in self.answer.timeline for i in moment.evidence_ids}
            beside = [
                _moment(item)
                for item in [
                    *self.of_kind(EvidenceKind.DEPLOYMENT)[:2],
                    *[i for i in self.of_kind(EvidenceKind.INCIDENT) if i.ref == self.incident_id][:1],
                ]
                if item.at is not None and item.id not in told
            ]
            own = sorted(self.answer.timeline, key=lambda m: m.at)[: max(limit - len(beside), 0)]
            return sorted([*own, *beside], key=lambda m: m.at)
        picked: list[Evidence] = []
        seen_services: set[str] = set()
        for item in sorted(self.of_kind(EvidenceKind.ANOMALY), key=lambda e: e.at or self.basis.now):
            if item.service and item.service not in seen_services:
                seen_services.add(item.service)
                picked.append(item)
        picked += self.of_kind(EvidenceKind.LOG_PATTERN)[:2]
        picked += self.of_kind(EvidenceKind.DEPLOYMENT)[:3]
        picked += self.of_kind(EvidenceKind.ALERT)[:3]
        picked += [item for item in self.of_kind(EvidenceKind.INCIDENT) if item.ref == self.incident_id][:1]
        root = self.root

        def weight(item: Evidence) -> int:
            if item.service == root or item.kind == EvidenceKind.DEPLOYMENT:
                return 0
            return 1 if item.kind in (EvidenceKind.INCIDENT, EvidenceKind.ALERT) else 2

        timed = [item for item in picked if item.at is not None]
        kept = sorted(timed, key=lambda item: (weight(item), item.at or self.basis.now))[:limit]
        return sorted((_moment(item) for item in kept), key=lambda m: m.at)

    def specificity(self, item: Evidence) -> int:
        """How few pieces of evidence stand beside ``item`` in the most specific claim citing it: evidence that
        alone supports a claim is what the answer turns on."""
        sizes = [len(claim.evidence_ids) for claim in self.answer.claims if item.id in claim.evidence_ids]
        return min(sizes, default=len(self.cited) + 1)

    def links(self, *, limit: int) -> list[Evidence]:
        """The cited evidence worth a link, at most ``limit``: by kind in ``LINK_ORDER`` (each kind capped); within
        a kind the root's own first, then the most specific. A change made after the trouble began is left out:
        it cannot have caused it."""
        root, onset = self.root, self.onset
        picked: list[Evidence] = []
        for kind, cap in LINK_ORDER.items():
            linked = [item for item in self.of_kind(kind) if item.link]
            if kind == EvidenceKind.DEPLOYMENT and onset is not None:
                linked = [item for item in linked if item.at is None or item.at <= onset]
            picked += sorted(linked, key=lambda item: (item.service != root, self.specificity(item)))[:cap]
        return picked[:limit]

    def root_claims(self, *, limit: int) -> list[str]:
        """The claims that rest on the root's own evidence alone: why the answer names it."""
        root = self.root
        if root is None:
            return []
        by_id = {item.id: item for item in self.cited}

        def own(claim_ids: list[str]) -> bool:
            cited = [by_id[i] for i in claim_ids if i in by_id]
            services = {item.service for item in cited}
            return root in services and services <= {root, None}

        return [claim.text for claim in self.answer.claims if own(claim.evidence_ids)][:limit]

    @property
    def verdict(self) -> str:
        """The answer in one sentence."""
        return self.answer.verdict


def _moment(item: Evidence) -> Moment:
    """A timeline line for a piece of evidence with a time, in OpsPilot's words."""
    return Moment.model_validate(
        {"at": item.at, "kind": MOMENT_KINDS[item.kind], "label": said(item), "evidence_ids": [item.id]}
    )


def said(item: Evidence) -> str:
    """What a piece of evidence on a timeline says happened, in OpsPilot's words (its data is quoted apart)."""
    match item.kind:
        case EvidenceKind.ANOMALY:
            return f"{item.service} left its baseline"
        case EvidenceKind.LOG_PATTERN:
            return f"New in {item.service}'s logs" if item.service else "New in the logs"
        case EvidenceKind.DEPLOYMENT:
            return "Change"
        case EvidenceKind.ALERT:
            return f"Alert fired ({item.service})" if item.service else "Alert fired"
        case _:
            return f"Incident {item.ref} opened"


def clock(value: datetime | None) -> str:
    """``13:38 UTC``."""
    return value.strftime("%H:%M UTC") if value else "an unknown time"


def stamp(value: datetime | None) -> str:
    """``2025-06-11 13:38 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "an unknown time"


def duration(seconds: float) -> str:
    """``4 min``, ``3 h`` or ``2 h 15 min``."""
    total = round(abs(seconds) / 60)
    if total < 90:
        return f"{total} min"
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def relative(at: datetime, onset: datetime | None) -> str:
    """Where ``at`` falls against the onset: ``5 min before the onset``, ``at the onset``, ``26 min after``."""
    if onset is None:
        return ""
    seconds = (at - onset).total_seconds()
    if abs(seconds) < 60:
        return "at the onset"
    return f"{duration(seconds)} {'after' if seconds > 0 else 'before'} the onset"

"""Where trouble starts: symptoms per service, and the candidate that explains the others over the dependency graph.

A service is *affected* when one of its serving signals (errors or latency up, traffic down) left its baseline
strongly. An affected service is *explained* when something it calls, directly or not, was affected at about the
same time or shortly before: then its symptoms are that dependency's, and it is never blamed over it. The services
left unexplained are the roots. One exception runs the other way: a caller whose traffic surged before a
dependency began to suffer is what overloaded it, so it explains that dependency (and everything that dependency
explains) rather than being explained by it. The services left unexplained are the roots; the root chosen is the
one behind the symptoms the operator asked about (the services the question names, the page and the incident, then
the firing alerts), covering the most of them.

A root is never a mere caller of the services whose trouble is on record (an open incident or a firing alert on
them): trouble travels from what is called to its callers, so a caller's own failure cannot explain theirs; only a
caller whose traffic surged can (it overloads what it calls). A root one of them depends on is no mere caller, even
if it calls another of them. When the evidence cannot separate the best roots (neither on the
other's dependency path, explaining about as many services, departing about as strongly, beginning within minutes
of each other), they are *tied*, and the answer names them all rather than the one that happened to begin first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from copilot.planners.offline.graph import ServiceGraph, ServiceNode
from copilot.planners.offline.readings import Findings, Signal, signal_of
from core_client.analysis.anomalies import adverse, material
from core_client.analysis.semantics import read_as_gauge
from core_client.schemas import Deployment
from core_client.schemas.analysis import MetricAnomaly, PatternChange

# A change is a suspect when it started at most this long before the onset (or within the slack after it).
CHANGE_LEAD = timedelta(minutes=20)
CHANGE_SLACK = timedelta(minutes=2)

# A departure this strong is a symptom; the baseline noise of a busy afternoon stays well below it.
STRONG_Z = 10.0
# A dependency explains a caller's trouble if its own began no later than this after the caller's...
ONSET_TOLERANCE = timedelta(minutes=3)
# ...and its serving trouble no earlier than this before it: trouble crosses a call in seconds (a timeout, an error
# returned), so a caller that began failing long after a dependency did has trouble of its own.
ONSET_LEAD = timedelta(minutes=15)
# A caller's traffic surge overloads a dependency if it began at most this long before the dependency's trouble
# (load builds up: a queue fills, a CPU saturates).
SURGE_LEAD = timedelta(minutes=60)
# A resource of a service's own that began going the worse way this long before its serving trouble (a leak, a
# filling disk) is part of the same fault.
RESOURCE_LEAD = timedelta(minutes=45)
# A caller's traffic surge overloads a dependency only if it began first (a cause does not follow its effect);
# one minute allows for onsets read at minute steps.
SURGE_LAG = timedelta(minutes=1)
# Two roots are tied when they began within this of each other (onsets are read at minute steps and trouble takes
# a minute or two to show in a rate)...
TIE_ONSETS = timedelta(minutes=3)
# ...explain numbers of services at most this far apart...
TIE_COVERAGE_GAP = 1
# ...and the weaker departed at least this share as strongly as the stronger.
TIE_STRENGTH = 0.5
SERVING_UP = (Signal.ERRORS, Signal.LATENCY)
RESOURCE_SIGNALS = frozenset({"cpu", "memory", "disk", "file_descriptors", "pool"})
# What a resource's own trouble shows as: used up, little left, failing (saturation, such as page faults, follows
# from any of them and names no mechanism on its own).
RESOURCE_FACETS = frozenset({"utilization", "headroom", "errors"})
ERROR_SEVERITIES = frozenset({"error", "fatal", "critical", "panic"})


@dataclass
class Symptoms:
    """One service's strong departures, and when its serving trouble began."""

    service: str
    anomalies: list[MetricAnomaly] = field(default_factory=list)
    onset: datetime | None = None
    strength: float = 0.0
    # When a resource of its own (CPU, memory, disk...) began to go the worse way, for a host or a resource that
    # serves no requests of its own and shows only USE signals.
    resource_onset: datetime | None = None
    resource_strength: float = 0.0

    def serving(self) -> list[MetricAnomaly]:
        return [a for a in self.anomalies if is_serving(a)]


def read_signal(anomaly: MetricAnomaly) -> Signal:
    """What ``anomaly`` is about: as the scan read its series (a known exporter's family first), else by name."""
    if read_as_gauge(anomaly.semantics):
        # A "counter" that cannot be one (its values compound or fall at random) is a number of unknown meaning,
        # whatever its name: how high it went is no symptom of anything.
        return Signal.OTHER
    if anomaly.signal and anomaly.signal != Signal.OTHER.value:
        # A reading this vocabulary has no word for (disk I/O, network...) is none of its signals, whatever words
        # its name holds: ``rate(node_disk_reads_merged_total)`` is not disk space.
        known = {s.value for s in Signal}
        return Signal(anomaly.signal) if anomaly.signal in known else Signal.OTHER
    return signal_of(anomaly.name)


def is_resource_trouble(anomaly: MetricAnomaly) -> bool:
    """A resource of the service's own going the worse way, by a material amount: CPU busy, memory or disk space
    running out..."""
    # A CPU's saturation is its own (a run queue, CPU pressure); other resources' is a consequence.
    facet = anomaly.facet in RESOURCE_FACETS or (anomaly.signal == "cpu" and anomaly.facet == "saturation")
    return anomaly.signal in RESOURCE_SIGNALS and facet and adverse(anomaly)


def own_trouble(symptoms: Symptoms | None) -> list[MetricAnomaly]:
    """A service's strong departures of a known signal going the worse way (restarts up, memory running out...),
    strongest first: trouble of its own, even where none of them is a symptom its callers feel."""
    found = (
        [a for a in symptoms.anomalies if read_signal(a) is not Signal.OTHER and adverse(a)]
        if symptoms
        else []
    )
    return sorted(found, key=lambda a: -abs(a.peak_z))


def is_trouble(anomaly: MetricAnomaly) -> bool:
    """A strong departure of what callers feel, or of a resource of the service's own: what makes a service
    unhealthy, in an answer and on its page alike."""
    return abs(anomaly.peak_z) >= STRONG_Z and (is_serving(anomaly) or is_resource_trouble(anomaly))


def is_serving(anomaly: MetricAnomaly) -> bool:
    """Errors or latency up, or traffic down, by a material amount: what callers of a service feel."""
    signal = read_signal(anomaly)
    felt = (signal in SERVING_UP and anomaly.direction == "up") or (
        signal is Signal.TRAFFIC and anomaly.direction == "down"
    )
    return felt and material(anomaly)


@dataclass
class Ranking:
    """The chosen root, the services affected, and how they relate."""

    affected: dict[str, Symptoms]
    roots: list[str]
    explained_by: dict[str, list[str]]
    root: str | None = None
    coverage: list[str] = field(default_factory=list)
    competing: list[str] = field(default_factory=list)
    # Whose trouble the root was chosen for: "asked" (question, page, incident), "alerted", or "any".
    chosen_for: str = ""
    # The competing roots the evidence of the ranking cannot tell from the root (see :func:`inseparable`).
    tied: list[str] = field(default_factory=list)
    # Every service with a strong departure of any signal, affected or not (a host's restarts, say).
    departed: dict[str, Symptoms] = field(default_factory=dict)
    # The services whose trouble is on record (an incident, an alert), and the roots set aside as mere callers of them.
    troubled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def onset(self) -> datetime | None:
        """When trouble began at the root."""
        return began(self.affected[self.root]) if self.root in self.affected else None

    def first_onset(self) -> datetime | None:
        onsets = [s.onset for s in self.affected.values() if s.onset is not None]
        return min(onsets) if onsets else None


def symptoms_by_service(findings: Findings) -> dict[str, Symptoms]:
    """Every service with a strong departure, from the anomaly report (or, without one, its new error patterns)."""
    table: dict[str, Symptoms] = {}
    report = findings.anomalies
    for anomaly in report.anomalies if report else []:
        if abs(anomaly.peak_z) < STRONG_Z or not anomaly.service:
            continue
        service = findings.graph.key(anomaly.service)
        entry = table.setdefault(service, Symptoms(service))
        entry.anomalies.append(anomaly)
        if is_serving(anomaly):
            entry.onset = min(entry.onset or anomaly.onset, anomaly.onset)
            entry.strength = max(entry.strength, abs(anomaly.peak_z))
    for entry in table.values():
        trouble = [a for a in entry.anomalies if is_resource_trouble(a)]
        # Trouble still going on is what the question is about; a departure that has ended is history.
        current = [a for a in trouble if a.ongoing] or trouble
        if current:
            entry.resource_onset = min(a.onset for a in current)
            entry.resource_strength = max(abs(a.peak_z) for a in current)
    if report is None and findings.patterns is not None:
        for change in findings.patterns.changes:
            if change.change != "new" or not ERROR_SEVERITIES & set(change.by_severity):
                continue
            for service in own_services(change, findings.graph):
                entry = table.setdefault(service, Symptoms(service))
                entry.onset = min(entry.onset or change.first_seen, change.first_seen)
                entry.strength = max(entry.strength, float(change.count_after))
    return table


def own_services(change: PatternChange, graph: ServiceGraph) -> list[str]:
    """The services that log ``change`` about themselves (not about a service they call)."""
    named = graph.mentioned_in(f"{change.template} {change.example}")
    return [s for s in change.services if not (named - {s})]


def blamed_by(change: PatternChange, graph: ServiceGraph) -> set[str]:
    """The services other than its loggers that a pattern's lines name (a caller's complaint about them)."""
    return graph.mentioned_in(f"{change.template} {change.example}") - set(change.services)


def rank(
    findings: Findings, asked: Sequence[str], alerted: Sequence[str], troubled: Sequence[str] = ()
) -> Ranking:
    """The root behind the symptoms of ``asked`` (question, page, incident), else of ``alerted``, else of all;
    never a mere caller of a service of ``troubled`` (those whose trouble is on record)."""
    graph = findings.graph
    table = symptoms_by_service(findings)
    for name in asked:
        # A service asked about that shows only its resources in trouble (a host has no requests to fail) is
        # affected since they began.
        symptoms = table.get(name)
        if symptoms is not None and symptoms.onset is None and symptoms.resource_onset is not None:
            symptoms.onset, symptoms.strength = symptoms.resource_onset, symptoms.resource_strength
    affected = {name: s for name, s in table.items() if s.onset is not None}
    _add_triggers(table, affected, graph)
    explained_by = {name: _explainers(name, affected, graph) for name in affected}
    roots = [name for name, by in explained_by.items() if not by]
    ranking = Ranking(affected=affected, roots=roots, explained_by=explained_by, departed=table)
    ranking.troubled = list(dict.fromkeys(troubled))
    ranking.refused = [r for r in roots if mere_caller(r, ranking.troubled, affected, graph)]
    candidates = [r for r in roots if r not in ranking.refused]
    for chosen_for, scope in (("asked", asked), ("alerted", alerted), ("any", list(affected))):
        relevant = [r for r in candidates if _behind(r, scope, affected, graph)]
        if relevant:
            ordered = sorted(relevant, key=lambda r: _merit(r, affected, graph))
            ranking.chosen_for = chosen_for
            settle(ranking, ordered[0], ordered[1:], graph)
            ranking.tied = [
                c for c in ranking.competing if inseparable(ranking.root or "", c, affected, graph)
            ]
            break
    if ranking.root is not None:
        _follow_logs(ranking, findings)
    else:
        _past_the_callers(ranking, findings)
    return ranking


def _past_the_callers(ranking: Ranking, findings: Findings) -> None:
    """With only mere callers of the trouble on record failing, the root their own log lines blame, when it is not
    a mere caller itself (a dependency the metrics cannot see); else no root."""
    graph = findings.graph
    seen = set(ranking.affected)
    for caller in sorted(ranking.refused, key=lambda r: _merit(r, ranking.affected, graph)):
        settle(ranking, caller, [], graph)
        _follow_logs(ranking, findings)
        blamed = ranking.root or ""
        if blamed != caller and not mere_caller(blamed, ranking.troubled, ranking.affected, graph):
            ranking.chosen_for = "asked"
            ranking.refused = [r for r in ranking.refused if r != caller]
            return
        for added in set(ranking.affected) - seen:
            del ranking.affected[added]  # blamed by a caller's lines, but no root either
    ranking.root, ranking.coverage, ranking.competing = None, [], []


def settle(ranking: Ranking, root: str, competing: Sequence[str], graph: ServiceGraph) -> None:
    """Make ``root`` the ranking's root, the others its competitors, and what it explains its coverage."""
    ranking.root = root
    ranking.competing = [c for c in competing if c != root]
    ranking.tied = [c for c in ranking.tied if c != root]
    ranking.coverage = covered(root, ranking.affected, graph)


def mere_caller(
    root: str, troubled: Sequence[str], affected: dict[str, Symptoms], graph: ServiceGraph
) -> bool:
    """Whether ``root`` only calls services of ``troubled``, directly or not: it is none of them, none of them
    depends on it, and its traffic did not surge. Then its own failure cannot be behind their trouble (trouble
    travels from a service to its callers)."""
    if root in affected and surge(affected[root]) is not None:
        return False  # a caller whose traffic surged is the load that triggers its dependencies' trouble
    if any(graph.reaches(service, root) for service in troubled):
        return False  # it is, or is behind, a service whose trouble is on record
    return any(graph.reaches(root, service) for service in troubled)


def inseparable(root: str, other: str, affected: dict[str, Symptoms], graph: ServiceGraph) -> bool:
    """Whether the ranking's evidence cannot tell ``other`` from ``root``: neither calls the other (they are not one
    dependency path), they explain about as many services, depart about as strongly and began within
    :data:`TIE_ONSETS` of each other."""
    if graph.reaches(root, other) or graph.reaches(other, root):
        return False
    mine, theirs = affected[root], affected[other]
    if mine.onset is None or theirs.onset is None or abs(mine.onset - theirs.onset) > TIE_ONSETS:
        return False
    gap = abs(len(covered(root, affected, graph)) - len(covered(other, affected, graph)))
    strengths = sorted((mine.strength, theirs.strength))
    return gap <= TIE_COVERAGE_GAP and strengths[0] >= TIE_STRENGTH * strengths[1]


def covered(root: str, affected: dict[str, Symptoms], graph: ServiceGraph) -> list[str]:
    """The affected services whose trouble ``root`` explains (itself included), by onset: those that call it, and,
    when its traffic surge overloaded a dependency, what that dependency explains."""
    found: set[str] = set()
    pending = [root]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found |= {
            name
            for name in affected
            if linked(name, current, affected, graph) and in_time(current, name, affected)
        } | {current}
        pending += [
            d for d in graph.downstream(current) if d in affected and _overloads(current, d, affected)
        ]
    return sorted(found & set(affected) | {root}, key=lambda n: (_timestamp(_onset(affected, n)), n))


def surge(symptoms: Symptoms) -> MetricAnomaly | None:
    """The strongest rise of a service's traffic, if its traffic rose strongly."""
    rises = [a for a in symptoms.anomalies if read_signal(a) is Signal.TRAFFIC and a.direction == "up"]
    return max(rises, key=lambda a: abs(a.peak_z), default=None)


def _overloads(caller: str, dependency: str, affected: dict[str, Symptoms]) -> bool:
    """Whether ``caller``'s traffic surge began before ``dependency``'s trouble (within the usual lead)."""
    rise = surge(affected[caller]) if caller in affected else None
    dep_onset = affected[dependency].onset if dependency in affected else None
    if rise is None or dep_onset is None:
        return False
    return dep_onset - SURGE_LEAD <= rise.onset <= dep_onset + SURGE_LAG


def _add_triggers(table: dict[str, Symptoms], affected: dict[str, Symptoms], graph: ServiceGraph) -> None:
    """Count as affected, from its surge, a service whose traffic rose before a dependency of it began to fail."""
    for name, symptoms in table.items():
        rise = surge(symptoms)
        if name in affected or rise is None:
            continue
        hit = [
            d
            for d in graph.downstream(name)
            if d in affected and (onset := affected[d].onset) is not None and rise.onset <= onset + SURGE_LAG
        ]
        if hit:
            symptoms.onset = rise.onset
            symptoms.strength = abs(rise.peak_z)
            affected[name] = symptoms


def linked(caller: str, dependency: str, affected: dict[str, Symptoms], graph: ServiceGraph) -> bool:
    """Whether trouble at ``dependency`` can reach ``caller``: ``caller`` calls it directly, or through services
    that are in trouble too (or are third parties, whose insides nobody sees). A service in between that shows
    nothing wrong would have passed the trouble on, so it breaks the chain."""
    seen: set[str] = set()
    frontier = [caller]
    while frontier:
        current = frontier.pop()
        for callee in graph.dependencies_of(current):
            if callee == dependency:
                return True
            passable = callee in affected or graph.nodes.get(callee, ServiceNode(callee)).external
            if callee not in seen and passable:
                seen.add(callee)
                frontier.append(callee)
    return False


def began(symptoms: Symptoms) -> datetime | None:
    """When a service's trouble began: its serving symptoms, or earlier, its own resource going the worse way
    (a leak or a filling disk starts before requests fail)."""
    if symptoms.onset is None or symptoms.resource_onset is None:
        return symptoms.onset
    if symptoms.resource_onset < symptoms.onset - RESOURCE_LEAD:
        return symptoms.onset  # a resource long in that state is how the service runs, not how it broke
    return min(symptoms.onset, symptoms.resource_onset)


def in_time(dependency: str, caller: str, affected: dict[str, Symptoms]) -> bool:
    """Whether trouble at ``dependency`` began in time to explain ``caller``'s: no later than
    :data:`ONSET_TOLERANCE` after it, and its serving trouble no more than :data:`ONSET_LEAD` before it. Without
    an onset on either side, time says nothing against it."""
    theirs, mine = affected.get(dependency), affected.get(caller)
    if theirs is None or mine is None or theirs.onset is None or mine.onset is None:
        return True
    start = began(theirs) or theirs.onset
    return mine.onset - ONSET_LEAD <= theirs.onset and start <= mine.onset + ONSET_TOLERANCE


def _explainers(name: str, affected: dict[str, Symptoms], graph: ServiceGraph) -> list[str]:
    onset = affected[name].onset
    if onset is None:
        return []
    callees = [
        dependency
        for dependency in graph.downstream(name)
        if dependency in affected
        and in_time(dependency, name, affected)
        and linked(name, dependency, affected, graph)
        and not _overloads(name, dependency, affected)
    ]
    triggers = [c for c in affected if name in graph.downstream(c) and _overloads(c, name, affected)]
    return sorted({*callees, *triggers})


def _behind(root: str, scope: Iterable[str], affected: dict[str, Symptoms], graph: ServiceGraph) -> bool:
    """Whether ``root`` could be behind the trouble of some service in ``scope``: a service in trouble that it
    can reach in time, or one that shows nothing but depends on it."""
    for service in scope:
        if service not in affected:
            if graph.reaches(service, root):
                return True
        elif service == root or (linked(service, root, affected, graph) and in_time(root, service, affected)):
            return True
    return False


def _merit(root: str, affected: dict[str, Symptoms], graph: ServiceGraph) -> tuple[int, float, float, str]:
    """Sort key: explains the most, then began first, then departed most."""
    symptoms = affected[root]
    return (-len(covered(root, affected, graph)), _timestamp(symptoms.onset), -symptoms.strength, root)


def _onset(affected: dict[str, Symptoms], name: str) -> datetime | None:
    return affected[name].onset if name in affected else None


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("inf")


def suspect_change(findings: Findings, service: str, onset: datetime) -> Deployment | None:
    """The change to ``service`` that started closest before ``onset``, within :data:`CHANGE_LEAD`."""
    near = [
        d
        for d in findings.deployments
        if d.service == service
        and d.started_at is not None
        and onset - CHANGE_LEAD <= d.started_at <= onset + CHANGE_SLACK
    ]
    return max(near, key=lambda d: d.started_at or onset, default=None)


def _follow_logs(ranking: Ranking, findings: Findings) -> None:
    """Move the root down the graph when its own new log lines blame a service it calls from the start.

    A dependency the metrics cannot see (a third party without metrics, say) shows up this way: the root's
    callers-side complaints name it, and began with the root's trouble.
    """
    if findings.patterns is None:
        return
    graph = findings.graph
    for _ in range(len(graph.nodes)):
        root = ranking.root
        onset = ranking.onset
        if root is None or onset is None:
            return
        complaints = [
            change
            for change in findings.patterns.changes
            if root in change.services
            and change.first_seen <= onset + ONSET_TOLERANCE
            and change.change == "new"
            and (blamed_by(change, graph) & graph.downstream(root))
        ]
        if not complaints:
            return
        blamed = sorted(blamed_by(complaints[0], graph) & graph.downstream(root))[0]
        if blamed in ranking.affected:
            return  # the metrics saw it and still did not put it first: keep the metrics' answer
        node = graph.nodes.get(blamed)
        if suspect_change(findings, root, onset) is not None and node is not None and not node.external:
            # The root was changed just before its trouble, and the service its lines blame, one of ours with
            # series and logs of its own, shows nothing: a change that breaks how it calls that service (a
            # timeout, an address, a credential) reads the same in its lines as that service failing.
            return
        ranking.affected[blamed] = Symptoms(blamed, onset=onset - timedelta(seconds=1))
        settle(ranking, blamed, ranking.competing, graph)

"""What kind of fault the root has, from the mix of its evidence: which signal moved, which change preceded it,
which log lines appeared, and whether the root is a third party that logs nothing of its own.

Resource signals are read first, since they name a mechanism (a full disk, an exhausted pool, a leak, a surge, a
saturated CPU, an expired certificate); where the metric that would show it is missing, the words of the new log
lines name the same mechanisms ("No space left on device", "OutOfMemoryError", "x509"...). A deployment or
configuration change just before the onset comes next; then an outage its own lines or its callers' say in words
(unreachable, refusing); then slowness (requests take a multiple of their usual time while few fail); then an outage
of a third party seen only through its callers, or of a service that logs nothing while its callers complain; then
latency alone. A service that fails with none of these behind it, and no change to it, is failing its callers: an
outage, said with less certainty, never a release nobody recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from copilot.planners.offline.graph import ServiceNode
from copilot.planners.offline.ranking import (
    RESOURCE_LEAD,
    RESOURCE_SIGNALS,
    STRONG_Z,
    Ranking,
    began,
    blamed_by,
    is_resource_trouble,
    own_services,
    read_signal,
    settle,
    suspect_change,
)
from copilot.planners.offline.readings import Findings, Signal, signal_of
from core_client.schemas import Deployment, MetricSeries
from core_client.schemas.analysis import MetricAnomaly, PatternChange

# A resource departure belongs to the fault when it began within RESOURCE_LEAD before the onset or this after.
RESOURCE_LAG = timedelta(minutes=15)
# A certificate this close to expiry (in days) no longer serves.
CERTIFICATE_DAYS = 1.0
# A pattern that began this long before the onset predates the trouble.
PREDATES = timedelta(minutes=5)

# Words of log lines that name a mechanism whatever the software, most specific first. Matched on lower case.
# Throttling ("429 Too Many Requests") is left out: a limit lowered by a change says it as loudly as a surge,
# and a surge shows in the request volume.
MECHANISM_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "certificate_expiry",
        (
            "x509",
            "certificate has expired",
            "certificate expired",
            "bad certificate",
            "certificate verify failed",
            "tls handshake",
            "ssl handshake",
            "not valid after",
            "certificate is not valid",
        ),
    ),
    (
        "disk_full",
        (
            "no space left",
            "enospc",
            "disk full",
            "disk quota exceeded",
            "insufficient space",
            "filesystem is full",
            "file system full",
            "out of disk",
        ),
    ),
    (
        "memory_leak",
        (
            "outofmemory",
            "out of memory",
            "oomkilled",
            "oom-kill",
            "oom killer",
            "oom_kill",
            "heap space",
            "cannot allocate memory",
            "memory limit exceeded",
            "gc overhead",
        ),
    ),
    (
        "connection_pool_exhaustion",
        (
            "acquiring connection",
            "connection pool",
            "pool exhausted",
            "connection is not available",
            "too many connections",
            "remaining connection slots",
            "pool timeout",
            "waiting for a connection",
        ),
    ),
    (
        "cpu_saturation",
        ("pool saturated", "cpu throttl", "threads busy", "cpu saturated", "run queue"),
    ),
)
# Words that say a service cannot be reached or refuses work: an outage, when no mechanism explains it.
OUTAGE_WORDS = (
    "unreachable",
    "connection refused",
    "econnrefused",
    "no route to host",
    "service unavailable",
    "health check failed",
    "replicas unavailable",
    "no healthy upstream",
    "is down",
    "host not found",
)

# Words of lines that say requests are slow rather than failing.
SLOW_WORDS = (
    "slow request",
    "timed out",
    "deadline exceeded",
    "took longer",
    "slow query",
    "exceeded deadline",
)
# Slow, not down: latency at this multiple of its normal while under this share of the work fails.
SLOW_FACTOR = 3.0
SMALL_FAILED_SHARE = 0.1

RESOURCE_KINDS: tuple[tuple[Signal, str, str], ...] = (
    (Signal.DISK, "up", "disk_full"),
    (Signal.POOL, "up", "connection_pool_exhaustion"),
    (Signal.MEMORY, "up", "memory_leak"),
    (Signal.RESTARTS, "up", "memory_leak"),
    (Signal.TRAFFIC, "up", "traffic_spike"),
    (Signal.CPU, "up", "cpu_saturation"),
)


@dataclass
class Diagnosis:
    """The fault kind and what points at it."""

    fault_kind: str
    anomalies: list[MetricAnomaly] = field(default_factory=list)
    change: Deployment | None = None
    certificate: MetricSeries | None = None
    own_patterns: list[PatternChange] = field(default_factory=list)
    complaints: list[PatternChange] = field(default_factory=list)
    # The new log patterns whose words name the kind (a full disk, an OOM kill, an unreachable peer...).
    evidence_patterns: list[PatternChange] = field(default_factory=list)
    specific: bool = True


def is_config(deployment: Deployment) -> bool:
    """A configuration change rather than new code."""
    change = str(deployment.fields.get("change") or deployment.fields.get("type") or "").lower()
    return change == "config" or "configMap" in deployment.fields or "config" in deployment.version.lower()


def new_patterns(findings: Findings, onset: datetime) -> list[PatternChange]:
    """Patterns that began with the trouble (not before it), most lines first."""
    if findings.patterns is None:
        return []
    fresh = [c for c in findings.patterns.changes if c.first_seen >= onset - PREDATES]
    return sorted(fresh, key=lambda c: -c.count_after)


def diagnose(findings: Findings, root: str, onset: datetime, anomalies: list[MetricAnomaly]) -> Diagnosis:
    """The fault kind of ``root``, whose trouble began at ``onset``; ``anomalies`` are its strong departures."""
    fresh = new_patterns(findings, onset)
    own = [c for c in fresh if root in own_services(c, findings.graph)]
    complaints = [c for c in fresh if root in blamed_by(c, findings.graph)]
    found = _classify(
        findings,
        root,
        onset,
        [a for a in anomalies if findings.graph.key(a.service) == root],
        own,
        complaints,
    )
    found.own_patterns = own
    found.complaints = complaints
    return found


def diagnose_candidates(findings: Findings, ranking: Ranking) -> dict[str, Diagnosis]:
    """The diagnosis of the ranking's root and of every root tied with it (without a root, of the callers set
    aside), each at its own onset.

    Where the ranking could not tell the tied roots apart, the diagnoses may: when exactly one of them fails for a
    reason the evidence names (a change, a resource running out, log lines that say why), it is the root, and the
    others, failing with nothing behind them, are where the trouble shows rather than where it starts.
    """
    found: dict[str, Diagnosis] = {}
    # Without a root, the callers set aside are diagnosed too: the answer says what speaks for each.
    for candidate in [ranking.root, *ranking.tied] if ranking.root is not None else ranking.refused:
        symptoms = ranking.affected.get(candidate or "")
        onset = began(symptoms) if symptoms is not None else None
        if candidate is None or symptoms is None or onset is None:
            continue
        found[candidate] = diagnose(findings, candidate, onset, list(symptoms.anomalies))
    if ranking.tied:
        named = [c for c, d in found.items() if d.specific]
        if len(named) == 1:
            settle(ranking, named[0], [ranking.root or "", *ranking.competing], findings.graph)
            ranking.tied = []
    return found


def log_mechanism(patterns: list[PatternChange]) -> tuple[str, list[PatternChange]] | None:
    """The fault kind the lines of ``patterns`` name, and the patterns that name it (the most lines first)."""
    for kind, words in MECHANISM_WORDS:
        naming = [c for c in patterns if _says(c, words)]
        if naming:
            return kind, naming
    return None


def says_outage(pattern: PatternChange) -> bool:
    """Whether a pattern's lines say a service is unreachable, refusing or down."""
    return _says(pattern, OUTAGE_WORDS)


def _says(pattern: PatternChange, words: tuple[str, ...]) -> bool:
    text = f"{pattern.template} {pattern.example}".lower()
    return any(word in text for word in words)


def _classify(
    findings: Findings,
    root: str,
    onset: datetime,
    mine: list[MetricAnomaly],
    own: list[PatternChange],
    complaints: list[PatternChange],
) -> Diagnosis:
    certificate = _certificate(findings, root)
    if certificate is not None:
        return Diagnosis("certificate_expiry", certificate=certificate)
    nearby = [
        a
        for a in mine
        if abs(a.peak_z) >= STRONG_Z and onset - RESOURCE_LEAD <= a.onset <= onset + RESOURCE_LAG
    ]
    # What is still going on first: a resource that has recovered is not what holds the service back now.
    for candidates in ([a for a in nearby if a.ongoing], nearby):
        for signal, direction, kind in RESOURCE_KINDS:
            moved = [a for a in candidates if _moved(a, signal, direction)]
            if moved:
                return Diagnosis(kind, anomalies=moved)
    # Its own lines first: callers describe what they feel, the service what happened to it.
    named = log_mechanism(own) or log_mechanism(complaints)
    if named is not None:
        kind, naming = named
        return Diagnosis(kind, anomalies=_serving(mine), evidence_patterns=naming)
    change = suspect_change(findings, root, onset)
    if change is not None:
        kind = "config_change" if is_config(change) else "bad_deploy"
        return Diagnosis(kind, anomalies=_serving(mine), change=change)
    outage = [c for c in own + complaints if says_outage(c)]
    if outage:
        return Diagnosis("dependency_outage", anomalies=_serving(mine), evidence_patterns=outage)
    # Slow rather than down: requests take a multiple of their usual time while most still succeed. What the
    # service still does decides, not what it did and stopped doing earlier in the window.
    now = [a for a in mine if a.ongoing] or mine
    latency = _strongest(now, Signal.LATENCY)
    errors = _strongest(now, Signal.ERRORS)
    if latency is not None and (errors is None or _slow_not_down(latency, errors)):
        slow = [c for c in own + complaints if _says(c, SLOW_WORDS)]
        return Diagnosis("latency_injection", anomalies=[latency], evidence_patterns=slow)
    # A third party seen only through its callers, or a service that logs nothing while its callers complain.
    if findings.graph.nodes.get(root, ServiceNode(root)).external or (complaints and not own):
        return Diagnosis("dependency_outage", anomalies=_serving(mine))
    # Failing a known share of its work, it is failing however slow it also got; z-scores of two different
    # series weigh them only when the share is not known.
    if (
        latency is not None
        and errors is not None
        and _failed_share(errors) is None
        and abs(latency.peak_z) >= abs(errors.peak_z)
    ):
        return Diagnosis("latency_injection", anomalies=[latency])
    # Failing with no change, mechanism or word of an outage behind it: its callers see an outage, but nothing
    # says why; without a deployment this is never called a release.
    return Diagnosis("dependency_outage", anomalies=_serving(mine), specific=False)


def _slow_not_down(latency: MetricAnomaly, errors: MetricAnomaly) -> bool:
    """Whether requests got much slower while most still succeed: latency a multiple of its normal and the
    failed share small. A z-score cannot tell this, since a near-zero error baseline makes any rise extreme."""
    share = _failed_share(errors)
    slower = latency.expected_at_peak > 0 and latency.peak_value >= SLOW_FACTOR * latency.expected_at_peak
    return slower and share is not None and share < SMALL_FAILED_SHARE


def _failed_share(errors: MetricAnomaly) -> float | None:
    """The failed share of work at the errors' peak, 0..1, when the series is a share (a ratio or percent)."""
    unit = errors.unit.lower()
    if unit == "ratio":
        return errors.peak_value
    if unit in ("percent", "%"):
        return errors.peak_value / 100
    return None


def _moved(anomaly: MetricAnomaly, signal: Signal, direction: str) -> bool:
    """Whether ``anomaly`` is ``signal`` (as the scan read its series, else by its name) going the worse way: for
    a resource, used up or running out (free disk space falling is the disk filling up), else ``direction``."""
    if read_signal(anomaly) is not signal:
        return False
    if anomaly.signal in RESOURCE_SIGNALS:
        return is_resource_trouble(anomaly)
    return anomaly.direction == direction


def _certificate(findings: Findings, root: str) -> MetricSeries | None:
    for series in findings.series:
        certificate = (
            findings.graph.key(series.service) == root and signal_of(series.name) is Signal.CERTIFICATE
        )
        if certificate and series.points and series.points[-1].value <= CERTIFICATE_DAYS:
            return series
    return None


def _serving(anomalies: list[MetricAnomaly]) -> list[MetricAnomaly]:
    return [a for a in anomalies if read_signal(a) in (Signal.ERRORS, Signal.LATENCY, Signal.TRAFFIC)]


def _strongest(anomalies: list[MetricAnomaly], signal: Signal) -> MetricAnomaly | None:
    found = [a for a in anomalies if read_signal(a) is signal and a.direction == "up"]
    return max(found, key=lambda a: abs(a.peak_z), default=None)

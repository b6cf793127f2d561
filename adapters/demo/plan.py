"""A scenario resolved under a seed: concrete onsets, metric impacts, log emitters, alerts and records.

Every time here is in seconds relative to ``world_now`` (negative is the past). The seed moves each onset
within its documented jitter, moves decoys within theirs and picks decoy services where the scenario leaves
them open; nothing else about a scenario changes with the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from adapters.demo.company import POOL_SIZES, SERVICE_BY_NAME, SERVICES, WORLD_NOW, callers_by_hop
from adapters.demo.faults import CAUSAL_DEPLOY_KINDS, DEFAULTS
from adapters.demo.scenario import Scenario, seconds


@dataclass(frozen=True)
class MetricImpact:
    service: str
    environment: str
    metric: str
    start: int
    shape: str
    over: int
    to: float | None = None
    factor: float | None = None
    add: float | None = None
    quantile: str | None = None


@dataclass(frozen=True)
class LogEmitter:
    service: str
    environment: str
    severity: str
    template: str
    per_minute: float
    start: int
    every: int | None = None
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedDeploy:
    service: str
    environment: str
    at: int
    change: str  # "code", "config" or "flag"


@dataclass(frozen=True)
class PlannedAlert:
    service: str
    title: str
    severity: str
    at: int
    metric: str | None
    resolved_at: int | None = None


@dataclass(frozen=True)
class PlannedTimeline:
    at: int
    kind: str
    body: str
    actor: str | None


@dataclass(frozen=True)
class PlannedIncident:
    title: str
    service: str
    severity: str
    status: str
    description: str
    at: int
    timeline: tuple[PlannedTimeline, ...]


@dataclass(frozen=True)
class PlannedTicket:
    title: str
    description: str
    at: int


@dataclass
class Plan:
    """Everything the active scenario adds to the world."""

    environment: str
    onsets: list[int] = field(default_factory=list)
    impacts: list[MetricImpact] = field(default_factory=list)
    emitters: list[LogEmitter] = field(default_factory=list)
    deploys: list[PlannedDeploy] = field(default_factory=list)
    alerts: list[PlannedAlert] = field(default_factory=list)
    cert_expiry: dict[str, int] = field(default_factory=dict)
    incident: PlannedIncident | None = None
    ticket: PlannedTicket | None = None


def _jittered(rng: random.Random, base: int, jitter: int, *, latest: int) -> int:
    return min(latest, base + rng.randint(-jitter, jitter))


def resolve(scenario: Scenario, seed: int) -> Plan:
    """The concrete plan of ``scenario`` under ``seed``."""
    rng = random.Random(f"{seed}:plan:{scenario.name}")
    env = scenario.environment
    plan = Plan(environment=env)
    involved: set[str] = set()
    for fault in scenario.faults:
        onset = _jittered(rng, seconds(fault.onset), abs(seconds(fault.jitter)), latest=-300)
        plan.onsets.append(onset)
        defaults = DEFAULTS[fault.kind]
        prop = fault.propagation
        metrics = fault.symptoms.metrics if fault.symptoms.metrics is not None else list(defaults.metrics)
        logs = fault.symptoms.logs if fault.symptoms.logs is not None else list(defaults.logs)
        spec = SERVICE_BY_NAME[fault.service]
        involved.add(fault.service)
        for effect in metrics:
            plan.impacts.append(
                MetricImpact(
                    fault.service,
                    env,
                    effect.metric,
                    onset,
                    effect.shape,
                    max(60, seconds(effect.over)),
                    effect.to,
                    effect.factor,
                    effect.add,
                    effect.quantile,
                )
            )
        if spec.kind != "external":
            for pattern in logs:
                plan.emitters.append(
                    LogEmitter(
                        fault.service,
                        env,
                        pattern.severity,
                        pattern.message,
                        pattern.per_minute,
                        onset,
                        seconds(pattern.every) if pattern.every else None,
                        context={
                            "expired_at": (WORLD_NOW + timedelta(seconds=onset)).strftime(
                                "%Y-%m-%dT%H:%M:%SZ"
                            ),
                            "pool_size": str(POOL_SIZES.get(fault.service, 30)),
                        },
                    )
                )
        if fault.kind in CAUSAL_DEPLOY_KINDS:
            lead = rng.randint(60, 240)
            plan.deploys.append(
                PlannedDeploy(
                    fault.service, env, onset - lead, "config" if fault.kind == "config_change" else "code"
                )
            )
        if fault.kind == "certificate_expiry":
            plan.cert_expiry[fault.service] = onset
        depth = prop.depth if prop.depth is not None else defaults.depth
        delay = seconds(prop.delay) if prop.delay else seconds(defaults.delay)
        attenuation = prop.attenuation if prop.attenuation is not None else defaults.attenuation
        error_rate = prop.error_rate if prop.error_rate is not None else defaults.error_rate
        latency = prop.latency_factor if prop.latency_factor is not None else defaults.latency_factor
        for caller, hop in callers_by_hop(fault.service, depth):
            involved.add(caller)
            weight = attenuation ** (hop - 1)
            start = onset + delay * hop
            plan.impacts.append(
                MetricImpact(caller, env, "error_rate", start, "ramp", 120, add=error_rate * weight)
            )
            plan.impacts.append(
                MetricImpact(caller, env, "latency_ms", start, "ramp", 120, factor=1 + (latency - 1) * weight)
            )
            for pattern in defaults.caller_logs if hop == 1 else defaults.caller_logs[:1]:
                plan.emitters.append(
                    LogEmitter(
                        caller,
                        env,
                        pattern.severity,
                        pattern.message,
                        pattern.per_minute * weight,
                        start,
                        context={
                            "dep_host": spec.host if hop == 1 else _next_hop_host(caller, fault.service)
                        },
                    )
                )
    # Alerts, the incident and the ticket are timed from the onset of the fault the operator is feeling.
    first = next(
        onset
        for fault, onset in zip(scenario.faults, plan.onsets, strict=True)
        if fault.service == scenario.expected.service and fault.kind == scenario.expected.fault_kind
    )
    for alert in scenario.alerts:
        plan.alerts.append(
            PlannedAlert(
                alert.service, alert.title, alert.severity, first + seconds(alert.after), alert.metric
            )
        )
    inc = scenario.incident
    plan.incident = PlannedIncident(
        inc.title,
        inc.service,
        inc.severity,
        inc.status,
        inc.description,
        first + seconds(inc.after),
        tuple(PlannedTimeline(first + seconds(t.after), t.kind, t.body, t.actor) for t in inc.timeline),
    )
    if scenario.ticket:
        plan.ticket = PlannedTicket(
            scenario.ticket.title, scenario.ticket.description, first + seconds(scenario.ticket.after)
        )
    _place_decoys(scenario, rng, plan, involved)
    return plan


def _next_hop_host(caller: str, target: str) -> str:
    """The host ``caller`` sees failing: its own dependency on the path towards ``target``."""
    for dep in SERVICE_BY_NAME[caller].dependencies:
        if dep == target or any(c == dep for c, _ in callers_by_hop(target, 5)):
            return SERVICE_BY_NAME[dep].host
    return SERVICE_BY_NAME[target].host


_DECOY_POOL = tuple(s.name for s in SERVICES if s.kind not in ("external",))

NOISY_ERRORS = (
    "failed to refresh exchange rates from rates.fxfeed.example: 404 Not Found",
    "template 'order_shipped_v2' missing translation for locale {locale}; using en-US",
    "deprecated field 'legacy_sku' read by client {client} on {path}",
    "ignored malformed push token for device {device}",
)
FLAPPING_TITLES = (
    "{service} p95 latency above 250ms",
    "{service} pod restarts in the last 10 minutes",
    "{service} disk usage above 80%",
    "{service} memory above 85% of limit",
)


# The change each harmless-change decoy records (a deployment whose fields.change says which).
DECOY_CHANGES = {"harmless_deploy": "code", "config_change": "config", "feature_flag": "flag"}


def _place_decoys(scenario: Scenario, rng: random.Random, plan: Plan, involved: set[str]) -> None:
    quiet = [s for s in _DECOY_POOL if s not in involved] or list(_DECOY_POOL)
    for decoy in scenario.decoys:
        at = min(
            -120, seconds(decoy.at) + rng.randint(-abs(seconds(decoy.jitter)), abs(seconds(decoy.jitter)))
        )
        service = decoy.service or rng.choice(quiet)
        if decoy.kind in DECOY_CHANGES:
            plan.deploys.append(PlannedDeploy(service, plan.environment, at, DECOY_CHANGES[decoy.kind]))
        elif decoy.kind == "noisy_error":
            message = decoy.message or rng.choice(NOISY_ERRORS)
            plan.emitters.append(LogEmitter(service, plan.environment, "error", message, 5.0, at))
            plan.impacts.append(
                MetricImpact(service, plan.environment, "error_rate", at, "step", 60, add=0.7)
            )
        else:
            title = rng.choice(FLAPPING_TITLES).format(service=service)
            t = at
            while t < -60:
                firing = rng.randint(120, 420)
                resolved = t + firing if t + firing < -30 else None
                plan.alerts.append(PlannedAlert(service, title, "sev4", t, None, resolved))
                t += firing + rng.randint(300, 1500)

"""Which series to look at, for any service: the signals that matter, read from every metric a source describes.

Metrics are grouped into families (``x_bucket``, ``x_sum``, ``x_count`` are one histogram ``x``); each family is
read by its kind and what it measures:

- a request-serving family (a request counter, a request-duration histogram or summary) gives RED: its rate
  (``sum(rate(x_count))``), its failed share by status (``error_ratio(x_count)``) and its duration
  (``p50(x)``, ``p99(x)``);
- a resource family gives USE (utilization, saturation, errors, headroom) as its recognized signal says, per
  series; a counter as its rate, per-core CPU counters summed to the host;
- any other family is still read (as a rate for a counter, as it is for a gauge), as signal ``other``.

The monitoring's own metrics (``scrape_*``, ``prometheus_*``, ``*_info``...) are left out: they describe the
monitoring, not a service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from core_client.analysis.semantics import Derived
from core_client.analysis.signals import (
    QUANTILES,
    Facet,
    Family,
    Kind,
    Signal,
    SignalSpec,
    family_name,
    is_signal,
    kind_of,
    recognize,
    status_label,
)
from core_client.schemas import MetricDescriptor

# Per-core (or per-CPU) series are summed to the whole host or container.
PER_CORE_LABELS = frozenset({"cpu", "core"})
# Signals that say the most come first when a scan must stop early.
_PRIORITY = {
    Signal.ERRORS: 0,
    Signal.LATENCY: 0,
    Signal.TRAFFIC: 0,
    Signal.AVAILABILITY: 1,
    Signal.CPU: 1,
    Signal.MEMORY: 1,
    Signal.DISK: 1,
    Signal.POOL: 1,
    Signal.RESTARTS: 1,
    Signal.CERTIFICATE: 1,
    Signal.QUEUE: 2,
    Signal.DISK_IO: 2,
    Signal.NETWORK: 2,
    Signal.FILE_DESCRIPTORS: 2,
    Signal.OTHER: 3,
}


@dataclass(frozen=True)
class SignalPlan:
    """One query of a scan: a metric or a derived expression, and what its series measure."""

    expression: str
    family: str
    spec: SignalSpec
    kind: Kind
    # What to read as reported when the expression finds nothing (a histogram a source serves without buckets).
    fallback: str | None = None

    @property
    def priority(self) -> tuple[int, int, str]:
        capacity = self.spec.facet is Facet.CAPACITY
        return (_PRIORITY.get(self.spec.signal, 3), capacity, self.expression)


def families(descriptors: Iterable[MetricDescriptor]) -> list[tuple[Family, MetricDescriptor]]:
    """The metric families among ``descriptors``, each with the descriptor that says most about it."""
    members: dict[str, list[MetricDescriptor]] = defaultdict(list)
    for descriptor in descriptors:
        members[family_name(descriptor.name)].append(descriptor)
    found = []
    for name, group in sorted(members.items()):
        names = tuple(sorted(d.name for d in group))
        declared = next((d.type for d in group if d.type not in ("", "unknown", "untyped")), "")
        if any(n.endswith("_bucket") for n in names):
            kind = Kind.HISTOGRAM
        elif any("quantile" in d.labels for d in group) or declared == "summary":
            kind = Kind.SUMMARY
        else:
            kind = kind_of(group[0].name, declared)
        primary = next((d for d in group if d.name == name), group[0])
        found.append((Family(name=name, kind=kind, names=names), primary))
    return found


def plan(descriptors: Iterable[MetricDescriptor]) -> list[SignalPlan]:
    """Every query a scan makes to see what ``descriptors`` can show, most telling signals first."""
    plans: list[SignalPlan] = []
    for family, descriptor in families(descriptors):
        if not is_signal(family.name) or not any(is_signal(n) for n in family.names):
            continue
        plans += _plans_for(family, descriptor)
    return sorted(plans, key=lambda p: p.priority)


def _plans_for(family: Family, descriptor: MetricDescriptor) -> list[SignalPlan]:
    spec = recognize(family.name, family.kind, descriptor.unit)
    labels = set(descriptor.labels)
    if family.kind in (Kind.HISTOGRAM, Kind.SUMMARY):
        return _distribution(family, spec, labels)
    if family.kind is Kind.COUNTER:
        return _counter(family, family.member("_total") or family.names[0], spec, labels)
    return [SignalPlan(name, family.name, spec, Kind.GAUGE) for name in family.names]


def _distribution(family: Family, spec: SignalSpec, labels: set[str]) -> list[SignalPlan]:
    """A histogram's quantiles (or a summary's, as reported), and the rate and failed share of its count."""
    duration = spec.signal is Signal.LATENCY or spec.unit in ("seconds", "ms")
    quantile_spec = (
        SignalSpec(Signal.LATENCY, Facet.DURATION, "up", spec.unit or "seconds")
        if duration
        else spec.refined(facet=Facet.LEVEL, worse="both")
    )
    plans: list[SignalPlan] = []
    if family.kind is Kind.HISTOGRAM:
        as_reported = family.name if family.name in family.names else None
        plans += [
            SignalPlan(
                Derived("quantile", family.name, quantile=q).name,
                family.name,
                quantile_spec,
                family.kind,
                fallback=as_reported if index == 0 else None,
            )
            for index, q in enumerate(QUANTILES)
        ]
    elif family.name in family.names:
        plans.append(SignalPlan(family.name, family.name, quantile_spec, family.kind))
    count = family.member("_count")
    if count is not None and (duration or spec.signal is Signal.TRAFFIC):
        plans += _requests(family, count, labels, spec.unit)
    return plans


def _counter(family: Family, name: str, spec: SignalSpec, labels: set[str]) -> list[SignalPlan]:
    if spec.signal is Signal.TRAFFIC and spec.facet is Facet.RATE:
        return _requests(family, name, labels, spec.unit)
    rate_unit = (
        f"{spec.unit}/s" if spec.unit and spec.unit not in ("cores", "ratio", "bytes/s") else spec.unit
    )
    if spec.signal is Signal.CPU and (labels & PER_CORE_LABELS or family.name.startswith("node_cpu")):
        by = tuple(sorted(labels - PER_CORE_LABELS)) if labels else ("mode",)
        expression = Derived("rate", name, by=by).name
    else:
        expression = Derived("rate", name).name
    return [SignalPlan(expression, family.name, spec.refined(unit=rate_unit), Kind.COUNTER)]


def _requests(family: Family, count: str, labels: set[str], unit: str) -> list[SignalPlan]:
    """RED's rate and errors from a count of requests: all of them, and the share with a failed status (when
    the labels are not known, the share is tried: a count without a status label gives no series)."""
    plans = [
        SignalPlan(
            Derived("rate", count, by=()).name,
            family.name,
            SignalSpec(Signal.TRAFFIC, Facet.RATE, "both", "requests/s"),
            Kind.COUNTER,
        )
    ]
    if not labels or status_label(labels) is not None:
        plans.append(
            SignalPlan(
                Derived("error_ratio", count).name,
                family.name,
                SignalSpec(Signal.ERRORS, Facet.ERRORS, "up", "ratio"),
                Kind.COUNTER,
            )
        )
    return plans

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
    for name, everything in sorted(members.items()):
        # A counter's ``_created`` timestamps and ``_info`` series are not what the family measures.
        group = [d for d in everything if is_signal(d.name)] or everything
        declared = next((d.type for d in group if d.type not in ("", "unknown", "untyped")), "")
        kinds: dict[Kind, list[MetricDescriptor]]
        if any(d.name.endswith("_bucket") for d in group):
            kinds = {Kind.HISTOGRAM: group}
        elif any("quantile" in d.labels for d in group) or declared == "summary":
            kinds = {Kind.SUMMARY: group}
        else:
            # Two metrics can share a family name and differ in kind (the Go runtime's gauge
            # ``go_memstats_alloc_bytes`` and counter ``go_memstats_alloc_bytes_total``): each is read as its own.
            kinds = defaultdict(list)
            for descriptor in group:
                kinds[kind_of(descriptor.name, descriptor.type)].append(descriptor)
        for kind, alike in kinds.items():
            primary = next((d for d in alike if d.name == name), alike[0])
            family = Family(name=name, kind=kind, names=tuple(sorted(d.name for d in alike)))
            found.append((family, primary))
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
    # A distribution of durations is how long work takes, unless it is a known family about something else (the
    # Go runtime's garbage-collection pauses are the process's internals, not requests served).
    duration = spec.signal is Signal.LATENCY or (
        spec.signal is Signal.OTHER and spec.unit in ("seconds", "ms")
    )
    if duration:
        quantile_spec = SignalSpec(Signal.LATENCY, Facet.DURATION, "up", spec.unit or "seconds")
    elif spec.signal is Signal.OTHER:
        quantile_spec = spec.refined(facet=Facet.LEVEL, worse="both")
    else:
        quantile_spec = spec
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

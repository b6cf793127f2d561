"""Metric semantics: a counter compared as a per-second rate, a histogram as quantiles, a status-coded counter
as the share of failed work, a gauge as it is.

Derived series are named by a small subset of PromQL, so a person reading evidence knows what was computed and a
link can ask for the same thing again: ``rate(node_cpu_seconds_total)``, ``sum by (mode)
(rate(node_cpu_seconds_total))``, ``p99(http_request_duration_seconds)`` (a quantile of a histogram's buckets),
``error_ratio(http_requests_total)`` (failed over all, by the status label). Rates come from the source when it
can compute them (PromQL ``rate()``); the functions here compute them otherwise, and do the rest (sums,
quantiles, ratios) for every source alike.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from core_client.analysis.signals import STATUS_LABELS, Facet, SignalSpec, failed_status
from core_client.schemas import MetricPoint, MetricQuery, MetricSeries

_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_EXPRESSION = re.compile(
    rf"^\s*(?P<agg>sum\s*(?:by\s*\((?P<by>[a-zA-Z0-9_,\s]*)\))?\s*\(\s*)?"
    rf"(?P<fn>rate|error_ratio|p(?P<q>\d{{1,2}}(?:\.\d+)?))\(\s*(?P<metric>{_METRIC})\s*\)"
    rf"(?(agg)\s*\))\s*$"
)
# Metadata a source puts on rates that describes every series derived from them.
SOURCE_KEYS = ("rateWindow", "promql", "step")
# Labels a histogram's buckets carry that are not part of what a series is.
BUCKET_LABEL = "le"
# Labels that tell one deployment of a service from another: kept apart in every sum.
IDENTITY_LABELS = ("environment", "env", "namespace", "cluster", "region")


@dataclass(frozen=True)
class Derived:
    """A derived series: ``function`` of ``metric``, optionally summed ``by`` some labels."""

    function: str  # "rate", "quantile" or "error_ratio"
    metric: str
    quantile: float | None = None
    by: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, name: str) -> Derived | None:
        """The derived series ``name`` asks for, or None for a plain metric name."""
        found = _EXPRESSION.match(name)
        if found is None:
            return None
        by = found.group("by") or ""
        labels = (
            tuple(label.strip() for label in by.split(",") if label.strip()) if found.group("agg") else None
        )
        q = found.group("q")
        if q is not None:
            return cls("quantile", found.group("metric"), quantile=float(q) / 100, by=labels)
        return cls(found.group("fn"), found.group("metric"), by=labels)

    @property
    def name(self) -> str:
        """How the series is named: the expression itself."""
        if self.function == "quantile" and self.quantile is not None:
            return self._summed(f"p{_percent(self.quantile)}({self.metric})")
        return self._summed(f"{self.function}({self.metric})")

    @property
    def gauge_name(self) -> str:
        """How a rate is named when its "counter" was read as a gauge: the metric itself (summed as asked)."""
        return self._summed(self.metric) if self.function == "rate" else self.name

    def _summed(self, inner: str) -> str:
        if self.by is None:
            return inner
        if not self.by:
            return f"sum({inner})"
        return f"sum by ({', '.join(self.by)}) ({inner})"

    @property
    def source_metric(self) -> str:
        """The metric the source is asked for: a histogram's ``_bucket`` series for a quantile."""
        if self.function == "quantile" and not self.metric.endswith("_bucket"):
            return f"{self.metric}_bucket"
        return self.metric

    def describe(self, window_seconds: int | None = None) -> str:
        """What the values are, in words, for evidence and charts."""
        over = f" over {window_seconds}s" if window_seconds else ""
        if self.function == "quantile" and self.quantile is not None:
            return f"p{_percent(self.quantile)} of the histogram {self.metric}{over}"
        if self.function == "error_ratio":
            return f"share of {self.metric} with a failed status{over}"
        summed = f", summed by {', '.join(self.by)}" if self.by else ""
        return f"per-second rate of {self.metric}{over}{summed}"


def _percent(q: float) -> str:
    return f"{q * 100:g}"


def rate_window(step_seconds: int, scrape_seconds: float) -> int:
    """The window a rate is taken over at ``step``: a step plus a scrape, and at least four scrapes (as Grafana's
    ``$__rate_interval``), so every window holds enough samples and no sample falls between two steps."""
    return max(1, math.ceil(max(step_seconds + scrape_seconds, 4 * scrape_seconds)))


# A cumulative counter only falls when its process restarts; more falls than this share of its steps, and it is not.
RESET_SHARE = 0.05
# A float64 counts whole units exactly only up to 2**53: values beyond it are not a count of anything.
LARGEST_COUNT = float(2**53)
# How a series that a source calls a counter but that cannot be one is read instead, and said.
AS_GAUGE = "as reported, a gauge"
# The unit a counter counts in, where its rate's unit is not that unit per second.
COUNTED_UNITS = {"cores": "seconds"}


def not_a_counter(points: Sequence[MetricPoint]) -> str | None:
    """Why values cannot be a cumulative counter's (they fall often, or reach beyond any exact count), or None
    when they can be. Differentiating such values gives nonsense rates (a compounding mock series gave 2.8e37/s),
    so they are read as a gauge instead."""
    falls = sum(1 for a, b in pairwise(points) if b.value < a.value)
    if falls > max(1, RESET_SHARE * (len(points) - 1)):
        return f"its values fall at {falls} of {len(points) - 1} steps, and a counter falls only on a restart"
    peak = max((abs(p.value) for p in points), default=0.0)
    if peak > LARGEST_COUNT:
        return f"its values reach {peak:.3g}, beyond what a counter can count exactly (2^53)"
    return None


def as_gauge(reason: str) -> str:
    """The semantics of a "counter" read as a gauge, saying why."""
    return f"{AS_GAUGE} (not a counter: {reason})"


def read_as_gauge(semantics: str) -> bool:
    """Whether ``semantics`` says a series its source calls a counter was read as a gauge."""
    return semantics.startswith(AS_GAUGE)


def gauge_reading(spec: SignalSpec) -> SignalSpec:
    """How a series read as a gauge (its source calls it a counter, but it cannot be one) is read: in the
    counter's own unit, not per second, and as a level. Its values compound or fall at random, so how high they
    are says nothing of trouble: it is shown, never a symptom on its own."""
    unit = COUNTED_UNITS.get(spec.unit, spec.unit.removesuffix("/s"))
    return spec.refined(facet=Facet.LEVEL, worse="both", unit=unit)


def counter_rates(points: Sequence[MetricPoint], window_seconds: float) -> list[MetricPoint]:
    """Per-second increase of a counter over the trailing ``window`` at each point.

    A drop is a reset (the process restarted and counts from zero): the increase across it is the new value.
    The first point, and any with no earlier point in its window, has no rate.
    """
    if len(points) < 2:
        return []
    times = [p.timestamp.timestamp() for p in points]
    total = 0.0
    totals = [points[0].value]
    for previous, current in pairwise(points):
        total += current.value - previous.value if current.value >= previous.value else current.value
        totals.append(points[0].value + total)
    rates: list[MetricPoint] = []
    for index in range(1, len(points)):
        first = bisect_left(times, times[index] - window_seconds)
        first = min(first, index - 1)
        elapsed = times[index] - times[first]
        if elapsed > 0:
            rate = (totals[index] - totals[first]) / elapsed
            rates.append(MetricPoint(timestamp=points[index].timestamp, value=rate))
    return rates


def group_key(series: MetricSeries, labels: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """What a series is grouped under: its service, its deployment (environment, namespace...) and ``labels``."""
    wanted = dict.fromkeys([*(i for i in IDENTITY_LABELS if i in series.labels), *labels])
    return (("service", series.service), *((label, series.labels.get(label, "")) for label in wanted))


def summed(series: Iterable[MetricSeries], labels: Sequence[str], *, name: str) -> list[MetricSeries]:
    """The sum of the series sharing a service, a deployment and ``labels``, point by point: a sum of rates is
    the rate of the sum."""
    grouped: dict[tuple[tuple[str, str], ...], dict[datetime, float]] = defaultdict(dict)
    # A sum with a part read as a gauge (not a counter after all) says so, as the part did.
    gauged: dict[tuple[tuple[str, str], ...], str] = {}
    for one in series:
        key = group_key(one, labels)
        values = grouped[key]
        for point in one.points:
            values[point.timestamp] = values.get(point.timestamp, 0.0) + point.value
        semantics = str(one.metadata.get("semantics") or "")
        if read_as_gauge(semantics):
            gauged.setdefault(key, semantics)
    out = []
    for key, values in sorted(grouped.items()):
        labels_of = {k: v for k, v in key if k != "service" and v}
        out.append(
            MetricSeries(
                name=name,
                service=dict(key)["service"],
                labels=labels_of,
                points=[MetricPoint(timestamp=t, value=v) for t, v in sorted(values.items())],
                metadata={"semantics": gauged[key]} if key in gauged else {},
            )
        )
    return out


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a histogram given as ``(upper bound, cumulative count)`` pairs, as Prometheus'
    ``histogram_quantile`` computes it: linear interpolation inside the bucket the rank falls in; the highest
    finite bound when it falls in ``+Inf``; None without observations."""
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    # Cumulative counts computed from rates can dip by rounding; keep them monotonic as Prometheus does.
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else count)
    total = counts[-1]
    if total <= 0 or math.isnan(total):
        return None
    rank = q * total
    index = next(i for i, count in enumerate(counts) if count >= rank)
    upper = ordered[index][0]
    if math.isinf(upper):
        return ordered[-2][0] if len(ordered) > 1 else None
    lower = ordered[index - 1][0] if index > 0 else 0.0
    below = counts[index - 1] if index > 0 else 0.0
    inside = counts[index] - below
    if inside <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / inside


def quantiles(
    bucket_rates: Iterable[MetricSeries], q: float, *, by: Sequence[str], name: str
) -> list[MetricSeries]:
    """The ``q`` quantile per service (and ``by`` labels) from the per-bucket rates of a histogram."""
    grouped: dict[tuple[tuple[str, str], ...], dict[datetime, dict[float, float]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for one in bucket_rates:
        bound = _bound(one.labels.get(BUCKET_LABEL, ""))
        if bound is None:
            continue
        at = grouped[group_key(one, by)]
        for point in one.points:
            at[point.timestamp][bound] = at[point.timestamp].get(bound, 0.0) + point.value
    out = []
    for key, moments in sorted(grouped.items()):
        points = [
            MetricPoint(timestamp=t, value=value)
            for t, bounds in sorted(moments.items())
            if (value := histogram_quantile(q, list(bounds.items()))) is not None
        ]
        labels = {k: v for k, v in key if k != "service" and v}
        labels["quantile"] = f"{q:g}"
        out.append(MetricSeries(name=name, service=dict(key)["service"], labels=labels, points=points))
    return out


def _bound(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def error_ratios(rates: Iterable[MetricSeries], *, by: Sequence[str], name: str) -> list[MetricSeries]:
    """The failed share of the work per service (and ``by`` labels), from the per-status rates of a counter.

    The status is the first of :data:`STATUS_LABELS` the series carry; series without one say nothing about
    failures and are left out. A moment with no work at all has no ratio.
    """
    series = list(rates)
    label = next((s for s in STATUS_LABELS if any(s in one.labels for one in series)), None)
    if label is None:
        return []
    totals: dict[tuple[tuple[str, str], ...], dict[datetime, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0])
    )
    for one in series:
        if label not in one.labels:
            continue
        failed = failed_status(one.labels[label])
        at = totals[group_key(one, by)]
        for point in one.points:
            pair = at[point.timestamp]
            pair[1] += point.value
            if failed:
                pair[0] += point.value
    out = []
    for key, moments in sorted(totals.items()):
        points = [
            MetricPoint(timestamp=t, value=bad / all_)
            for t, (bad, all_) in sorted(moments.items())
            if all_ > 0
        ]
        labels = {k: v for k, v in key if k != "service" and v}
        out.append(MetricSeries(name=name, service=dict(key)["service"], labels=labels, points=points))
    return out


def rates_query_for(derived: Derived, query: MetricQuery) -> MetricQuery:
    """The rates a derived series is computed from: of the counter (or the histogram's buckets), summed by what
    the function needs (the buckets' bounds, the status labels) and the labels the expression keeps."""
    by = list(derived.by or ())
    if derived.function == "quantile":
        group: list[str] | None = [BUCKET_LABEL, *by]
    elif derived.function == "error_ratio":
        group = [*STATUS_LABELS, *by]
    else:
        group = by if derived.by is not None else None
    expression = query.expression.model_copy(
        update={
            "metric_name": derived.source_metric,
            "aggregation": "sum" if group is not None else None,
            "group_by": group or [],
        }
    )
    return query.model_copy(update={"expression": expression})


def derive(derived: Derived, rates: Sequence[MetricSeries]) -> list[MetricSeries]:
    """The derived series from the rates :func:`rates_query_for` asked for, named by the expression."""
    by = list(derived.by or ())
    if derived.function == "quantile" and derived.quantile is not None:
        found = quantiles(rates, derived.quantile, by=by, name=derived.name)
    elif derived.function == "error_ratio":
        found = error_ratios(rates, by=by, name=derived.name)
    elif derived.by is not None:
        found = summed(rates, by, name=derived.name)
    else:
        found = [one.model_copy(update={"name": derived.name}) for one in rates]
    # What the source says of how it computed the rates (its query, the rate window, the step) holds for all.
    shared = {k: v for k, v in (rates[0].metadata if rates else {}).items() if k in SOURCE_KEYS}
    window = shared.get("rateWindow")
    url = next((one.url for one in rates if one.url), "")
    what = derived.describe(int(window) if isinstance(window, int | float) else None)
    for one in found:
        one.metadata = {**shared, **one.metadata, "semantics": one.metadata.get("semantics") or what}
        one.url = one.url or url
        if read_as_gauge(str(one.metadata["semantics"])):
            one.name = derived.gauge_name
    return sorted(found, key=lambda one: (one.service, sorted(one.labels.items())))

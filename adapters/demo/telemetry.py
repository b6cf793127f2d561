"""Background telemetry with the active scenario's impacts folded in: metric series and a stream of log lines.

Traffic follows a daily curve (peak in the European evening) and a quieter weekend; every series has its own
noise. Metric series are stored packed (float32), one row per series and resolution: 5-minute points over the
whole history and 1-minute points over the last day.
"""

from __future__ import annotations

import math
import random
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from adapters.demo.company import (
    POOL_SIZES,
    QUEUES,
    SERVICE_BY_NAME,
    SERVICES,
    ServiceSpec,
    metrics_for,
)
from adapters.demo.logstore import LogRow
from adapters.demo.logtemplates import background_line, symptom_line
from adapters.demo.plan import LogEmitter, MetricImpact, Plan

COARSE_STEP = 300
FINE_STEP = 60
FINE_SPAN = 86400
QUANTILE_FACTORS = {"p50": 1.0, "p95": 2.4, "p99": 4.6}
STAGING_TRAFFIC = 0.05


def load_at(t: int, now_epoch: int) -> float:
    """Relative traffic (about 0.3 at night to 1.0 at peak) at ``t`` seconds from world_now."""
    epoch = now_epoch + t
    hour = (epoch % 86400) / 3600
    daily = 0.62 + 0.38 * math.sin((hour - 13) / 24 * 2 * math.pi)
    weekday = (epoch // 86400 + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
    return daily * (0.82 if weekday >= 5 else 1.0)


@dataclass(frozen=True)
class SeriesKey:
    name: str
    service: str
    environment: str
    labels: tuple[tuple[str, str], ...]


@dataclass
class Series:
    key: SeriesKey
    step: int
    start: int  # seconds from world_now of the first point
    values: array

    def blob(self) -> bytes:
        return self.values.tobytes()


def _progress(impact: MetricImpact, t: int) -> float:
    elapsed = t - impact.start
    if elapsed < 0:
        return 0.0
    if impact.shape == "step":
        return 1.0
    if impact.shape == "ramp":
        return min(1.0, elapsed / impact.over)
    return (elapsed % impact.over) / impact.over


def _apply(impact: MetricImpact, value: float, t: int) -> float:
    p = _progress(impact, t)
    if p <= 0:
        return value
    if impact.to is not None:
        return value + (impact.to - value) * p
    if impact.factor is not None:
        return value * (1 + (impact.factor - 1) * p)
    return value + (impact.add or 0.0) * p


def _ceiling(service: ServiceSpec, metric: str) -> float:
    if metric in ("error_rate", "cpu_usage", "disk_used_percent", "cache_hit_ratio"):
        return 100.0
    if metric == "db_pool_in_use":
        return float(POOL_SIZES.get(service.name, 30))
    if metric == "memory_used_mb":
        return service.memory_limit_mb * 0.985
    return math.inf


class MetricGenerator:
    """Every series of the world, for one seed and plan."""

    def __init__(
        self,
        seed: int,
        plan: Plan,
        now_epoch: int,
        days: int,
        deploy_times: dict[tuple[str, str], list[int]],
        fine_span: int = FINE_SPAN,
    ):
        self.fine_span = fine_span
        self.seed = seed
        self.plan = plan
        self.now_epoch = now_epoch
        self.days = days
        self.deploy_times = deploy_times
        self._loads: dict[int, list[float]] = {}

    def grids(self) -> list[tuple[int, int, int]]:
        """(step, first point, number of points) per resolution."""
        span = self.days * 86400
        return [
            (COARSE_STEP, -span, span // COARSE_STEP),
            (FINE_STEP, -self.fine_span, self.fine_span // FINE_STEP),
        ]

    def _load(self, step: int, start: int, count: int) -> list[float]:
        if step not in self._loads:
            self._loads[step] = [load_at(start + i * step, self.now_epoch) for i in range(count)]
        return self._loads[step]

    def keys(self) -> list[SeriesKey]:
        keys: list[SeriesKey] = []
        for service in SERVICES:
            for env in ("prod", "staging"):
                if service.kind == "external" and env == "staging":
                    continue
                for metric in metrics_for(service):
                    if metric.name == "latency_ms":
                        keys.extend(
                            SeriesKey(metric.name, service.name, env, (("quantile", q),))
                            for q in QUANTILE_FACTORS
                        )
                    elif metric.name == "queue_depth":
                        keys.extend(
                            SeriesKey(metric.name, service.name, env, (("queue", q),)) for q in QUEUES
                        )
                    else:
                        keys.append(SeriesKey(metric.name, service.name, env, ()))
        return keys

    def series(self, key: SeriesKey) -> Iterator[Series]:
        service = SERVICE_BY_NAME[key.service]
        labels = dict(key.labels)
        impacts = [
            i
            for i in self.plan.impacts
            if i.service == key.service
            and i.environment == key.environment
            and i.metric == key.name
            and (i.quantile is None or i.quantile == labels.get("quantile"))
        ]
        sawtooth = [
            i
            for i in self.plan.impacts
            if i.service == key.service and i.environment == key.environment and i.shape == "sawtooth"
        ]
        deploys = self.deploy_times.get((key.service, key.environment), [])
        for step, start, count in self.grids():
            rng = random.Random(f"{self.seed}:metric:{key}:{step}")
            loads = self._load(step, start, count)
            values = self._base(service, key, labels, rng, loads, start, step, deploys, sawtooth)
            if impacts:
                ceiling = _ceiling(service, key.name)
                for index in range(count):
                    t = start + index * step
                    if t < impacts[0].start - 3600 and all(t < i.start for i in impacts):
                        continue
                    v = values[index]
                    for impact in impacts:
                        v = _apply(impact, v, t)
                    values[index] = max(0.0, min(ceiling, v))
            yield Series(key, step, start, array("f", values))

    def _base(
        self,
        service: ServiceSpec,
        key: SeriesKey,
        labels: dict[str, str],
        rng: random.Random,
        loads: list[float],
        start: int,
        step: int,
        deploys: list[int],
        sawtooth: list[MetricImpact],
    ) -> list[float]:
        name = key.name
        traffic = 1.0 if key.environment == "prod" else STAGING_TRAFFIC
        r = rng.random
        if name == "request_rate":
            base = service.base_rps * traffic
            return [base * ld * (0.95 + 0.1 * r()) for ld in loads]
        if name == "error_rate":
            return [0.08 + 0.12 * r() * r() * 2 for _ in loads]
        if name == "latency_ms":
            base = service.base_latency_ms * QUANTILE_FACTORS[labels["quantile"]]
            return [base * (0.85 + 0.3 * ld) * (0.93 + 0.14 * r()) for ld in loads]
        if name == "cpu_usage":
            base = 14.0 if key.environment == "prod" else 6.0
            return [base + 38 * ld * traffic**0.3 + 4 * r() for ld in loads]
        if name == "memory_used_mb":
            return self._memory(service, loads, start, step, deploys, r)
        if name == "memory_limit_mb":
            return [service.memory_limit_mb] * len(loads)
        if name == "restarts":
            return self._restarts(len(loads), start, step, deploys, sawtooth)
        if name == "db_pool_size":
            return [float(POOL_SIZES.get(service.name, 30))] * len(loads)
        if name == "db_pool_in_use":
            size = POOL_SIZES.get(service.name, 30)
            return [min(size, 2 + size * 0.28 * ld * traffic**0.5 + 2 * r()) for ld in loads]
        if name == "db_connections":
            return [round(60 + 150 * ld * traffic**0.5 + 10 * r()) for ld in loads]
        if name == "disk_used_percent":
            base = 58.0 if service.kind == "database" else 31.0
            return [
                base + 4.0 * (start + i * step) / (self.days * 86400) + 4.0 + 0.15 * r()
                for i in range(len(loads))
            ]
        if name == "queue_depth":
            weight = {"order.created": 1.0, "order.paid": 0.7, "order.shipped": 0.4}[labels["queue"]]
            return [max(0.0, 12 * weight * ld * traffic + 6 * r() - 2) for ld in loads]
        if name == "cache_hit_ratio":
            return [93.5 + 2.5 * r() for _ in loads]
        if name == "cert_days_to_expiry":
            expiry = self.plan.cert_expiry.get(service.name)
            if expiry is None:
                expiry = random.Random(f"{self.seed}:cert:{service.name}").randint(38, 84) * 86400
            return [(expiry - (start + i * step)) / 86400 for i in range(len(loads))]
        raise ValueError(f"no generator for metric {name}")

    def _memory(
        self,
        service: ServiceSpec,
        loads: list[float],
        start: int,
        step: int,
        deploys: list[int],
        rand: Callable[[], float],
    ) -> list[float]:
        # Memory grows slowly after each restart (caches warming), and drops back when a deploy restarts pods.
        values: list[float] = []
        for index, ld in enumerate(loads):
            t = start + index * step
            since = t - deploys[bisect_right(deploys, t) - 1] if deploys and deploys[0] <= t else 14 * 86400
            warm = min(1.0, since / (3 * 86400))
            values.append(service.memory_mb * (0.8 + 0.12 * warm + 0.04 * ld) * (0.98 + 0.04 * rand()))
        return values

    def _restarts(
        self, count: int, start: int, step: int, deploys: list[int], sawtooth: list[MetricImpact]
    ) -> list[float]:
        values = [0.0] * count
        for t in deploys:
            index = (t - start) // step
            if 0 <= index < count:
                values[index] += 3
        for impact in sawtooth:
            t = impact.start + impact.over
            while t < 0:
                index = (t - start) // step
                if 0 <= index < count:
                    values[index] += 1
                t += impact.over
        return values


class LogStream:
    """Background lines plus the plan's symptom lines, in ascending time, for ``[-span, 0)``."""

    def __init__(
        self,
        seed: int,
        plan: Plan,
        now_ms: int,
        span: int,
        lines: int,
        versions: dict[tuple[str, str], list[tuple[int, str]]],
    ):
        self.seed = seed
        self.plan = plan
        self.now_ms = now_ms
        self.span = span
        self.lines = lines
        self.versions = versions
        streams = [(s, env) for s in SERVICES if s.kind != "external" for env in ("prod", "staging")]
        weights = [math.sqrt(s.base_rps) * (1.0 if env == "prod" else 0.12) for s, env in streams]
        total = sum(weights)
        minutes = span // 60
        average_load = 0.6
        self.streams = [
            (s, env, w / total * lines / minutes / average_load)
            for (s, env), w in zip(streams, weights, strict=True)
        ]

    def _version(self, service: str, env: str, t: int) -> str:
        history = self.versions.get((service, env))
        if not history:
            return "v1.0.0"
        index = bisect_right(history, (t, "\uffff")) - 1
        return history[max(0, index)][1]

    def __iter__(self) -> Iterator[LogRow]:
        rng = random.Random(f"{self.seed}:logs")
        number = 0
        now_epoch = self.now_ms // 1000
        emitters = sorted(self.plan.emitters, key=lambda e: e.start)
        for minute in range(-self.span // 60, 0):
            t0 = minute * 60
            ld = load_at(t0, now_epoch)
            batch: list[tuple[int, ServiceSpec, str, str, str, dict[str, object]]] = []
            for service, env, rate in self.streams:
                expected = rate * ld
                count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
                for _ in range(count):
                    severity, message, fields = background_line(service, env, rng)
                    batch.append((int(rng.random() * 60_000), service, env, severity, message, fields))
            for emitter in emitters:
                if emitter.start > t0 + 59:
                    break
                batch.extend(self._symptoms(emitter, t0, rng))
            batch.sort(key=lambda item: item[0])
            versions: dict[tuple[str, str], str] = {}
            random_ = rng.random
            for offset, service, env, severity, message, fields in batch:
                number += 1
                ts_ms = self.now_ms + t0 * 1000 + offset
                team = service.team
                pod = service.pod(int(random_() * 3))
                stream = (service.name, env)
                if stream not in versions:
                    versions[stream] = self._version(service.name, env, t0)
                yield LogRow(
                    id=f"lg{number:09d}",
                    ts_ms=ts_ms,
                    service=service.name,
                    environment=env,
                    team=team,
                    severity=severity,
                    message=message,
                    labels={
                        "pod": pod,
                        "region": "eu-west-1",
                        "version": versions[stream],
                    },
                    fields={**fields, "trace_id": f"{rng.getrandbits(64):016x}"},
                )

    def _symptoms(
        self, emitter: LogEmitter, t0: int, rng: random.Random
    ) -> Iterator[tuple[int, ServiceSpec, str, str, str, dict[str, object]]]:
        service = SERVICE_BY_NAME[emitter.service]
        if emitter.every:
            # Bursts: one group of lines at each period boundary after onset.
            elapsed = t0 - emitter.start
            if elapsed < emitter.every or elapsed % emitter.every >= 60:
                return
            count = max(1, round(emitter.per_minute))
        else:
            elapsed = t0 - emitter.start
            ramp = min(1.0, (elapsed + 60) / 180)
            expected = emitter.per_minute * ramp * (0.8 + 0.4 * rng.random())
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        low = max(0, (emitter.start - t0) * 1000)
        for _ in range(count):
            message, fields = symptom_line(service, emitter.template, emitter.context, rng)
            yield (
                rng.randrange(low, 60_000),
                service,
                emitter.environment,
                emitter.severity,
                message,
                fields,
            )

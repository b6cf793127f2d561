"""The fault vocabulary: what each kind of fault does to the service it hits and to that service's callers.

A scenario may replace any of these defaults (``symptoms``, ``propagation``); the defaults are what a real
failure of that kind looks like in telemetry. Nothing here names the kind in the data it produces.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.demo.scenario import LogPattern, MetricEffect


@dataclass(frozen=True)
class KindDefaults:
    metrics: tuple[MetricEffect, ...]
    logs: tuple[LogPattern, ...]
    caller_logs: tuple[LogPattern, ...]  # {dep_host} is the failing dependency's host name
    depth: int = 2
    delay: str = "2m"
    attenuation: float = 0.6
    error_rate: float = 8.0
    latency_factor: float = 2.0


def _m(metric: str, shape: str, **kw: object) -> MetricEffect:
    return MetricEffect(metric=metric, shape=shape, **kw)


def _l(severity: str, message: str, per_minute: float, every: str | None = None) -> LogPattern:
    return LogPattern(severity=severity, message=message, per_minute=per_minute, every=every)


_TIMEOUTS = (
    _l("error", "upstream request to {dep_host} timed out after {timeout_ms}ms (trace {trace})", 10),
    _l("warn", "retrying call to {dep_host} (attempt {attempt}/3): context deadline exceeded", 6),
)
_FIVE_XX = (
    _l("error", "upstream {dep_host} returned 503 Service Unavailable for {method} {path}", 10),
    _l("warn", "circuit breaker for {dep_host} is half-open after {n} consecutive failures", 1),
)

DEFAULTS: dict[str, KindDefaults] = {
    "bad_deploy": KindDefaults(
        metrics=(_m("error_rate", "step", add=14.0), _m("latency_ms", "step", factor=1.8, quantile="p99")),
        logs=(
            _l("error", "unhandled exception in {handler}: {exception} (trace {trace})", 22),
            _l("error", "500 Internal Server Error {method} {path} in {ms}ms", 14),
            _l("warn", "response serialization fell back to defaults for field '{field}'", 4),
        ),
        caller_logs=_FIVE_XX,
    ),
    "config_change": KindDefaults(
        metrics=(_m("error_rate", "step", add=11.0),),
        logs=(
            _l("error", "flag {flag} evaluated to unknown variant '{variant}'; request rejected", 16),
            _l("warn", "configuration reloaded from {config_map} (revision {revision})", 0.2),
        ),
        caller_logs=_FIVE_XX,
    ),
    "cpu_saturation": KindDefaults(
        metrics=(
            _m("cpu_usage", "ramp", to=97.0, over="6m"),
            _m("latency_ms", "ramp", factor=4.0, over="6m"),
            _m("error_rate", "ramp", add=4.0, over="6m"),
        ),
        logs=(
            _l("warn", "worker thread pool saturated: {n} tasks queued, {threads} threads busy", 8),
            _l("warn", "request exceeded deadline: {method} {path} took {slow_ms}ms", 12),
            _l("error", "health probe timed out after 1000ms on {pod}", 2),
        ),
        caller_logs=_TIMEOUTS,
        latency_factor=2.5,
    ),
    "memory_leak": KindDefaults(
        metrics=(
            _m("memory_used_mb", "sawtooth", to=1e9, over="18m"),
            _m("latency_ms", "sawtooth", factor=2.2, over="18m"),
            _m("error_rate", "sawtooth", add=5.0, over="18m"),
        ),
        logs=(
            _l("warn", "GC overhead {pct}%: heap {heap_mb}MiB of {limit_mb}MiB after full collection", 5),
            _l("fatal", "java.lang.OutOfMemoryError: Java heap space", 1, every="18m"),
            _l("error", "container {pod} OOMKilled (exit code 137); restarting", 1, every="18m"),
        ),
        caller_logs=(
            _l("error", "connection reset by peer while calling {dep_host} (trace {trace})", 6),
            _l("warn", "upstream {dep_host} closed the connection; retrying", 5),
        ),
        error_rate=5.0,
    ),
    "disk_full": KindDefaults(
        metrics=(
            _m("disk_used_percent", "ramp", to=99.6, over="12m"),
            _m("error_rate", "ramp", add=18.0, over="12m"),
            _m("latency_ms", "ramp", factor=2.0, over="12m"),
        ),
        logs=(
            _l("error", 'could not extend file "base/16384/{relfile}": No space left on device', 14),
            _l("fatal", 'could not write to file "pg_wal/xlogtemp.{n}": No space left on device', 0.3),
            _l("warn", "autovacuum: cancelled on table orders_{table} (insufficient space)", 2),
        ),
        caller_logs=(
            _l(
                "error",
                "write to {dep_host} failed: ERROR: could not extend file: No space left on device",
                8,
            ),
            _l("warn", "transaction rolled back by {dep_host}; retrying (attempt {attempt}/3)", 4),
        ),
        error_rate=12.0,
    ),
    "connection_pool_exhaustion": KindDefaults(
        metrics=(
            _m("db_pool_in_use", "ramp", to=1e9, over="4m"),
            _m("latency_ms", "ramp", factor=6.0, over="4m"),
            _m("error_rate", "ramp", add=12.0, over="4m"),
        ),
        logs=(
            _l(
                "error",
                "timeout acquiring connection from pool 'main' after 5000ms (in use {pool_size}/{pool_size}, "
                "waiting {n})",
                24,
            ),
            _l("warn", "HikariPool-1 - Connection is not available, request timed out after 5000ms", 10),
        ),
        caller_logs=_TIMEOUTS,
        latency_factor=3.0,
    ),
    "dependency_outage": KindDefaults(
        metrics=(
            _m("error_rate", "step", to=78.0),
            _m("latency_ms", "step", factor=3.0),
            _m("request_rate", "step", factor=0.7),
        ),
        logs=(_l("error", "health check failed: {n} of 3 replicas unreachable", 2),),
        caller_logs=(
            _l(
                "error",
                "POST https://{dep_host}/v1/{dep_path} returned 503 Service Unavailable (request {trace})",
                18,
            ),
            _l("error", "upstream {dep_host} connection refused", 4),
            _l("warn", "circuit breaker for {dep_host} opened after {n} consecutive failures", 1),
        ),
        error_rate=22.0,
        depth=3,
    ),
    "latency_injection": KindDefaults(
        metrics=(_m("latency_ms", "step", factor=9.0), _m("error_rate", "step", add=2.5)),
        logs=(_l("warn", "slow request: {method} {path} took {slow_ms}ms", 14),),
        caller_logs=_TIMEOUTS,
        latency_factor=4.0,
        error_rate=6.0,
    ),
    "certificate_expiry": KindDefaults(
        metrics=(_m("error_rate", "step", to=64.0), _m("request_rate", "step", factor=0.45)),
        logs=(
            _l("error", "http: TLS handshake error from {ip}:{port}: remote error: tls: bad certificate", 30),
            _l("warn", "serving certificate CN={host} is not valid after {expired_at}", 0.5),
        ),
        caller_logs=(
            _l("error", "Get https://{dep_host}/: x509: certificate has expired or is not yet valid", 16),
        ),
        error_rate=40.0,
        depth=2,
    ),
    "traffic_spike": KindDefaults(
        metrics=(
            _m("request_rate", "ramp", factor=4.5, over="3m"),
            _m("cpu_usage", "ramp", to=93.0, over="3m"),
            _m("latency_ms", "ramp", factor=3.0, over="3m"),
            _m("error_rate", "ramp", add=7.0, over="3m"),
        ),
        logs=(
            _l("warn", "rate limit exceeded for client {ip} on {path} ({n} req/s)", 30),
            _l("info", 'GET {path} 200 {ms}ms ua="python-requests/2.31" client={ip}', 60),
            _l("error", "503 shed load: concurrency limit {threads} reached", 6),
        ),
        caller_logs=_TIMEOUTS,
        depth=1,
        error_rate=5.0,
    ),
}

CAUSAL_DEPLOY_KINDS = {"bad_deploy", "config_change"}

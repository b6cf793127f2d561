"""The ``prometheus`` provider: metrics from a Prometheus server's HTTP API.

Configure with ``OPSORCH_METRIC_PROVIDER=prometheus`` and ``OPSORCH_METRIC_CONFIG='{"url": "http://host:9090"}'``;
docs/providers.md lists every key.
"""

from __future__ import annotations

from adapters.prometheus.provider import PrometheusConfig, PrometheusMetrics
from core_client.registry import ProviderContext


def metric_provider(ctx: ProviderContext) -> PrometheusMetrics:
    """Build the metric provider from ``OPSORCH_METRIC_CONFIG``."""
    return PrometheusMetrics(ctx.parse_config(PrometheusConfig), clock=ctx.clock)


PROVIDERS = {"metric": metric_provider}

__all__ = ["PROVIDERS", "PrometheusConfig", "PrometheusMetrics"]

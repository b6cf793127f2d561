"""The ``loki`` provider: logs from Grafana Loki's HTTP API (LogQL over ``/loki/api/v1/query_range``).

Configure with ``OPSORCH_LOG_PROVIDER=loki`` and ``OPSORCH_LOG_CONFIG='{"url": "http://loki:3100"}'``;
docs/providers.md lists every key.
"""

from __future__ import annotations

from adapters.loki.config import LokiConfig
from adapters.loki.provider import LokiLogs
from core_client.registry import ProviderContext


def log_provider(ctx: ProviderContext) -> LokiLogs:
    """Build the log provider from ``OPSORCH_LOG_CONFIG``."""
    return LokiLogs(ctx.parse_config(LokiConfig), clock=ctx.clock)


PROVIDERS = {"log": log_provider}

__all__ = ["PROVIDERS", "LokiConfig", "LokiLogs"]

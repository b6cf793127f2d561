"""The ``elasticsearch`` provider: logs from an Elasticsearch index pattern through ``_search``.

Configure with ``OPSORCH_LOG_PROVIDER=elasticsearch`` and
``OPSORCH_LOG_CONFIG='{"url": "https://es:9200", "index": "logs-*"}'``; docs/providers.md lists every key.
"""

from __future__ import annotations

from adapters.elasticsearch.config import ElasticsearchConfig
from adapters.elasticsearch.provider import ElasticsearchLogs
from core_client.registry import ProviderContext


def log_provider(ctx: ProviderContext) -> ElasticsearchLogs:
    """Build the log provider from ``OPSORCH_LOG_CONFIG``."""
    return ElasticsearchLogs(ctx.parse_config(ElasticsearchConfig))


PROVIDERS = {"log": log_provider}

__all__ = ["PROVIDERS", "ElasticsearchConfig", "ElasticsearchLogs"]

"""The ``alertmanager`` provider: alerts and silences from Alertmanager's API v2.

Configure with ``OPSORCH_ALERT_PROVIDER=alertmanager`` and ``OPSORCH_ALERT_CONFIG='{"url": "http://host:9093"}'``;
docs/providers.md lists every key and the status mapping.
"""

from __future__ import annotations

from adapters.alertmanager.mapping import Silence, SilenceMatcher
from adapters.alertmanager.provider import AlertmanagerAlerts, AlertmanagerConfig
from core_client.registry import ProviderContext


def alert_provider(ctx: ProviderContext) -> AlertmanagerAlerts:
    """Build the alert provider from ``OPSORCH_ALERT_CONFIG``."""
    return AlertmanagerAlerts(ctx.parse_config(AlertmanagerConfig), clock=ctx.clock)


PROVIDERS = {"alert": alert_provider}

__all__ = ["PROVIDERS", "AlertmanagerAlerts", "AlertmanagerConfig", "Silence", "SilenceMatcher"]

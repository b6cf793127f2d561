"""Slack (Web API) as the messaging provider: chat.postMessage with Block Kit blocks, health via auth.test.

Configured with ``OPSORCH_MESSAGING_PROVIDER=slack`` and ``OPSORCH_MESSAGING_CONFIG`` (see docs/providers.md).
"""

from __future__ import annotations

from adapters.slack.messaging import SlackConfig, SlackMessaging, resolve_token
from core_client.registry import ProviderContext


def messaging_provider(ctx: ProviderContext) -> SlackMessaging:
    config = ctx.parse_config(SlackConfig)
    choice = ctx.settings.providers.get(ctx.capability)
    return SlackMessaging(
        config, token=resolve_token(config, ctx), timeout=choice.timeout if choice else 10.0
    )


PROVIDERS = {"messaging": messaging_provider}

"""Jira Cloud (REST API v3) as the ticket provider: JQL search, create, edit, transitions, ADF descriptions.

Configured with ``OPSORCH_TICKET_PROVIDER=jira`` and ``OPSORCH_TICKET_CONFIG`` (see docs/providers.md).
"""

from __future__ import annotations

from adapters.jira.config import JiraConfig, resolve_token
from adapters.jira.tickets import JiraTickets
from core_client.registry import ProviderContext


def ticket_provider(ctx: ProviderContext) -> JiraTickets:
    config = ctx.parse_config(JiraConfig)
    choice = ctx.settings.providers.get(ctx.capability)
    return JiraTickets(
        config, api_token=resolve_token(config, ctx), timeout=choice.timeout if choice else 10.0
    )


PROVIDERS = {"ticket": ticket_provider}

"""PagerDuty (REST API v2): incidents with their timelines, the service catalog, teams, on-call and paging.

Configured with ``OPSORCH_<CAP>_PROVIDER=pagerduty`` and ``OPSORCH_<CAP>_CONFIG`` (see docs/providers.md). The
capabilities of one CoreClient share one HTTP client per API key.
"""

from __future__ import annotations

from adapters.pagerduty.config import shared_api
from adapters.pagerduty.incidents import PagerDutyIncidents
from adapters.pagerduty.services import PagerDutyServices
from adapters.pagerduty.teams import PagerDutyTeams
from core_client.registry import ProviderContext


def incident_provider(ctx: ProviderContext) -> PagerDutyIncidents:
    api, config = shared_api(ctx)
    return PagerDutyIncidents(api, config)


def service_provider(ctx: ProviderContext) -> PagerDutyServices:
    api, _ = shared_api(ctx)
    return PagerDutyServices(api)


def team_provider(ctx: ProviderContext) -> PagerDutyTeams:
    api, config = shared_api(ctx)
    return PagerDutyTeams(api, config)


PROVIDERS = {"incident": incident_provider, "service": service_provider, "team": team_provider}

"""Remote mode: every capability served by an OpsOrch Core over its REST contract.

Registered as the ``opsorch`` provider (pyproject.toml). ``OPSORCH_CORE_URL`` and ``OPSORCH_CORE_TOKEN`` say
where the core is; a capability's ``OPSORCH_<CAP>_CONFIG`` may override them with keys ``url`` and ``token``.
The providers of one CoreClient that point at the same core share one HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable

from core_client.registry import ProviderContext
from core_client.remote.config import endpoint, shared_api, shared_catalog
from core_client.remote.providers import (
    RemoteAlerts,
    RemoteDeployments,
    RemoteIncidents,
    RemoteLogs,
    RemoteMessaging,
    RemoteMetrics,
    RemoteProvider,
    RemoteServices,
    RemoteTeams,
    RemoteTickets,
)


def _factory(provider: type[RemoteProvider]) -> Callable[[ProviderContext], RemoteProvider]:
    def build(ctx: ProviderContext) -> RemoteProvider:
        where = endpoint(ctx)
        api = shared_api(ctx, where)
        return provider(
            api,
            capability=ctx.capability,
            timeout=where.timeout,
            clock=ctx.clock,
            catalog=shared_catalog(ctx, api),
            max_items=where.max_items,
        )

    build.__doc__ = f"Build a {provider.__name__} from the capability's settings."
    return build


PROVIDERS: dict[str, Callable[[ProviderContext], RemoteProvider]] = {
    "incident": _factory(RemoteIncidents),
    "alert": _factory(RemoteAlerts),
    "log": _factory(RemoteLogs),
    "metric": _factory(RemoteMetrics),
    "ticket": _factory(RemoteTickets),
    "service": _factory(RemoteServices),
    "team": _factory(RemoteTeams),
    "deployment": _factory(RemoteDeployments),
    "messaging": _factory(RemoteMessaging),
}

__all__ = [
    "PROVIDERS",
    "RemoteAlerts",
    "RemoteDeployments",
    "RemoteIncidents",
    "RemoteLogs",
    "RemoteMessaging",
    "RemoteMetrics",
    "RemoteProvider",
    "RemoteServices",
    "RemoteTeams",
    "RemoteTickets",
]

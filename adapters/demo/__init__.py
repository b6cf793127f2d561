"""The embedded demo world: a fictional company (Shopwave) in SQLite, serving every capability.

``opspilot demo`` builds a world (or reuses a cached one) and marks it active; these providers serve the active
world, building the default one on first use. All capabilities share one opened world (``ctx.shared``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.demo.catalog import DemoServices, DemoTeams
from adapters.demo.deployments import DemoDeployments
from adapters.demo.incidents import DemoAlerts, DemoIncidents
from adapters.demo.messaging import DemoMessaging
from adapters.demo.metrics import DemoMetrics
from adapters.demo.tickets import DemoTickets
from adapters.demo.world import World, open_active_world
from core_client.registry import ProviderContext

SHARED_KEY = "demo.world"


def shared_world(ctx: ProviderContext) -> World:
    """The world every demo provider of one CoreClient serves."""
    world = ctx.shared.get(SHARED_KEY)
    if world is None:
        world = open_active_world(ctx.settings)
        ctx.shared[SHARED_KEY] = world
    return world


def _logs(ctx: ProviderContext) -> Any:
    from adapters.demo.logs import DemoLogs

    world = shared_world(ctx)
    logs = DemoLogs(world.path, world.clock)
    logs.clock = world.clock
    return logs


def _simple(cls: type) -> Callable[[ProviderContext], Any]:
    return lambda ctx: cls(shared_world(ctx))


PROVIDERS: dict[str, Callable[[ProviderContext], Any]] = {
    "incident": _simple(DemoIncidents),
    "alert": _simple(DemoAlerts),
    "log": _logs,
    "metric": _simple(DemoMetrics),
    "ticket": _simple(DemoTickets),
    "service": _simple(DemoServices),
    "team": _simple(DemoTeams),
    "deployment": _simple(DemoDeployments),
    "messaging": _simple(DemoMessaging),
}

"""What every demo provider shares: the opened world, its clock, a health check, and the ledger of mutations."""

from __future__ import annotations

import time

from adapters.demo.world import World
from core_client.schemas import ProviderHealth


class WorldProvider:
    """A provider reading (and, for mutations, writing) one opened world."""

    capability = ""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clock = world.clock

    async def health(self) -> ProviderHealth:
        started = time.perf_counter()
        count = await self.world.run(lambda c: c.execute("SELECT count(*) FROM service").fetchone()[0])
        return ProviderHealth(
            capability=self.capability,
            provider="demo",
            status="ok" if count else "degraded",
            message=f"demo world at {self.world.now.isoformat()} ({self.world.path.name})",
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def mutation_done(self, idempotency_key: str) -> bool:
        """Whether the world holds a mutation made with this idempotency key (every write remembers its key)."""
        return await self.world.run(
            lambda c: (
                c.execute("SELECT 1 FROM idempotency WHERE key = ? LIMIT 1", (idempotency_key,)).fetchone()
                is not None
            )
        )

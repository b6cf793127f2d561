"""The console's composition root: one CoreClient and one Copilot per process, built from settings on first use.

Building a CoreClient loads every configured provider (the demo world may be opened or built on first use), which
can take a while and does blocking I/O, so it runs in a worker thread, once, under a lock. A failure is not
cached: the next request tries again and reports the same clear error until the configuration is fixed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from copilot.runtime import Copilot
from core_client.client import CoreClient
from core_client.settings import load_settings


class CoreRuntime:
    """Holds the process's CoreClient; ``factory`` builds it (``CoreClient.from_settings`` by default)."""

    def __init__(self, factory: Callable[[], CoreClient] = CoreClient.from_settings) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._core: CoreClient | None = None
        self._copilot: Copilot | None = None
        self._copilot_lock = asyncio.Lock()

    def _build(self) -> CoreClient:
        with self._lock:
            if self._core is None:
                self._core = self._factory()
            return self._core

    async def core(self) -> CoreClient:
        """The CoreClient, built on first call; raises ``ConfigurationError`` when settings are wrong."""
        if self._core is not None:
            return self._core
        return await asyncio.to_thread(self._build)

    async def copilot(self) -> Copilot:
        """The Copilot over :meth:`core`, built on first call; it picks up runs a dead worker left behind, now and
        every half minute."""
        async with self._copilot_lock:
            if self._copilot is None:
                core = await self.core()
                # Building migrates the database: blocking I/O, so off the event loop.
                self._copilot = await asyncio.to_thread(Copilot.from_settings, load_settings(), core=core)
                await self._copilot.resume_orphans()
                # Runs whose worker dies later, or whose approval expires, are picked up without anyone clicking.
                self._copilot.sweep()
            return self._copilot

    async def aclose(self) -> None:
        """Close the Copilot and the providers' resources; the next call builds new ones."""
        copilot, self._copilot = self._copilot, None
        if copilot is not None:
            await copilot.aclose()
        with self._lock:
            core, self._core = self._core, None
        if core is not None:
            await core.aclose()


RUNTIME = CoreRuntime()


async def core() -> CoreClient:
    """The process's CoreClient (see :class:`CoreRuntime`)."""
    return await RUNTIME.core()


async def copilot() -> Copilot:
    """The process's Copilot (see :meth:`CoreRuntime.copilot`)."""
    return await RUNTIME.copilot()

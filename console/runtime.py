"""The console's composition root: one CoreClient and one Copilot per process, built from settings.

Building a CoreClient loads every configured provider (the demo world may be opened or built on first use), which
can take a while and does blocking I/O, so it runs in a worker thread, once, under a lock. A failure is not
cached: the next request tries again and reports the same clear error until the configuration is fixed.

The Copilot starts with the backend (:meth:`CoreRuntime.serving`, the app's lifespan): its sweep resumes the runs a
dead worker left behind and expires overdue approval requests from the moment the process is up, whether or not
anyone opens a page; at shutdown the runs held here are handed back for another worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from copilot.runtime import Copilot
from core_client.client import CoreClient
from core_client.errors import OpsPilotError
from core_client.schemas import HealthReport
from core_client.settings import load_settings

log = logging.getLogger(__name__)

# How old a sources report may be before the banner's next look checks the providers again.
SOURCES_FRESH_SECONDS = 15.0
# How long the backend waits before trying again to start a Copilot whose configuration or database failed.
START_RETRY_SECONDS = 30.0


class CoreRuntime:
    """Holds the process's CoreClient; ``factory`` builds it (``CoreClient.from_settings`` by default)."""

    def __init__(self, factory: Callable[[], CoreClient] = CoreClient.from_settings) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._core: CoreClient | None = None
        self._copilot: Copilot | None = None
        self._copilot_lock = asyncio.Lock()
        self._sources: tuple[float, HealthReport] | None = None
        self._checking: asyncio.Task[HealthReport] | None = None

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
        every ``copilot.sweep_seconds`` (and the moment another worker's lease lapses)."""
        async with self._copilot_lock:
            if self._copilot is None:
                core = await self.core()
                # Building migrates the database: blocking I/O, so off the event loop.
                settings = load_settings()
                self._copilot = await asyncio.to_thread(Copilot.from_settings, settings, core=core)
                await self._copilot.resume_orphans()
                # Runs whose worker dies later, or whose approval expires, are picked up without anyone clicking.
                self._copilot.sweep(settings.copilot.sweep_seconds)
            return self._copilot

    async def sources(self) -> HealthReport:
        """Every provider's health, checked at most ``SOURCES_FRESH_SECONDS`` ago (what the sources banner shows).

        The first call waits for a check (bounded by ``health_timeout``); after that the last report comes back at
        once, and one that has gone stale is checked again in the background, once however many pages ask.
        """
        core = await self.core()
        checked = self._sources
        if checked is None or time.monotonic() - checked[0] > SOURCES_FRESH_SECONDS:
            if self._checking is None or self._checking.done():
                self._checking = asyncio.create_task(self._check_sources(core), name="sources check")
            if checked is None:
                return await asyncio.shield(self._checking)
        return checked[1]

    async def _check_sources(self, core: CoreClient) -> HealthReport:
        report = await core.health()
        self._sources = (time.monotonic(), report)
        return report

    @asynccontextmanager
    async def serving(self, *, retry_seconds: float = START_RETRY_SECONDS) -> AsyncIterator[None]:
        """The backend's lifespan: start the Copilot (and its sweep) in the background as the backend starts,
        trying again every ``retry_seconds`` while the configuration or the database fails; close it all at
        shutdown, handing the runs held here back to the other workers."""
        starting = asyncio.create_task(self._start(retry_seconds), name="copilot start")
        try:
            yield
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await self.aclose()

    async def _start(self, retry_seconds: float) -> None:
        while True:
            try:
                await self.copilot()
                return
            except (OpsPilotError, OSError) as error:  # pages show it too; the backend keeps serving
                log.error("the Copilot could not start (trying again in %g s): %s", retry_seconds, error)
            except Exception:  # a database that refuses connections raises its driver's own errors
                log.exception("the Copilot could not start (trying again in %g s)", retry_seconds)
            await asyncio.sleep(retry_seconds)

    async def aclose(self) -> None:
        """Close the Copilot and the providers' resources; the next call builds new ones."""
        copilot, self._copilot = self._copilot, None
        if copilot is not None:
            await copilot.aclose()
        self._sources = self._checking = None
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


async def sources() -> HealthReport:
    """The providers' health as the sources banner shows it (see :meth:`CoreRuntime.sources`)."""
    return await RUNTIME.sources()

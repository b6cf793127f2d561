"""A detail page's loading, shared by the states of one alert, deployment, ticket or service page.

A state mixes ``RecordPage`` into a ``ScopeState`` subclass and names the kind of link its route is
(``_link_kind``, see core_client/links.py); ``load`` reads the record's key from the URL's path, fetches it with
``_fetch_record`` without holding the state lock, and shows it (or the provider's error) with ``_show_record``.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from console import runtime
from core_client.client import CoreClient
from core_client.errors import BadQuery, OpsPilotError
from core_client.links import PATH_KINDS, parse_link


def linked_key(path: str, kind: str) -> str:
    """The id (or name) a console path of ``kind`` names, such as ``INC-7`` for ``/incidents/INC-7``."""
    try:
        link = parse_link(path)
    except BadQuery:
        return ""
    return link.params.get(PATH_KINDS[kind][1], "") if link.kind == kind else ""


class RecordPage(rx.State, mixin=True):
    """Loading one record for its page (mix into a ``ScopeState`` subclass; see the module docstring)."""

    loading: bool = True
    error: str = ""
    _generation: int = 0

    @classmethod
    def _link_kind(cls) -> str:
        raise NotImplementedError

    async def _fetch_record(self, core: CoreClient, key: str) -> Any:
        raise NotImplementedError

    def _show_record(self, key: str, record: Any | None) -> None:
        """Show the record; ``None`` (with ``self.error`` set) when it could not be loaded."""
        raise NotImplementedError

    async def _refresh(self) -> None:
        # This event's own address, read before the lock: the state fetched under it (from Redis, with several
        # workers) carries the router of whichever event saved it last.
        key = linked_key(self.router.url.path, self._link_kind())
        async with self:
            if not getattr(self, "signed_in", False):
                self.loading = False
                return
            self._generation += 1
            generation = self._generation
            self.loading = True
        try:
            record = await self._fetch_record(await runtime.core(), key)
        except OpsPilotError as exc:
            async with self:
                if generation == self._generation:
                    self.error, self.loading = str(exc), False
                    self._show_record(key, None)
            return
        async with self:
            if generation == self._generation:
                self.error, self.loading = "", False
                self._show_record(key, record)

    @rx.event(background=True)
    async def load(self) -> None:
        """The page's on_load: the record its path names."""
        await self._refresh()

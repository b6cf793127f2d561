"""Pages whose whole query lives in the URL: read it when the page opens, write it back without reloading.

The scope bar (``ScopeState``) owns service, team, environment and the time range; such a page owns the rest
of its query, a :class:`~console.backend.timewindow.ScopedQuery`. A change of the page's own part is written
with ``history.pushState`` (no navigation, so no reload of the page); opening a URL, going back or forward runs
the page's on_load, which reads the query again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import urlsplit

import reflex as rx
from reflex.event import EventSpec

from console.backend.scope import url_with
from console.backend.timewindow import ScopedQuery, Window
from core_client.errors import BadQuery
from core_client.links import format_time

Q = TypeVar("Q", bound=ScopedQuery)


def history_event(url: str, *, push: bool) -> EventSpec:
    """Write ``url`` into the address bar without reloading: a new history entry, or in place of the current.

    Only while the browser is still on ``url``'s page: a query that finishes after the person has gone Back (or
    anywhere else) must not write its page's address over the one they are on.
    """
    method = "pushState" if push else "replaceState"
    target = json.dumps(url)
    page = json.dumps(urlsplit(url).path.rstrip("/"))
    return rx.call_script(
        f"if (window.location.pathname.replace(/\\/$/, '') === {page} "
        f"&& window.location.pathname.replace(/\\/$/, '') + window.location.search !== {target}) "
        f"window.history.{method}(window.history.state, '', {target})"
    )


class AddressedQuery(rx.State, mixin=True):
    """Mixed into a ``ScopeState`` subclass: its query from the URL, and changes of it back to the URL."""

    query_error: str = ""

    def _query_from_url(self, model: type[Q]) -> Q | None:
        """The page's query in the URL, within the scope bar's scope and window (None when signed out); a
        malformed URL shows its error and leaves the page's defaults."""
        if not getattr(self, "signed_in", False):
            return None
        try:
            query = model.from_params(self.router.url.query_parameters)
            self.query_error = ""
        except BadQuery as exc:
            query, self.query_error = model(), str(exc)
        start, end = self.window()
        return query.within(self.query_scope(), Window(start, end))

    def _url_with(self, changes: Mapping[str, str | None]) -> str:
        """This page's URL with ``changes`` (``None`` removes a parameter), everything else kept."""
        return url_with(self.router.url.path, self.router.url.query_parameters, changes)

    def _url_at(self, window: Window) -> str:
        """This page's URL over another (absolute) window: the scope bar's time range replaced."""
        return self._url_with(
            {"from": format_time(window.start), "to": format_time(window.end), "range": None}
        )

    def _push_url(self, changes: Mapping[str, str | None]) -> EventSpec:
        return history_event(self._url_with(changes), push=True)

    def _left(self, path: str) -> bool:
        """Whether the browser has moved on from ``path`` (the page a background query started on): its
        results may still be kept, but must not move the person anywhere (call under the state lock)."""
        return self.router.url.path.rstrip("/") != path.rstrip("/")

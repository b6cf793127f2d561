"""A browserless Reflex client: one browser tab's conversation with a running backend over its websocket.

It speaks what Reflex's own frontend speaks (``reflex_base/.templates/web/utils/state.js``): a Socket.IO
connection to ``/_event`` with the tab's token in the query string and the first event (``hydrate_and_load``, with
the tab's cookies) in the CONNECT packet; then ``event`` messages out (``{name, payload, router_data}``) and
``event`` updates back (``{delta, events}``). Client-side navigation is an ``on_load_internal`` event for the new
URL; a ``_redirect`` the server sends is followed the same way, as a browser would.

Used by ``benchmarks/load.py`` and by handler tests that want the real server path (the in-process driver for
State tests is tests/console/browserless.py). It needs ``python-socketio``'s asyncio client (``aiohttp``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import socketio
from reflex.state import State
from reflex_base.constants import CompileVars

# Reflex serves Socket.IO at /_event and its events in the namespace of the same name.
EVENT_PATH = "_event"
NAMESPACE = "/_event"
# What a client-side navigation sends: the new page's on_load events run on the backend.
ON_LOAD = f"{State.get_full_name()}.{CompileVars.ON_LOAD_INTERNAL}"
# A tab is settled once the server has sent nothing for this long after the last update of an event. (Pages'
# "loading" flags cannot say it instead: a navigation also raises those of pages it leaves behind.)
QUIET_SECONDS = 0.5


@dataclass
class Outcome:
    """How one event went: when its last update came, what the updates said, and what went wrong."""

    kind: str
    seconds: float = 0.0
    updates: int = 0
    errors: list[str] = field(default_factory=list)
    deltas: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def router_data(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    data: dict[str, Any] = {"pathname": parts.path or "/", "asPath": url}
    query = dict(parse_qsl(parts.query))
    if query:
        data["query"] = query
    return data


def error_vars(delta: dict[str, Any]) -> list[str]:
    """``state.var: text`` for every var named like an error that an update set to a non-empty text."""
    found = []
    for state, values in delta.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if name.split("_rx_state_")[0].endswith("error") and isinstance(value, str) and value:
                found.append(f"{state.rpartition('.')[2]}.{name}: {value[:120]}")
    return found


class ReflexTab:
    """One tab: ``await tab.open(path)``, then :meth:`navigate` and :meth:`fire`; ``await tab.close()``.

    ``cookies`` maps a cookie's name to its value, sent in the websocket handshake's ``Cookie`` header as the
    browser sends its cookies, the HttpOnly session cookie (``opspilot_session``) included. Each call returns an
    :class:`Outcome` once the tab is settled.
    """

    def __init__(
        self, backend_url: str, *, cookies: dict[str, str] | None = None, origin: str | None = None
    ) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.origin = origin or self.backend_url
        self.token = str(uuid.uuid4())
        self.cookies = dict(cookies or {})
        self.url = "/"
        self._client = socketio.AsyncClient(reconnection=False)
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._client.on("event", self._updates.put_nowait, namespace=NAMESPACE)
        self._client.on(
            "disconnect", lambda *_: self._updates.put_nowait({"disconnected": True}), namespace=NAMESPACE
        )

    async def open(self, url: str, *, within: float = 30.0) -> Outcome:
        """Load ``url`` in this tab: connect, hydrate and run the page's on_load."""
        self.url = url
        boot = self._event(f"{State.get_full_name()}.{CompileVars.HYDRATE_AND_LOAD}", {"vars": {}})
        headers = {"Origin": self.origin}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        started = time.perf_counter()
        await self._client.connect(
            f"{self.backend_url}?token={self.token}",
            socketio_path=EVENT_PATH,
            transports=["websocket"],
            auth={CompileVars.CONNECT_AUTH_EVENT: boot},
            headers=headers,
            namespaces=[NAMESPACE],
            wait_timeout=within,
        )
        return await self._settle(Outcome(kind="open"), started, within)

    async def navigate(self, url: str, *, kind: str = "navigate", within: float = 30.0) -> Outcome:
        """Go to ``url`` without reloading (a link click): the new page's on_load runs."""
        self.url = url
        started = time.perf_counter()
        await self._send(self._event(ON_LOAD, {}))
        return await self._settle(Outcome(kind=kind), started, within)

    async def fire(
        self,
        handler: str,
        payload: dict[str, Any] | None = None,
        *,
        kind: str | None = None,
        within: float = 30.0,
        done: Callable[[Outcome], bool] | None = None,
    ) -> Outcome:
        """Send one event (``handler`` = ``state_full_name.handler``) and wait until the tab settles, or until
        ``done`` says what came so far finished it (for work that pauses, such as a Copilot run or a background
        event's answer)."""
        started = time.perf_counter()
        await self._send(self._event(handler, payload or {}))
        return await self._settle(
            Outcome(kind=kind or handler.rpartition(".")[2]), started, within, done=done
        )

    async def close(self) -> None:
        await self._client.disconnect()

    def _event(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "payload": payload, "router_data": router_data(self.url)}

    async def _send(self, event: dict[str, Any]) -> None:
        await self._client.emit("event", event, namespace=NAMESPACE)

    async def _settle(
        self,
        outcome: Outcome,
        started: float,
        within: float,
        *,
        done: Callable[[Outcome], bool] | None = None,
    ) -> Outcome:
        deadline = started + within
        while True:
            # Before the first update the server has not answered yet: wait up to the deadline for it.
            patience = deadline - time.perf_counter() if outcome.updates == 0 or done else QUIET_SECONDS
            try:
                update = await asyncio.wait_for(
                    self._updates.get(), max(min(patience, deadline - time.perf_counter()), 0)
                )
            except TimeoutError:
                if outcome.updates == 0 or done is not None:
                    outcome.errors.append(
                        f"{outcome.kind}: no {'end' if outcome.updates else 'answer'} within {within:g} s"
                    )
                return outcome
            if update.get("disconnected"):
                outcome.errors.append(f"{outcome.kind}: the server closed the connection")
                return outcome
            outcome.updates += 1
            outcome.seconds = time.perf_counter() - started
            delta = update.get("delta") or {}
            outcome.deltas.append(delta)
            outcome.errors += error_vars(delta)
            for event in update.get("events") or []:
                outcome.events.append(event)
                if event.get("name") == "_redirect":
                    target = str(event.get("payload", {}).get("path", "/"))
                    if target.startswith("/login"):
                        outcome.errors.append(f"{outcome.kind}: sent to sign in ({target})")
                        return outcome
                    self.url = target  # follow it as the browser would: the new page loads
                    await self._send(self._event(ON_LOAD, {}))
            if done is not None and done(outcome):
                return outcome

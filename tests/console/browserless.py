"""Drives the console's page states as the Reflex backend does, without a browser or a server.

A :class:`Client` is one browser tab: its own state tree in Reflex's in-memory state manager, the URL it is on,
and the cookies it would send (in the ``Cookie`` header Reflex hands every event). :meth:`Client.fire` runs one event handler (foreground under the state lock,
background through a ``StateProxy``) with Reflex's own ``process_event``, and returns what the handler sent back:
frontend events (redirects, toasts) and backend events (chained handlers), which the test may fire in turn.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.istate.proxy import StateProxy
from reflex.state import BaseState, State
from reflex_base.event import Event, EventHandler
from reflex_base.event.context import EventContext
from reflex_base.event.processor.base_state_processor import process_event
from reflex_base.utils.format import json_dumps

S = TypeVar("S", bound=BaseState)
# refs['__toast']?.["info"]("Sent ...", ({ ["description"] : "..." })): a toast's kind and arguments.
TOAST = re.compile(r"""__toast'\]\?\.\["(?P<kind>\w+)"\]\((?P<args>.*)\)""")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# window.history.pushState(window.history.state, '', "/logs?q=x"): an address written without navigating.
PUSHED = re.compile(r"""history\.(pushState|replaceState)\(window\.history\.state, '', "([^"]*)"\)""")


@dataclass
class Sent:
    """What one handler sent back."""

    frontend: list[Event] = field(default_factory=list)
    backend: list[Event] = field(default_factory=list)
    # Each state delta sent to the browser, as the JSON it is sent as: {state's full name: {var: value}}.
    deltas: list[str] = field(default_factory=list)

    def changes(self) -> list[dict[str, dict[str, Any]]]:
        """The deltas, decoded."""
        return [json.loads(delta) for delta in self.deltas]

    def redirects(self) -> list[str]:
        return [str(e.payload["path"]) for e in self.frontend if e.name == "_redirect"]

    def urls(self) -> list[tuple[str, str]]:
        """The URLs written into the address bar without navigating, each with how (pushState or replaceState)."""
        found = []
        for event in self.frontend:
            match = PUSHED.search(
                str(event.payload.get("javascript_code", event.payload.get("function", "")))
            )
            if match:
                found.append((match.group(1), match.group(2)))
        return found

    def toasts(self) -> list[str]:
        """Each toast as ``kind: message description`` (``rx.toast.*`` becomes a call of sonner's function)."""
        found = []
        for event in self.frontend:
            call = (
                TOAST.search(str(event.payload.get("function", "")))
                if event.name == "_call_function"
                else None
            )
            if call is not None:
                texts = [json.loads(literal) for literal in STRING.findall(call["args"])]
                found.append(f"{call['kind']}: " + " ".join(t for t in texts if t != "description"))
        return found

    def handlers(self) -> list[str]:
        """The chained backend handlers, by their last two name parts (``incidents_state.load``)."""
        names = (e.name.rpartition(".") for e in self.backend)
        return [f"{state.rpartition('____')[2]}.{handler}" for state, _, handler in names]


class Client:
    """One browser tab's worth of state, on ``path`` (the route pattern given when it has route arguments)."""

    def __init__(self) -> None:
        self.token = str(uuid.uuid4())
        self.manager = StateManagerMemory()
        self.path = "/"
        self.route = "/"
        # Cookies the browser sends with the websocket's handshake (the HttpOnly session cookie among them).
        self.cookies: dict[str, str] = {}

    def goto(self, url: str, route: str | None = None) -> None:
        """Be on ``url`` (``route`` is its pattern, e.g. ``/incidents/[incident_ref]``; the path by default)."""
        self.path = url
        self.route = route or urlsplit(url).path

    def _router_data(self) -> dict[str, Any]:
        parts = urlsplit(self.path)
        return {
            "pathname": self.route,
            "asPath": self.path,
            "query": dict(parse_qsl(parts.query)),
            "token": self.token,
            "headers": {
                "origin": "http://localhost:3000",
                "cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
            },
        }

    def _context(self, sent: Sent) -> EventContext:
        async def emit(_token: str, *events: Event) -> None:
            sent.frontend.extend(events)

        async def enqueue(_token: str, *events: Event) -> None:
            sent.backend.extend(events)

        async def delta(_token: str, changes: Any) -> None:
            sent.deltas.append(json_dumps(changes))

        return EventContext(
            token=self.token,
            state_manager=self.manager,
            enqueue_impl=enqueue,
            emit_event_impl=emit,
            emit_delta_impl=delta,
            router_data=self._router_data(),
        )

    async def state(self, cls: type[S]) -> S:
        """The tab's instance of ``cls`` (a copy to read; set values with :meth:`set`)."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=cls)) as root:
            return await root.get_state(cls)

    async def set(self, cls: type[BaseState], **values: Any) -> None:
        """Set vars as the browser would have them (a hydrated cookie, say)."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=cls)) as root:
            target = await root.get_state(cls)
            for name, value in values.items():
                setattr(target, name, value)

    async def fire(self, handler: EventHandler, **payload: Any) -> Sent:
        """Run ``handler`` as if the tab sent it; returns what it sent back."""
        cls = State.get_class_substate(handler.state_full_name)
        sent = Sent()
        with self._context(sent) as ctx:
            async with ctx.state_manager.modify_state(BaseStateToken(ident=self.token, cls=cls)) as root:
                root.router_data = root._update_router_vars(ctx.router_data, root.router_data)
                substate = await root.get_state(cls)
                if not handler.is_background:
                    await process_event(handler=handler, payload=payload, state=substate, root_state=root)
                    return sent
            await process_event(handler=handler, payload=payload, state=StateProxy(substate), root_state=None)
        return sent

    async def follow(self, sent: Sent) -> Sent:
        """Fire the backend events ``sent`` chained, in order, and collect what they send."""
        out = Sent()
        for event in sent.backend:
            cls = State.get_class_substate(event.name.rpartition(".")[0])
            handler = cls.event_handlers[event.name.rpartition(".")[2]]
            more = await self.fire(handler, **event.payload)
            out.frontend += more.frontend
            out.backend += more.backend
            out.deltas += more.deltas
        return out

"""A fake SaaS API served for real on 127.0.0.1, checking every exchange against the vendor's description.

A fake is a plain object with ``handle(exchange) -> Reply``; :class:`LoopbackServer` serves it with uvicorn on a
free port in a background thread, records every exchange, and (given an :class:`OpenApiContract`) collects
every way a request or a response differs from the API description in ``violations``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from saas_fakes.openapi import Exchange, OpenApiContract


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Exchange], Reply]


@dataclass
class Fault:
    """A reply the server gives instead of the fake's for the next request(s)."""

    reply: Reply
    times: int = 1


class LoopbackServer:
    """Serves one fake on a free loopback port until :meth:`stop`."""

    def __init__(self, handler: Handler, *, contract: OpenApiContract | None = None) -> None:
        self.handler = handler
        self.contract = contract
        self.exchanges: list[Exchange] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def reset(self, handler: Handler) -> None:
        self.handler = handler
        self.exchanges.clear()
        self.violations.clear()
        self.faults.clear()

    def fail_next(
        self, status: int, body: Any = None, *, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (a rate limit, an outage, refused credentials)."""
        self.faults.append(Fault(Reply(status, body, headers or {}), times))

    def requests_to(self, method: str, path: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == method and e.path == path]

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"],
            query=parse_qsl(scope["query_string"].decode(), keep_blank_values=True),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        if self.faults:
            fault = self.faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            reply = fault.reply
        else:
            try:
                reply = self.handler(exchange)
            except Exception:
                # A broken fake must fail the test loudly, not look like a vendor outage.
                self.violations.append(
                    f"the fake failed on {exchange.method} {exchange.path}:\n{traceback.format_exc()}"
                )
                reply = Reply(500, None)
        # Bytes are sent as they are, as text (Loki's errors and /ready are plain text); anything else as JSON.
        raw = isinstance(reply.body, bytes)
        payload = reply.body if raw else b"" if reply.body is None else json.dumps(reply.body).encode()
        exchange.status = reply.status
        exchange.response_body = payload
        self.exchanges.append(exchange)
        if self.contract is not None:
            try:
                self.violations.extend(self.contract.check(exchange))
            except Exception:
                self.violations.append(
                    f"checking {exchange.method} {exchange.path} failed:\n{traceback.format_exc()}"
                )
        content_type = b"text/plain; charset=utf-8" if raw else b"application/json"
        headers = [(b"content-type", content_type)] if payload else []
        headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

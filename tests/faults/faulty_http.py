"""A loopback HTTP server that fails the way real ones do, for the fault suite.

Modes: ``hang`` accepts the connection, reads the request and never answers; ``http500`` answers 500 with a JSON
error body; ``malformed`` answers 200 with JSON cut off half-way; ``refused`` listens nowhere (its URL is a port
that was free a moment ago). Every request that reaches it is counted.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from tests.copilot.toolbox_fixtures import free_port

Mode = Literal["refused", "hang", "http500", "malformed"]
MODES: tuple[Mode, ...] = ("refused", "hang", "http500", "malformed")

ERROR_BODY = b'{"status":"error","errorType":"internal","error":"storage unavailable"}'
CUT_OFF_BODY = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":'


class FaultyServer:
    """``async with FaultyServer("hang") as server``: ``server.url`` fails in that mode; ``server.requests``
    counts the requests it received (their request lines, in order)."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.requests: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> FaultyServer:
        if self.mode == "refused":
            self.url = f"http://127.0.0.1:{free_port()}"
            return self
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                self.requests.append(request_line)
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                if self.mode == "hang":
                    self._held.append(writer)
                    await asyncio.Event().wait()
                status, body = (
                    (b"500 Internal Server Error", ERROR_BODY)
                    if self.mode == "http500"
                    else (b"200 OK", CUT_OFF_BODY)
                )
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

"""A scripted Anthropic Messages API behind ``httpx2.MockTransport``: the fake the Claude planner's tests talk to.

anthropic 2.x sends HTTP through httpx2 (REFERENCE.md section 5), so the fake is an httpx2 transport handed to the
SDK as its ``http_client``. Each POST /v1/messages takes the next step of the script:

- a :class:`Reply`, streamed as server-sent events in the order the real API sends them (message_start, ping, then
  per block content_block_start / content_block_delta... / content_block_stop, with tool input as
  input_json_delta fragments; message_delta with the stop reason; message_stop);
- a :class:`Failure`: an error status with the API's JSON error body and headers such as ``retry-after``;
- a :class:`BrokenStream`: HTTP 200 whose stream carries an ``error`` event part-way, as an overload mid-reply does;
- a function of the request returning a Reply: a "model" that reads the tool results it was sent.

Streamed bodies arrive in small uneven chunks, so events, JSON fragments and multi-byte characters are split across
reads the way a network splits them. Every request's headers and JSON body are kept for the tests to inspect.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

BASE_URL = "http://anthropic.fake"
CHUNK_SIZES = (7, 31, 3, 64, 11)


@dataclass(frozen=True)
class Text:
    """A text block of an assistant turn."""

    text: str


@dataclass(frozen=True)
class ToolUse:
    """A tool_use block; ``raw_input`` overrides the JSON the model streams (to send something malformed)."""

    name: str
    input: dict[str, Any]
    id: str = ""
    raw_input: str | None = None


Block = Text | ToolUse


@dataclass(frozen=True)
class Reply:
    """One streamed assistant message."""

    blocks: tuple[Block, ...]
    stop_reason: str = "tool_use"


@dataclass(frozen=True)
class Failure:
    """One error response: the status, the API's error type, and headers such as ``retry-after``."""

    status: int
    error_type: str
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokenStream:
    """A stream that starts well (HTTP 200, message_start) and then carries an ``error`` event, as the API does
    when it becomes overloaded mid-reply."""

    error_type: str = "overloaded_error"
    message: str = "Overloaded"


# A step may also be a function of the request: a "model" that reads the tool results it was sent.
Step = Reply | Failure | BrokenStream | Callable[["Recorded"], Reply]


def reply(*blocks: Block, stop_reason: str | None = None) -> Reply:
    """A streamed reply; it stops for tool use when it carries a tool_use block, else at the end of the turn."""
    has_tool = any(isinstance(block, ToolUse) for block in blocks)
    return Reply(blocks=blocks, stop_reason=stop_reason or ("tool_use" if has_tool else "end_turn"))


def answer(payload: dict[str, Any], *, text: str = "Here is what I found.") -> Reply:
    """A reply that submits ``payload`` through the submit_answer tool."""
    return reply(Text(text), ToolUse("submit_answer", payload))


def rate_limited(retry_after: str = "0") -> Failure:
    return Failure(
        429,
        "rate_limit_error",
        "Number of requests has exceeded your rate limit",
        {"retry-after": retry_after},
    )


def overloaded() -> Failure:
    return Failure(529, "overloaded_error", "Overloaded")


@dataclass
class Recorded:
    """One request the fake received."""

    headers: httpx2.Headers
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body["messages"])

    @property
    def last_message(self) -> dict[str, Any]:
        return dict(self.body["messages"][-1])

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the newest user message."""
        content = self.last_message["content"]
        return [block for block in content if isinstance(block, dict) and block.get("type") == "tool_result"]

    def evidence_ids(self) -> list[str]:
        """The evidence ids the newest tool results offer for citation (lines ``- <id>: <excerpt>``)."""
        found = []
        for result in self.tool_results():
            found.extend(re.findall(r"^- (\S+): ", str(result["content"]), flags=re.MULTILINE))
        return found


class FakeAnthropic:
    """Serves scripted replies in order; a request past the end of the script fails the test loudly."""

    def __init__(self, *script: Step, model: str = "claude-sonnet-4-5") -> None:
        self.script = list(script)
        self.model = model
        self.requests: list[Recorded] = []
        self._tool_ids = 0

    def client(self) -> anthropic.AsyncAnthropic:
        """An SDK client wired to this fake; the planner under test sets its retries to zero itself."""
        return anthropic.AsyncAnthropic(
            api_key="sk-ant-test",
            base_url=BASE_URL,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle)),
        )

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or request.url.path != "/v1/messages":
            return _error_response(
                404, "not_found_error", f"the fake serves POST /v1/messages, not {request.url.path}"
            )
        self.requests.append(Recorded(headers=request.headers, body=json.loads(request.content)))
        if not self.script:
            return _error_response(400, "invalid_request_error", "the fake's script ran out of replies")
        step = self.script.pop(0)
        if callable(step):
            step = step(self.requests[-1])
        if isinstance(step, Failure):
            return _error_response(step.status, step.error_type, step.message, step.headers)
        number = len(self.requests)
        if isinstance(step, BrokenStream):
            error = {"type": "error", "error": {"type": step.error_type, "message": step.message}}
            body = _encode([*self._opening(number), ("error", error)])
        else:
            body = self._events(step, number)
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream", "request-id": f"req_{number:04d}"},
            content=_chunked(body),
        )

    def _events(self, step: Reply, number: int) -> bytes:
        events = self._opening(number)
        for index, block in enumerate(step.blocks):
            events.extend(self._block_events(index, block))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": step.stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": 42},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return _encode(events)

    def _opening(self, number: int) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": f"msg_{number:04d}",
                        "type": "message",
                        "role": "assistant",
                        "model": self.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": 1200,
                            "output_tokens": 1,
                            "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 900,
                        },
                    },
                },
            ),
            ("ping", {"type": "ping"}),
        ]

    def _block_events(self, index: int, block: Block) -> list[tuple[str, dict[str, Any]]]:
        if isinstance(block, Text):
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block.text, 9)]
        else:
            self._tool_ids += 1
            tool_id = block.id or f"toolu_{self._tool_ids:04d}"
            start = {"type": "tool_use", "id": tool_id, "name": block.name, "input": {}}
            raw = block.raw_input if block.raw_input is not None else json.dumps(block.input)
            # The API opens every tool input with an empty delta, then streams the JSON in fragments.
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in ["", *_pieces(raw, 5)]]
        return [
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
            *[
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                for delta in deltas
            ],
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]


def _encode(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    position, turn = 0, 0
    while position < len(body):
        size = CHUNK_SIZES[turn % len(CHUNK_SIZES)]
        yield body[position : position + size]
        position += size
        turn += 1


def _error_response(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers={"request-id": "req_error", **(headers or {})},
        json={"type": "error", "error": {"type": error_type, "message": message}},
    )

"""Messages sent to chat (Slack and the like)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, StrictCamelModel, UtcDatetime


class MessageBlock(StrictCamelModel):
    type: Literal["header", "section", "divider"] = "section"
    text: str = ""
    fields: list[str] = Field(default_factory=list)


class Message(StrictCamelModel):
    channel: str
    body: str
    thread_ref: str | None = None
    blocks: list[MessageBlock] = Field(default_factory=list)
    metadata: JsonObject = Field(default_factory=dict)


class MessageResult(CamelModel):
    id: str
    channel: str = ""
    sent_at: UtcDatetime | None = None
    url: str = ""
    metadata: JsonObject = Field(default_factory=dict)

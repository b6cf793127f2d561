"""Chat messages sent from the demo world (kept in its database, as a chat workspace would)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from adapters.demo.base import WorldProvider
from adapters.demo.history import iso
from adapters.demo.world import remember, remembered
from core_client.errors import BadQuery
from core_client.schemas import Message, MessageResult


class DemoMessaging(WorldProvider):
    capability = "messaging"

    async def send(self, message: Message, *, idempotency_key: str | None = None) -> MessageResult:
        if not message.channel.startswith(("#", "@")):
            raise BadQuery(f"channel {message.channel!r} must start with # or @", source="demo")
        now = self.world.now_ms

        def send(conn: sqlite3.Connection) -> dict[str, Any]:
            earlier = remembered(conn, idempotency_key, "message.send")
            if earlier is not None:
                return earlier
            count = conn.execute("SELECT count(*) FROM message").fetchone()[0]
            message_id = f"msg-{count + 1:06d}"
            doc = {
                "id": message_id,
                "channel": message.channel,
                "sentAt": iso(now),
                "url": f"https://chat.shopwave.example/archives/{message.channel.lstrip('#@')}/{message_id}",
                "metadata": {
                    "body": message.body,
                    "threadRef": message.thread_ref,
                    "blocks": [block.model_dump(mode="json") for block in message.blocks],
                },
            }
            conn.execute(
                "INSERT INTO message VALUES (?,?,?,?)", (message_id, message.channel, now, json.dumps(doc))
            )
            remember(conn, idempotency_key, "message.send", doc)
            return doc

        return MessageResult.model_validate(await self.world.write(send))

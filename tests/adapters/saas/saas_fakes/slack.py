"""A fake Slack Web API: bearer bot tokens, ``{"ok": false, "error"}`` failures with HTTP 200, and 429 with
Retry-After for rate limits, as Slack documents them for chat.postMessage and auth.test."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from saas_fakes.openapi import Exchange
from saas_fakes.server import Reply

CHANNELS = {"#incidents": "C0INCIDENT", "C0INCIDENT": "C0INCIDENT"}


@dataclass
class SlackFake:
    token: str
    posted: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, ex: Exchange) -> Reply:
        if ex.headers.get("authorization") is None:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if ex.headers["authorization"] != f"Bearer {self.token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if ex.path == "/auth.test":
            return Reply(
                200,
                {
                    "ok": True,
                    "url": "https://acme.slack.com/",
                    "team": "Acme",
                    "user": "opspilot",
                    "team_id": "T0ACME",
                    "user_id": "U0BOT",
                },
            )
        if ex.path == "/chat.postMessage":
            body = json.loads(ex.body)
            channel = CHANNELS.get(body.get("channel", ""))
            if channel is None:
                return Reply(200, {"ok": False, "error": "channel_not_found"})
            if not body.get("text") and not body.get("blocks"):
                return Reply(200, {"ok": False, "error": "no_text"})
            ts = f"17408{len(self.posted) + 1:05d}.000100"
            self.posted.append(body)
            return Reply(
                200,
                {
                    "ok": True,
                    "channel": channel,
                    "ts": ts,
                    "message": {"type": "message", "text": body.get("text", ""), "ts": ts},
                },
            )
        return Reply(200, {"ok": False, "error": "unknown_method"})

"""Sends messages through chat.postMessage; Slack's ``ok: false`` errors become typed errors.

chat.postMessage is a mutation: it is sent once and never retried, a rate limit included (the error says
when Slack allows the next try). Reads (auth.test) are retried like any read.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from adapters.rest import RestClient, retry_after_seconds
from adapters.slack.blocks import SOURCE, slack_blocks
from core_client.errors import BadQuery, ConfigurationError, NotFound, ProviderUnavailable
from core_client.registry import ProviderContext
from core_client.schemas import Message, MessageResult, ProviderHealth

BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"

CREDENTIAL_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope"}
)
NOT_FOUND_ERRORS = frozenset({"channel_not_found", "thread_not_found", "message_not_found"})
BAD_INPUT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_arguments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
    }
)


class SlackConfig(BaseModel):
    """``OPSORCH_MESSAGING_CONFIG`` for ``slack``; the token may come from ``$SLACK_BOT_TOKEN`` instead."""

    model_config = ConfigDict(extra="forbid")

    bot_token: SecretStr | None = None
    base_url: str = "https://slack.com/api"
    # The workspace's address (https://acme.slack.com), to link each sent message.
    workspace_url: str | None = None

    @field_validator("base_url", "workspace_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/") if value else value


def resolve_token(config: SlackConfig, ctx: ProviderContext) -> SecretStr:
    """The bot token from the configuration, else from ``$SLACK_BOT_TOKEN``."""
    if config.bot_token is not None:
        return config.bot_token
    if os.environ.get(BOT_TOKEN_ENV):
        return SecretStr(os.environ[BOT_TOKEN_ENV])
    raise ConfigurationError(
        f"provider 'slack' needs a bot token: set key 'bot_token' in "
        f"{ctx.config_source or ctx.capability.env_prefix + '_CONFIG'} or ${BOT_TOKEN_ENV}",
        source=SOURCE,
    )


def _error_detail(response: httpx.Response) -> str:
    """Slack's error code, and when a rate limit lifts."""
    try:
        body = response.json()
        detail = str(body.get("error", "")) if isinstance(body, dict) else ""
    except ValueError:
        detail = response.text[:100]
    wait = retry_after_seconds(response)
    if wait is not None:
        detail += f" (Slack asks to retry after {wait:g} s)"
    return detail


def raise_for_slack_error(body: dict[str, Any], operation: str) -> None:
    """Map ``{"ok": false, "error": code}`` to the typed error a caller can act on."""
    if body.get("ok"):
        return
    code = str(body.get("error", "unknown_error"))
    if code in CREDENTIAL_ERRORS:
        raise ProviderUnavailable(
            f"credentials refused ({code}); check the bot token and its scopes", source=SOURCE
        )
    if code in NOT_FOUND_ERRORS:
        raise NotFound(f"{operation}: {code}", source=SOURCE)
    if code in BAD_INPUT_ERRORS:
        raise BadQuery(f"{operation}: {code}", source=SOURCE)
    raise ProviderUnavailable(f"{operation} failed: {code}", source=SOURCE)


class SlackMessaging:
    """MessagingProvider over the Slack Web API."""

    def __init__(
        self,
        config: SlackConfig,
        *,
        token: SecretStr,
        timeout: float = 10.0,
        retry_wait_max: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._rest = RestClient(
            source=SOURCE,
            base_url=config.base_url,
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
            timeout=timeout,
            detail=_error_detail,
            retry_wait_max=retry_wait_max,
            transport=transport,
        )

    async def health(self) -> ProviderHealth:
        body = (await self._rest.read("POST", "/auth.test")).json()
        raise_for_slack_error(body, "auth.test")
        return ProviderHealth(
            capability="messaging", provider=SOURCE, status="ok", message=f"workspace {body.get('team', '')}"
        )

    async def aclose(self) -> None:
        await self._rest.aclose()

    async def send(self, message: Message, *, idempotency_key: str | None = None) -> MessageResult:
        """Posts once; ``body`` is the notification text beside the blocks; ``threadRef`` is the thread's ts.
        Slack has no idempotency key, so the grant id travels in the message metadata for tracing."""
        if not message.body and not message.blocks:
            raise BadQuery("a message needs a body or blocks", source=SOURCE)
        payload: dict[str, Any] = {"channel": message.channel, "text": message.body}
        if message.blocks:
            payload["blocks"] = slack_blocks(message.blocks)
        if message.thread_ref:
            payload["thread_ts"] = message.thread_ref
        if idempotency_key:
            payload["metadata"] = {
                "event_type": "opspilot_message",
                "event_payload": {"grant": idempotency_key},
            }
        body = (await self._rest.write("POST", "/chat.postMessage", json=payload)).json()
        raise_for_slack_error(body, "chat.postMessage")
        ts = str(body["ts"])
        channel = str(body.get("channel", message.channel))
        url = ""
        if self._config.workspace_url:
            url = f"{self._config.workspace_url}/archives/{channel}/p{ts.replace('.', '')}"
        return MessageResult(
            id=ts,
            channel=channel,
            sent_at=datetime.fromtimestamp(float(ts), tz=UTC),
            url=url,
            metadata={"threadTs": message.thread_ref or ts},
        )

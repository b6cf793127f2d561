"""The ``elasticsearch`` provider's configuration: the cluster, the credentials, the index and the field names.

Field names default to the Elastic Common Schema (ECS). Credentials are ``SecretStr``: they go into request headers
and nowhere else (not into ids, logs or errors).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

from adapters.rest import BasicAuth, RestClient, authorization

SOURCE = "elasticsearch"
API_KEY_ENV = "ELASTICSEARCH_API_KEY"
FIELD_NAME = r"^[A-Za-z0-9_@][A-Za-z0-9_@.\-]*$"
_USELESS_REASONS = {"all shards failed"}


def es_error(response: httpx.Response) -> str:
    """Elasticsearch's ``{"error": {"type", "reason", "root_cause", "failed_shards", "caused_by"}}`` as one line.

    The top reason of a search phase failure is "all shards failed"; the shard's own reason says what was wrong.
    """
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return str(error or body)[:300]
    candidates: list[Any] = [error, error.get("caused_by")]
    candidates += [(shard or {}).get("reason") for shard in error.get("failed_shards") or []][:1]
    candidates += (error.get("root_cause") or [])[:1]
    reasons: list[str] = []
    for candidate in candidates:
        while isinstance(candidate, dict):
            reason = str(candidate.get("reason") or "")
            if reason and reason not in reasons and reason not in _USELESS_REASONS:
                reasons.append(reason)
            candidate = candidate.get("caused_by")
    return f"{error.get('type', 'error')}: {'; '.join(reasons)}"[:500]


class LogFields(BaseModel):
    """Where each part of a log line lives in a document; ``null`` means the index has no such field."""

    model_config = ConfigDict(extra="forbid")

    timestamp: str = Field(default="@timestamp", pattern=FIELD_NAME)
    message: str = Field(default="message", pattern=FIELD_NAME)
    service: str | None = Field(default="service.name", pattern=FIELD_NAME)
    environment: str | None = Field(default="service.environment", pattern=FIELD_NAME)
    team: str | None = Field(default=None, pattern=FIELD_NAME)
    severity: str | None = Field(default="log.level", pattern=FIELD_NAME)
    # A keyword copy of the message (e.g. message.keyword): exact and regex filters then see the whole message.
    message_keyword: str | None = Field(default=None, pattern=FIELD_NAME)


class ElasticsearchConfig(BaseModel):
    """``OPSORCH_LOG_CONFIG`` for ``elasticsearch``; the API key may come from ``$ELASTICSEARCH_API_KEY``."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    index: str = Field(default="logs-*", pattern=r"^[^\s/\\?#\"<>|]+$")
    api_key: SecretStr | None = Field(default=None, description="the encoded API key (base64 of id:key)")
    basic_auth: BasicAuth | None = None
    timeout: float = Field(default=10.0, gt=0, description="seconds per HTTP request")
    fields: LogFields = Field(default_factory=LogFields)
    # A unique, sortable field (e.g. event.sequence) to page by instead of a point in time (OpenSearch, or to
    # avoid holding a point in time open).
    tiebreaker_field: str | None = Field(default=None, pattern=FIELD_NAME)
    pit_keep_alive: str = Field(default="2m", pattern=r"^\d+[smh]$")
    context_window_seconds: int = Field(default=3600, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> ElasticsearchConfig:
        if self.api_key is not None and self.basic_auth is not None:
            raise ValueError("give either api_key or basic_auth, not both")
        return self

    def rest_client(self) -> RestClient:
        """An HTTP client for the cluster, with the configured (or environment's) credentials."""
        headers, auth = authorization(
            scheme="ApiKey", token=self.api_key, basic=self.basic_auth, token_env=API_KEY_ENV
        )
        return RestClient(
            source=SOURCE,
            base_url=str(self.url).rstrip("/"),
            headers={"Accept": "application/json", **headers},
            auth=auth,
            timeout=self.timeout,
            detail=es_error,
        )

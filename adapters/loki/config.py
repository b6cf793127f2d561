"""The ``loki`` provider's configuration: where Loki is, who we are to it, and which labels mean what.

Credentials are ``SecretStr``: they go into request headers and nowhere else (not into ids, links, logs or errors).
"""

from __future__ import annotations

from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

from adapters.rest import BasicAuth, RestClient, authorization

SOURCE = "loki"
BEARER_TOKEN_ENV = "LOKI_BEARER_TOKEN"
# Loki's own default for limits_config.max_entries_limit_per_query.
LOKI_MAX_ENTRIES = 5000
LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
LabelName = Annotated[str, Field(pattern=LABEL_NAME)]


def loki_error(response: httpx.Response) -> str:
    """Loki's own words: plain text (``parse error at line 1, col 9: ...``), or JSON from a gateway."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:500]
    return str(body)[:500]


class LokiLabels(BaseModel):
    """Which stream label carries each scope dimension; ``null`` means Loki has no such label."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(default="service", pattern=LABEL_NAME)
    team: str | None = Field(default="team", pattern=LABEL_NAME)
    environment: str | None = Field(default="env", pattern=LABEL_NAME)


class LokiConfig(BaseModel):
    """``OPSORCH_LOG_CONFIG`` for ``loki``; a bearer token may come from ``$LOKI_BEARER_TOKEN`` instead."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    tenant: str | None = Field(default=None, description="sent as X-Scope-OrgID (multi-tenant Loki)")
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    timeout: float = Field(default=10.0, gt=0, description="seconds per HTTP request")
    scope_labels: LokiLabels = Field(default_factory=LokiLabels)
    # A label filter stage (``| level=~"..."``), so it works on indexed labels, structured metadata and
    # Loki 3's ``detected_level`` alike; null matches severity words in the line text instead.
    severity_label: str | None = Field(default="level", pattern=LABEL_NAME)
    case_sensitive_search: bool = False
    lookback_seconds: int = Field(default=3600, gt=0, description="window of a query without start")
    max_entries: int = Field(default=LOKI_MAX_ENTRIES, ge=2, description="the server's entries limit")
    # Lines around one line share these labels with it; null = the service and environment labels.
    context_labels: list[LabelName] | None = None
    context_window_seconds: int = Field(default=3600, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> LokiConfig:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give either bearer_token or basic_auth, not both")
        return self

    def scope_context_labels(self) -> list[str]:
        """The labels a line's context keeps: ``context_labels``, else the service and environment labels."""
        if self.context_labels is not None:
            return self.context_labels
        return [name for name in (self.scope_labels.service, self.scope_labels.environment) if name]

    def rest_client(self) -> RestClient:
        """An HTTP client for Loki with the tenant header and the configured (or environment's) credentials."""
        headers, auth = authorization(
            scheme="Bearer", token=self.bearer_token, basic=self.basic_auth, token_env=BEARER_TOKEN_ENV
        )
        if self.tenant:
            headers["X-Scope-OrgID"] = self.tenant
        return RestClient(
            source=SOURCE,
            base_url=str(self.url).rstrip("/"),
            headers={"Accept": "application/json", **headers},
            auth=auth,
            timeout=self.timeout,
            detail=loki_error,
        )

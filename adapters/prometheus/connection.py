"""How OpsPilot reaches a server of the Prometheus project (Prometheus, Alertmanager): URL, credentials, labels.

Both servers sit behind the same kinds of reverse proxies, so they share these configuration keys. Credentials are
``SecretStr``: they go into request headers and nowhere else (not into links, logs or error messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

from adapters.rest import RestClient
from core_client.errors import BadQuery
from core_client.schemas import QueryScope


def server_error(response: httpx.Response) -> str:
    """The server's own words for a failure.

    Prometheus answers ``{"status":"error","errorType","error"}``; Alertmanager a JSON string or
    ``{"code","message"}``; a proxy in front of either, plain text.
    """
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, Mapping):
        message = body.get("error") or body.get("message")
        if message:
            kind = body.get("errorType")
            return (f"{kind}: {message}" if kind else str(message))[:500]
    return str(body)[:300]


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    password: SecretStr


class ScopeLabels(BaseModel):
    """Which label carries each scope dimension; ``null`` means the servers have no such label."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = "service"
    team: str | None = "team"
    environment: str | None = "env"

    def labels(self) -> list[str]:
        """The labels that carry a scope dimension."""
        return [label for label in (self.service, self.team, self.environment) if label]

    def matchers(self, scope: QueryScope | None, *, source: str) -> dict[str, str]:
        """The exact label values a scope asks for; a dimension with no label is a ``BadQuery``, never ignored."""
        wanted: dict[str, str] = {}
        if scope is None:
            return wanted
        for dimension in ("service", "team", "environment"):
            value = getattr(scope, dimension)
            if not value:
                continue
            label = getattr(self, dimension)
            if label is None:
                raise BadQuery(
                    f"scope.{dimension} cannot be applied: no label is configured for it "
                    f"(set scope_labels.{dimension})",
                    source=source,
                )
            wanted[label] = value
        return wanted


class ServerConnection(BaseModel):
    """The configuration keys every Prometheus-project provider accepts."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    timeout: float = Field(default=10.0, gt=0, description="seconds per HTTP request")
    external_url: HttpUrl | None = Field(
        default=None, description="base of the links shown to people, when it differs from url"
    )

    @model_validator(mode="after")
    def _one_credential(self) -> ServerConnection:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give either bearer_token or basic_auth, not both")
        return self

    @property
    def base_url(self) -> str:
        return str(self.url).rstrip("/")

    @property
    def link_base(self) -> str:
        """Where people open the server's UI: ``external_url`` or ``url``, never with credentials in it."""
        parts = urlsplit(str(self.external_url or self.url).rstrip("/"))
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def rest_client(self, *, source: str) -> RestClient:
        """An HTTP client for this server, with the configured credentials as headers."""
        headers = {"Accept": "application/json"}
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.get_secret_value()}"
        auth = (
            httpx.BasicAuth(self.basic_auth.username, self.basic_auth.password.get_secret_value())
            if self.basic_auth
            else None
        )
        return RestClient(
            source=source,
            base_url=self.base_url,
            headers=headers,
            auth=auth,
            timeout=self.timeout,
            detail=server_error,
        )

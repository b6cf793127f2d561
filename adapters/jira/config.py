"""The ``jira`` provider's configuration: the site, credentials, the project, and how scope maps to JQL."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core_client.errors import ConfigurationError
from core_client.registry import ProviderContext

API_TOKEN_ENV = "JIRA_API_TOKEN"


class ScopeField(BaseModel):
    """Where one scope dimension lives in Jira: a component or a label (``format`` builds its value)."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["component", "label", "none"]
    format: str = "{value}"

    @field_validator("format")
    @classmethod
    def _has_value(cls, value: str) -> str:
        if "{value}" not in value:
            raise ValueError("format must contain '{value}'")
        return value

    def write(self, value: str) -> str:
        """The component name or label that carries ``value``."""
        return self.format.replace("{value}", value)

    def read(self, written: str) -> str | None:
        """The value a component name or label carries, or None when it is not in this format."""
        before, _, after = self.format.partition("{value}")
        if len(written) <= len(before) + len(after) or not written.startswith(before):
            return None
        if after and not written.endswith(after):
            return None
        return written[len(before) : len(written) - len(after)]


class JiraConfig(BaseModel):
    """``OPSORCH_TICKET_CONFIG`` for ``jira``; the token may come from ``$JIRA_API_TOKEN`` instead."""

    model_config = ConfigDict(extra="forbid")

    site: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    api_token: SecretStr | None = None
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    issue_type: str = "Task"
    service: ScopeField = ScopeField(field="component")
    team: ScopeField = ScopeField(field="label", format="team-{value}")
    environment: ScopeField = ScopeField(field="label", format="env-{value}")
    # OpsPilot's ticket fields (core_client.schemas.tickets): the incident a ticket follows up and the fault kind
    # it records, as labels (a label is searchable and needs no project set-up).
    incident: ScopeField = ScopeField(field="label", format="incident-{value}")
    fault_kind: ScopeField = ScopeField(field="label", format="fault-{value}")

    @field_validator("site")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")


def resolve_token(config: JiraConfig, ctx: ProviderContext) -> SecretStr:
    """The API token from the configuration, else from ``$JIRA_API_TOKEN``."""
    if config.api_token is not None:
        return config.api_token
    if os.environ.get(API_TOKEN_ENV):
        return SecretStr(os.environ[API_TOKEN_ENV])
    raise ConfigurationError(
        f"provider 'jira' needs an API token: set key 'api_token' in "
        f"{ctx.config_source or ctx.capability.env_prefix + '_CONFIG'} or ${API_TOKEN_ENV}",
        source="jira",
    )
